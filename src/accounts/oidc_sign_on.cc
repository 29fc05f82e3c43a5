#include "accounts/oidc_sign_on.h"

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/text.h"
#include "crypto/encoding.h"
#include "crypto/keys.h"

namespace openrms::accounts {

namespace {

// "idp.example.org" of "https://idp.example.org/realms/corp".
std::string HostOf(const std::string& url) {
  const size_t start = url.find("://");
  if (start == std::string::npos) return url;
  const size_t end = url.find('/', start + 3);
  return url.substr(start + 3, end == std::string::npos ? std::string::npos : end - start - 3);
}

}  // namespace

std::string PkceChallenge(std::string_view verifier) {
  return crypto::Base64UrlEncode(crypto::Sha256(verifier));
}

std::vector<OidcSignOn::Provider> OidcSignOn::Providers() const {
  std::vector<Provider> out;
  for (size_t i = 0; i < verifier_.issuer_count(); ++i) {
    const OidcIssuerConfig& c = verifier_.config(i);
    if (c.client_id.empty()) continue;
    out.push_back({i, c.display_name.empty() ? HostOf(c.issuer) : c.display_name});
  }
  return out;
}

Result<const OidcIssuerConfig*> OidcSignOn::Client(size_t issuer) const {
  if (issuer >= verifier_.issuer_count() || verifier_.config(issuer).client_id.empty()) {
    return Status(Code::kInvalidArgument, "no identity provider of that number signs people on");
  }
  return &verifier_.config(issuer);
}

Result<OidcSignOn::Pending> OidcSignOn::Begin(size_t issuer, const std::string& redirect_uri) {
  ASSIGN_OR_RETURN(const OidcIssuerConfig* client, Client(issuer));
  const OidcIssuerConfig& c = *client;
  ASSIGN_OR_RETURN(OidcVerifier::Endpoints endpoints, verifier_.EndpointsOf(issuer));
  if (endpoints.authorization.rfind("https://", 0) != 0) {
    return Status(Code::kUnavailable, "the discovery document of " + c.issuer +
                                          " names no https:// authorization_endpoint");
  }
  Pending p;
  p.issuer = issuer;
  p.state = NewToken(random_, 16);
  p.nonce = NewToken(random_, 16);
  p.verifier = NewToken(random_, 32);
  p.url = endpoints.authorization +
          (endpoints.authorization.find('?') == std::string::npos ? "?" : "&") +
          "response_type=code&client_id=" + PercentEncode(c.client_id) +
          "&redirect_uri=" + PercentEncode(redirect_uri) + "&scope=openid&state=" + p.state +
          "&nonce=" + p.nonce + "&code_challenge=" + PkceChallenge(p.verifier) +
          "&code_challenge_method=S256";
  return p;
}

Result<Identity> OidcSignOn::Finish(const Pending& pending, const std::string& code,
                                    const std::string& redirect_uri) {
  ASSIGN_OR_RETURN(const OidcIssuerConfig* client, Client(pending.issuer));
  const OidcIssuerConfig& c = *client;
  if (code.empty() || code.size() > kMaxCodeBytes) {
    return Status(Code::kUnauthenticated, c.issuer + " sent back no usable authorization code");
  }
  ASSIGN_OR_RETURN(OidcVerifier::Endpoints endpoints, verifier_.EndpointsOf(pending.issuer));
  if (endpoints.token.rfind("https://", 0) != 0) {
    return Status(Code::kUnavailable,
                  "the discovery document of " + c.issuer + " names no https:// token_endpoint");
  }
  // RFC 6749 4.1.3, with the client's credentials as HTTP Basic (2.3.1).
  FetchRequest req;
  req.url = endpoints.token;
  req.ca_pem = c.ca_pem;
  req.max_response_bytes = 256 << 10;
  req.authorization = "Basic " + crypto::Base64Encode(PercentEncode(c.client_id) + ":" +
                                                      PercentEncode(c.client_secret));
  req.form = "grant_type=authorization_code&code=" + PercentEncode(code) +
             "&redirect_uri=" + PercentEncode(redirect_uri) +
             "&code_verifier=" + PercentEncode(pending.verifier);
  auto answer = verifier_.fetch()(req);
  if (!answer.ok()) {
    return Status(Code::kUnavailable, "the token endpoint of " + c.issuer +
                                          " cannot be reached: " + answer.status().message());
  }
  const auto body = nlohmann::json::parse(answer->body, nullptr, false);
  if (answer->status != 200) {
    // RFC 6749 5.2: {"error": ..., "error_description": ...}.
    std::string why = StringMemberOrEmpty(body, "error").substr(0, 100);
    if (const std::string more = StringMemberOrEmpty(body, "error_description"); !more.empty()) {
      why += ": " + more.substr(0, 300);
    }
    if (answer->status >= 500) {
      return Status(Code::kUnavailable, "the token endpoint of " + c.issuer + " answered " +
                                            std::to_string(answer->status));
    }
    return Status(Code::kUnauthenticated, c.issuer + " refused the authorization code (" +
                                              std::to_string(answer->status) +
                                              (why.empty() ? "" : " " + why) + "): sign on again");
  }
  const std::string id_token = StringMemberOrEmpty(body, "id_token");
  if (id_token.empty()) {
    return Status(Code::kUnauthenticated, "the token endpoint of " + c.issuer +
                                              " sent no id_token: is the client "
                                              "allowed the openid scope?");
  }
  ASSIGN_OR_RETURN(OidcVerifier::Verified verified,
                   verifier_.VerifyIdToken(pending.issuer, id_token, pending.nonce));
  return verified.identity;
}

}  // namespace openrms::accounts
