// Bearer tokens from the organisation's OpenID Connect provider: JWT access
// tokens that a trusted issuer signed (RS256 or ES256), for this cluster's
// audience, within their lifetime. The issuer's signing keys come from its
// discovery document (ISSUER/.well-known/openid-configuration, jwks_uri),
// fetched over HTTPS and kept; a token naming a key not among them makes
// one fetch again, at most once a minute per issuer (5 s after a failure).
//
// The JOSE work (the JWKS's keys, the signature) is librhonabwy's. The
// token's header and claims are read here, before and after it: to refuse
// each thing that is wrong with its own message, and to check the times
// against the injected clock rather than the system's.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "accounts/accounts.h"
#include "base/clock.h"
#include "base/status.h"

namespace openrms::accounts {

struct OidcIssuerConfig {
  std::string issuer;                // exactly as the tokens' "iss" spells it
  std::string audience;              // the "aud" (a string, or one of an array) tokens must carry
  std::string user_claim = "email";  // or "upn", "preferred_username", ...
  std::string groups_claim = "groups";  // a list, or one comma-separated string
  // The issuer's group names to local ones (e.g. "rms-admins" to
  // "Administrators"); groups not named here keep their own names.
  std::vector<std::pair<std::string, std::string>> group_map{};
  std::string ca_file{};  // where ca_pem came from
  std::string ca_pem{};   // PEM roots for the issuer's HTTPS; empty: the system's
  // The administration site's sign-on through this issuer (the
  // authorization code flow): the client this cluster is at the issuer,
  // and its secret (read from client_secret_file when the node starts).
  // Without a client_id the issuer only vouches for bearer tokens.
  std::string client_id{};
  std::string client_secret_file{};
  std::string client_secret{};
  std::string display_name{};  // on the logon page's button; "": the issuer's host
};

// What the verifier fetches (discovery documents and key sets) and how:
// an HTTPS GET the node supplies (over http::Fetch), so that this domain
// code names no transport.
struct FetchRequest {
  std::string url;
  std::string ca_pem;  // trusted roots; empty: the system's
  // A POST of `form` (application/x-www-form-urlencoded) when not empty,
  // else a GET; `authorization` the header's value, or empty.
  std::string form{};
  std::string authorization{};
  int timeout_seconds = 10;
  size_t max_response_bytes = 1 << 20;
};
struct FetchResponse {
  int status = 0;
  std::string body;
};
using HttpsFetch = std::function<Result<FetchResponse>(const FetchRequest&)>;

class OidcVerifier final {
 public:
  static constexpr Duration kClockSkew = std::chrono::seconds(60);
  static constexpr Duration kRefetchAfter = std::chrono::seconds(60);
  // After a fetch failed, the next token whose key is unknown tries again
  // this much later; meanwhile such tokens get the failure (kUnavailable).
  static constexpr Duration kRetryAfterFailure = std::chrono::seconds(5);
  static constexpr size_t kMaxTokenBytes = 16 << 10;
  static constexpr size_t kMaxDocumentBytes = 1 << 20;  // discovery or JWKS

  struct Verified {
    Identity identity;  // source "oidc"
    Time expires_at;
  };

  // `fetch` and `clock` are kept by reference; both must outlive this.
  OidcVerifier(std::vector<OidcIssuerConfig> issuers, const Clock& clock, HttpsFetch fetch);
  ~OidcVerifier();
  OidcVerifier(const OidcVerifier&) = delete;
  OidcVerifier& operator=(const OidcVerifier&) = delete;

  // Whether a bearer token has a JWT's shape (three base64url parts, the
  // last one empty for an unsigned token), as opposed to a token of the
  // node's own /oauth2/token.
  static bool LooksLikeJwt(std::string_view token);

  // The user the token names, with the groups it carries. kUnauthenticated
  // with the reason when the token is not acceptable; kUnavailable when the
  // issuer's keys cannot be fetched (the token may be good). Thread-safe.
  Result<Verified> Verify(std::string_view token);

  // Where a client gets a token: the first trusted issuer.
  const std::string& issuer() const;

  // For the administration site's sign-on (the authorization code flow,
  // OidcSignOn): the issuers by index, as configured.
  size_t issuer_count() const { return issuers_.size(); }
  const OidcIssuerConfig& config(size_t issuer) const;
  struct Endpoints {
    std::string authorization;
    std::string token;
  };
  // From the issuer's discovery document, fetched when not yet (or 5 s
  // after a failure). kUnavailable when it cannot be.
  Result<Endpoints> EndpointsOf(size_t issuer);
  // An ID token from the issuer's token endpoint: signed by that issuer,
  // for its client_id (and with azp naming it when it names several
  // audiences), within its lifetime, and carrying `nonce`. Errors as
  // Verify's.
  Result<Verified> VerifyIdToken(size_t issuer, std::string_view token, std::string_view nonce);
  // The HTTPS fetch the verifier was given, for the sign-on's token request.
  const HttpsFetch& fetch() const { return fetch_; }

 private:
  struct Issuer;
  struct Expected;
  Result<Verified> Check(std::string_view token, const Expected& expected);
  Result<std::string> KeyFor(Issuer& issuer, const std::string& kid);
  Status FetchKeys(Issuer& issuer);

  std::vector<std::unique_ptr<Issuer>> issuers_;
  const Clock& clock_;
  HttpsFetch fetch_;
};

}  // namespace openrms::accounts
