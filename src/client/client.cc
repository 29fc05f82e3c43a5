#include "client/client.h"

#include "base/json.h"
#include "base/text.h"
#include "crypto/encoding.h"
#include "crypto/password_hash.h"
#include "http/client.h"
#include "http/url.h"
#include "licensing/license_documents.h"

namespace openrms::client {

namespace {

using nlohmann::json;

std::string RestBase(std::string server) {
  while (!server.empty() && server.back() == '/') server.pop_back();
  if (server.size() >= 6 && server.compare(server.size() - 6, 6, "/my/v2") == 0) return server;
  return server + "/my/v2";
}

std::string Refusal(const http::ClientResponse& resp, const json& j) {
  return !StringMemberOrEmpty(j, "Message").empty() ? StringMemberOrEmpty(j, "Message")
                                                    : "HTTP " + std::to_string(resp.status);
}

// By content, unless the caller chose; what is protected already stays
// refused either way.
Result<formats::Container> ContainerOf(std::string_view plain, const Protection& how) {
  Result<formats::Container> chosen = formats::ContainerFor(plain);
  if (!chosen.ok() && chosen.status().code() == Code::kFailedPrecondition) return chosen;
  if (how.container) return *how.container;
  return chosen;
}

}  // namespace

Result<Session> Session::LogOn(const Account& account) {
  Session s;
  s.account_ = account;
  ASSIGN_OR_RETURN(http::ParsedUrl server, http::ParseHttpUrl(account.server));
  http::ClientRequest req;
  req.method = "POST";
  req.url = server.Origin() + "/oauth2/token";  // at the root, not below the cluster URL
  req.ca_pem = account.tls_ca_pem;
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = "grant_type=password&username=" + PercentEncode(account.user) +
             "&password=" + PercentEncode(account.password);
  ASSIGN_OR_RETURN(http::ClientResponse resp, http::Fetch(req));
  const json j = json::parse(resp.body, nullptr, false);
  if (resp.status != 200 || StringMemberOrEmpty(j, "access_token").empty()) {
    const std::string why = !StringMemberOrEmpty(j, "error_description").empty()
                                ? StringMemberOrEmpty(j, "error_description")
                                : "HTTP " + std::to_string(resp.status);
    return Status(Code::kUnauthenticated, "logon refused for " + account.user + ": " + why);
  }
  s.token_ = StringMemberOrEmpty(j, "access_token");
  return s;
}

Result<json> Session::Post(const std::string& path, const json& body) {
  http::ClientRequest req;
  req.method = "POST";
  std::string base = account_.server;
  while (!base.empty() && base.back() == '/') base.pop_back();
  req.url = base + path;
  req.ca_pem = account_.tls_ca_pem;
  req.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + token_}};
  req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  ASSIGN_OR_RETURN(http::ClientResponse resp, http::Fetch(req));
  const json j = json::parse(resp.body, nullptr, false);
  if (resp.status != 200 || j.is_discarded()) {
    return Status(Code::kFailedPrecondition, "the server refused: " + Refusal(resp, j));
  }
  return j;
}

Result<json> Session::Call(const std::string& method, const std::string& operation,
                           const json& body) {
  http::ClientRequest req;
  req.method = method;
  req.url = RestBase(account_.server) + "/" + operation;
  req.ca_pem = account_.tls_ca_pem;
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
    return Status(resp.status == 401 ? Code::kUnauthenticated : Code::kFailedPrecondition,
                  "the server refused: " + Refusal(resp, j));
  }
  if (j.is_discarded()) return Status(Code::kMalformed, "the server's answer is not JSON");
  return j;
}

Result<Protected> Protect(Session& session, std::string_view plain, const Protection& how) {
  if (how.rights.empty() == how.template_name.empty()) {
    return Status(Code::kInvalidArgument, "give --rights USER:RIGHT[,RIGHT]... or --template NAME");
  }
  ASSIGN_OR_RETURN(formats::Container container, ContainerOf(plain, how));
  // Office documents are AES-128 ECB (MS-OFFCRYPTO 2.2.10): the SDK asks
  // for them with PreferDeprecatedAlgorithms.
  json request = {{"AllowAuditedExtraction", false},
                  {"PreferDeprecatedAlgorithms", container == formats::Container::kOffice}};
  if (!how.template_name.empty()) {
    ASSIGN_OR_RETURN(json templates, session.Call("GET", "templates", json()));
    std::string id;
    for (const auto& t : templates) {
      if (StringMemberOrEmpty(t, "Name") == how.template_name) id = StringMemberOrEmpty(t, "Id");
    }
    if (id.empty()) {
      return Status(Code::kNotFound,
                    "the server has no rights policy template named \"" + how.template_name + "\"");
    }
    request["TemplateId"] = id;
  } else {
    json user_rights = json::array();
    for (const auto& ur : how.rights) {
      user_rights.push_back({{"Users", ur.users}, {"Rights", ur.rights}});
    }
    json policy = {{"Descriptors",
                    {{{"Name", "Protected " + how.name},
                      {"Description", "Protected by " + session.account().user},
                      {"Language", "en-us"}}}},
                   {"UserRights", user_rights},
                   {"allowOfflineAccess", true},
                   {"IntervalTimeInDays", 30}};
    if (how.expires) policy["LicenseValidUntil"] = FormatIso8601(*how.expires);
    request["Policy"] = policy;
  }
  ASSIGN_OR_RETURN(json answer, session.Call("POST", "publishinglicenses", request));
  auto pl = crypto::Base64Decode(StringMemberOrEmpty(answer, "SerializedPublishingLicense"));
  auto key = crypto::Base64Decode(StringMemberOrEmpty(MemberOrNull(answer, "Key"), "Value"));
  if (!pl || pl->empty() || !key) {
    return Status(Code::kMalformed, "the server's publishing license answer is incomplete");
  }
  const std::string mode = StringMemberOrEmpty(MemberOrNull(answer, "Key"), "CipherMode");
  if (mode != formats::CipherModeOf(container)) {
    return Status(Code::kUnsupported,
                  "the server gave a " + (mode.empty() ? std::string("content") : mode) +
                      " key, but a " + std::string(formats::ContainerName(container)) + " needs " +
                      std::string(formats::CipherModeOf(container)) +
                      (container == formats::Container::kOffice
                           ? "; the server does not protect Office documents as Office does"
                           : ""));
  }
  ASSIGN_OR_RETURN(std::string bytes, formats::Seal(container, plain, *pl, *key, how.extension));
  crypto::Wipe(*key);
  return Protected{std::move(bytes), container, StringMemberOrEmpty(answer, "ContentId"),
                   StringMemberOrEmpty(answer, "Owner")};
}

Result<Protected> ProtectOffline(const xrml::Document& clc, const crypto::PrivateKey& clc_key,
                                 std::string_view plain, const Protection& how, Time now,
                                 Random& random) {
  if (how.rights.empty()) {
    return Status(Code::kInvalidArgument,
                  "--offline takes --rights USER:RIGHT[,RIGHT]... (templates live on the server)");
  }
  ASSIGN_OR_RETURN(formats::Container container, ContainerOf(plain, how));
  licensing::Policy policy;
  policy.user_rights = how.rights;
  policy.name = "Protected " + how.name;
  policy.allow_offline = true;
  policy.interval_days = 30;
  policy.valid_until = how.expires;
  ASSIGN_OR_RETURN(licensing::PublishedLicense license,
                   licensing::PublishOffline(clc, clc_key, std::move(policy), now, random,
                                             container == formats::Container::kOffice));
  ASSIGN_OR_RETURN(std::string bytes, formats::Seal(container, plain, license.publishing_license,
                                                    license.content_key, how.extension));
  return Protected{std::move(bytes), container, license.policy.content_id, license.policy.owner};
}

Result<Opened> Open(Session& session, const formats::ProtectedFile& file) {
  ASSIGN_OR_RETURN(json answer, session.Call("POST", "enduserlicenses",
                                             {{"SerializedPublishingLicense",
                                               crypto::Base64Encode(file.publishing_license)}}));
  const std::string status = StringMemberOrEmpty(answer, "AccessStatus");
  if (status == "AccessDenied") {
    const std::string reason = StringMemberOrEmpty(answer, "Reason");
    return Status(
        Code::kPermissionDenied,
        "access denied: " +
            (reason.empty() ? session.account().user + " holds no right on this content" : reason));
  }
  if (status == "ContentExpired") {
    const std::string until = StringMemberOrEmpty(answer, "ContentValidUntil");
    return Status(Code::kExpired, "access denied: the content expired on " +
                                      (until.empty() ? "an earlier date" : until));
  }
  if (status != "AccessGranted") {
    return Status(Code::kMalformed,
                  "the server answered an unknown AccessStatus \"" + status + "\"");
  }
  auto key = crypto::Base64Decode(StringMemberOrEmpty(MemberOrNull(answer, "Key"), "Value"));
  if (!key) return Status(Code::kMalformed, "the server's answer holds no content key");
  Opened out;
  out.container = file.container;
  auto plain = formats::Unseal(file, *key);
  crypto::Wipe(*key);
  if (!plain.ok()) return plain.status();
  out.plain = std::move(*plain);
  for (const auto& r : MemberOrNull(answer, "Rights")) {
    if (r.is_string()) out.rights.push_back(r.get<std::string>());
  }
  out.valid_until = StringMemberOrEmpty(answer, "LicenseValidUntil");
  return out;
}

Result<Certified> Certify(Session& session, bool temporary, bool clc) {
  ASSIGN_OR_RETURN(crypto::SealedKeyPair pair,
                   crypto::GenerateSealedRsaKey(2048, session.account().password));
  const std::string public_key = crypto::Base64Encode(pair.key->public_key().ToPkcs1Der());
  Certified out;
  out.sealed_key = pair.sealed_pem;
  if (clc) {
    ASSIGN_OR_RETURN(json answer, session.Call("POST", "clientlicensorcertificates",
                                               {{"PublicKey", public_key}}));
    out.certificate = StringMemberOrEmpty(answer, "ClientLicensorCertificate");
    if (out.certificate.empty()) {
      return Status(Code::kMalformed, "the server's answer holds no client licensor certificate");
    }
    out.valid_until = StringMemberOrEmpty(answer, "ValidUntil");
    return out;
  }
  ASSIGN_OR_RETURN(json answer, session.Post("/certification", {{"PublicKey", public_key},
                                                                {"Temporary", temporary}}));
  out.certificate = StringMemberOrEmpty(answer, "Certificate");
  if (out.certificate.empty()) {
    return Status(Code::kMalformed, "the server's answer holds no certificate");
  }
  return out;
}

Result<std::string> ContentIdOf(const formats::ProtectedFile& file) {
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

Result<std::string> Revoke(Session& session, const formats::ProtectedFile* file,
                           const std::string& content_id) {
  json body = json::object();
  if (file != nullptr) {
    body["SerializedPublishingLicense"] = crypto::Base64Encode(file->publishing_license);
  } else {
    body["ContentId"] = content_id;
  }
  ASSIGN_OR_RETURN(json answer, session.Call("POST", "revocations", body));
  return StringMemberOrEmpty(answer, "ContentId");
}

Result<json> Track(Session& session, const std::string& content_id) {
  if (content_id.empty() || content_id.size() > 256 ||
      content_id.find_first_of("/?#% ") != std::string::npos) {
    return Status(Code::kInvalidArgument, "\"" + content_id + "\" is not a content ID");
  }
  return session.Call("GET", "documents/" + content_id, json::object());
}

}  // namespace openrms::client
