#include "accounts/oidc.h"

#include <rhonabwy.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/json.h"
#include "base/text.h"
#include "crypto/encoding.h"

namespace openrms::accounts {
namespace {

constexpr std::string_view kBase64UrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// A base64url part of a JWT holding a JSON object, or nullopt.
std::optional<nlohmann::json> JsonPart(std::string_view part) {
  auto bytes = crypto::Base64UrlDecode(part);
  if (!bytes) return std::nullopt;
  auto j = nlohmann::json::parse(*bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

Status Refused(std::string message) { return Status(Code::kUnauthenticated, std::move(message)); }

std::string Quoted(std::string_view s) { return "\"" + std::string(s.substr(0, 200)) + "\""; }

// A NumericDate claim (RFC 7519 2): seconds since the epoch.
std::optional<Time> DateClaim(const nlohmann::json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  if (!(v > -1e11 && v < 1e11)) return std::nullopt;
  return Time(Duration(static_cast<int64_t>(v)));
}

struct JwkDeleter {
  void operator()(jwk_t* k) const { r_jwk_free(k); }
};
struct JwtDeleter {
  void operator()(jwt_t* t) const { r_jwt_free(t); }
};

}  // namespace

struct OidcVerifier::Issuer {
  explicit Issuer(OidcIssuerConfig c) : config(std::move(c)) {}
  const OidcIssuerConfig config;
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> keys;  // kid, the key's JSON; guarded by mu
  bool fetched = false;                                   // guarded by mu
  Time fetched_at{};                                      // guarded by mu
  Status failure;                                         // of the last fetch; guarded by mu
  OidcVerifier::Endpoints endpoints;                      // guarded by mu
};

// What a token must be: from `issuer` (or any trusted one when null); an
// ID token is for the issuer's client and carries `nonce`, an access token
// is for the configured audience.
struct OidcVerifier::Expected {
  Issuer* issuer = nullptr;
  bool id_token = false;
  std::string_view nonce{};
};

OidcVerifier::OidcVerifier(std::vector<OidcIssuerConfig> issuers, const Clock& clock,
                           HttpsFetch fetch)
    : clock_(clock), fetch_(std::move(fetch)) {
  // Not thread-safe itself: once, before any use.
  static std::once_flag init;
  std::call_once(init, [] { r_global_init(); });
  for (auto& c : issuers) issuers_.push_back(std::make_unique<Issuer>(std::move(c)));
}

OidcVerifier::~OidcVerifier() = default;

const std::string& OidcVerifier::issuer() const {
  static const std::string none;
  return issuers_.empty() ? none : issuers_.front()->config.issuer;
}

const OidcIssuerConfig& OidcVerifier::config(size_t issuer) const {
  return issuers_.at(issuer)->config;
}

Result<OidcVerifier::Endpoints> OidcVerifier::EndpointsOf(size_t index) {
  Issuer& issuer = *issuers_.at(index);
  std::lock_guard<std::mutex> lock(issuer.mu);
  const Time now = clock_.Now();
  if (!issuer.fetched || (!issuer.failure.ok() && (now - issuer.fetched_at >= kRetryAfterFailure ||
                                                   now < issuer.fetched_at))) {
    issuer.fetched = true;
    issuer.fetched_at = now;
    issuer.failure = FetchKeys(issuer);
  }
  RETURN_IF_ERROR(issuer.failure);
  return issuer.endpoints;
}

bool OidcVerifier::LooksLikeJwt(std::string_view token) {
  const size_t a = token.find('.');
  if (a == std::string_view::npos || a == 0) return false;
  const size_t b = token.find('.', a + 1);
  if (b == std::string_view::npos || b == a + 1) return false;
  if (token.find('.', b + 1) != std::string_view::npos) return false;
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] != '.' && kBase64UrlAlphabet.find(token[i]) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

Status OidcVerifier::FetchKeys(Issuer& issuer) {
  const OidcIssuerConfig& c = issuer.config;
  auto unavailable = [&](const std::string& why) {
    return Status(Code::kUnavailable,
                  "the signing keys of " + c.issuer + " cannot be fetched: " + why);
  };
  auto get = [&](const std::string& url) -> Result<nlohmann::json> {
    FetchRequest req;
    req.url = url;
    req.ca_pem = c.ca_pem;
    req.timeout_seconds = 10;
    req.max_response_bytes = kMaxDocumentBytes;
    auto r = fetch_(req);
    if (!r.ok()) return unavailable(r.status().message());
    if (r->status != 200) return unavailable(url + " answered " + std::to_string(r->status));
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return unavailable(url + " is not a JSON object");
    return j;
  };
  std::string base = c.issuer;
  while (!base.empty() && base.back() == '/') base.pop_back();
  ASSIGN_OR_RETURN(nlohmann::json discovery, get(base + "/.well-known/openid-configuration"));
  if (StringMemberOrEmpty(discovery, "issuer") != c.issuer) {
    return unavailable("its discovery document names the issuer " +
                       Quoted(StringMemberOrEmpty(discovery, "issuer")));
  }
  const std::string jwks_uri = StringMemberOrEmpty(discovery, "jwks_uri");
  if (jwks_uri.rfind("https://", 0) != 0) {
    return unavailable("its discovery document has no https:// jwks_uri");
  }
  Endpoints endpoints{StringMemberOrEmpty(discovery, "authorization_endpoint"),
                      StringMemberOrEmpty(discovery, "token_endpoint")};
  ASSIGN_OR_RETURN(nlohmann::json jwks, get(jwks_uri));
  auto list = jwks.find("keys");
  if (list == jwks.end() || !list->is_array()) return unavailable(jwks_uri + " holds no keys");
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& k : *list) {
    if (!k.is_object() || (k.contains("use") && StringMemberOrEmpty(k, "use") != "sig"))
      continue;  // encryption keys
    keys.emplace_back(StringMemberOrEmpty(k, "kid"), k.dump());
  }
  issuer.keys = std::move(keys);
  issuer.endpoints = std::move(endpoints);
  return Status::Ok();
}

Result<std::string> OidcVerifier::KeyFor(Issuer& issuer, const std::string& kid) {
  std::lock_guard<std::mutex> lock(issuer.mu);
  auto find = [&]() -> std::optional<std::string> {
    if (kid.empty() && issuer.keys.size() == 1) return issuer.keys.front().second;
    for (const auto& [id, json] : issuer.keys) {
      if (!kid.empty() && id == kid) return json;
    }
    return std::nullopt;
  };
  if (auto key = find()) return *key;
  const Time now = clock_.Now();
  const Duration wait = issuer.failure.ok() ? kRefetchAfter : kRetryAfterFailure;
  if (!issuer.fetched || now - issuer.fetched_at >= wait || now < issuer.fetched_at) {
    issuer.fetched = true;
    issuer.fetched_at = now;
    issuer.failure = FetchKeys(issuer);
    if (auto key = find()) return *key;
  }
  // Keys that could not be fetched are an outage: the token may be good.
  RETURN_IF_ERROR(issuer.failure);
  if (kid.empty()) {
    return Refused("the token names no signing key (kid), and " + issuer.config.issuer + " has " +
                   std::to_string(issuer.keys.size()) + " keys");
  }
  return Refused("the token's signing key " + Quoted(kid) + " is not among the keys of " +
                 issuer.config.issuer);
}

Result<OidcVerifier::Verified> OidcVerifier::Verify(std::string_view token) {
  return Check(token, Expected{});
}

Result<OidcVerifier::Verified> OidcVerifier::VerifyIdToken(size_t issuer, std::string_view token,
                                                           std::string_view nonce) {
  Expected expected;
  expected.issuer = issuers_.at(issuer).get();
  expected.id_token = true;
  expected.nonce = nonce;
  return Check(token, expected);
}

Result<OidcVerifier::Verified> OidcVerifier::Check(std::string_view token,
                                                   const Expected& expected) {
  const std::string what = expected.id_token ? "the ID token" : "the bearer token";
  if (token.size() > kMaxTokenBytes) {
    return Refused(what + " is longer than " + std::to_string(kMaxTokenBytes) + " bytes");
  }
  if (!LooksLikeJwt(token)) return Refused(what + " is not a JWT");
  const size_t a = token.find('.');
  const size_t b = token.find('.', a + 1);
  auto header = JsonPart(token.substr(0, a));
  auto claims = JsonPart(token.substr(a + 1, b - a - 1));
  if (!header || !claims) return Refused(what + " is not a JWT");
  const std::string alg = StringMemberOrEmpty(*header, "alg");
  if (alg != "RS256" && alg != "ES256") {
    return Refused("the token's algorithm " + Quoted(alg) +
                   " is not accepted: RS256 or ES256 only");
  }
  const std::string iss = StringMemberOrEmpty(*claims, "iss");
  auto it = std::find_if(issuers_.begin(), issuers_.end(), [&](const auto& i) {
    return i->config.issuer == iss && (expected.issuer == nullptr || expected.issuer == i.get());
  });
  if (it == issuers_.end()) {
    if (expected.issuer != nullptr) {
      return Refused(what + " is from " + Quoted(iss) + ", not " + expected.issuer->config.issuer);
    }
    return Refused("the token's issuer " + Quoted(iss) + " is not trusted here");
  }
  Issuer& issuer = **it;
  const OidcIssuerConfig& c = issuer.config;
  ASSIGN_OR_RETURN(std::string key_json, KeyFor(issuer, StringMemberOrEmpty(*header, "kid")));

  // The signature, by librhonabwy, with a key of this issuer of the
  // algorithm's own type: never a public key taken as an HMAC secret.
  jwk_t* raw_key = nullptr;
  if (r_jwk_init(&raw_key) != RHN_OK) return Status(Code::kInternal, "out of memory");
  std::unique_ptr<jwk_t, JwkDeleter> key(raw_key);
  if (r_jwk_import_from_json_str(key.get(), key_json.c_str()) != RHN_OK) {
    return Refused("the signing key " + Quoted(StringMemberOrEmpty(*header, "kid")) + " of " +
                   c.issuer + " cannot be read");
  }
  unsigned int bits = 0;
  const int type = r_jwk_key_type(key.get(), &bits, R_FLAG_IGNORE_REMOTE);
  const bool fits =
      (type & R_KEY_TYPE_PUBLIC) && (alg == "RS256" ? (type & R_KEY_TYPE_RSA) && bits >= 2048
                                                    : (type & R_KEY_TYPE_EC) && bits == 256);
  if (!fits) {
    return Refused("the token's algorithm " + alg + " does not fit its signing key " +
                   Quoted(StringMemberOrEmpty(*header, "kid")) + " of " + c.issuer);
  }
  jwt_t* raw_jwt = nullptr;
  if (r_jwt_init(&raw_jwt) != RHN_OK) return Status(Code::kInternal, "out of memory");
  std::unique_ptr<jwt_t, JwtDeleter> jwt(raw_jwt);
  if (r_jwt_advanced_parsen(jwt.get(), token.data(), token.size(), R_PARSE_NONE,
                            R_FLAG_IGNORE_REMOTE) != RHN_OK ||
      r_jwt_get_sign_alg(jwt.get()) != (alg == "RS256" ? R_JWA_ALG_RS256 : R_JWA_ALG_ES256)) {
    return Refused(what + " is not a JWT");
  }
  if (r_jwt_verify_signature(jwt.get(), key.get(), R_FLAG_IGNORE_REMOTE) != RHN_OK) {
    return Refused("the token's signature does not verify with the key " +
                   Quoted(StringMemberOrEmpty(*header, "kid")) + " of " + c.issuer);
  }

  // The claims, now known to be the issuer's.
  // An ID token's audience is this cluster as the issuer's client.
  const std::string& audience = expected.id_token ? c.client_id : c.audience;
  const auto aud = claims->find("aud");
  bool for_us = false;
  if (aud != claims->end() && aud->is_string()) for_us = *aud == audience;
  if (aud != claims->end() && aud->is_array()) {
    for (const auto& v : *aud) for_us = for_us || (v.is_string() && v == audience);
  }
  if (!for_us) {
    return Refused("the token is for the audience " +
                   (aud == claims->end() ? std::string("(none)") : aud->dump().substr(0, 200)) +
                   ", not " + audience);
  }
  if (expected.id_token) {
    // OpenID Connect Core 3.1.3.7: with several audiences, azp must be us.
    if (aud->is_array() && aud->size() > 1 && StringMemberOrEmpty(*claims, "azp") != audience) {
      return Refused("the ID token names several audiences and its azp is not " + audience);
    }
    if (StringMemberOrEmpty(*claims, "nonce") != expected.nonce || expected.nonce.empty()) {
      return Refused("the ID token's nonce is not the one this sign-on sent: start again");
    }
  }
  const Time now = clock_.Now();
  const std::optional<Time> exp = DateClaim(*claims, "exp");
  if (!exp) return Refused("the token has no expiry (exp)");
  if (now >= *exp + kClockSkew) return Refused("the token expired at " + FormatHuman(*exp));
  if (const std::optional<Time> nbf = DateClaim(*claims, "nbf"); nbf && now + kClockSkew < *nbf) {
    return Refused("the token is not valid before " + FormatHuman(*nbf));
  }
  const auto user = claims->find(c.user_claim);
  if (user == claims->end() || !user->is_string() || user->get<std::string>().empty() ||
      user->get<std::string>().size() > 256) {
    return Refused("the token has no " + c.user_claim + " claim to name its user");
  }
  std::vector<std::string> groups;
  if (const auto g = claims->find(c.groups_claim); g != claims->end()) {
    // One string is a comma-separated list: glewlwyd writes a user's
    // several groups into an access token so.
    nlohmann::json list = *g;
    if (g->is_string()) {
      list = nlohmann::json::array();
      const std::string text = g->get<std::string>();
      for (size_t start = 0; start <= text.size();) {
        const size_t comma = std::min(text.find(',', start), text.size());
        const std::string_view part = Trim(std::string_view(text).substr(start, comma - start));
        if (!part.empty()) list.push_back(std::string(part));
        start = comma + 1;
      }
    }
    if (!list.is_array()) return Refused("the token's " + c.groups_claim + " claim is not a list");
    for (const auto& v : list) {
      if (!v.is_string()) continue;
      std::string name = v.get<std::string>();
      for (const auto& [from, to] : c.group_map) {
        if (EqualsIgnoreCase(from, name)) name = to;
      }
      if (std::find(groups.begin(), groups.end(), name) == groups.end()) groups.push_back(name);
    }
  }
  return Verified{Identity(user->get<std::string>(), std::move(groups), "oidc"),
                  std::min(*exp, now + std::chrono::hours(24))};
}

}  // namespace openrms::accounts
