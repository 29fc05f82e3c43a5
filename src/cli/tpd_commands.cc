// openrms tpd list|export|import: a cluster's trusted publishing domains
// (cluster/tpd.h), and carrying them to another server in one file sealed
// under a password (cluster/tpd_file.h).
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/file_system.h"
#include "base/json.h"
#include "cli/commands.h"
#include "cli/json_output.h"
#include "cli/password.h"
#include "cli/pkcs11_options.h"
#include "cluster/tpd_file.h"
#include "crypto/encoding.h"
#include "licensing/licensing.h"
#include "node/cluster_node.h"
#include "xrml/chain.h"

namespace openrms::cli {

namespace {

using nlohmann::json;

constexpr char kKeyPasswordEnv[] = "OPENRMS_KEY_PASSWORD";
constexpr char kTpdPasswordEnv[] = "OPENRMS_TPD_PASSWORD";

struct TpdTarget {
  std::string dir;
  std::string cluster;
  std::string key_password_file;
  std::string password_file;  // the TPD file's password
  Pkcs11Flags pkcs11;
};

void AddTpdTarget(CLI::App* cmd, TpdTarget& t, bool passwords) {
  cmd->add_option("--dir", t.dir, "The server directory")->required();
  cmd->add_option("--cluster", t.cluster, "The cluster (needed when the server hosts several)");
  if (!passwords) return;
  cmd->add_option("--password-file", t.password_file,
                  "File holding the TPD file's password (else $OPENRMS_TPD_PASSWORD or a prompt)");
  cmd->add_option("--key-password-file", t.key_password_file,
                  "File holding the cluster key password (else $OPENRMS_KEY_PASSWORD or a "
                  "prompt)");
  AddPkcs11Options(cmd, t.pkcs11);
}

struct OpenedServer {
  std::unique_ptr<node::ServerContext> context;
  std::string cluster;
};

Result<OpenedServer> OpenServer(const TpdTarget& t, std::optional<std::string> key_password) {
  ASSIGN_OR_RETURN(auto pkcs11, ReadPkcs11Config(t.pkcs11));
  node::ContextOptions options;
  options.pkcs11 = std::move(pkcs11);
  OpenedServer o;
  ASSIGN_OR_RETURN(o.context,
                   node::ServerContext::Open(t.dir, std::move(key_password), false, options));
  ASSIGN_OR_RETURN(o.cluster, o.context->ResolveCluster(t.cluster));
  return o;
}

// The README's "Trusted publishing domains" lists these fields.
json DomainJson(const cluster::PublishingDomain& d) {
  std::string certificate_id;
  if (auto chain = xrml::ParseChain(d.chain); chain.ok())
    certificate_id = chain->front().descriptor.id;
  return {{"fingerprint", d.fingerprint},
          {"state", d.state},
          {"source", d.source},
          {"certificate_id", certificate_id},
          {"issued", JsonTime(d.issued)},
          {"expires", JsonTime(d.expires)},
          {"key", d.key_uri.empty() ? std::string("sealed") : d.key_uri},
          {"added_at", JsonTime(d.added_at)},
          {"added_by", d.added_by}};
}

// Templates travel as {name, description, user_rights: [{users, rights}],
// valid_days}.
std::string TemplatesJson(const std::vector<licensing::Template>& templates) {
  json out = json::array();
  for (const auto& t : templates) {
    json rights = json::array();
    for (const auto& ur : t.user_rights)
      rights.push_back({{"users", ur.users}, {"rights", ur.rights}});
    json j = {{"name", t.name}, {"description", t.description}, {"user_rights", rights}};
    if (t.valid_days) j["valid_days"] = *t.valid_days;
    out.push_back(std::move(j));
  }
  return WriteJson(out);
}

Result<std::vector<licensing::Template>> TemplatesFromJson(const std::string& text) {
  ASSIGN_OR_RETURN(json all, ParseJson(text));
  std::vector<licensing::Template> out;
  for (const json& j : all) {
    licensing::Template t;
    ASSIGN_OR_RETURN(t.name, StringField(j, "name"));
    ASSIGN_OR_RETURN(t.description, StringField(j, "description"));
    ASSIGN_OR_RETURN(const int64_t days,
                     IntField(j, "valid_days", 0, 0, licensing::kMaxIntervalDays));
    if (days != 0) t.valid_days = static_cast<int>(days);
    const auto rights = j.find("user_rights");
    if (rights == j.end() || !rights->is_array()) {
      return Status(Code::kMalformed, "template " + t.name + " has no user_rights");
    }
    for (const json& r : *rights) {
      licensing::UserRights ur;
      ASSIGN_OR_RETURN(ur.users, StringArrayField(r, "users"));
      ASSIGN_OR_RETURN(ur.rights, StringArrayField(r, "rights"));
      t.user_rights.push_back(std::move(ur));
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

void RegisterTpdCommands(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "tpd", "Trusted publishing domains: the keys whose content a cluster licenses");
  cmd->require_subcommand(1);

  static TpdTarget ls;
  static bool ls_json = false;
  auto* list = cmd->add_subcommand("list", "List the cluster's trusted publishing domains");
  AddTpdTarget(list, ls, false);
  AddJsonFlag(list, ls_json);
  list->callback([&exit_code] {
    auto o = OpenServer(ls, std::nullopt);
    if (!o.ok()) return void(exit_code = ReportError(o.status()));
    auto domains = o->context->clusters().ListDomains(o->cluster);
    if (!domains.ok()) return void(exit_code = ReportError(domains.status()));
    if (ls_json) {
      json rows = json::array();
      for (const auto& d : *domains) rows.push_back(DomainJson(d));
      return PrintJson(rows, std::cout);
    }
    std::cout << "state\tsource\tissued\texpires\tkey fingerprint\n";
    for (const auto& d : *domains) {
      std::cout << d.state << "\t" << d.source << "\t" << FormatHuman(d.issued) << "\t"
                << FormatHuman(d.expires) << "\t" << d.fingerprint << "\n";
    }
  });

  static TpdTarget ex;
  static std::string ex_out;
  auto* exp = cmd->add_subcommand(
      "export",
      "Write the cluster's domains (SLC chains, keys, templates) to a password-sealed file");
  AddTpdTarget(exp, ex, true);
  exp->add_option("--out", ex_out, "The file to write")->required();
  exp->callback([&exit_code] {
    auto fail = [&](const Status& s) { exit_code = ReportError(s); };
    auto key_pw = ReadKeyPassword(ex.key_password_file, kKeyPasswordEnv, false);
    if (!key_pw.ok()) return fail(key_pw.status());
    auto file_pw = ReadKeyPassword(ex.password_file, kTpdPasswordEnv, /*confirm=*/true);
    if (!file_pw.ok()) return fail(file_pw.status());
    auto o = OpenServer(ex, *key_pw);
    if (!o.ok()) return fail(o.status());
    licensing::LicensingService licensing(o->context->clusters(), o->context->database(),
                                          DefaultClock(), crypto::SystemRandom(), *key_pw);
    auto templates = licensing.ListTemplates();
    if (!templates.ok()) return fail(templates.status());
    auto file = o->context->clusters().ExportDomains(o->cluster, *key_pw, *file_pw,
                                                     TemplatesJson(*templates), Actor());
    if (!file.ok()) return fail(file.status());
    Status w = RealFileSystem().WriteFileAtomic(ex_out, *file);
    if (!w.ok()) return fail(w);
    std::cout << "wrote " << ex_out << ": the trusted publishing domains of " << o->cluster
              << " and " << templates->size()
              << " template(s), sealed under the password (scrypt, AES-256-GCM); it holds "
                 "private keys: keep it and its password apart\n";
  });

  static TpdTarget im;
  static std::string im_file;
  auto* imp = cmd->add_subcommand(
      "import", "Add the domains of an exported file to this cluster, as retired domains");
  AddTpdTarget(imp, im, true);
  imp->add_option("FILE", im_file, "The file `openrms tpd export` wrote")->required();
  imp->callback([&exit_code] {
    auto fail = [&](const Status& s) { exit_code = ReportError(s); };
    auto file = RealFileSystem().ReadFile(im_file, cluster::kMaxTpdFileBytes);
    if (!file.ok()) return fail(file.status());
    auto key_pw = ReadKeyPassword(im.key_password_file, kKeyPasswordEnv, false);
    if (!key_pw.ok()) return fail(key_pw.status());
    auto file_pw = ReadKeyPassword(im.password_file, kTpdPasswordEnv, false);
    if (!file_pw.ok()) return fail(file_pw.status());
    auto o = OpenServer(im, *key_pw);
    if (!o.ok()) return fail(o.status());
    auto done = o->context->clusters().ImportDomains(o->cluster, *file, *file_pw, *key_pw, Actor());
    if (!done.ok()) return fail(done.status());
    for (const auto& d : done->added) {
      std::cout << "imported the domain of key " << d.fingerprint << " (expires "
                << FormatHuman(d.expires) << ") as retired\n";
    }
    for (const auto& f : done->already_held) {
      std::cout << "already held the domain of key " << f << ": skipped\n";
    }
    // Templates after the domains: a template that exists here keeps this
    // server's version.
    licensing::LicensingService licensing(o->context->clusters(), o->context->database(),
                                          DefaultClock(), crypto::SystemRandom(), *key_pw);
    auto templates = TemplatesFromJson(done->templates_json);
    if (!templates.ok()) return fail(templates.status().WithContext("the file's templates"));
    int added = 0;
    for (const auto& t : *templates) {
      auto a = licensing.AddTemplate(t);
      if (a.ok()) {
        ++added;
      } else if (a.status().code() == Code::kAlreadyUsed) {
        std::cout << "template \"" << t.name << "\" exists here: kept this server's\n";
      } else {
        return fail(a.status().WithContext("template " + t.name));
      }
    }
    std::cout << "cluster " << o->cluster << " now licenses content published by "
              << done->from_cluster << " under those keys; " << added << " template(s) added\n";
  });
}

}  // namespace openrms::cli
