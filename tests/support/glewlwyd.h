// A Glewlwyd (Debian's glewlwyd 2.7.5, an OAuth2 / OpenID Connect server)
// of a test's own: a fresh SQLite database in the test's directory,
// listening on 127.0.0.1 only, over HTTPS with a test CA of its own. It
// holds one OpenID Connect plugin instance, "oidc", that signs with a key
// the harness generates (RS256, or ES256 when asked), these users:
//   alice (kOidcAlicePassword): groups Administrators, Staff
//   bob   (kOidcBobPassword):   groups Staff
//   carol (kOidcCarolPassword): no groups
// each with the email NAME@example.test and scopes openid and g_profile,
// and one confidential client, "openrms" (kOidcClientSecret), allowed the
// password grant, the authorization code flow (with or without PKCE), the
// device authorization grant and refresh tokens. Each user has already
// granted "openrms" the scope openid, so that a logon through the login page
// goes straight back to the client instead of asking for consent.
//
// Access tokens are JWTs (glewlwyd's only kind; header typ "at+jwt") with
// iss, sub (an opaque id of glewlwyd's own), aud, client_id, jti, type,
// iat, exp, nbf, scope, and from the user's properties: email,
// preferred_username, name and groups. glewlwyd writes a multi-valued
// property into an access token as one comma-separated string
// ("Administrators,Staff") and leaves it out when the user has no value
// (carol); ID tokens carry groups as a JSON array.
//
// The `aud` of an access token is the granted scope list (glewlwyd does so
// whenever no RFC 8707 resource is given, and its password grant takes
// none): the harness always asks for "openid" alone, so audience() is
// "openid" for every grant.
//
// The webapp (login.html and its scripts) is served from a copy in the
// test's directory: a browser sent to authorization_endpoint() is
// redirected to login_url() ("?client_id=...&scope=...&callback_url=THE
// AUTH URL"), and after the password the login page goes back to the auth
// URL with "&g_continue", which redirects to the client's redirect URI with
// the code. Note that glewlwyd requires a `nonce` whenever the scope has
// openid, in the code flow too.
//
// Stopped by the destructor. Not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "http/client.h"
#include "support/process.h"

namespace openrms::testing {

inline constexpr char kOidcClientId[] = "openrms";
inline constexpr char kOidcClientSecret[] = "openrms-oidc-client-secret";
inline constexpr char kOidcAlicePassword[] = "alice-oidc-pw";
inline constexpr char kOidcBobPassword[] = "bob-oidc-pw";
inline constexpr char kOidcCarolPassword[] = "carol-oidc-pw";
// The administrator that the package's SQL init script creates (the
// password is that script's); the harness configures glewlwyd as it.
inline constexpr char kGlewlwydAdmin[] = "admin";
inline constexpr char kGlewlwydAdminPassword[] = "password";

struct GlewlwydOptions {
  // Redirect URIs the "openrms" client may use in the code flow.
  std::vector<std::string> redirect_uris{};
  // "RS256" (an RSA 2048 key) or "ES256" (a P-256 key).
  std::string signing_alg = "RS256";
};

class Glewlwyd final {
 public:
  // Writes its files under `dir` (created if need be), starts glewlwyd and
  // configures it over its admin API. The error quotes glewlwyd's log.
  static Result<std::unique_ptr<Glewlwyd>> Start(const std::string& dir,
                                                 GlewlwydOptions options = {});
  ~Glewlwyd();
  Glewlwyd(const Glewlwyd&) = delete;
  Glewlwyd& operator=(const Glewlwyd&) = delete;

  // "https://127.0.0.1:PORT"
  std::string base_url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  // "https://127.0.0.1:PORT/api/oidc": glewlwyd serves a plugin instance
  // under /api/<instance name>, and the issuer is set to that URL.
  std::string issuer() const { return base_url() + "/api/oidc"; }
  std::string discovery_url() const { return issuer() + "/.well-known/openid-configuration"; }
  std::string jwks_url() const { return issuer() + "/jwks"; }
  std::string authorization_endpoint() const { return issuer() + "/auth"; }
  std::string token_endpoint() const { return issuer() + "/token"; }
  std::string device_authorization_endpoint() const { return issuer() + "/device_authorization"; }
  // The webapp's login page, where the code flow sends a browser.
  std::string login_url() const { return base_url() + "/login.html"; }
  std::string ca_file() const { return dir_ + "/ca.pem"; }
  const std::string& ca_pem() const { return ca_pem_; }
  // The `aud` of every access token the harness obtains (see above).
  std::string audience() const { return "openid"; }
  std::string client_id() const { return kOidcClientId; }
  std::string client_secret() const { return kOidcClientSecret; }
  const std::string& signing_alg() const { return options_.signing_alg; }
  // The public half of the token signing key (PEM).
  std::string signing_public_key_file() const { return dir_ + "/sign.pub"; }
  std::string log_file() const { return dir_ + "/glewlwyd.log"; }

  // An access token for the user, from the resource-owner password grant
  // (client "openrms" with its secret, scope openid). kUnauthenticated
  // when glewlwyd refuses.
  Result<std::string> PasswordToken(const std::string& user, const std::string& password) const;
  // The token endpoint's raw answer to that grant: 200 with the token JSON,
  // or glewlwyd's refusal as it is (a wrong password: 403, empty body).
  Result<http::ClientResponse> PasswordGrant(const std::string& user,
                                             const std::string& password) const;
  // An access token from the authorization code flow with PKCE (S256),
  // driven as the login page would: log on at /api/auth, GET the
  // authorization endpoint with the session cookie and g_continue, take the
  // code from the redirect to `redirect_uri` (one of the options'), and
  // exchange it with the code verifier.
  Result<std::string> CodeFlowToken(const std::string& user, const std::string& password,
                                    const std::string& redirect_uri) const;
  // An access token from the device authorization grant: ask for a code as
  // the device, confirm the user code as the logged-on user (GET
  // /api/oidc/device?code=...&g_continue), then poll the token endpoint.
  Result<std::string> DeviceFlowToken(const std::string& user, const std::string& password) const;

  // A session cookie ("GLEWLWYD2_SESSION_ID=...") for the user, from
  // glewlwyd's login API, as the login page gets one.
  Result<std::string> LogOn(const std::string& user, const std::string& password) const;

 private:
  Glewlwyd() = default;
  Status WriteFiles();
  Status Configure();
  // A request to glewlwyd; `cookie` is a "name=value" pair or empty.
  Result<http::ClientResponse> Call(const std::string& method, const std::string& path_or_url,
                                    const std::string& body, const std::string& content_type,
                                    const std::string& cookie) const;
  // A JSON call to the admin or login API that must answer 200.
  Status Expect200(const std::string& method, const std::string& path, const std::string& body,
                   const std::string& cookie) const;
  // A token endpoint request with the client's HTTP Basic credentials.
  Result<http::ClientResponse> TokenRequest(const std::string& form) const;
  Result<std::string> AccessTokenFrom(const http::ClientResponse& response,
                                      const std::string& grant) const;
  Status WithLog(const Status& status) const;

  std::string dir_;
  GlewlwydOptions options_;
  int port_ = 0;
  std::string ca_pem_;
  std::unique_ptr<BackgroundProcess> process_;
};

}  // namespace openrms::testing
