// openrms login|protect|open (a client of the REST licensing protocol), and
// openrms template add|list (the server's rights policy templates).
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/file_system.h"
#include "cli/commands.h"
#include "cli/json_output.h"
#include "cli/password.h"
#include "crypto/content_cipher.h"
#include "crypto/encoding.h"
#include "http/client.h"
#include "http/forms.h"
#include "http/url.h"
#include "licensing/licensing.h"
#include "licensing/pfile.h"
#include "node/cluster_node.h"
#include "xrml/chain.h"
#include "xrml/document.h"

namespace openrms::cli {

namespace {

using nlohmann::json;

// The member `name` of a server's answer, or null; the string one, or "".
// A server's answer, whatever its shape, never makes the client throw.
const json& Get(const json& object, std::string_view name) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(name);
  return it == object.end() ? kNull : *it;
}
std::string Text(const json& object, std::string_view name) {
  const json& v = Get(object, name);
  return v.is_string() ? v.get<std::string>() : "";
}

constexpr char kUserPasswordEnv[] = "OPENRMS_PASSWORD";
constexpr size_t kMaxFileBytes = size_t{1} << 30;
constexpr char kNotice[] =
    "This document is protected by OpenRMS (rights management). Open it with an RMS client, "
    "for example `openrms open`.";

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

std::string RestBase(std::string server) {
  while (!server.empty() && server.back() == '/') server.pop_back();
  if (server.size() >= 6 && server.compare(server.size() - 6, 6, "/my/v2") == 0) return server;
  return server + "/my/v2";
}

class Session {
 public:
  static Result<Session> Open(const Client& c) {
    Session s;
    s.client_ = c;
    if (!c.tls_ca.empty()) {
      ASSIGN_OR_RETURN(s.ca_, RealFileSystem().ReadFile(c.tls_ca, 1 << 20));
    }
    ASSIGN_OR_RETURN(std::string password,
                     ReadKeyPassword(c.password_file, kUserPasswordEnv, false));
    ASSIGN_OR_RETURN(http::ParsedUrl server, http::ParseHttpUrl(c.server));
    http::ClientRequest req;
    req.method = "POST";
    req.url = server.Origin() + "/oauth2/token";  // at the root, not below the cluster URL
    req.ca_pem = s.ca_;
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    req.body = "grant_type=password&username=" + http::PercentEncode(c.user) +
               "&password=" + http::PercentEncode(password);
    ASSIGN_OR_RETURN(http::ClientResponse resp, http::Fetch(req));
    const json j = json::parse(resp.body, nullptr, false);
    if (resp.status != 200 || Text(j, "access_token").empty()) {
      const std::string why = !Text(j, "error_description").empty()
                                  ? Text(j, "error_description")
                                  : "HTTP " + std::to_string(resp.status);
      return Status(Code::kUnauthenticated, "logon refused for " + c.user + ": " + why);
    }
    s.token_ = Text(j, "access_token");
    s.password_ = password;
    return s;
  }

  const std::string& password() const { return password_; }

  // A plain authenticated JSON POST to a path below the cluster URL.
  Result<json> Post(const std::string& path, const json& body) {
    http::ClientRequest req;
    req.method = "POST";
    std::string base = client_.server;
    while (!base.empty() && base.back() == '/') base.pop_back();
    req.url = base + path;
    req.ca_pem = ca_;
    req.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + token_}};
    req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    ASSIGN_OR_RETURN(http::ClientResponse resp, http::Fetch(req));
    const json j = json::parse(resp.body, nullptr, false);
    if (resp.status != 200 || j.is_discarded()) {
      const std::string message =
          !Text(j, "Message").empty() ? Text(j, "Message") : "HTTP " + std::to_string(resp.status);
      return Status(Code::kFailedPrecondition, "the server refused: " + message);
    }
    return j;
  }

  const std::string& token() const { return token_; }

  // Calls the protocol as the RMS SDK does: first without a token (the
  // server must answer with a Bearer challenge), then with it.
  Result<json> Call(const std::string& method, const std::string& operation, const json& body) {
    http::ClientRequest req;
    req.method = method;
    req.url = RestBase(client_.server) + "/" + operation;
    req.ca_pem = ca_;
    req.headers = {{"Content-Type", "application/json"},
                   {"x-ms-rms-request-id", NewToken(crypto::SystemRandom(), 8)},
                   {"x-ms-rms-platform-id", "OpenRMS-CLI"},
                   {"Accept-Language", "en-US"}};
    // The policy names the file, and file names may be any bytes.
    if (method == "POST") req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    ASSIGN_OR_RETURN(http::ClientResponse first, http::Fetch(req));
    const auto challenge = first.Header("www-authenticate");
    if (first.status != 401 || !challenge || challenge->rfind("Bearer ", 0) != 0 ||
        challenge->find("authorization=") == std::string::npos) {
      return Status(Code::kUnavailable, "the server at " + req.url +
                                            " did not answer with a Bearer challenge (HTTP " +
                                            std::to_string(first.status) + ")");
    }
    req.headers.push_back({"Authorization", "Bearer " + token_});
    ASSIGN_OR_RETURN(http::ClientResponse resp, http::Fetch(req));
    const json j = json::parse(resp.body, nullptr, false);
    if (resp.status != 200) {
      const std::string message =
          !Text(j, "Message").empty() ? Text(j, "Message") : "HTTP " + std::to_string(resp.status);
      return Status(resp.status == 401 ? Code::kUnauthenticated : Code::kFailedPrecondition,
                    "the server refused: " + message);
    }
    if (j.is_discarded()) return Status(Code::kMalformed, "the server's answer is not JSON");
    return j;
  }

 private:
  Client client_;
  std::string ca_;
  std::string token_;
  std::string password_;
};

std::string Extension(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  return path.substr(dot);
}

Result<json> UserRightsFromFlags(const std::vector<std::string>& flags) {
  json out = json::array();
  for (const auto& f : flags) {
    const size_t colon = f.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == f.size()) {
      return Status(Code::kInvalidArgument,
                    "--rights takes USER:RIGHT[,RIGHT]..., such as bob:VIEW,PRINT (not " + f + ")");
    }
    json rights = json::array();
    std::string list = f.substr(colon + 1);
    for (size_t start = 0; start <= list.size();) {
      size_t comma = list.find(',', start);
      if (comma == std::string::npos) comma = list.size();
      if (comma > start) rights.push_back(list.substr(start, comma - start));
      start = comma + 1;
    }
    out.push_back({{"Users", {f.substr(0, colon)}}, {"Rights", rights}});
  }
  return out;
}

Result<std::optional<Time>> ExpiresFlag(const std::string& expires) {
  if (expires.empty()) return std::optional<Time>();
  auto t = ParseTime(expires);
  if (!t) return Status(Code::kInvalidArgument, "--expires takes a UTC time like 2027-01-31T00:00");
  return std::optional<Time>(*t);
}

Status WriteProtected(const std::string& in, const std::string& out, const std::string& plain,
                      const std::string& publishing_license, const std::string& key) {
  ASSIGN_OR_RETURN(std::string content, crypto::Cbc4kEncrypt(key, plain));
  licensing::Pfile file;
  file.notice = kNotice;
  file.extension = Extension(in);
  file.publishing_license = publishing_license;
  file.original_size = plain.size();
  file.content = std::move(content);
  return RealFileSystem().WriteFileAtomic(out, licensing::WritePfile(file));
}

// Offline: a publishing license this machine writes and signs with a
// client licensor certificate's key (openrms certify --clc).
struct Offline {
  bool on = false;
  std::string clc;      // the CLC chain file
  std::string clc_key;  // its sealed key
};

Status ProtectOffline(const Client& c, const Offline& offline, const std::string& in,
                      const std::string& out, const std::vector<std::string>& rights,
                      const std::string& expires) {
  if (rights.empty()) {
    return Status(Code::kInvalidArgument,
                  "--offline takes --rights USER:RIGHT[,RIGHT]... (templates live on the server)");
  }
  if (offline.clc.empty() || offline.clc_key.empty()) {
    return Status(Code::kInvalidArgument,
                  "--offline needs --clc FILE and --clc-key FILE (from openrms certify --clc)");
  }
  ASSIGN_OR_RETURN(std::string plain, RealFileSystem().ReadFile(in, kMaxFileBytes));
  ASSIGN_OR_RETURN(std::string chain_text,
                   RealFileSystem().ReadFile(offline.clc, xrml::kMaxChainFileBytes));
  ASSIGN_OR_RETURN(auto chain, xrml::ParseChain(chain_text));
  ASSIGN_OR_RETURN(std::string sealed, RealFileSystem().ReadFile(offline.clc_key, 1 << 16));
  ASSIGN_OR_RETURN(std::string password, ReadKeyPassword(c.password_file, kUserPasswordEnv, false));
  ASSIGN_OR_RETURN(auto key, crypto::UnsealKey(sealed, password));
  ASSIGN_OR_RETURN(json user_rights, UserRightsFromFlags(rights));
  licensing::Policy policy;
  for (const auto& ur : user_rights) {
    policy.user_rights.push_back({ur["Users"].get<std::vector<std::string>>(),
                                  ur["Rights"].get<std::vector<std::string>>()});
  }
  policy.name = "Protected " + in.substr(in.find_last_of('/') + 1);
  policy.allow_offline = true;
  policy.interval_days = 30;
  ASSIGN_OR_RETURN(policy.valid_until, ExpiresFlag(expires));
  ASSIGN_OR_RETURN(licensing::PublishedLicense license,
                   licensing::PublishOffline(chain[0], *key, std::move(policy),
                                             DefaultClock().Now(), crypto::SystemRandom()));
  RETURN_IF_ERROR(WriteProtected(in, out, plain, license.publishing_license, license.content_key));
  std::cout << "protected " << in << " as " << out << " offline (content "
            << license.policy.content_id << ", owner " << license.policy.owner << ")\n";
  return Status::Ok();
}

Status Protect(const Client& c, const std::string& in, const std::string& out,
               const std::vector<std::string>& rights, const std::string& template_name,
               const std::string& expires) {
  if (rights.empty() == template_name.empty()) {
    return Status(Code::kInvalidArgument, "give --rights USER:RIGHT[,RIGHT]... or --template NAME");
  }
  if (c.server.empty() || c.user.empty()) {
    return Status(Code::kInvalidArgument, "give --server URL and --user NAME (or --offline)");
  }
  ASSIGN_OR_RETURN(std::string plain, RealFileSystem().ReadFile(in, kMaxFileBytes));
  ASSIGN_OR_RETURN(Session session, Session::Open(c));
  json request = {{"AllowAuditedExtraction", false}, {"PreferDeprecatedAlgorithms", false}};
  if (!template_name.empty()) {
    ASSIGN_OR_RETURN(json templates, session.Call("GET", "templates", json()));
    std::string id;
    for (const auto& t : templates) {
      if (Text(t, "Name") == template_name) id = Text(t, "Id");
    }
    if (id.empty()) {
      return Status(Code::kNotFound,
                    "the server has no rights policy template named \"" + template_name + "\"");
    }
    request["TemplateId"] = id;
  } else {
    ASSIGN_OR_RETURN(json user_rights, UserRightsFromFlags(rights));
    json policy = {{"Descriptors",
                    {{{"Name", "Protected " + in.substr(in.find_last_of('/') + 1)},
                      {"Description", "Protected by " + c.user},
                      {"Language", "en-us"}}}},
                   {"UserRights", user_rights},
                   {"allowOfflineAccess", true},
                   {"IntervalTimeInDays", 30}};
    ASSIGN_OR_RETURN(std::optional<Time> until, ExpiresFlag(expires));
    if (until) policy["LicenseValidUntil"] = FormatIso8601(*until);
    request["Policy"] = policy;
  }
  ASSIGN_OR_RETURN(json answer, session.Call("POST", "publishinglicenses", request));
  auto pl = crypto::Base64Decode(Text(answer, "SerializedPublishingLicense"));
  auto key = crypto::Base64Decode(Text(Get(answer, "Key"), "Value"));
  if (!pl || pl->empty() || !key || Text(Get(answer, "Key"), "CipherMode") != "MICROSOFT.CBC4K") {
    return Status(Code::kMalformed, "the server's publishing license answer is incomplete");
  }
  RETURN_IF_ERROR(WriteProtected(in, out, plain, *pl, *key));
  std::cout << "protected " << in << " as " << out << " (content " << Text(answer, "ContentId")
            << ", owner " << Text(answer, "Owner") << ")\n";
  return Status::Ok();
}

Status Open(const Client& c, const std::string& in, const std::string& out) {
  ASSIGN_OR_RETURN(std::string bytes, RealFileSystem().ReadFile(in, kMaxFileBytes));
  ASSIGN_OR_RETURN(licensing::Pfile file, licensing::ReadPfile(bytes));
  ASSIGN_OR_RETURN(Session session, Session::Open(c));
  ASSIGN_OR_RETURN(json answer, session.Call("POST", "enduserlicenses",
                                             {{"SerializedPublishingLicense",
                                               crypto::Base64Encode(file.publishing_license)}}));
  const std::string status = Text(answer, "AccessStatus");
  if (status == "AccessDenied") {
    const std::string reason = Text(answer, "Reason");
    return Status(
        Code::kPermissionDenied,
        "access denied: " + (reason.empty() ? c.user + " holds no right on this content" : reason));
  }
  if (status == "ContentExpired") {
    const std::string until = Text(answer, "ContentValidUntil");
    return Status(Code::kExpired, "access denied: the content expired on " +
                                      (until.empty() ? "an earlier date" : until));
  }
  if (status != "AccessGranted") {
    return Status(Code::kMalformed,
                  "the server answered an unknown AccessStatus \"" + status + "\"");
  }
  auto key = crypto::Base64Decode(Text(Get(answer, "Key"), "Value"));
  if (!key) return Status(Code::kMalformed, "the server's answer holds no content key");
  ASSIGN_OR_RETURN(std::string plain, crypto::Cbc4kDecrypt(*key, file.content));
  if (file.original_size != licensing::kUnknownOriginalSize && file.original_size < plain.size()) {
    plain.resize(file.original_size);
  }
  RETURN_IF_ERROR(RealFileSystem().WriteFileAtomic(out, plain));
  std::string rights;
  for (const auto& r : Get(answer, "Rights")) {
    if (r.is_string()) rights += (rights.empty() ? "" : ", ") + r.get<std::string>();
  }
  std::cout << "opened " << in << " as " << out << " (rights: " << rights
            << "; license valid until " << Text(answer, "LicenseValidUntil") << ")\n";
  return Status::Ok();
}

Status Certify(const Client& c, const std::string& out, const std::string& key_out, bool temporary,
               bool clc) {
  ASSIGN_OR_RETURN(Session session, Session::Open(c));
  ASSIGN_OR_RETURN(crypto::SealedKeyPair pair,
                   crypto::GenerateSealedRsaKey(2048, session.password()));
  if (clc) {
    ASSIGN_OR_RETURN(
        json answer,
        session.Call("POST", "clientlicensorcertificates",
                     {{"PublicKey", crypto::Base64Encode(pair.key->public_key().ToPkcs1Der())}}));
    const std::string certificate = Text(answer, "ClientLicensorCertificate");
    if (certificate.empty()) {
      return Status(Code::kMalformed, "the server's answer holds no client licensor certificate");
    }
    RETURN_IF_ERROR(RealFileSystem().WriteFileAtomic(key_out, pair.sealed_pem));
    RETURN_IF_ERROR(RealFileSystem().WriteFileAtomic(out, certificate));
    std::cout << "wrote the client licensor certificate (valid until " << Text(answer, "ValidUntil")
              << ") to " << out << " and its key (sealed with your password) to " << key_out
              << "; protect offline with openrms protect --offline --clc " << out << " --clc-key "
              << key_out << "\n";
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(
      json answer,
      session.Post("/certification",
                   {{"PublicKey", crypto::Base64Encode(pair.key->public_key().ToPkcs1Der())},
                    {"Temporary", temporary}}));
  const std::string certificate = Text(answer, "Certificate");
  if (certificate.empty()) {
    return Status(Code::kMalformed, "the server's answer holds no certificate");
  }
  RETURN_IF_ERROR(RealFileSystem().WriteFileAtomic(key_out, pair.sealed_pem));
  RETURN_IF_ERROR(RealFileSystem().WriteFileAtomic(out, certificate));
  std::cout << "wrote the rights account certificate to " << out << " and its key (sealed with "
            << "your password) to " << key_out << "\n";
  return Status::Ok();
}

// The content ID a PFILE's publishing license names (WORK/OBJECT/ID).
Result<std::string> ContentIdOf(const licensing::Pfile& file) {
  ASSIGN_OR_RETURN(std::string xml, licensing::DecodeLicense(file.publishing_license));
  ASSIGN_OR_RETURN(auto parts, licensing::SplitLicenseDocuments(xml));
  ASSIGN_OR_RETURN(xrml::Document pl, xrml::ParseDocument(parts[0]));
  const xrml::Element* id = pl.body().Find({"WORK", "OBJECT", "ID"});
  if (id == nullptr || id->text.empty()) {
    return Status(Code::kUnsupported,
                  "this file's publishing license keeps its content ID sealed (OpenRMS's format "
                  "before 2026-12); revoke it by content ID, or through the server (--server)");
  }
  return id->text;
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
  std::optional<licensing::Pfile> file;
  if (RealFileSystem().Exists(t.what)) {
    ASSIGN_OR_RETURN(std::string bytes, RealFileSystem().ReadFile(t.what, kMaxFileBytes));
    ASSIGN_OR_RETURN(licensing::Pfile read, licensing::ReadPfile(bytes));
    file = std::move(read);
  }
  if (t.dir.empty() == t.client.server.empty()) {
    return Status(Code::kInvalidArgument,
                  "give --dir DIR (an administrator on the server) or --server URL --user NAME "
                  "(the owner)");
  }
  if (!t.dir.empty()) {
    std::string id = t.what;
    if (file) {
      ASSIGN_OR_RETURN(id, ContentIdOf(*file));
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
  ASSIGN_OR_RETURN(Session session, Session::Open(t.client));
  json body = json::object();
  if (file) {
    body["SerializedPublishingLicense"] = crypto::Base64Encode(file->publishing_license);
  } else {
    body["ContentId"] = t.what;
  }
  ASSIGN_OR_RETURN(json answer, session.Call("POST", "revocations", body));
  std::cout << "revoked " << Text(answer, "ContentId")
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
  const std::string t = Text(object, name);
  if (t.empty()) return std::nullopt;
  return ParseTime(t);
}

// The server's answer (my_v2_codec.h, TrackingJson) as the service's.
licensing::LicensingService::Tracking TrackingFromAnswer(const json& answer) {
  licensing::LicensingService::Tracking t;
  const json& d = Get(answer, "Document");
  t.document.content_id = Text(d, "ContentId");
  t.document.owner = Text(d, "Owner");
  t.document.published = TimeField(d, "PublishedAt");
  t.document.last_request = TimeField(d, "LastRequestAt");
  const json& granted = Get(d, "Granted");
  const json& refused = Get(d, "Refused");
  t.document.granted = granted.is_number_integer() ? granted.get<int64_t>() : 0;
  t.document.refused = refused.is_number_integer() ? refused.get<int64_t>() : 0;
  const json& revoked = Get(d, "Revoked");
  t.document.revoked_by = Text(revoked, "By");
  t.document.revoked_at = TimeField(revoked, "At");
  const json& requests = Get(answer, "Requests");
  for (const json& r : requests.is_array() ? requests : json::array()) {
    licensing::AuditEntry e;
    e.record.at = TimeField(r, "Time").value_or(Time{});
    e.record.user = Text(r, "User");
    e.record.address = Text(r, "Address");
    e.record.node = Text(r, "Node");
    e.record.kind = Text(r, "Operation");
    e.record.result = Text(r, "Result");
    e.record.detail = Text(r, "Reason");
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
  if (RealFileSystem().Exists(t.what)) {
    ASSIGN_OR_RETURN(std::string bytes, RealFileSystem().ReadFile(t.what, kMaxFileBytes));
    ASSIGN_OR_RETURN(licensing::Pfile file, licensing::ReadPfile(bytes));
    ASSIGN_OR_RETURN(id, ContentIdOf(file));
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
  if (id.empty() || id.size() > 256 || id.find_first_of("/?#% ") != std::string::npos) {
    return Status(Code::kInvalidArgument, "\"" + id + "\" is not a content ID");
  }
  ASSIGN_OR_RETURN(Session session, Session::Open(t.client));
  ASSIGN_OR_RETURN(json answer, session.Call("GET", "documents/" + id, json::object()));
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
    auto s = Session::Open(login_c);
    if (!s.ok()) return void(exit_code = ReportError(s.status()));
    std::cout << s->token() << "\n";
  });

  static Client protect_c;
  static std::string p_in, p_out, p_template, p_expires;
  static std::vector<std::string> p_rights;
  auto* protect = app.add_subcommand("protect", "Protect a file (PFILE) through a cluster");
  protect->add_option("IN", p_in, "The file to protect")->required();
  protect->add_option("OUT", p_out, "The protected file to write")->required();
  AddClient(protect, protect_c, false);
  protect->add_option("--rights", p_rights, "USER:RIGHT[,RIGHT]... (repeatable)");
  protect->add_option("--template", p_template, "A rights policy template's name");
  protect->add_option("--expires", p_expires, "The content expires at this UTC time");
  static Offline p_offline;
  protect->add_flag("--offline", p_offline.on,
                    "Without the server, signed with a client licensor certificate");
  protect->add_option("--clc", p_offline.clc, "The CLC (openrms certify --clc --out)");
  protect->add_option("--clc-key", p_offline.clc_key, "Its key (openrms certify --clc --key-out)");
  protect->callback([&exit_code] {
    Status s = p_offline.on ? ProtectOffline(protect_c, p_offline, p_in, p_out, p_rights, p_expires)
                            : Protect(protect_c, p_in, p_out, p_rights, p_template, p_expires);
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
    for (const auto& ur : *urs) {
      t.user_rights.push_back({ur["Users"].get<std::vector<std::string>>(),
                               ur["Rights"].get<std::vector<std::string>>()});
    }
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
