// The JSON documents of the RMS SDK's offline publisher: the thin CLC the
// server writes, read back as the SDK reads it (testing/sdk_offline_publisher),
// and the license the SDK then writes, read by the server's reader.
#include "licensing/json_license.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "crypto/content_cipher.h"
#include "crypto/encoding.h"
#include "licensing/testing/sdk_offline_publisher.h"

namespace openrms::licensing {
namespace {

using nlohmann::json;

const Time kIssued = *ParseTime("2027-03-01T10:00");
const Time kExpires = *ParseTime("2027-03-31T10:00");

class JsonLicenseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::move(crypto::GenerateSealedRsaKey(2048, "pw")->key).release();
    held_ = new crypto::HandedOverKey(std::move(
        crypto::GenerateHandedOverKey(2048, cluster_->public_key(), crypto::SystemRandom())
            .value()));
  }
  static void TearDownTestSuite() {
    delete cluster_;
    delete held_;
  }

  static ThinClcContent Content(std::string holder = "alice@contoso.com") {
    return ThinClcContent{"{00000000-0000-4000-8000-0000000000c1}",
                          "CONTOSO",
                          cluster_->public_key(),
                          "https://rms.example/_wmcs/my/v2",
                          std::move(holder),
                          held_->public_key,
                          held_->private_exponent_le,
                          held_->sealed,
                          kIssued,
                          kExpires};
  }

  static std::string Thin() { return WriteThinClc(Content(), *cluster_).value(); }

  static std::string Le64(const crypto::PublicKey& key) {
    return crypto::Base64Encode(std::string(key.modulus_be().rbegin(), key.modulus_be().rend()));
  }

  // The SDK's license for bob:VIEW, without its byte-order mark.
  static std::string SdkLicense(const std::vector<testing::SdkRights>& rights = {
                                    {{"bob@contoso.com"}, {"VIEW"}}}) {
    auto published = testing::SdkPublishOffline(Thin(), rights);
    EXPECT_TRUE(published.ok()) << published.status().ToString();
    return published->license.substr(3);
  }

  static crypto::PrivateKey* cluster_;
  static crypto::HandedOverKey* held_;
};
crypto::PrivateKey* JsonLicenseTest::cluster_ = nullptr;
crypto::HandedOverKey* JsonLicenseTest::held_ = nullptr;

// The public part, byte for byte: what every license carries back and the
// cluster's signature covers.
TEST_F(JsonLicenseTest, TheCertificatesPublicPartByteForByte) {
  json outer = json::parse(Thin());
  ASSERT_EQ(outer.size(), 2u);
  const json payload = json::parse(outer["pld"].get<std::string>());
  const json& pub = payload["pub"];
  const std::string expected =
      R"({"exp":"2027-03-31T10:00:00Z","id":"{00000000-0000-4000-8000-0000000000c1}",)"
      R"("iss":{"eurl":"https://rms.example/_wmcs/my/v2","fname":"CONTOSO","pubk":{"e":"65537",)"
      R"("kty":"RSA","n":")" +
      Le64(cluster_->public_key()) +
      R"("}},"issd":"2027-03-01T10:00:00Z","issto":{"em":"alice@contoso.com",)"
      R"("fname":"alice@contoso.com","pubk":{"e":"65537","kty":"RSA","n":")" +
      Le64(held_->public_key) + R"("}},"sealk":")" + crypto::Base64Encode(held_->sealed) +
      R"(","ver":"1.0.0.0"})";
  EXPECT_EQ(pub["pld"].dump(), expected);
  EXPECT_EQ(pub["sig"]["alg"], "SHA256");
  EXPECT_EQ(pub["sig"]["penc"], "utf-8");
  auto sig = crypto::Base64Decode(pub["sig"]["dig"].get<std::string>());
  ASSERT_TRUE(sig);
  EXPECT_TRUE(cluster_->public_key().Verify(crypto::DigestAlgorithm::kSha256, expected, *sig).ok());
  // The private part: the holder's d, and the same times.
  EXPECT_EQ(payload["pri"].dump(), R"({"exp":"2027-03-31T10:00:00Z","issd":"2027-03-01T10:00:00Z",)"
                                   R"("prik":{"d":")" +
                                       crypto::Base64Encode(held_->private_exponent_le) +
                                       R"(","kty":"RSA"}})");
  // The whole payload is signed too.
  auto outer_sig = crypto::Base64Decode(outer["sig"]["dig"].get<std::string>());
  ASSERT_TRUE(outer_sig);
  EXPECT_TRUE(
      cluster_->public_key()
          .Verify(crypto::DigestAlgorithm::kSha256, outer["pld"].get<std::string>(), *outer_sig)
          .ok());
}

// The SDK cuts "pub" out by counting braces and strips every backslash:
// what it is left with is the same JSON.
TEST_F(JsonLicenseTest, TheSdksUnescapingLeavesTheCertificateWhole) {
  const std::string thin = Thin();
  json unescaped = json::parse(testing::SdkUnescape(thin), nullptr, false);
  ASSERT_FALSE(unescaped.is_discarded()) << testing::SdkUnescape(thin);
  const json payload = json::parse(json::parse(thin)["pld"].get<std::string>());
  EXPECT_EQ(unescaped["pld"], payload);
  EXPECT_EQ(unescaped["pld"]["pri"]["exp"], "2027-03-31T10:00:00Z");
  EXPECT_EQ(unescaped["pld"]["pub"]["pld"]["issto"]["em"], "alice@contoso.com");
}

TEST_F(JsonLicenseTest, NamesTheSdkCannotReadBackAreRefused) {
  for (const std::string& name : std::vector<std::string>{"a\"b", "a\\b", "a\nb"}) {
    auto refused = WriteThinClc(Content(name), *cluster_);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(refused.status().message(),
              "the name " + name +
                  " holds a quote, a backslash or a control character, which the RMS SDK's "
                  "offline publisher cannot read back: send PublicKey for an XrML client "
                  "licensor certificate instead");
  }
}

TEST_F(JsonLicenseTest, ReadsTheLicenseTheSdkWrites) {
  auto published = testing::SdkPublishOffline(
      Thin(), {{{"bob@contoso.com"}, {"VIEW", "PRINT"}}, {{"carol@contoso.com"}, {"EDIT"}}});
  ASSERT_TRUE(published.ok()) << published.status().ToString();
  ASSERT_EQ(published->license.substr(0, 3), "\xEF\xBB\xBF");
  const std::string text = published->license.substr(3);
  EXPECT_TRUE(IsJsonLicense(text));
  EXPECT_TRUE(IsJsonLicense(" \n{"));
  EXPECT_FALSE(IsJsonLicense("<XrML/>"));
  EXPECT_FALSE(IsJsonLicense(""));
  auto l = ReadJsonLicense(text);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->owner, "alice@contoso.com");
  EXPECT_EQ(l->content_id, "alice@contoso.com");
  EXPECT_EQ(l->license_id, published->license_id);
  EXPECT_EQ(l->cipher_mode, "CBC4K");
  EXPECT_EQ(l->signature_algorithm, crypto::DigestAlgorithm::kSha1);
  EXPECT_TRUE(held_->public_key.Verify(l->signature_algorithm, l->signed_text, l->signature).ok());
  // The creator is the certificate's public part, as it was signed.
  const ThinClcPublic& c = l->creator;
  EXPECT_EQ(c.id, "{00000000-0000-4000-8000-0000000000c1}");
  EXPECT_EQ(c.issuer_name, "CONTOSO");
  EXPECT_EQ(c.issuer_modulus_be, cluster_->public_key().modulus_be());
  EXPECT_EQ(c.issuer_exponent, 65537u);
  EXPECT_EQ(c.holder, "alice@contoso.com");
  EXPECT_EQ(c.holder_modulus_be, held_->public_key.modulus_be());
  EXPECT_EQ(c.sealed_holder_key, held_->sealed);
  EXPECT_EQ(c.issued, kIssued);
  EXPECT_EQ(c.expires, kExpires);
  EXPECT_TRUE(cluster_->public_key()
                  .Verify(crypto::DigestAlgorithm::kSha256, c.signed_text, c.signature)
                  .ok());
  // The session key opens the content key and the policy.
  auto opened = crypto::OpenHandedOverKey(*cluster_, c.sealed_holder_key);
  ASSERT_TRUE(opened.ok());
  auto session = (*opened)->Decrypt(crypto::RsaPadding::kPkcs1v15, l->sealed_session_key);
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(crypto::Cbc4kDecrypt(*session, l->content_key_cipher).value(), published->content_key);
  auto policy = ReadJsonPolicy(crypto::Cbc4kDecrypt(*session, l->encrypted_policy).value());
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  EXPECT_EQ(policy->creator, "alice@contoso.com");
  EXPECT_EQ(policy->template_id, "");
  ASSERT_EQ(policy->user_rights.size(), 2u);
  EXPECT_EQ(policy->user_rights[0].users, std::vector<std::string>{"bob@contoso.com"});
  EXPECT_EQ(policy->user_rights[0].rights, (std::vector<std::string>{"VIEW", "PRINT"}));
  EXPECT_EQ(policy->user_rights[1].rights, std::vector<std::string>{"EDIT"});
}

// "cre" may come as the text the SDK writes or as an object.
TEST_F(JsonLicenseTest, TheCreatorAsAnObjectReadsTheSame) {
  const std::string text = SdkLicense();
  json outer = json::parse(text);
  json payload = json::parse(outer["pld"].get<std::string>());
  payload["lic"]["cre"] = json::parse(payload["lic"]["cre"].get<std::string>());
  outer["pld"] = payload.dump();
  auto as_object = ReadJsonLicense(outer.dump());
  auto as_text = ReadJsonLicense(text);
  ASSERT_TRUE(as_object.ok() && as_text.ok());
  EXPECT_EQ(as_object->creator.signed_text, as_text->creator.signed_text);
}

TEST_F(JsonLicenseTest, EachMissingFieldIsNamed) {
  const std::string text = SdkLicense();
  struct Case {
    std::vector<std::string> path;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"lic", "o"}, "the JSON publishing license's lic.o is missing or not a string"},
      {{"lic", "id"}, "the JSON publishing license's lic.id is missing or not a string"},
      {{"lic", "cre"}, "the JSON publishing license's lic.cre is missing"},
      {{"lic", "sk"}, "the JSON publishing license's lic.sk is missing or not an object"},
      {{"lic", "sk", "sk"}, "the JSON publishing license's lic.sk.sk is missing or not a string"},
      {{"lic", "sk", "eck"}, "the JSON publishing license's lic.sk.eck is missing or not a string"},
      {{"lic", "enp"}, "the JSON publishing license's lic.enp is missing or not a string"},
      {{"lic"}, "the JSON publishing license's pld.lic is missing or not an object"},
  };
  for (const Case& c : cases) {
    json outer = json::parse(text);
    json payload = json::parse(outer["pld"].get<std::string>());
    json* at = &payload;
    for (size_t i = 0; i + 1 < c.path.size(); ++i) at = &(*at)[c.path[i]];
    at->erase(c.path.back());
    outer["pld"] = payload.dump();
    auto read = ReadJsonLicense(outer.dump());
    ASSERT_FALSE(read.ok()) << c.message;
    EXPECT_EQ(read.status().code(), Code::kMalformed);
    EXPECT_EQ(read.status().message(), c.message);
  }
  // The creator's own fields, and the signature's.
  json outer = json::parse(text);
  json payload = json::parse(outer["pld"].get<std::string>());
  json cre = json::parse(payload["lic"]["cre"].get<std::string>());
  cre["pld"].erase("sealk");
  payload["lic"]["cre"] = cre.dump();
  outer["pld"] = payload.dump();
  EXPECT_EQ(ReadJsonLicense(outer.dump()).status().message(),
            "the JSON publishing license's lic.cre.pld.sealk is missing or not a string");
  outer = json::parse(text);
  outer["sig"]["alg"] = "MD5";
  EXPECT_EQ(ReadJsonLicense(outer.dump()).status().message(),
            "the JSON publishing license's sig.alg MD5 is not SHA1 or SHA256");
  outer = json::parse(text);
  outer["sig"]["dig"] = "not base64!";
  EXPECT_EQ(ReadJsonLicense(outer.dump()).status().message(),
            "the JSON publishing license's sig.dig is not base64");
}

TEST_F(JsonLicenseTest, SizesAtTheEdges) {
  EXPECT_EQ(ReadJsonLicense("").status().code(), Code::kMalformed);
  EXPECT_EQ(ReadJsonLicense("{").status().code(), Code::kMalformed);
  EXPECT_EQ(ReadJsonLicense("{}").status().message(),
            "the JSON publishing license's pld is missing or not a string");
  EXPECT_EQ(ReadJsonLicense("[]").status().message(),
            "the JSON publishing license's text is not a JSON object");
  // The largest allowed is read as JSON; one byte more is refused unread.
  std::string largest = SdkLicense();
  largest.append(kMaxJsonLicense - largest.size(), ' ');
  EXPECT_TRUE(ReadJsonLicense(largest).ok());
  largest += ' ';
  auto over = ReadJsonLicense(largest);
  EXPECT_EQ(over.status().code(), Code::kTooLarge);
  EXPECT_EQ(over.status().message(), "a JSON publishing license has at most 262144 bytes");
}

TEST(JsonPolicy, TemplatesCustomRightsAndTheirErrors) {
  auto t = ReadJsonPolicy(R"({"crem":"a@b","tid":"{t1}"})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->template_id, "{t1}");
  EXPECT_EQ(t->creator, "a@b");
  // The SDK's constants call the rights "rhts"; its code writes "rghts".
  auto r = ReadJsonPolicy(R"({"cp":{"usrs":[{"usrs":["x"],"rhts":["VIEW"]}]}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->user_rights[0].rights, std::vector<std::string>{"VIEW"});
  EXPECT_EQ(ReadJsonPolicy("x").status().message(),
            "the JSON publishing license's policy (enp) is not a JSON object");
  EXPECT_EQ(ReadJsonPolicy(R"({"tid":""})").status().message(),
            "the JSON publishing license's policy's tid is not a template ID");
  EXPECT_EQ(ReadJsonPolicy(R"({"crem":"a"})").status().message(),
            "the JSON publishing license's policy.cp is missing or not an object");
  EXPECT_EQ(ReadJsonPolicy(R"({"cp":{"usrs":[]}})").status().message(),
            "the JSON publishing license's policy.cp.usrs is missing or not a list of users and "
            "rights");
  EXPECT_EQ(ReadJsonPolicy(R"({"cp":{"usrs":[1]}})").status().message(),
            "the JSON publishing license's policy.cp.usrs[0] is not an object");
}

}  // namespace
}  // namespace openrms::licensing
