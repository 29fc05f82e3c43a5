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
  const bool jwt = oidc_ != nullptr && accounts::OidcVerifier::LooksLikeJwt(token);
  if (token.empty() || token.size() > (jwt ? accounts::OidcVerifier::kMaxTokenBytes : 256)) {
    return std::optional<accounts::Session>();
  }
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
  if (jwt) {
    ASSIGN_OR_RETURN(accounts::OidcVerifier::Verified v, oidc_->Verify(token));
    accounts::Session s{v.identity.user, std::move(v.identity.groups), "", v.expires_at};
    cache_.Put(id, std::make_shared<const Checked>(Checked{s, now}));
    return std::optional<accounts::Session>(std::move(s));
  }
  ASSIGN_OR_RETURN(std::optional<accounts::Session> found, tokens_.Find(token));
  if (found) cache_.Put(id, std::make_shared<const Checked>(Checked{*found, now}));
  return found;
}

http::Response BearerAuth::Challenge(const std::string& cluster, const std::string& reason) const {
  const std::string authority =
      oidc_ != nullptr && !oidc_->issuer().empty() ? oidc_->issuer() : node_url_ + "/oauth2/token";
  http::Response r = JsonError(401, "Unauthorized",
                               (reason.empty() ? std::string("a bearer token is needed") : reason) +
                                   ": get one from " + authority);
  r.SetHeader("WWW-Authenticate",
              "Bearer authorization=\"" + authority + "\", realm=\"OpenRMS " + cluster + "\"");
  return r;
}

http::Response BearerAuth::Refusal(const std::string& cluster, const Status& status) const {
  if (status.code() == Code::kUnauthenticated) return Challenge(cluster, status.message());
  return ProtocolErrorResponse(status);
}

}  // namespace openrms::node::api
