// The OpenID Connect bearer-token checks, with keys and tokens this test
// makes (librhonabwy signs them) and the issuer's discovery and JWKS served
// by an injected fetch: the refusals here are of tokens no real provider
// would sign (alg none, HS256 over a public key, another key's signature).
// tests/integration/oidc_test.cc takes real tokens from glewlwyd.
#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <rhonabwy.h>

#include <map>
#include <nlohmann/json.hpp>

#include "accounts/oidc.h"
#include "accounts/oidc_sign_on.h"
#include "crypto/encoding.h"

namespace openrms::accounts {
namespace {

constexpr char kIssuer[] = "https://idp.example.test/realms/corp";
constexpr char kAudience[] = "openrms";
constexpr char kClientId[] = "openrms-admin";
constexpr char kRedirect[] = "https://rms.example.test/admin/oidc/callback";

std::string Base64Url(std::string_view bytes) { return crypto::Base64UrlEncode(bytes); }

// A key pair of the issuer's (or of no one's), as JWKs.
struct KeyPair {
  KeyPair(int type, unsigned bits, const std::string& kid) {
    r_jwk_init(&priv);
    r_jwk_init(&pub);
    EXPECT_EQ(r_jwk_generate_key_pair(priv, pub, type, bits, kid.c_str()), RHN_OK);
  }
  ~KeyPair() {
    r_jwk_free(priv);
    r_jwk_free(pub);
  }
  nlohmann::json PublicJson() const {
    char* s = r_jwk_export_to_json_str(pub, 0);
    auto j = nlohmann::json::parse(s);
    r_free(s);
    return j;
  }
  // A token with these claims, signed with this key by librhonabwy.
  std::string Sign(const nlohmann::json& claims, jwa_alg alg) const {
    jwt_t* jwt = nullptr;
    r_jwt_init(&jwt);
    r_jwt_set_full_claims_json_str(jwt, claims.dump().c_str());
    r_jwt_set_sign_alg(jwt, alg);
    char* token = r_jwt_serialize_signed(jwt, priv, 0);
    EXPECT_NE(token, nullptr);
    std::string out = token ? token : "";
    r_free(token);
    r_jwt_free(jwt);
    return out;
  }
  jwk_t* priv = nullptr;
  jwk_t* pub = nullptr;
};

class OidcTest : public ::testing::Test {
 protected:
  OidcTest() {
    jwks_ = {{"keys", {rsa_.PublicJson(), ec_.PublicJson()}}};
    OidcIssuerConfig c;
    c.issuer = kIssuer;
    c.audience = kAudience;
    c.group_map = {{"rms-admins", "Administrators"}};
    c.client_id = kClientId;
    c.client_secret = "s3cret";
    verifier_ = std::make_unique<OidcVerifier>(
        std::vector<OidcIssuerConfig>{c}, clock_,
        [this](const FetchRequest& r) -> Result<FetchResponse> {
          ++fetches_;
          if (down_) return Status(Code::kUnavailable, "connect: Connection refused");
          FetchResponse answer;
          answer.status = 200;
          if (r.url == "https://idp.example.test/token") {
            token_request_ = r;
            return token_answer_;
          }
          if (r.url == std::string(kIssuer) + "/.well-known/openid-configuration") {
            answer.body =
                nlohmann::json{{"issuer", kIssuer},
                               {"jwks_uri", "https://idp.example.test/keys"},
                               {"authorization_endpoint", "https://idp.example.test/auth"},
                               {"token_endpoint", "https://idp.example.test/token"}}
                    .dump();
          } else if (r.url == "https://idp.example.test/keys") {
            answer.body = jwks_.dump();
          } else {
            answer.status = 404;
          }
          return answer;
        });
  }

  nlohmann::json Claims() const {
    const int64_t now = clock_.Now().time_since_epoch().count();
    return {{"iss", kIssuer},
            {"aud", kAudience},
            {"sub", "248289761001"},
            {"email", "alice@example.test"},
            {"groups", {"rms-admins", "Staff"}},
            {"iat", now},
            {"exp", now + 3600}};
  }

  // The refusal message of a token (or "" when it was accepted).
  std::string Refusal(const std::string& token) {
    auto r = verifier_->Verify(token);
    if (r.ok()) return "";
    EXPECT_EQ(r.status().code(), Code::kUnauthenticated) << r.status().ToString();
    return r.status().message();
  }

  FakeClock clock_{*ParseTime("2026-06-01T12:00")};
  KeyPair rsa_{R_KEY_TYPE_RSA, 2048, "rsa-1"};
  KeyPair ec_{R_KEY_TYPE_EC, 256, "ec-1"};
  nlohmann::json jwks_;
  int fetches_ = 0;
  bool down_ = false;
  FetchRequest token_request_;
  FetchResponse token_answer_;
  std::unique_ptr<OidcVerifier> verifier_;
};

TEST_F(OidcTest, Rs256AndEs256TokensNameTheirUserAndGroups) {
  for (auto [key, alg] : {std::pair{&rsa_, R_JWA_ALG_RS256}, std::pair{&ec_, R_JWA_ALG_ES256}}) {
    auto v = verifier_->Verify(key->Sign(Claims(), alg));
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(v->identity.user, "alice@example.test");
    EXPECT_EQ(v->identity.groups, (std::vector<std::string>{"Administrators", "Staff"}));
    EXPECT_EQ(v->identity.source, "oidc");
    EXPECT_EQ(v->expires_at, clock_.Now() + std::chrono::hours(1));
  }
  EXPECT_EQ(fetches_, 2);  // discovery and keys, once
  // An audience among several, and a single group as a string.
  nlohmann::json claims = Claims();
  claims["aud"] = {"other", kAudience};
  claims["groups"] = "Staff";
  auto v = verifier_->Verify(rsa_.Sign(claims, R_JWA_ALG_RS256));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->identity.groups, std::vector<std::string>{"Staff"});
  claims["groups"] = "rms-admins, Staff,,Staff";  // as glewlwyd writes several
  v = verifier_->Verify(rsa_.Sign(claims, R_JWA_ALG_RS256));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->identity.groups, (std::vector<std::string>{"Administrators", "Staff"}));
  EXPECT_TRUE(OidcVerifier::LooksLikeJwt("a.b.c"));
  EXPECT_TRUE(OidcVerifier::LooksLikeJwt("a.b."));
  EXPECT_FALSE(OidcVerifier::LooksLikeJwt("Zm9v"));
  EXPECT_FALSE(OidcVerifier::LooksLikeJwt("a.b.c.d"));
  EXPECT_FALSE(OidcVerifier::LooksLikeJwt("a..c"));
  EXPECT_FALSE(OidcVerifier::LooksLikeJwt("a.b+.c"));
}

TEST_F(OidcTest, TimesAreCheckedWithTheStatedSkew) {
  const int64_t now = clock_.Now().time_since_epoch().count();
  nlohmann::json claims = Claims();
  claims["exp"] = now - 59;  // within the 60 s skew
  EXPECT_EQ(Refusal(rsa_.Sign(claims, R_JWA_ALG_RS256)), "");
  claims["exp"] = now - 60;
  EXPECT_EQ(Refusal(rsa_.Sign(claims, R_JWA_ALG_RS256)),
            "the token expired at 2026-06-01 11:59 UTC");
  claims = Claims();
  claims["nbf"] = now + 60;
  EXPECT_EQ(Refusal(rsa_.Sign(claims, R_JWA_ALG_RS256)), "");
  claims["nbf"] = now + 61;
  EXPECT_EQ(Refusal(rsa_.Sign(claims, R_JWA_ALG_RS256)),
            "the token is not valid before 2026-06-01 12:01 UTC");
  claims = Claims();
  claims.erase("exp");
  EXPECT_EQ(Refusal(rsa_.Sign(claims, R_JWA_ALG_RS256)), "the token has no expiry (exp)");
}

TEST_F(OidcTest, EachWrongTokenIsRefusedWithItsReason) {
  nlohmann::json claims = Claims();
  claims["aud"] = "someone-else";
  EXPECT_EQ(Refusal(rsa_.Sign(claims, R_JWA_ALG_RS256)),
            "the token is for the audience \"someone-else\", not openrms");
  claims.erase("aud");
  EXPECT_EQ(Refusal(rsa_.Sign(claims, R_JWA_ALG_RS256)),
            "the token is for the audience (none), not openrms");
  claims = Claims();
  claims["iss"] = "https://evil.example.test";
  EXPECT_EQ(Refusal(rsa_.Sign(claims, R_JWA_ALG_RS256)),
            "the token's issuer \"https://evil.example.test\" is not trusted here");
  claims = Claims();
  claims.erase("email");
  EXPECT_EQ(Refusal(rsa_.Sign(claims, R_JWA_ALG_RS256)),
            "the token has no email claim to name its user");

  // A key of the same name that is not the issuer's: the signature fails.
  KeyPair impostor(R_KEY_TYPE_RSA, 2048, "rsa-1");
  EXPECT_EQ(
      Refusal(impostor.Sign(Claims(), R_JWA_ALG_RS256)),
      "the token's signature does not verify with the key \"rsa-1\" of " + std::string(kIssuer));
  // A key the JWKS does not hold.
  KeyPair stranger(R_KEY_TYPE_RSA, 2048, "rsa-9");
  EXPECT_EQ(Refusal(stranger.Sign(Claims(), R_JWA_ALG_RS256)),
            "the token's signing key \"rsa-9\" is not among the keys of " + std::string(kIssuer));

  // Unsigned, and "signed" with HS256 using the public key as the secret.
  const std::string body = Base64Url(Claims().dump());
  EXPECT_EQ(Refusal(Base64Url(R"({"alg":"none"})") + "." + body + "."),
            "the token's algorithm \"none\" is not accepted: RS256 or ES256 only");
  const std::string hs_input = Base64Url(R"({"alg":"HS256","kid":"rsa-1"})") + "." + body;
  const std::string secret = rsa_.PublicJson().dump();
  unsigned char mac[32];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(hs_input.data()), hs_input.size(), mac, &mac_len);
  EXPECT_EQ(Refusal(hs_input + "." + Base64Url(std::string(reinterpret_cast<char*>(mac), mac_len))),
            "the token's algorithm \"HS256\" is not accepted: RS256 or ES256 only");
  // RS256 claimed over the EC key.
  const std::string mixed = Base64Url(R"({"alg":"RS256","kid":"ec-1"})") + "." + body + "." +
                            Base64Url(std::string(256, 'x'));
  EXPECT_EQ(Refusal(mixed),
            "the token's algorithm RS256 does not fit its signing key \"ec-1\" of " +
                std::string(kIssuer));
  // A signature cut or changed.
  std::string token = rsa_.Sign(Claims(), R_JWA_ALG_RS256);
  char& c = token[token.rfind('.') + 100];  // a whole sextet of the signature
  c = c == 'A' ? 'B' : 'A';
  EXPECT_EQ(Refusal(token), "the token's signature does not verify with the key \"rsa-1\" of " +
                                std::string(kIssuer));

  EXPECT_EQ(Refusal("opaque-token-of-the-node"), "the bearer token is not a JWT");
  EXPECT_EQ(Refusal(""), "the bearer token is not a JWT");
  EXPECT_EQ(Refusal(std::string(OidcVerifier::kMaxTokenBytes + 1, 'a')),
            "the bearer token is longer than 16384 bytes");
  EXPECT_EQ(Refusal("e30.e30.x"),
            "the token's algorithm \"\" is not accepted: RS256 or ES256 only");  // {} and {}
  // Members of another type are missing, never an exception.
  EXPECT_EQ(Refusal(Base64Url(R"({"alg":5,"kid":[1]})") + "." + Base64Url(R"({"iss":7})") + ".x"),
            "the token's algorithm \"\" is not accepted: RS256 or ES256 only");
  EXPECT_EQ(Refusal(Base64Url(R"({"alg":"RS256","kid":{}})") + "." +
                    Base64Url(R"({"iss":["https://idp.example.test/realms/corp"]})") + ".x"),
            "the token's issuer \"\" is not trusted here");
}

// RFC 7636 appendix B's example.
TEST(PkceTest, ChallengeIsTheBase64UrlSha256OfTheVerifier) {
  EXPECT_EQ(PkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

// The administration site's sign-on: the authorization request, the code
// exchanged at the token endpoint, and the ID token's checks.
TEST_F(OidcTest, SignOnExchangesTheCodeAndChecksTheIdToken) {
  DeterministicRandom random(3);
  OidcSignOn sign_on(*verifier_, random);
  ASSERT_EQ(sign_on.Providers().size(), 1u);
  EXPECT_EQ(sign_on.Providers()[0].issuer, 0u);
  EXPECT_EQ(sign_on.Providers()[0].name, "idp.example.test");  // no name configured

  auto p = sign_on.Begin(0, kRedirect);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->state.size(), 32u);
  EXPECT_EQ(p->nonce.size(), 32u);
  EXPECT_EQ(p->verifier.size(), 64u);  // RFC 7636 4.1: 43 to 128 characters
  EXPECT_EQ(p->url,
            "https://idp.example.test/auth?response_type=code&client_id=openrms-admin"
            "&redirect_uri=https%3A%2F%2Frms.example.test%2Fadmin%2Foidc%2Fcallback"
            "&scope=openid&state=" +
                p->state + "&nonce=" + p->nonce + "&code_challenge=" + PkceChallenge(p->verifier) +
                "&code_challenge_method=S256");
  auto again = sign_on.Begin(0, kRedirect);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->state, p->state);
  EXPECT_NE(again->verifier, p->verifier);
  EXPECT_EQ(sign_on.Begin(1, kRedirect).status().message(),
            "no identity provider of that number signs people on");

  auto id_token = [&](nlohmann::json claims) {
    token_answer_ = {
        200, nlohmann::json{{"access_token", "a"}, {"id_token", rsa_.Sign(claims, R_JWA_ALG_RS256)}}
                 .dump()};
  };
  nlohmann::json claims = Claims();
  claims["aud"] = kClientId;
  claims["nonce"] = p->nonce;
  id_token(claims);
  auto who = sign_on.Finish(*p, "the-code", kRedirect);
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(who->user, "alice@example.test");
  EXPECT_EQ(who->groups, (std::vector<std::string>{"Administrators", "Staff"}));
  EXPECT_EQ(who->source, "oidc");
  EXPECT_EQ(token_request_.form,
            "grant_type=authorization_code&code=the-code&redirect_uri=https%3A%2F%2Frms.example."
            "test%2Fadmin%2Foidc%2Fcallback&code_verifier=" +
                p->verifier);
  EXPECT_EQ(token_request_.authorization, "Basic b3BlbnJtcy1hZG1pbjpzM2NyZXQ=");  // id:secret

  auto refusal = [&](const std::string& code = "the-code") {
    auto r = sign_on.Finish(*p, code, kRedirect);
    return r.ok() ? std::string("signed on") : r.status().message();
  };
  // Another sign-on's nonce (a replayed ID token).
  claims["nonce"] = again->nonce;
  id_token(claims);
  EXPECT_EQ(refusal(), "the ID token's nonce is not the one this sign-on sent: start again");
  claims.erase("nonce");
  id_token(claims);
  EXPECT_EQ(refusal(), "the ID token's nonce is not the one this sign-on sent: start again");
  // An access token's audience is not the client's.
  claims["nonce"] = p->nonce;
  claims["aud"] = kAudience;
  id_token(claims);
  EXPECT_EQ(refusal(), "the token is for the audience \"openrms\", not openrms-admin");
  // Several audiences: azp must name the client.
  claims["aud"] = {kClientId, "another-client"};
  id_token(claims);
  EXPECT_EQ(refusal(), "the ID token names several audiences and its azp is not openrms-admin");
  claims["azp"] = kClientId;
  id_token(claims);
  EXPECT_EQ(refusal(), "signed on");
  // Signed by no key of the issuer.
  KeyPair stranger(R_KEY_TYPE_RSA, 2048, "rsa-1");
  token_answer_ = {200,
                   nlohmann::json{{"id_token", stranger.Sign(claims, R_JWA_ALG_RS256)}}.dump()};
  EXPECT_EQ(refusal(), "the token's signature does not verify with the key \"rsa-1\" of " +
                           std::string(kIssuer));
  // The token endpoint's refusals and outages.
  token_answer_ = {400, R"({"error":"invalid_grant","error_description":"code expired"})"};
  EXPECT_EQ(refusal(), std::string(kIssuer) +
                           " refused the authorization code (400 invalid_grant: code expired): "
                           "sign on again");
  token_answer_ = {200, R"({"access_token":"a"})"};
  EXPECT_EQ(refusal(), "the token endpoint of " + std::string(kIssuer) +
                           " sent no id_token: is the client allowed the openid scope?");
  token_answer_ = {200, R"({"id_token":5})"};
  EXPECT_EQ(refusal(), "the token endpoint of " + std::string(kIssuer) +
                           " sent no id_token: is the client allowed the openid scope?");
  EXPECT_EQ(refusal(""), std::string(kIssuer) + " sent back no usable authorization code");
  EXPECT_EQ(refusal(std::string(OidcSignOn::kMaxCodeBytes + 1, 'c')),
            std::string(kIssuer) + " sent back no usable authorization code");
  token_answer_ = {503, ""};
  EXPECT_EQ(sign_on.Finish(*p, "the-code", kRedirect).status().code(), Code::kUnavailable);
  down_ = true;
  auto away = sign_on.Finish(*p, "the-code", kRedirect);
  EXPECT_EQ(away.status().code(), Code::kUnavailable);
  EXPECT_EQ(away.status().message(), "the token endpoint of " + std::string(kIssuer) +
                                         " cannot be reached: connect: Connection refused");
}

// An unknown key makes one fetch again, at most once a minute: a stream of
// tokens with made-up key IDs cannot make the node hammer the provider.
TEST_F(OidcTest, AnUnknownKeyRefetchesAtMostOnceAMinute) {
  ASSERT_EQ(Refusal(rsa_.Sign(Claims(), R_JWA_ALG_RS256)), "");
  ASSERT_EQ(fetches_, 2);
  KeyPair rotated(R_KEY_TYPE_RSA, 2048, "rsa-2");
  const std::string token = rotated.Sign(Claims(), R_JWA_ALG_RS256);
  const std::string unknown =
      "the token's signing key \"rsa-2\" is not among the keys of " + std::string(kIssuer);
  EXPECT_EQ(Refusal(token), unknown);
  clock_.Advance(std::chrono::seconds(59));
  EXPECT_EQ(Refusal(token), unknown);
  EXPECT_EQ(fetches_, 2);  // the keys are less than a minute old
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(Refusal(token), unknown);
  EXPECT_EQ(fetches_, 4);  // looked again: the key might have been new
  EXPECT_EQ(Refusal(token), unknown);
  EXPECT_EQ(fetches_, 4);  // and not again within the next minute
  // The provider rotates its keys; a minute on, the new one is fetched.
  jwks_["keys"].push_back(rotated.PublicJson());
  clock_.Advance(std::chrono::seconds(60));
  auto v = verifier_->Verify(token);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(fetches_, 6);
  // Known keys need no fetch.
  EXPECT_EQ(Refusal(rsa_.Sign(Claims(), R_JWA_ALG_RS256)), "");
  EXPECT_EQ(fetches_, 6);
}

TEST_F(OidcTest, KeysThatCannotBeFetchedAreAnOutageNotARefusal) {
  down_ = true;
  auto r = verifier_->Verify(rsa_.Sign(Claims(), R_JWA_ALG_RS256));
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(r.status().message(), "the signing keys of " + std::string(kIssuer) +
                                      " cannot be fetched: connect: Connection refused");
  // Until it is tried again, 5 s later, the same outage, and no fetch.
  clock_.Advance(std::chrono::seconds(4));
  EXPECT_EQ(verifier_->Verify(rsa_.Sign(Claims(), R_JWA_ALG_RS256)).status().message(),
            r.status().message());
  EXPECT_EQ(fetches_, 1);
  down_ = false;
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(verifier_->Verify(rsa_.Sign(Claims(), R_JWA_ALG_RS256)).ok());
  EXPECT_EQ(fetches_, 3);
  // A key set without keys is an outage too.
  clock_.Advance(std::chrono::minutes(1));
  jwks_ = nlohmann::json::object();
  KeyPair stranger(R_KEY_TYPE_RSA, 2048, "rsa-9");
  auto none = verifier_->Verify(stranger.Sign(Claims(), R_JWA_ALG_RS256));
  EXPECT_EQ(none.status().code(), Code::kUnavailable);
  EXPECT_EQ(none.status().message(), "the signing keys of " + std::string(kIssuer) +
                                         " cannot be fetched: https://idp.example.test/keys "
                                         "holds no keys");
}

}  // namespace
}  // namespace openrms::accounts
