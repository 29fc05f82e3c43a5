// openrms user add|passwd|group|remove|list: local accounts of the administration site.
#include <iostream>

#include "base/text.h"
#include "cli/commands.h"
#include "cli/json_output.h"
#include "cli/password.h"
#include "node/cluster_node.h"

namespace openrms::cli {

namespace {
constexpr char kUserPasswordEnv[] = "OPENRMS_USER_PASSWORD";
}

void RegisterUserCommands(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("user", "Manage local accounts of the administration web site");
  cmd->require_subcommand(1);

  static std::string add_dir, add_name, add_pw_file;
  static std::vector<std::string> add_groups;
  auto* add = cmd->add_subcommand("add", "Create a local account");
  add->add_option("NAME", add_name, "User name")->required();
  add->add_option("--dir", add_dir, "The server directory")->required();
  add->add_option("--group", add_groups, "A group to join (e.g. Administrators); repeatable");
  add->add_option("--password-file", add_pw_file,
                  "File holding the new password (else $OPENRMS_USER_PASSWORD or a prompt)");
  add->callback([&exit_code] {
    auto pw = ReadKeyPassword(add_pw_file, kUserPasswordEnv, true);
    if (!pw.ok()) return void(exit_code = ReportError(pw.status()));
    auto ctx = node::ServerContext::Open(add_dir, std::nullopt, /*create=*/true);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    Status s = (*ctx)->accounts().AddUser(add_name, *pw, add_groups);
    if (!s.ok()) return void(exit_code = ReportError(s));
    std::cout << "created user " << add_name << "\n";
  });

  static std::string pw_dir, pw_name, pw_file;
  auto* passwd = cmd->add_subcommand("passwd", "Set a local account's password");
  passwd->add_option("NAME", pw_name, "User name")->required();
  passwd->add_option("--dir", pw_dir, "The server directory")->required();
  passwd->add_option("--password-file", pw_file, "File holding the new password");
  passwd->callback([&exit_code] {
    auto pw = ReadKeyPassword(pw_file, kUserPasswordEnv, true);
    if (!pw.ok()) return void(exit_code = ReportError(pw.status()));
    auto ctx = node::ServerContext::Open(pw_dir, std::nullopt, false);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    Status s = (*ctx)->accounts().SetPassword(pw_name, *pw);
    if (!s.ok()) return void(exit_code = ReportError(s));
    std::cout << "password changed for " << pw_name << "\n";
  });

  static std::string g_dir, g_name, g_add, g_remove;
  auto* group = cmd->add_subcommand("group", "Add a local account to a group, or remove it");
  group->add_option("NAME", g_name, "User name")->required();
  group->add_option("--dir", g_dir, "The server directory")->required();
  auto* a = group->add_option("--add", g_add, "Group to join");
  auto* r = group->add_option("--remove", g_remove, "Group to leave");
  a->excludes(r);
  group->callback([&exit_code] {
    auto ctx = node::ServerContext::Open(g_dir, std::nullopt, false);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    Status s = !g_add.empty() ? (*ctx)->accounts().AddToGroup(g_name, g_add)
               : !g_remove.empty()
                   ? (*ctx)->accounts().RemoveFromGroup(g_name, g_remove)
                   : Status(Code::kInvalidArgument, "give --add GROUP or --remove GROUP");
    if (!s.ok()) return void(exit_code = ReportError(s));
    auto users = (*ctx)->accounts().ListUsers();
    for (const auto& u : users.ok() ? *users : std::vector<accounts::Identity>{}) {
      if (!EqualsIgnoreCase(u.user, g_name)) continue;  // names are not case-sensitive
      std::cout << u.user << ":";
      for (const auto& gr : u.groups) std::cout << " " << gr;
      std::cout << "\n";
    }
  });

  static std::string rm_dir, rm_name;
  auto* remove = cmd->add_subcommand(
      "remove", "Delete a local account, its group memberships and its sessions");
  remove
      ->add_option("NAME", rm_name,
                   "User name (exactly as listed, when several differ only "
                   "in case)")
      ->required();
  remove->add_option("--dir", rm_dir, "The server directory")->required();
  remove->callback([&exit_code] {
    auto ctx = node::ServerContext::Open(rm_dir, std::nullopt, false);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    Status s = (*ctx)->accounts().RemoveUser(rm_name);
    if (!s.ok()) return void(exit_code = ReportError(s));
    std::cout << "removed user " << rm_name << "\n";
  });

  static std::string ls_dir;
  static bool ls_json = false;
  auto* list = cmd->add_subcommand("list", "List the local accounts and their groups");
  list->add_option("--dir", ls_dir, "The server directory")->required();
  AddJsonFlag(list, ls_json);
  list->callback([&exit_code] {
    auto ctx = node::ServerContext::Open(ls_dir, std::nullopt, false);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    auto users = (*ctx)->accounts().ListUsers();
    if (!users.ok()) return void(exit_code = ReportError(users.status()));
    if (ls_json) {
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& u : *users) rows.push_back(UserJson(u));
      return PrintJson(rows, std::cout);
    }
    for (const auto& u : *users) {
      std::cout << u.user << ":";
      for (const auto& gr : u.groups) std::cout << " " << gr;
      std::cout << "\n";
    }
  });
}

void RegisterDirectoryCommands(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("directory", "Log on directory (LDAP) accounts");
  cmd->require_subcommand(1);
  static std::string dir;
  static accounts::DirectoryConfig config;
  auto* set = cmd->add_subcommand("set", "Use an LDAP directory for logons");
  set->add_option("--dir", dir, "The server directory")->required();
  set->add_option("--uri", config.uri, "ldaps://host:port")->required();
  set->add_option("--user-dn", config.user_dn,
                  "DN template of a user, e.g. uid={user},ou=people,dc=example,dc=com")
      ->required();
  set->add_option("--group-base", config.group_base, "Where groups are searched");
  set->add_option("--group-filter", config.group_filter, "Group filter; {dn} is the user's DN")
      ->capture_default_str();
  set->add_option("--group-attribute", config.group_attribute, "The group name attribute")
      ->capture_default_str();
  set->add_option("--ca-file", config.ca_file, "PEM roots that issued the directory's certificate");
  set->add_option("--bind-dn", config.bind_dn,
                  "The account that looks up signed-on users' groups again (default: anonymous)");
  set->add_option("--bind-password-file", config.bind_password_file,
                  "A file on each node holding --bind-dn's password");
  set->callback([&exit_code] {
    auto ctx = node::ServerContext::Open(dir, std::nullopt, /*create=*/true);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    Status s = accounts::SaveDirectoryConfig((*ctx)->database(), config);
    if (!s.ok()) return void(exit_code = ReportError(s));
    std::cout << "directory logons through " << config.uri << " (restart `openrms serve`)\n";
  });
  static std::string unset_dir;
  auto* unset = cmd->add_subcommand("unset", "Stop directory logons (local accounts stay)");
  unset->add_option("--dir", unset_dir, "The server directory")->required();
  unset->callback([&exit_code] {
    auto ctx = node::ServerContext::Open(unset_dir, std::nullopt, false);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    auto removed = accounts::RemoveDirectoryConfig((*ctx)->database());
    if (!removed.ok()) return void(exit_code = ReportError(removed.status()));
    std::cout << (*removed ? "directory logons end (restart `openrms serve`)\n"
                           : "no directory was set; nothing changed\n");
  });
}

}  // namespace openrms::cli
