// The harness for logons through an organisation's OpenID Connect provider:
// a real glewlwyd (Debian's package) on loopback over HTTPS with its own
// test CA. These tests pin down what its tokens carry, which the OIDC
// logon feature relies on.
#include "support/glewlwyd.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "crypto/encoding.h"
#include "http/client.h"
#include "support/process.h"

namespace openrms::testing {
namespace {

using nlohmann::json;

constexpr char kRedirectUri[] = "https://127.0.0.1:1/oidc/callback";

struct Jwt {
  json header;
  json payload;
  std::string signing_input;  // header.payload, as signed
  std::string signature;      // raw bytes
};

std::string Base64UrlDecode(const std::string& s) {
  return crypto::Base64UrlDecode(s).value_or("");
}

Jwt Decode(const std::string& token) {
  const size_t a = token.find('.'), b = token.find('.', a + 1);
  EXPECT_NE(b, std::string::npos) << token;
  Jwt jwt;
  jwt.header = json::parse(Base64UrlDecode(token.substr(0, a)), nullptr, false);
  jwt.payload = json::parse(Base64UrlDecode(token.substr(a + 1, b - a - 1)), nullptr, false);
  jwt.signing_input = token.substr(0, b);
  jwt.signature = Base64UrlDecode(token.substr(b + 1));
  return jwt;
}

json FetchJson(const std::string& url, const std::string& ca_pem) {
  http::ClientRequest request;
  request.url = url;
  request.ca_pem = ca_pem;
  auto r = http::Fetch(request);
  EXPECT_TRUE(r.ok()) << url << ": " << r.status().ToString();
  if (!r.ok()) return json();
  EXPECT_EQ(r->status, 200) << url << ": " << r->body;
  return json::parse(r->body, nullptr, false);
}

// The kids of a JWKS's keys of type `kty`.
std::vector<std::string> Kids(const json& jwks, const std::string& kty) {
  std::vector<std::string> kids;
  for (const auto& key : jwks.value("keys", json::array())) {
    if (key.value("kty", "") == kty) kids.push_back(key.value("kid", ""));
  }
  return kids;
}

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// Checks the claims every access token of the harness has, and returns
// the token decoded.
Jwt CheckAccessToken(const Glewlwyd& idp, const std::string& token, const std::string& user) {
  Jwt jwt = Decode(token);
  EXPECT_EQ(jwt.header.value("typ", ""), "at+jwt");
  EXPECT_EQ(jwt.header.value("alg", ""), idp.signing_alg());
  const json jwks = FetchJson(idp.jwks_url(), idp.ca_pem());
  const auto kids = Kids(jwks, idp.signing_alg() == "ES256" ? "EC" : "RSA");
  EXPECT_NE(std::find(kids.begin(), kids.end(), jwt.header.value("kid", "?")), kids.end())
      << jwt.header.dump() << " not in " << jwks.dump();
  const json& p = jwt.payload;
  EXPECT_EQ(p.value("iss", ""), idp.issuer());
  EXPECT_EQ(p.value("aud", ""), idp.audience());
  EXPECT_EQ(p.value("client_id", ""), kOidcClientId);
  EXPECT_EQ(p.value("scope", ""), "openid");
  EXPECT_EQ(p.value("type", ""), "access_token");
  EXPECT_EQ(p.value("email", ""), user + "@example.test");
  EXPECT_EQ(p.value("preferred_username", ""), user);
  // sub is glewlwyd's own opaque id, not the user name.
  EXPECT_FALSE(p.value("sub", "").empty());
  EXPECT_NE(p.value("sub", ""), user);
  EXPECT_EQ(p.value("exp", 0) - p.value("iat", 0), 3600);
  return jwt;
}

class GlewlwydTest : public ::testing::Test {
 protected:
  // One server for the RS256 tests: it takes seconds to set up.
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto started = Glewlwyd::Start(dir_->path() + "/idp", {.redirect_uris = {kRedirectUri}});
    if (!started.ok()) {
      start_error_ = new std::string(started.status().ToString());
      return;
    }
    idp_ = std::move(started).value().release();
  }
  static void TearDownTestSuite() {
    delete idp_;
    idp_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(idp_, nullptr) << *start_error_; }

  static TempDir* dir_;
  static Glewlwyd* idp_;
  static std::string* start_error_;
};

TempDir* GlewlwydTest::dir_ = nullptr;
Glewlwyd* GlewlwydTest::idp_ = nullptr;
std::string* GlewlwydTest::start_error_ = nullptr;

TEST_F(GlewlwydTest, DiscoveryAndKeysAreServedOverHttpsWithItsOwnCa) {
  EXPECT_EQ(ReadAll(idp_->ca_file()), idp_->ca_pem());
  const json discovery = FetchJson(idp_->discovery_url(), idp_->ca_pem());
  EXPECT_EQ(discovery.value("issuer", ""), idp_->issuer());
  EXPECT_EQ(discovery.value("jwks_uri", ""), idp_->jwks_url());
  EXPECT_EQ(discovery.value("authorization_endpoint", ""), idp_->authorization_endpoint());
  EXPECT_EQ(discovery.value("token_endpoint", ""), idp_->token_endpoint());
  EXPECT_EQ(discovery.value("device_authorization_endpoint", ""),
            idp_->device_authorization_endpoint());
  EXPECT_EQ(discovery.value("code_challenge_methods_supported", json()), json({"S256"}));
  EXPECT_EQ(discovery.value("scopes_supported", json()), json({"openid"}));

  const json jwks = FetchJson(discovery.value("jwks_uri", ""), idp_->ca_pem());
  ASSERT_EQ(jwks.value("keys", json::array()).size(), 1u) << jwks.dump();
  const json& key = jwks["keys"][0];
  EXPECT_EQ(key.value("kty", ""), "RSA");
  EXPECT_EQ(key.value("alg", ""), "RS256");
  EXPECT_EQ(key.value("e", ""), "AQAB");
  EXPECT_FALSE(key.value("kid", "").empty());
  EXPECT_FALSE(key.contains("d")) << "the JWKS must not show the private key";

  // Its certificate is from the harness's CA, not a public one.
  http::ClientRequest untrusted;
  untrusted.url = idp_->discovery_url();
  auto refused = http::Fetch(untrusted);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnavailable) << refused.status().ToString();
}

TEST_F(GlewlwydTest, PasswordGrantTokensCarryEmailAndGroups) {
  auto alice = idp_->PasswordToken("alice", kOidcAlicePassword);
  ASSERT_TRUE(alice.ok()) << alice.status().ToString();
  const Jwt a = CheckAccessToken(*idp_, *alice, "alice");
  // For whoever reads the log: what glewlwyd issued, decoded.
  std::cout << "alice's access token: " << a.header.dump() << " " << a.payload.dump() << "\n";
  EXPECT_EQ(a.payload.value("name", ""), "Alice");
  // A multi-valued user property: one comma-separated string, in order.
  EXPECT_EQ(a.payload.value("groups", json()), "Administrators,Staff");

  auto bob = idp_->PasswordToken("bob", kOidcBobPassword);
  ASSERT_TRUE(bob.ok()) << bob.status().ToString();
  EXPECT_EQ(CheckAccessToken(*idp_, *bob, "bob").payload.value("groups", json()), "Staff");

  // No groups: no claim at all.
  auto carol = idp_->PasswordToken("carol", kOidcCarolPassword);
  ASSERT_TRUE(carol.ok()) << carol.status().ToString();
  EXPECT_FALSE(CheckAccessToken(*idp_, *carol, "carol").payload.contains("groups"));

  // Signed with the harness's key (RS256: RSASSA-PKCS1-v1_5 with SHA-256).
  TempDir tmp;
  Write(tmp.path() + "/input", a.signing_input);
  Write(tmp.path() + "/signature", a.signature);
  CommandResult verify =
      RunCommand({"/usr/bin/openssl", "dgst", "-sha256", "-verify", idp_->signing_public_key_file(),
                  "-signature", tmp.path() + "/signature", tmp.path() + "/input"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_EQ(verify.out, "Verified OK\n");
}

TEST_F(GlewlwydTest, PasswordGrantAnswerHasAnIdTokenWithGroupsAsAnArray) {
  auto r = idp_->PasswordGrant("alice", kOidcAlicePassword);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, 200) << r->body;
  const json body = json::parse(r->body);
  EXPECT_EQ(body.value("token_type", ""), "bearer");
  EXPECT_EQ(body.value("expires_in", 0), 3600);
  EXPECT_EQ(body.value("scope", ""), "openid");
  EXPECT_TRUE(body.contains("refresh_token"));
  const Jwt id = Decode(body.value("id_token", ""));
  EXPECT_EQ(id.header.value("typ", ""), "JWT");
  EXPECT_EQ(id.payload.value("iss", ""), idp_->issuer());
  EXPECT_EQ(id.payload.value("aud", ""), kOidcClientId);  // unlike the access token's
  EXPECT_EQ(id.payload.value("email", ""), "alice@example.test");
  EXPECT_EQ(id.payload.value("groups", json()), json({"Administrators", "Staff"}));
}

TEST_F(GlewlwydTest, WrongPasswordIsRefused) {
  // glewlwyd's refusal: 403 Forbidden with an empty body (no OAuth2 error
  // JSON), for a wrong password and an unknown user alike.
  for (const auto& [user, password] : std::vector<std::pair<std::string, std::string>>{
           {"alice", "wrong"}, {"alice", kOidcBobPassword}, {"nobody", "x"}}) {
    auto r = idp_->PasswordGrant(user, password);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 403) << user;
    EXPECT_EQ(r->body, "") << user;
  }
  auto token = idp_->PasswordToken("alice", "wrong");
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(idp_->LogOn("alice", "wrong").status().code(), Code::kUnauthenticated);
}

TEST_F(GlewlwydTest, CodeFlowWithPkceGivesTheSameClaims) {
  auto bob = idp_->CodeFlowToken("bob", kOidcBobPassword, kRedirectUri);
  ASSERT_TRUE(bob.ok()) << bob.status().ToString();
  EXPECT_EQ(CheckAccessToken(*idp_, *bob, "bob").payload.value("groups", json()), "Staff");
}

TEST_F(GlewlwydTest, BrowserWithoutSessionIsSentToTheLoginPage) {
  const std::string auth =
      idp_->authorization_endpoint() + "?response_type=code&client_id=openrms&redirect_uri=" +
      "https%3A%2F%2F127.0.0.1%3A1%2Foidc%2Fcallback&scope=openid&state=s1" + "&nonce=n1";
  http::ClientRequest request;
  request.url = auth;
  request.ca_pem = idp_->ca_pem();
  auto r = http::Fetch(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 302);
  const std::string location = r->Header("location").value_or("");
  EXPECT_EQ(location.rfind(idp_->login_url() + "?client_id=openrms&scope=openid&callback_url=", 0),
            0u)
      << location;

  // The login page and the files it loads are served.
  for (const std::string path :
       {"/login.html", "/login.js", "/config.json", "/css/bootstrap.min.css", "/js/jquery.min.js",
        "/locales/en/translations.json"}) {
    request.url = idp_->base_url() + path;
    auto page = http::Fetch(request);
    ASSERT_TRUE(page.ok()) << path << ": " << page.status().ToString();
    EXPECT_EQ(page->status, 200) << path;
    EXPECT_FALSE(page->body.empty()) << path;
  }
}

TEST_F(GlewlwydTest, DeviceAuthorizationGrantWorks) {
  auto alice = idp_->DeviceFlowToken("alice", kOidcAlicePassword);
  ASSERT_TRUE(alice.ok()) << alice.status().ToString();
  EXPECT_EQ(CheckAccessToken(*idp_, *alice, "alice").payload.value("groups", json()),
            "Administrators,Staff");
}

TEST(GlewlwydEs256Test, SignsWithAP256Key) {
  TempDir dir;
  auto idp = Glewlwyd::Start(dir.path() + "/idp", {.signing_alg = "ES256"});
  ASSERT_TRUE(idp.ok()) << idp.status().ToString();
  const json jwks = FetchJson((*idp)->jwks_url(), (*idp)->ca_pem());
  ASSERT_EQ(jwks.value("keys", json::array()).size(), 1u) << jwks.dump();
  EXPECT_EQ(jwks["keys"][0].value("kty", ""), "EC");
  EXPECT_EQ(jwks["keys"][0].value("crv", ""), "P-256");
  EXPECT_EQ(jwks["keys"][0].value("alg", ""), "ES256");

  auto alice = (*idp)->PasswordToken("alice", kOidcAlicePassword);
  ASSERT_TRUE(alice.ok()) << alice.status().ToString();
  const Jwt a = CheckAccessToken(**idp, *alice, "alice");
  EXPECT_EQ(a.signature.size(), 64u);  // JWS ES256: r and s, 32 bytes each
}

}  // namespace
}  // namespace openrms::testing
