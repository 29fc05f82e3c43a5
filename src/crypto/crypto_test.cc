#include <gtest/gtest.h>

#include "crypto/encoding.h"
#include "crypto/keys.h"
#include "crypto/password_hash.h"

namespace openrms::crypto {
namespace {

TEST(Keys, SealedKeySignsAndOpensOnlyWithItsPassword) {
  auto pair = GenerateSealedRsaKey(2048, "correct horse");
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  EXPECT_NE(pair->sealed_pem.find("BEGIN ENCRYPTED PRIVATE KEY"), std::string::npos);
  auto sig = pair->key->Sign(DigestAlgorithm::kSha256, "hello");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(pair->key->public_key().Verify(DigestAlgorithm::kSha256, "hello", *sig).ok());
  EXPECT_EQ(pair->key->public_key().Verify(DigestAlgorithm::kSha256, "hellO", *sig).code(),
            Code::kBadSignature);

  auto wrong = UnsealKey(pair->sealed_pem, "wrong");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), Code::kPermissionDenied);
  auto opened = UnsealKey(pair->sealed_pem, "correct horse");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_TRUE((*opened)->public_key() == pair->key->public_key());
}

TEST(Keys, OaepRoundTrip) {
  auto pair = GenerateSealedRsaKey(2048, "pw");
  ASSERT_TRUE(pair.ok());
  auto ct = pair->key->public_key().EncryptOaep("content key 1234");
  ASSERT_TRUE(ct.ok());
  EXPECT_EQ(*pair->key->Decrypt(*ct), "content key 1234");
}

TEST(Keys, Pkcs1DerRoundTripAndUnsupportedSizes) {
  auto pair = GenerateSealedRsaKey(2048, "pw");
  ASSERT_TRUE(pair.ok());
  auto back = PublicKey::FromPkcs1Der(pair->key->public_key().ToPkcs1Der());
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back == pair->key->public_key());
  auto small = PublicKey::FromModulus(std::string(64, '\x7f'), 65537);
  EXPECT_EQ(small.status().code(), Code::kUnsupported);
  EXPECT_EQ(GenerateSealedRsaKey(1024, "pw").status().code(), Code::kUnsupported);
}

TEST(Encoding, Base64) {
  EXPECT_EQ(Base64Encode("abcd"), "YWJjZA==");
  EXPECT_EQ(Base64Decode("YWJjZA=="), "abcd");
  EXPECT_EQ(Base64Decode("YWJj\nZA=="), "abcd");
  EXPECT_FALSE(Base64Decode("YWJjZA="));
  EXPECT_FALSE(Base64Decode("YW=jZA=="));
  EXPECT_FALSE(Base64Decode("YWJj*A=="));
}

TEST(PasswordHash, SecretEquals) {
  EXPECT_TRUE(SecretEquals("csrf-token", "csrf-token"));
  EXPECT_FALSE(SecretEquals("csrf-token", "csrf-tokem"));
  EXPECT_FALSE(SecretEquals("csrf-token", "csrf-token2"));
  EXPECT_FALSE(SecretEquals("", ""));  // a missing token never matches
  EXPECT_FALSE(SecretEquals("", "csrf-token"));
}

}  // namespace
}  // namespace openrms::crypto

namespace openrms::crypto {
namespace {

TEST(Wipe, EmptiesAndZeroesTheSecret) {
  std::string secret = "correct horse battery staple";
  const char* data = secret.data();
  const size_t n = secret.size();
  Wipe(secret);
  EXPECT_TRUE(secret.empty());
  // The bytes are overwritten in place (the buffer is kept by clear()).
  EXPECT_EQ(std::string(data, n), std::string(n, '\0'));
  std::string none;
  Wipe(none);
  EXPECT_TRUE(none.empty());
}

// Found by base64_fuzz: set bits after the last byte were ignored, so several
// texts decoded to the same bytes.
TEST(Encoding, Base64RefusesNonCanonicalPadding) {
  EXPECT_EQ(Base64Decode("QQ=="), "A");
  EXPECT_FALSE(Base64Decode("Qq=="));
  EXPECT_FALSE(Base64Decode("QR=="));
  EXPECT_EQ(Base64Decode("QUI="), "AB");
  EXPECT_FALSE(Base64Decode("QUJ="));
  EXPECT_EQ(Base64Decode("QUJD"), "ABC");
}

}  // namespace
}  // namespace openrms::crypto
