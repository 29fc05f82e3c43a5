// Signing a person on through an OpenID Connect issuer, for the
// administration site: the authorization code flow (OpenID Connect Core
// 3.1) with PKCE (RFC 7636, S256), `state` against cross-site requests and
// `nonce` against a replayed ID token. The site keeps what Begin returns in
// the browser (a cookie of the sign-on's own), sends the browser to the
// issuer, and gives Finish the code that comes back; Finish exchanges it at
// the issuer's token endpoint with the client's secret and checks the ID
// token (OidcVerifier::VerifyIdToken). Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "accounts/oidc.h"
#include "base/random.h"

namespace openrms::accounts {

class OidcSignOn final {
 public:
  // `verifier` and `random` must outlive this.
  OidcSignOn(OidcVerifier& verifier, Random& random) : verifier_(verifier), random_(random) {}

  struct Provider {
    size_t issuer;     // index into the verifier's issuers
    std::string name;  // for the button: the configured name, else the issuer's host
  };
  // The issuers one can sign on through: those with a client_id.
  std::vector<Provider> Providers() const;

  struct Pending {
    size_t issuer = 0;
    std::string state;     // hex; comes back with the code
    std::string nonce;     // hex; the ID token must carry it
    std::string verifier;  // hex, 64 characters: the PKCE code verifier
    std::string url;       // the issuer's authorization endpoint with the request
  };
  // A new sign-on through the issuer, whose answer goes to `redirect_uri`.
  // kInvalidArgument for an issuer without a client_id; kUnavailable when
  // its discovery document cannot be fetched.
  Result<Pending> Begin(size_t issuer, const std::string& redirect_uri);

  // The person the issuer signed on, from the code it sent back: the ID
  // token's user and groups (mapped as the issuer's group_map says).
  // kUnauthenticated when the issuer refuses the code or the ID token is not
  // acceptable (with the reason); kUnavailable when the issuer cannot be
  // reached.
  Result<Identity> Finish(const Pending& pending, const std::string& code,
                          const std::string& redirect_uri);

  static constexpr size_t kMaxCodeBytes = 2048;

 private:
  // The issuer's configuration when it has a client_id; kInvalidArgument
  // otherwise.
  Result<const OidcIssuerConfig*> Client(size_t issuer) const;

  OidcVerifier& verifier_;
  Random& random_;
};

// RFC 7636 4.2: BASE64URL(SHA256(verifier)), without padding.
std::string PkceChallenge(std::string_view verifier);

}  // namespace openrms::accounts
