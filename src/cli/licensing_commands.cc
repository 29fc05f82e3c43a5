// openrms login|certify|protect|open|track|revoke (a client of the REST
// licensing protocol: client/client.h does the protocol, this file the
// files and the words), and openrms template add|list (the server's rights
// policy templates).
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/file_system.h"
#include "base/json.h"
#include "cli/commands.h"
#include "cli/json_output.h"
#include "cli/password.h"
#include "client/client.h"
#include "crypto/encoding.h"
#include "formats/container.h"
#include "licensing/licensing.h"
#include "node/cluster_node.h"
#include "xrml/chain.h"
#include "xrml/document.h"

namespace openrms::cli {

namespace {

using nlohmann::json;

constexpr char kUserPasswordEnv[] = "OPENRMS_PASSWORD";
constexpr size_t kMaxFileBytes = size_t{1} << 30;

struct Client {
  std::string server;  // the cluster's service URL
  std::string user;
  std::string password_file;
  std::string tls_ca;
};

void AddClient(CLI::App* cmd, Client& c, bool required = true) {
  cmd->add_option("--server", c.server, "The cluster's URL (the demo's rms-url)")
      ->required(required);
  cmd->add_option("--user", c.user, "Your user name")->required(required);
  cmd->add_option("--password-file", c.password_file,
                  "File holding your password (else $OPENRMS_PASSWORD or a prompt)");
  cmd->add_option("--tls-ca", c.tls_ca, "The TLS root the server's certificate chains to");
}

// The account the flags name, its password read from the file, the
// environment or a prompt.
Result<client::Account> AccountOf(const Client& c) {
  client::Account account;
  account.server = c.server;
  account.user = c.user;
  if (!c.tls_ca.empty()) {
    ASSIGN_OR_RETURN(account.tls_ca_pem, RealFileSystem().ReadFile(c.tls_ca, 1 << 20));
  }
  ASSIGN_OR_RETURN(account.password, ReadKeyPassword(c.password_file, kUserPasswordEnv, false));
  return account;
}

Result<client::Session> LogOn(const Client& c) {
  ASSIGN_OR_RETURN(client::Account account, AccountOf(c));
  return client::Session::LogOn(account);
}

std::string Extension(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  return path.substr(dot);
}

Result<std::vector<licensing::UserRights>> UserRightsFromFlags(
    const std::vector<std::string>& flags) {
  std::vector<licensing::UserRights> out;
  for (const auto& f : flags) {
    const size_t colon = f.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == f.size()) {
      return Status(Code::kInvalidArgument,
                    "--rights takes USER:RIGHT[,RIGHT]..., such as bob:VIEW,PRINT (not " + f + ")");
    }
    licensing::UserRights ur;
    ur.users = {f.substr(0, colon)};
    std::string list = f.substr(colon + 1);
    for (size_t start = 0; start <= list.size();) {
      size_t comma = list.find(',', start);
      if (comma == std::string::npos) comma = list.size();
      if (comma > start) ur.rights.push_back(list.substr(start, comma - start));
      start = comma + 1;
    }
    out.push_back(std::move(ur));
  }
  return out;
}

Result<std::optional<Time>> ExpiresFlag(const std::string& expires) {
  if (expires.empty()) return std::optional<Time>();
  auto t = ParseTime(expires);
  if (!t) return Status(Code::kInvalidArgument, "--expires takes a UTC time like 2027-01-31T00:00");
  return std::optional<Time>(*t);
}

// `openrms protect`'s flags.
struct ProtectFlags {
  std::string in, out;
  std::vector<std::string> rights;
  std::string template_name, expires;
  std::string container = "auto";  // auto | pfile | office
  bool offline = false;
  std::string clc;      // the CLC chain file (offline)
  std::string clc_key;  // its sealed key
};

Result<client::Protection> ProtectionOf(const ProtectFlags& f) {
  client::Protection how;
  how.name = f.in.substr(f.in.find_last_of('/') + 1);
  how.extension = Extension(f.in);
  ASSIGN_OR_RETURN(how.rights, UserRightsFromFlags(f.rights));
  how.template_name = f.template_name;
  ASSIGN_OR_RETURN(how.expires, ExpiresFlag(f.expires));
  if (f.container == "pfile") how.container = formats::Container::kPfile;
  if (f.container == "office") how.container = formats::Container::kOffice;
  return how;
}

Status Protect(const Client& c, const ProtectFlags& f) {
  if (f.offline) {
    if (f.clc.empty() || f.clc_key.empty()) {
      return Status(Code::kInvalidArgument,
                    "--offline needs --clc FILE and --clc-key FILE (from openrms certify --clc)");
    }
  } else if (f.rights.empty() == f.template_name.empty()) {
    return Status(Code::kInvalidArgument, "give --rights USER:RIGHT[,RIGHT]... or --template NAME");
  } else if (c.server.empty() || c.user.empty()) {
    return Status(Code::kInvalidArgument, "give --server URL and --user NAME (or --offline)");
  }
  ASSIGN_OR_RETURN(client::Protection how, ProtectionOf(f));
  ASSIGN_OR_RETURN(std::string plain, RealFileSystem().ReadFile(f.in, kMaxFileBytes));
  client::Protected result;
  if (f.offline) {
    ASSIGN_OR_RETURN(std::string chain_text,
                     RealFileSystem().ReadFile(f.clc, xrml::kMaxChainFileBytes));
    ASSIGN_OR_RETURN(auto chain, xrml::ParseChain(chain_text));
    ASSIGN_OR_RETURN(std::string sealed, RealFileSystem().ReadFile(f.clc_key, 1 << 16));
    ASSIGN_OR_RETURN(std::string password,
                     ReadKeyPassword(c.password_file, kUserPasswordEnv, false));
    ASSIGN_OR_RETURN(auto key, crypto::UnsealKey(sealed, password));
    ASSIGN_OR_RETURN(result, client::ProtectOffline(chain[0], *key, plain, how,
                                                    DefaultClock().Now(), crypto::SystemRandom()));
  } else {
    ASSIGN_OR_RETURN(client::Session session, LogOn(c));
    ASSIGN_OR_RETURN(result, client::Protect(session, plain, how));
  }
  RETURN_IF_ERROR(RealFileSystem().WriteFileAtomic(f.out, result.bytes));
  std::cout << "protected " << f.in << " as " << f.out
            << (result.container == formats::Container::kOffice
                    ? ", an Office document protected as Office does it"
                    : "")
            << (f.offline ? " offline" : "") << " (content " << result.content_id << ", owner "
            << result.owner << ")\n";
  return Status::Ok();
}

Status Open(const Client& c, const std::string& in, const std::string& out) {
  ASSIGN_OR_RETURN(std::string bytes, RealFileSystem().ReadFile(in, kMaxFileBytes));
  // Refuse what is not a protected file before asking for a password.
  ASSIGN_OR_RETURN(formats::ProtectedFile file, formats::ReadProtected(bytes));
  bytes.clear();
  bytes.shrink_to_fit();
  ASSIGN_OR_RETURN(client::Session session, LogOn(c));
  ASSIGN_OR_RETURN(client::Opened opened, client::Open(session, file));
  RETURN_IF_ERROR(RealFileSystem().WriteFileAtomic(out, opened.plain));
  std::string rights;
  for (const auto& r : opened.rights) rights += (rights.empty() ? "" : ", ") + r;
  std::cout << "opened " << in << " as " << out << " (rights: " << rights
            << "; license valid until " << opened.valid_until << ")\n";
  return Status::Ok();
}

Status Certify(const Client& c, const std::string& out, const std::string& key_out, bool temporary,
               bool clc) {
  ASSIGN_OR_RETURN(client::Session session, LogOn(c));
  ASSIGN_OR_RETURN(client::Certified certified, client::Certify(session, temporary, clc));
  RETURN_IF_ERROR(RealFileSystem().WriteFileAtomic(key_out, certified.sealed_key));
  RETURN_IF_ERROR(RealFileSystem().WriteFileAtomic(out, certified.certificate));
  if (clc) {
    std::cout << "wrote the client licensor certificate (valid until " << certified.valid_until
              << ") to " << out << " and its key (sealed with your password) to " << key_out
              << "; protect offline with openrms protect --offline --clc " << out << " --clc-key "
              << key_out << "\n";
  } else {
    std::cout << "wrote the rights account certificate to " << out << " and its key (sealed with "
              << "your password) to " << key_out << "\n";
  }
  return Status::Ok();
}

// A protected file of either container, if `what` names one.
Result<std::optional<formats::ProtectedFile>> ProtectedFileAt(const std::string& what) {
  if (!RealFileSystem().Exists(what)) return std::optional<formats::ProtectedFile>();
  ASSIGN_OR_RETURN(std::string bytes, RealFileSystem().ReadFile(what, kMaxFileBytes));
  ASSIGN_OR_RETURN(formats::ProtectedFile file, formats::ReadProtected(bytes));
  return std::optional<formats::ProtectedFile>(std::move(file));
}

// Revokes CONTENT_ID|FILE: as an administrator on the server directory, or
// as the content's owner through the server.
struct RevokeTarget {
  std::string what;  // a content ID or a protected file
  std::string dir;
  std::string cluster;
  Client client;
};

Status Revoke(const RevokeTarget& t) {
  ASSIGN_OR_RETURN(std::optional<formats::ProtectedFile> file, ProtectedFileAt(t.what));
  if (t.dir.empty() == t.client.server.empty()) {
    return Status(Code::kInvalidArgument,
                  "give --dir DIR (an administrator on the server) or --server URL --user NAME "
                  "(the owner)");
  }
  if (!t.dir.empty()) {
    std::string id = t.what;
    if (file) {
      ASSIGN_OR_RETURN(id, client::ContentIdOf(*file));
    }
    ASSIGN_OR_RETURN(auto ctx, node::ServerContext::Open(t.dir, std::nullopt, false));
    ASSIGN_OR_RETURN(std::string cluster, ctx->ResolveCluster(t.cluster));
    licensing::LicensingService service(ctx->clusters(), ctx->database(), DefaultClock(),
                                        crypto::SystemRandom(), "");
    RETURN_IF_ERROR(service.Revoke(cluster, id, accounts::Identity{Actor(), {}, "cli"}));
    std::cout << "revoked " << id << " in " << cluster
              << ": no node issues a license for it from now on (within 2 s)\n";
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(client::Session session, LogOn(t.client));
  ASSIGN_OR_RETURN(std::string revoked, client::Revoke(session, file ? &*file : nullptr, t.what));
  std::cout << "revoked " << revoked
            << ": no node issues a license for it from now on (within 2 s)\n";
  return Status::Ok();
}

// `openrms track`: a document's license requests.
struct TrackTarget {
  std::string what;  // a content ID or a protected file
  std::string dir;
  std::string cluster;
  Client client;
  size_t limit = 100;
  bool json = false;
};

std::optional<Time> TimeField(const json& object, std::string_view name) {
  const std::string t = StringMemberOrEmpty(object, name);
  if (t.empty()) return std::nullopt;
  return ParseTime(t);
}

// The server's answer (my_v2_codec.h, TrackingJson) as the service's.
licensing::LicensingService::Tracking TrackingFromAnswer(const json& answer) {
  licensing::LicensingService::Tracking t;
  const json& d = MemberOrNull(answer, "Document");
  t.document.content_id = StringMemberOrEmpty(d, "ContentId");
  t.document.owner = StringMemberOrEmpty(d, "Owner");
  t.document.published = TimeField(d, "PublishedAt");
  t.document.last_request = TimeField(d, "LastRequestAt");
  const json& granted = MemberOrNull(d, "Granted");
  const json& refused = MemberOrNull(d, "Refused");
  t.document.granted = granted.is_number_integer() ? granted.get<int64_t>() : 0;
  t.document.refused = refused.is_number_integer() ? refused.get<int64_t>() : 0;
  const json& revoked = MemberOrNull(d, "Revoked");
  t.document.revoked_by = StringMemberOrEmpty(revoked, "By");
  t.document.revoked_at = TimeField(revoked, "At");
  const json& requests = MemberOrNull(answer, "Requests");
  for (const json& r : requests.is_array() ? requests : json::array()) {
    licensing::AuditEntry e;
    e.record.at = TimeField(r, "Time").value_or(Time{});
    e.record.user = StringMemberOrEmpty(r, "User");
    e.record.address = StringMemberOrEmpty(r, "Address");
    e.record.node = StringMemberOrEmpty(r, "Node");
    e.record.kind = StringMemberOrEmpty(r, "Operation");
    e.record.result = StringMemberOrEmpty(r, "Result");
    e.record.detail = StringMemberOrEmpty(r, "Reason");
    e.record.content_id = t.document.content_id;
    t.requests.push_back(std::move(e));
  }
  return t;
}

void PrintTracking(const std::string& cluster, const licensing::LicensingService::Tracking& t,
                   bool as_json) {
  const licensing::DocumentSummary& d = t.document;
  if (as_json) {
    json requests = json::array();
    for (const auto& e : t.requests) {
      const licensing::AuditRecord& r = e.record;
      requests.push_back({{"time", JsonTime(r.at)},
                          {"user", r.user},
                          {"address", r.address},
                          {"node", r.node},
                          {"operation", r.kind},
                          {"result", r.result},
                          {"reason", r.detail}});
    }
    PrintJson({{"cluster", cluster},
               {"content_id", d.content_id},
               {"owner", d.owner},
               {"published", JsonTime(d.published)},
               {"granted", d.granted},
               {"refused", d.refused},
               {"last_request", JsonTime(d.last_request)},
               {"revoked_by", d.revoked_by.empty() ? json() : json(d.revoked_by)},
               {"revoked_at", JsonTime(d.revoked_at)},
               {"requests", requests}},
              std::cout);
    return;
  }
  std::cout << "content " << d.content_id << (cluster.empty() ? "" : " in " + cluster) << "\n"
            << "owner: " << (d.owner.empty() ? "(not recorded)" : d.owner) << "\n"
            << "published: " << (d.published ? FormatHuman(*d.published) : "offline, or unknown")
            << "\n"
            << "use licenses: " << d.granted << " granted, " << d.refused << " refused";
  if (d.last_request) std::cout << "; last asked " << FormatHuman(*d.last_request);
  std::cout << "\n";
  if (!d.revoked_by.empty()) {
    std::cout << "revoked by " << d.revoked_by
              << (d.revoked_at ? " at " + FormatHuman(*d.revoked_at) : "") << "\n";
  }
  std::cout << "requests, newest first:\n";
  for (const auto& e : t.requests) {
    const licensing::AuditRecord& r = e.record;
    std::cout << "  " << FormatIso8601(r.at) << "  " << r.user << "  "
              << (r.address.empty() ? "-" : r.address) << "  " << (r.node.empty() ? "-" : r.node)
              << "  " << r.kind << "  " << r.result << (r.detail.empty() ? "" : "  " + r.detail)
              << "\n";
  }
}

Status Track(const TrackTarget& t) {
  std::string id = t.what;
  ASSIGN_OR_RETURN(std::optional<formats::ProtectedFile> file, ProtectedFileAt(t.what));
  if (file) {
    ASSIGN_OR_RETURN(id, client::ContentIdOf(*file));
  }
  if (t.dir.empty() == t.client.server.empty()) {
    return Status(Code::kInvalidArgument,
                  "give --dir DIR (an administrator on the server) or --server URL --user NAME "
                  "(the owner)");
  }
  if (!t.dir.empty()) {
    ASSIGN_OR_RETURN(auto ctx, node::ServerContext::Open(t.dir, std::nullopt, false));
    ASSIGN_OR_RETURN(std::string cluster, ctx->ResolveCluster(t.cluster));
    licensing::LicensingService service(ctx->clusters(), ctx->database(), DefaultClock(),
                                        crypto::SystemRandom(), "");
    ASSIGN_OR_RETURN(auto tracking, service.TrackAny(cluster, id, t.limit));
    PrintTracking(cluster, tracking, t.json);
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(client::Session session, LogOn(t.client));
  ASSIGN_OR_RETURN(json answer, client::Track(session, id));
  PrintTracking("", TrackingFromAnswer(answer), t.json);
  return Status::Ok();
}

}  // namespace

void RegisterLicensingCommands(CLI::App& app, int& exit_code) {
  static Client cert_c;
  static std::string cert_out, cert_key;
  static bool cert_temporary = false, cert_clc = false;
  auto* certify = app.add_subcommand("certify", "Get a rights account certificate (RAC)");
  AddClient(certify, cert_c);
  certify->add_option("--out", cert_out, "Where to write the RAC chain")->required();
  certify->add_option("--key-out", cert_key, "Where to write your new key")->required();
  certify->add_flag("--temporary", cert_temporary, "A temporary RAC (15 minutes by default)");
  certify->add_flag("--clc", cert_clc,
                    "A client licensor certificate instead, for protect --offline");
  certify->callback([&exit_code] {
    Status s = Certify(cert_c, cert_out, cert_key, cert_temporary, cert_clc);
    if (!s.ok()) exit_code = ReportError(s);
  });

  static Client login_c;
  auto* login = app.add_subcommand("login", "Log on to a cluster and print a bearer token");
  AddClient(login, login_c);
  login->callback([&exit_code] {
    auto s = LogOn(login_c);
    if (!s.ok()) return void(exit_code = ReportError(s.status()));
    std::cout << s->token() << "\n";
  });

  static Client protect_c;
  static ProtectFlags pf;
  auto* protect = app.add_subcommand(
      "protect",
      "Protect a file through a cluster: an Office document stays one, as Office "
      "protects it; any other file becomes a PFILE");
  protect->add_option("IN", pf.in, "The file to protect")->required();
  protect->add_option("OUT", pf.out, "The protected file to write")->required();
  AddClient(protect, protect_c, false);
  protect->add_option("--rights", pf.rights, "USER:RIGHT[,RIGHT]... (repeatable)");
  protect->add_option("--template", pf.template_name, "A rights policy template's name");
  protect->add_option("--expires", pf.expires, "The content expires at this UTC time");
  protect
      ->add_option("--container", pf.container,
                   "auto (by the file's content: Office documents stay Office documents), pfile "
                   "or office")
      ->check(CLI::IsMember({"auto", "pfile", "office"}))
      ->capture_default_str();
  protect->add_flag("--offline", pf.offline,
                    "Without the server, signed with a client licensor certificate");
  protect->add_option("--clc", pf.clc, "The CLC (openrms certify --clc --out)");
  protect->add_option("--clc-key", pf.clc_key, "Its key (openrms certify --clc --key-out)");
  protect->callback([&exit_code] {
    Status s = Protect(protect_c, pf);
    if (!s.ok()) exit_code = ReportError(s);
  });

  static Client open_c;
  static std::string o_in, o_out;
  auto* open = app.add_subcommand("open", "Open a protected file you hold a right on");
  open->add_option("IN", o_in, "The protected file")->required();
  open->add_option("OUT", o_out, "Where to write the content")->required();
  AddClient(open, open_c);
  open->callback([&exit_code] {
    Status s = Open(open_c, o_in, o_out);
    if (!s.ok()) exit_code = ReportError(s);
  });

  static TrackTarget tr;
  auto* track = app.add_subcommand(
      "track", "Who asked for a license to protected content, when, from where, and the answer");
  track->add_option("WHAT", tr.what, "A content ID, or a protected file")->required();
  track->add_option("--dir", tr.dir, "The server directory (as an administrator)");
  track->add_option("--cluster", tr.cluster, "The cluster (with --dir, when there are several)");
  track->add_option("--limit", tr.limit, "At most this many requests (with --dir)")
      ->check(CLI::Range(size_t{1}, licensing::kMaxAuditPage))
      ->capture_default_str();
  AddClient(track, tr.client, false);
  AddJsonFlag(track, tr.json);
  track->callback([&exit_code] {
    Status s = Track(tr);
    if (!s.ok()) exit_code = ReportError(s);
  });

  static RevokeTarget rv;
  auto* revoke = app.add_subcommand(
      "revoke", "Revoke protected content: no license is issued for it from then on");
  revoke->add_option("WHAT", rv.what, "A content ID, or a protected file")->required();
  revoke->add_option("--dir", rv.dir, "The server directory (as an administrator)");
  revoke->add_option("--cluster", rv.cluster, "The cluster (with --dir, when there are several)");
  AddClient(revoke, rv.client, false);
  revoke->callback([&exit_code] {
    Status s = Revoke(rv);
    if (!s.ok()) exit_code = ReportError(s);
  });

  auto* tmpl = app.add_subcommand("template", "Manage rights policy templates");
  tmpl->require_subcommand(1);
  static std::string t_dir, t_name, t_description;
  static std::vector<std::string> t_rights;
  static int t_days = 0;
  auto* add = tmpl->add_subcommand("add", "Add a template");
  add->add_option("--dir", t_dir, "The server directory")->required();
  add->add_option("--name", t_name, "Its name")->required();
  add->add_option("--description", t_description, "Its description")->required();
  add->add_option("--rights", t_rights, "USER:RIGHT[,RIGHT]... (repeatable)")->required();
  add->add_option("--valid-days", t_days, "Content expires this many days after protection");
  add->callback([&exit_code] {
    auto ctx = node::ServerContext::Open(t_dir, std::nullopt, false);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    licensing::LicensingService service((*ctx)->clusters(), (*ctx)->database(), DefaultClock(),
                                        crypto::SystemRandom(), "");
    auto urs = UserRightsFromFlags(t_rights);
    if (!urs.ok()) return void(exit_code = ReportError(urs.status()));
    licensing::Template t;
    t.name = t_name;
    t.description = t_description;
    t.user_rights = *urs;
    if (t_days > 0) t.valid_days = t_days;
    auto added = service.AddTemplate(t);
    if (!added.ok()) return void(exit_code = ReportError(added.status()));
    std::cout << "added template " << added->name << " " << added->id << "\n";
  });
  static std::string l_dir;
  static bool l_json = false;
  auto* list = tmpl->add_subcommand("list", "List the templates");
  list->add_option("--dir", l_dir, "The server directory")->required();
  AddJsonFlag(list, l_json);
  list->callback([&exit_code] {
    auto ctx = node::ServerContext::Open(l_dir, std::nullopt, false);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    licensing::LicensingService service((*ctx)->clusters(), (*ctx)->database(), DefaultClock(),
                                        crypto::SystemRandom(), "");
    auto all = service.ListTemplates();
    if (!all.ok()) return void(exit_code = ReportError(all.status()));
    if (l_json) {
      json rows = json::array();
      for (const auto& t : *all) rows.push_back(TemplateJson(t));
      return PrintJson(rows, std::cout);
    }
    for (const auto& t : *all) std::cout << t.id << "\t" << t.name << "\t" << t.description << "\n";
  });
}

}  // namespace openrms::cli
