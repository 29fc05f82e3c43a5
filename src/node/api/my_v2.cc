#include "node/api/my_v2.h"

#include <nlohmann/json.hpp>

#include "base/json.h"

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
  auto answer = [](const Result<nlohmann::json>& r) {
    if (r.ok()) return http::Response::Json(200, r->dump());
    const licensing::ProtocolError e = licensing::LicensingService::ToProtocolError(r.status());
    return JsonError(e.http_status, e.code, e.message);
  };
  if (operation == "servicediscovery" && req.method == "GET") {
    nlohmann::json services = nlohmann::json::array();
    for (const char* name : {"enduserlicenses", "publishinglicenses", "templates",
                             "clientdebuglogs", "clientperformancelogs"}) {
      services.push_back({{"Name", name}, {"Uri", base + "/" + name}});
    }
    return http::Response::Json(200, services.dump());
  }
  if (operation == "templates" && req.method == "GET") {
    auto list = licensing_.ListTemplates();
    if (!list.ok()) return answer(list.status());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : *list)
      out.push_back({{"Id", t.id}, {"Name", t.name}, {"Description", t.description}});
    return http::Response::Json(200, out.dump());
  }
  if (operation == "publishinglicenses" && req.method == "POST") {
    http::Response error;
    const auto j = JsonBody(req, error);
    if (!j) return error;
    return answer(licensing_.Publish(cluster, who, *j, base));
  }
  if (operation == "enduserlicenses" && req.method == "POST") {
    http::Response error;
    const auto j = JsonBody(req, error);
    if (!j) return error;
    return answer(licensing_.EndUserLicense(cluster, who, *j));
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
