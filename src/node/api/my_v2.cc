#include "node/api/my_v2.h"

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "crypto/keys.h"
#include "node/api/my_v2_codec.h"
#include "xrml/chain.h"

namespace openrms::node::api {

std::optional<nlohmann::json> JsonBody(const http::Request& req, http::Response& error) {
  auto j = ParseJson(req.body);
  if (!j.ok()) {
    error = JsonError(400, "InvalidRequest", j.status().message());
    return std::nullopt;
  }
  return std::move(*j);
}

http::Response MyV2Api::Handle(const std::string& cluster, const std::string& base,
                               const std::string& operation, const http::Request& req) const {
  const auto found = bearer_.SessionOf(req);
  if (!found.ok()) return bearer_.Refusal(cluster, found.status());
  const std::optional<accounts::Session>& session = *found;
  if (!session) return bearer_.Challenge(cluster);
  const accounts::Identity who{session->user, session->groups, "", req.remote_address};
  auto refusal = ProtocolErrorResponse;
  // Names and URLs in answers came from users: written without throwing.
  auto ok = [](const nlohmann::json& j) { return http::Response::Json(200, WriteJson(j)); };
  if (operation == "servicediscovery" && req.method == "GET") {
    return ok(ServiceDiscoveryJson(base));
  }
  if (operation == "templates" && req.method == "GET") {
    auto list = licensing_.ListTemplates();
    if (!list.ok()) return refusal(list.status());
    return ok(TemplatesJson(*list));
  }
  if (operation == "publishinglicenses" && req.method == "POST") {
    http::Response error;
    const auto j = JsonBody(req, error);
    if (!j) return error;
    auto request = ReadPublishRequest(*j);
    if (!request.ok()) return refusal(request.status());
    auto license = licensing_.Publish(cluster, who, *request, base);
    if (!license.ok()) return refusal(license.status());
    return http::Response::Json(200, PublishedLicenseAnswer(*license));
  }
  if (operation == "clientlicensorcertificates" && (req.method == "POST" || req.method == "GET")) {
    http::Response error;
    const auto j = JsonBody(req, error);
    if (!j) return error;
    auto der = ReadClientLicensorRequest(*j);
    if (!der.ok()) return refusal(der.status());
    if (!*der) {  // the SDK's offline publisher: the server makes the key
      auto thin = licensing_.IssueThinClc(cluster, who, base);
      if (!thin.ok()) return refusal(thin.status());
      return http::Response::Json(200, ThinClientLicensorJson(thin->serialized, thin->valid_until));
    }
    auto key = crypto::PublicKey::FromPkcs1Der(**der);
    if (!key.ok()) return JsonError(400, "InvalidRequest", key.status().message());
    auto chain = licensing_.IssueClc(cluster, who, *key, base);
    if (!chain.ok()) return refusal(chain.status());
    const xrml::Right* issue = chain->front().FindRight(xrml::kRightIssue);
    const Time until =
        issue != nullptr && issue->range && issue->range->until ? *issue->range->until : Time{};
    return http::Response::Json(200, ClientLicensorJson(xrml::WriteChainFile(*chain), until));
  }
  if (operation == "revocations" && req.method == "POST") {
    http::Response error;
    const auto j = JsonBody(req, error);
    if (!j) return error;
    auto request = ReadRevocationRequest(*j);
    if (!request.ok()) return refusal(request.status());
    auto id = licensing_.RevokeAs(cluster, who, request->content_id, request->publishing_license);
    if (!id.ok()) return refusal(id.status());
    return ok({{"ContentId", *id}, {"RevokedBy", who.user}});
  }
  if (operation == "documents" && req.method == "GET") {
    auto list = licensing_.DocumentsOf(cluster, who);
    if (!list.ok()) return refusal(list.status());
    return http::Response::Json(200, DocumentsJson(*list));
  }
  if (constexpr std::string_view kDocument = "documents/";
      operation.rfind(kDocument, 0) == 0 && req.method == "GET") {
    auto tracking = licensing_.Track(cluster, who, operation.substr(kDocument.size()));
    if (!tracking.ok()) {
      // Not a template: the protocol's TemplateNotFound would mislead.
      if (tracking.status().code() == Code::kNotFound) {
        return JsonError(404, "NotFound", tracking.status().message());
      }
      return refusal(tracking.status());
    }
    return http::Response::Json(200, TrackingJson(*tracking));
  }
  if (operation == "enduserlicenses" && req.method == "POST")
    return EndUserLicense(cluster, who, req);
  // With service discovery off the SDK posts to clientlogs/debug and
  // clientlogs/performance; discovery names the other two.
  if ((operation == "clientdebuglogs" || operation == "clientperformancelogs" ||
       operation == "clientlogs/debug" || operation == "clientlogs/performance") &&
      req.method == "POST") {
    return http::Response::Json(200, "{}");  // accepted and not kept
  }
  return JsonError(404, "NotFound", "no such operation: " + operation);
}

http::Response MyV2Api::EndUserLicense(const std::string& cluster, const accounts::Identity& who,
                                       const http::Request& req) const {
  auto ok = [](const licensing::UseLicense& l) {
    return http::Response::Json(200, WriteJson(UseLicenseJson(l)));
  };
  // The same bytes parse to the same license: a body answered before goes
  // to the service by its license's digest.
  const std::string body_id = crypto::Sha256(req.body);
  if (auto digest = bodies_.Get(body_id)) {
    auto known = licensing_.EndUserLicenseOfOpened(cluster, who, *digest);
    if (!known.ok()) return ProtocolErrorResponse(known.status());
    if (*known) {
      body_counters_.hits.fetch_add(1, std::memory_order_relaxed);
      return ok(**known);
    }
  }
  body_counters_.misses.fetch_add(1, std::memory_order_relaxed);
  auto sole = ReadSoleEndUserLicenseRequest(req.body);
  if (!sole) {  // not the SDK's usual body: read it as JSON
    http::Response error;
    const auto j = JsonBody(req, error);
    if (!j) return error;
    sole = ReadEndUserLicenseRequest(*j);
  }
  auto& request = *sole;
  if (!request.ok()) return ProtocolErrorResponse(request.status());
  auto license = licensing_.EndUserLicense(cluster, who, *request);
  if (!license.ok()) return ProtocolErrorResponse(license.status());
  bodies_.Put(body_id, license->license_digest);
  return ok(*license);
}

}  // namespace openrms::node::api
