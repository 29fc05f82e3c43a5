// Enabling bits (MS-RMPR 2.2.9.1.13): the bytes OpenRMS writes, field by
// field, blocks built here by hand (as another writer would make them), and
// each refusal with its message.
#include "licensing/enabling_bits.h"

#include <gtest/gtest.h>

#include "base/text.h"
#include "crypto/content_cipher.h"

namespace openrms::licensing {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string out;
  for (int v : b) out.push_back(static_cast<char>(v));
  return out;
}

class EnablingBitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_ = std::move(crypto::GenerateSealedRsaKey(2048, "pw")->key).release();
    other_ = std::move(crypto::GenerateSealedRsaKey(2048, "pw")->key).release();
  }
  static void TearDownTestSuite() {
    delete key_;
    delete other_;
  }

  static SymmetricKey ContentKey(size_t n = 32, KeyCipherMode mode = KeyCipherMode::kCbc4k) {
    SymmetricKey k;
    for (size_t i = 0; i < n; ++i) k.bytes.push_back(static_cast<char>(0xA0 + i));
    k.mode = mode;
    return k;
  }

  // A block written by hand: RSA(header || session) || ECB(session, body),
  // `body` given whole (headers, key, hash, padding).
  static std::string HandMade(crypto::RsaPadding padding, const std::string& session_blob,
                              const std::string& session, const std::string& body) {
    std::string rsa = *key_->public_key().Encrypt(padding, session_blob);
    return rsa + *crypto::EcbEncrypt(session, body, false);
  }

  static crypto::PrivateKey* key_;
  static crypto::PrivateKey* other_;
  DeterministicRandom random_{7};
};
crypto::PrivateKey* EnablingBitsTest::key_ = nullptr;
crypto::PrivateKey* EnablingBitsTest::other_ = nullptr;

const std::string kSession(16, '\x5A');
// KeyHeader of an AES-128 ECB session key: BlobSize 28, 0xFFFF, 16 bytes,
// block 16, flags A|E.
const std::string kSessionHeader = Bytes({0x1C, 0, 0xFF, 0xFF, 0x10, 0, 0x10, 0, 0x01, 0x10, 0, 0});

TEST_F(EnablingBitsTest, V2IsOaepThenTheSpecsHeadersByteForByte) {
  const std::string bound = "<ISSUEDPRINCIPALS />";
  auto raw =
      SealEnablingBits(key_->public_key(), SealedKeyVersion::kV2, ContentKey(), bound, random_);
  ASSERT_TRUE(raw.ok()) << raw.status().message();
  // 256 bytes of RSA, then 16 + 12 + 32 + 32 = 92 bytes padded to 96.
  ASSERT_EQ(raw->size(), 256u + 96u);
  auto session_blob = key_->Decrypt(crypto::RsaPadding::kOaepSha1, raw->substr(0, 256));
  ASSERT_TRUE(session_blob.ok()) << session_blob.status().message();
  ASSERT_EQ(session_blob->size(), 28u);
  EXPECT_EQ(HexEncode(session_blob->substr(0, 12)), HexEncode(kSessionHeader));
  const std::string session = session_blob->substr(12);
  auto body = crypto::EcbDecrypt(session, raw->substr(256), true);
  ASSERT_TRUE(body.ok());
  const std::string expected =
      // UDEBHeader: version 2, 76 bytes of key header, key and hash, 0, 0.
      Bytes({2, 0, 0, 0, 0x4C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) +
      // KeyHeader: BlobSize 44, CBC4K with padding, 32 bytes, block 16, A|C.
      Bytes({0x2C, 0, 0xFD, 0xFF, 0x20, 0, 0x10, 0, 0x01, 0x20, 0, 0}) + ContentKey().bytes +
      crypto::Sha256(bound);
  EXPECT_EQ(HexEncode(*body), HexEncode(expected));

  auto opened = OpenEnablingBits(*key_, SealedKeyVersion::kV2, *raw);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(opened->key.bytes, ContentKey().bytes);
  EXPECT_EQ(opened->key.mode, KeyCipherMode::kCbc4k);
  EXPECT_EQ(opened->hash, EnablingBitsHash(SealedKeyVersion::kV2, bound));
}

// An AES-128 content key for MICROSOFT.ECB (Office documents): its
// KeyHeader names ECB with the flags A|E, and it opens as ECB.
TEST_F(EnablingBitsTest, AnEcbContentKeysHeaderSaysEcb) {
  const SymmetricKey ecb = ContentKey(16, KeyCipherMode::kEcb);
  auto raw = SealEnablingBits(key_->public_key(), SealedKeyVersion::kV2, ecb, "bound", random_);
  ASSERT_TRUE(raw.ok()) << raw.status().message();
  // 256 bytes of RSA, then 16 + 12 + 16 + 32 = 76 bytes padded to 80.
  ASSERT_EQ(raw->size(), 256u + 80u);
  auto session_blob = key_->Decrypt(crypto::RsaPadding::kOaepSha1, raw->substr(0, 256));
  ASSERT_TRUE(session_blob.ok()) << session_blob.status().message();
  auto body = crypto::EcbDecrypt(session_blob->substr(12), raw->substr(256), true);
  ASSERT_TRUE(body.ok());
  const std::string expected =
      // UDEBHeader: version 2, 60 bytes of key header, key and hash, 0, 0.
      Bytes({2, 0, 0, 0, 0x3C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) +
      // KeyHeader: BlobSize 28, ECB, 16 bytes, block 16, A|E.
      Bytes({0x1C, 0, 0xFF, 0xFF, 0x10, 0, 0x10, 0, 0x01, 0x10, 0, 0}) + ecb.bytes +
      crypto::Sha256("bound");
  EXPECT_EQ(HexEncode(*body), HexEncode(expected));
  auto opened = OpenEnablingBits(*key_, SealedKeyVersion::kV2, *raw);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(opened->key.bytes, ecb.bytes);
  EXPECT_EQ(opened->key.mode, KeyCipherMode::kEcb);
}

TEST_F(EnablingBitsTest, V1IsPkcs1WithASha1Hash) {
  auto raw = SealEnablingBits(key_->public_key(), SealedKeyVersion::kV1,
                              ContentKey(16, KeyCipherMode::kEcb), "bound", random_);
  ASSERT_TRUE(raw.ok());
  // 16 + 12 + 16 + 20 = 64 bytes: a whole padding block follows.
  ASSERT_EQ(raw->size(), 256u + 80u);
  auto session_blob = key_->Decrypt(crypto::RsaPadding::kPkcs1v15, raw->substr(0, 256));
  ASSERT_TRUE(session_blob.ok());
  EXPECT_EQ(HexEncode(session_blob->substr(0, 12)), HexEncode(kSessionHeader));
  // OAEP does not open a PKCS#1 block.
  EXPECT_FALSE(key_->Decrypt(crypto::RsaPadding::kOaepSha1, raw->substr(0, 256)).ok());
  auto opened = OpenEnablingBits(*key_, SealedKeyVersion::kV1, *raw);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(opened->key.bytes, ContentKey(16).bytes);
  EXPECT_EQ(opened->key.mode, KeyCipherMode::kEcb);
  EXPECT_EQ(opened->hash, crypto::Sha1("bound"));
}

TEST_F(EnablingBitsTest, AHandMadeBlockWithAKeySizeInBitsAndOaepSha256Opens) {
  // Another writer's choices: the key size field in bits (the spec's text),
  // OAEP with SHA-256, zero padding instead of PKCS#7.
  const std::string session_blob =
      Bytes({0x1C, 0, 0xFF, 0xFF, 0x80, 0, 0x10, 0, 0x01, 0x10, 0, 0}) + kSession;
  const std::string content(24, '\x33');
  std::string body = Bytes({2, 0, 0, 0, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) +
                     Bytes({0x24, 0, 0xFF, 0xFF, 0xC0, 0, 0x10, 0, 0x01, 0x10, 0, 0}) + content +
                     std::string(32, '\x11');
  body.append(16 - body.size() % 16, '\0');
  const std::string raw = HandMade(crypto::RsaPadding::kOaepSha256, session_blob, kSession, body);
  auto opened = OpenEnablingBits(*key_, SealedKeyVersion::kV2, raw);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(opened->key.bytes, content);
  EXPECT_EQ(opened->key.mode, KeyCipherMode::kEcb);
  EXPECT_EQ(opened->hash, std::string(32, '\x11'));
}

TEST_F(EnablingBitsTest, BitsSealedToAnotherKeyAreRefusedInOneMessage) {
  auto raw =
      SealEnablingBits(other_->public_key(), SealedKeyVersion::kV2, ContentKey(), "b", random_);
  ASSERT_TRUE(raw.ok());
  for (SealedKeyVersion v : {SealedKeyVersion::kV2, SealedKeyVersion::kV1}) {
    auto opened = OpenEnablingBits(*key_, v, *raw);
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.status().code(), Code::kPermissionDenied);
    EXPECT_EQ(opened.status().message(), "the content key is not sealed to this cluster's key");
  }
}

TEST_F(EnablingBitsTest, EachDamagedFieldIsNamed) {
  const std::string udeb = Bytes({2, 0, 0, 0, 0x4C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  const std::string header = Bytes({0x2C, 0, 0xFD, 0xFF, 0x20, 0, 0x10, 0, 0x01, 0x20, 0, 0});
  const std::string key(32, '\x44'), hash(32, '\x55');
  auto open = [&](const std::string& session_blob, std::string body) {
    body.append(16 - body.size() % 16, '\x04');
    return OpenEnablingBits(*key_, SealedKeyVersion::kV2,
                            HandMade(crypto::RsaPadding::kOaepSha1, session_blob, kSession, body));
  };
  const std::string session = kSessionHeader + kSession;
  auto expect = [](const Result<OpenedEnablingBits>& r, const std::string& message) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kMalformed);
    EXPECT_EQ(r.status().message(), message);
  };
  ASSERT_TRUE(open(session, udeb + header + key + hash).ok());
  expect(open(session,
              Bytes({1, 0, 0, 0, 0x4C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) + header + key + hash),
         "the enabling bits are version 1 inside an element of sealed-key-v2");
  expect(open(session,
              Bytes({2, 0, 0, 0, 0x4C, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}) + header + key + hash),
         "the enabling bits' reserved header fields are not 0");
  expect(open(session,
              Bytes({2, 0, 0, 0, 0xF0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) + header + key + hash),
         "the enabling bits state 240 bytes of key and hash but hold 80");
  expect(open(session, Bytes({2, 0, 0, 0, 0x3C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) + header + key +
                           hash.substr(0, 16)),
         "the enabling bits' hash is 16 bytes, not the 32 of sealed-key-v2");
  expect(open(session,
              udeb + Bytes({0x2C, 0, 0x00, 0x80, 0x20, 0, 0x10, 0, 1, 0x20, 0, 0}) + key + hash),
         "the enabling bits' content key names an unknown cipher mode 32768");
  expect(open(session,
              udeb + Bytes({0x2C, 0, 0xFD, 0xFF, 0x07, 0, 0x10, 0, 1, 0x20, 0, 0}) + key + hash),
         "the enabling bits' content key is not an AES key (7 in its size field)");
  expect(open(session,
              udeb + Bytes({0x30, 0, 0xFD, 0xFF, 0x20, 0, 0x10, 0, 1, 0x20, 0, 0}) + key + hash),
         "the enabling bits' content key has a BlobSize of 48 for a 32-byte key");
  expect(open(Bytes({0x1C, 0, 0xFD, 0xFF, 0x10, 0, 0x10, 0, 0x01, 0x20, 0, 0}) + kSession,
              udeb + header + key + hash),
         "the enabling bits' session key is not in ECB mode");
  expect(open(kSessionHeader.substr(0, 8), udeb + header + key + hash),
         "the enabling bits' session key is truncated");
}

TEST_F(EnablingBitsTest, SizesAtTheEdges) {
  auto raw =
      SealEnablingBits(key_->public_key(), SealedKeyVersion::kV2, ContentKey(), "b", random_);
  ASSERT_TRUE(raw.ok());
  for (size_t n : {size_t{0}, size_t{1}, size_t{255}, size_t{256}, size_t{256 + 16 - 1}}) {
    auto r = OpenEnablingBits(*key_, SealedKeyVersion::kV2, raw->substr(0, n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().code(), Code::kMalformed) << n;
    EXPECT_EQ(r.status().message(), "the enabling bits are " + std::to_string(n) +
                                        " bytes: not an RSA block of 256 bytes followed by "
                                        "whole AES blocks");
  }
  // One AES block less than written: the stated size no longer fits.
  EXPECT_FALSE(
      OpenEnablingBits(*key_, SealedKeyVersion::kV2, raw->substr(0, raw->size() - 16)).ok());
  auto big = OpenEnablingBits(*key_, SealedKeyVersion::kV2, std::string(kMaxEnablingBits + 1, 'x'));
  EXPECT_EQ(big.status().code(), Code::kTooLarge);
  EXPECT_EQ(big.status().message(), "the enabling bits are over 8192 bytes");
  SymmetricKey odd;
  odd.bytes = std::string(20, 'k');
  EXPECT_EQ(SealEnablingBits(key_->public_key(), SealedKeyVersion::kV2, odd, "b", random_)
                .status()
                .message(),
            "enabling bits seal AES keys of 16, 24 or 32 bytes");
}

TEST_F(EnablingBitsTest, TheBindingLeavesTheEnablingBitsOut) {
  xrml::Element principals("ISSUEDPRINCIPALS");
  xrml::Element& p = principals.Add("PRINCIPAL");
  p.Attr("internal-id", "1");
  p.Add("OBJECT").Attr("type", "MS-DRM-Server");
  const std::string before = *EnablingBitsBinding(principals);
  p.Add("ENABLINGBITS").Attr("type", "sealed-key-v2").Add("VALUE").Text("AAAA");
  EXPECT_EQ(*EnablingBitsBinding(principals), before);
  EXPECT_EQ(*Utf16LeToUtf8(before),
            "<ISSUEDPRINCIPALS><PRINCIPAL internal-id=\"1\"><OBJECT type=\"MS-DRM-Server\" />"
            "</PRINCIPAL></ISSUEDPRINCIPALS>");
  EXPECT_EQ(SealedKeyVersionOf("sealed-key"), SealedKeyVersion::kV1);
  EXPECT_EQ(SealedKeyVersionOf("sealed-key-v2"), SealedKeyVersion::kV2);
  EXPECT_EQ(SealedKeyVersionOf("sealed-key-v3"), std::nullopt);
}

}  // namespace
}  // namespace openrms::licensing
