#include "node/api/bearer.h"

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "licensing/licensing.h"

namespace openrms::node::api {

http::Response JsonError(int status, const std::string& code, const std::string& message) {
  // Messages quote what clients sent, cut to a length that may split a
  // UTF-8 sequence: written without throwing.
  return http::Response::Json(status, WriteJson({{"Code", code}, {"Message", message}}));
}

http::Response ProtocolErrorResponse(const Status& status) {
  const licensing::ProtocolError e = licensing::LicensingService::ToProtocolError(status);
  return JsonError(e.http_status, e.code, e.message);
}

std::optional<accounts::Session> BearerAuth::SessionOf(const http::Request& req) const {
  const auto auth = req.Header("authorization");
  if (!auth || auth->rfind("Bearer ", 0) != 0) return std::nullopt;
  auto found = tokens_.Find(auth->substr(7));
  return found.ok() ? *found : std::nullopt;
}

http::Response BearerAuth::Challenge(const std::string& cluster) const {
  http::Response r = JsonError(
      401, "Unauthorized", "a bearer token is needed: get one from " + node_url_ + "/oauth2/token");
  r.SetHeader("WWW-Authenticate", "Bearer authorization=\"" + node_url_ +
                                      "/oauth2/token\", realm=\"OpenRMS " + cluster + "\"");
  return r;
}

}  // namespace openrms::node::api
