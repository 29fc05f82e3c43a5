// Bearer tokens of the REST protocols (/my/v2, /certification): who sent a
// request, and the challenge the RMS SDK expects when no one did.
//
// A token found live in the store is kept in memory, for at most 2 seconds
// (kBearerCacheSeconds, counted in whole seconds of the clock, so under 2 s
// of real time) and never past the session's own expiry; at most 4096
// tokens, least recently used first out, keyed by the token's SHA-256. So a
// token deleted or expired in the store (by any node; removing an account
// deletes its tokens) stops working on this node within 2 s -- the bound a
// revocation has too -- and a session's idle timer is restarted in the
// store at least once per 2 s of use. Unknown tokens are never kept: each
// is asked of the store again.
//
// With OpenID Connect issuers configured, a token shaped as a JWT is
// checked by accounts::OidcVerifier instead (kept the same 2 s once good,
// never past its expiry); one it refuses gets the 401 challenge with the
// reason, and one whose issuer's keys cannot be fetched a 503.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "accounts/accounts.h"
#include "accounts/oidc.h"
#include "http/server.h"
#include "licensing/licensing.h"
#include "licensing/lru_cache.h"

namespace openrms::node::api {

// The protocol's error body, {"Code","Message"}, with an HTTP status.
http::Response JsonError(int status, const std::string& code, const std::string& message);
// A refusal of the licensing service as the protocol's error
// (LicensingService::ToProtocolError); an outage (kUnavailable) is 503
// with Retry-After: http::kRetryAfterSeconds.
http::Response ProtocolErrorResponse(const Status& status);

inline constexpr int kBearerCacheSeconds = 2;
inline constexpr size_t kBearerCacheEntries = 4096;

class BearerAuth final {
 public:
  // `node_url` ("https://host:port") names the token endpoint in challenges;
  // it is read per request, so it may be set after construction.
  // `oidc` may be null (no issuers); not owned.
  BearerAuth(accounts::SessionStore& tokens, const std::string& node_url,
             accounts::OidcVerifier* oidc = nullptr, const Clock& clock = DefaultClock())
      : tokens_(tokens),
        node_url_(node_url),
        oidc_(oidc),
        clock_(clock),
        cache_(kBearerCacheEntries) {}

  // The session of "Authorization: Bearer <token>", if the token is live;
  // nullopt when there is none or it is not live; kUnauthenticated with the
  // reason for a JWT the OIDC checks refuse; the store's or the issuer's
  // error (kUnavailable in an outage) when they cannot say, so that a
  // valid token is never answered as an unknown one. Thread-safe.
  Result<std::optional<accounts::Session>> SessionOf(const http::Request& request) const;
  // 401 with the challenge the RMS SDK reads, naming where to get a token
  // (the first OIDC issuer, else this node's /oauth2/token), and `reason`
  // in the message when there is one. The SDK splits the header on ','
  // and '=', so no value may contain either.
  http::Response Challenge(const std::string& cluster, const std::string& reason = "") const;
  // SessionOf's error as an answer: a refusal is the challenge with its
  // reason; an outage is 503.
  http::Response Refusal(const std::string& cluster, const Status& status) const;

  const licensing::CacheCounters& cache_counters() const { return counters_; }

 private:
  struct Checked {
    accounts::Session session;
    Time checked_at;  // when the store last said the token is live
  };

  accounts::SessionStore& tokens_;
  const std::string& node_url_;
  accounts::OidcVerifier* oidc_;
  const Clock& clock_;
  mutable licensing::ShardedLruCache<std::shared_ptr<const Checked>> cache_;
  mutable licensing::CacheCounters counters_;
};

}  // namespace openrms::node::api
