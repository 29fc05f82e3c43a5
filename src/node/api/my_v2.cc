#include "node/api/my_v2.h"

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "node/api/my_v2_codec.h"

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
  const auto session = bearer_.SessionOf(req);
  if (!session) return bearer_.Challenge(cluster);
  const accounts::Identity who{session->user, session->groups, ""};
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
    return ok(PublishedLicenseJson(*license));
  }
  if (operation == "enduserlicenses" && req.method == "POST") {
    http::Response error;
    const auto j = JsonBody(req, error);
    if (!j) return error;
    auto request = ReadEndUserLicenseRequest(*j);
    if (!request.ok()) return refusal(request.status());
    auto license = licensing_.EndUserLicense(cluster, who, *request);
    if (!license.ok()) return refusal(license.status());
    return ok(UseLicenseJson(*license));
  }
  // With service discovery off the SDK posts to clientlogs/debug and
  // clientlogs/performance; discovery names the other two.
  if ((operation == "clientdebuglogs" || operation == "clientperformancelogs" ||
       operation == "clientlogs/debug" || operation == "clientlogs/performance") &&
      req.method == "POST") {
    return http::Response::Json(200, "{}");  // accepted and not kept
  }
  return JsonError(404, "NotFound", "no such operation: " + operation);
}

}  // namespace openrms::node::api
