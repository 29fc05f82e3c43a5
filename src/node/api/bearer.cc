#include "node/api/bearer.h"

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "crypto/keys.h"
#include "licensing/licensing.h"

namespace openrms::node::api {

http::Response JsonError(int status, const std::string& code, const std::string& message) {
  // Messages quote what clients sent, cut to a length that may split a
  // UTF-8 sequence: written without throwing.
  return http::Response::Json(status, WriteJson({{"Code", code}, {"Message", message}}));
}

http::Response ProtocolErrorResponse(const Status& status) {
  const licensing::ProtocolError e = licensing::LicensingService::ToProtocolError(status);
  http::Response r = JsonError(e.http_status, e.code, e.message);
  if (status.code() == Code::kUnavailable) {
    r.SetHeader("Retry-After", std::to_string(http::kRetryAfterSeconds));
  }
  return r;
}

Result<std::optional<accounts::Session>> BearerAuth::SessionOf(const http::Request& req) const {
  const auto auth = req.Header("authorization");
  if (!auth || auth->rfind("Bearer ", 0) != 0) return std::optional<accounts::Session>();
  const std::string token = auth->substr(7);
  if (token.empty() || token.size() > 256) return std::optional<accounts::Session>();
  const std::string id = crypto::Sha256(token);
  const Time now = clock_.Now();
  if (auto hit = cache_.Get(id)) {
    const Checked& c = **hit;
    if (now >= c.checked_at && now - c.checked_at < std::chrono::seconds(kBearerCacheSeconds) &&
        now < c.session.expires_at) {
      counters_.hits.fetch_add(1, std::memory_order_relaxed);
      return std::optional<accounts::Session>(c.session);
    }
    cache_.Erase(id);
  }
  counters_.misses.fetch_add(1, std::memory_order_relaxed);
  ASSIGN_OR_RETURN(std::optional<accounts::Session> found, tokens_.Find(token));
  if (found) cache_.Put(id, std::make_shared<const Checked>(Checked{*found, now}));
  return found;
}

http::Response BearerAuth::Challenge(const std::string& cluster) const {
  http::Response r = JsonError(
      401, "Unauthorized", "a bearer token is needed: get one from " + node_url_ + "/oauth2/token");
  r.SetHeader("WWW-Authenticate", "Bearer authorization=\"" + node_url_ +
                                      "/oauth2/token\", realm=\"OpenRMS " + cluster + "\"");
  return r;
}

}  // namespace openrms::node::api
