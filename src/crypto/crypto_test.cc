#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <set>
#include <thread>

#include "crypto/encoding.h"
#include "crypto/keys.h"
#include "crypto/password_box.h"
#include "crypto/password_hash.h"

namespace openrms::crypto {
namespace {

std::string Draw(size_t n) {
  std::string out(n, '\0');
  SystemRandom().Fill({reinterpret_cast<uint8_t*>(out.data()), n});
  return out;
}

// The system's randomness is drawn in blocks per thread and handed out once:
// no draw repeats another, across the block's edges, above the size drawn
// directly, and between threads.
TEST(SystemRandom, NoDrawRepeatsAnother) {
  EXPECT_EQ(Draw(0), "");
  std::set<std::string> seen;
  for (size_t n : {1, 16, 31, 32, 33, 511, 512, 513, 4095, 4096, 4097}) {
    for (int i = 0; i < 3; ++i) {
      const std::string d = Draw(n);
      ASSERT_EQ(d.size(), n);
      if (n >= 16) {
        EXPECT_TRUE(seen.insert(d).second) << n;
      }
    }
  }
  // 128 draws of 32 bytes make one block exactly; go on across three blocks.
  for (int i = 0; i < 3 * 128 + 1; ++i) {
    const std::string d = Draw(32);
    EXPECT_NE(d, std::string(32, '\0'));  // handed out, not the wiped copy
    EXPECT_TRUE(seen.insert(d).second) << i;
  }
  std::string other;
  std::thread([&] { other = Draw(32); }).join();
  EXPECT_TRUE(seen.insert(other).second);
}

// After fork() the child must not hand out what its parent drew already
// (both would make the same content keys).
TEST(SystemRandom, AForkedChildDrawsAfresh) {
  (void)Draw(32);  // the parent holds a block, mostly unused
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string d = Draw(32);
    _exit(write(pipe_fds[1], d.data(), d.size()) == 32 ? 0 : 1);
  }
  close(pipe_fds[1]);
  const std::string mine = Draw(32);
  std::string theirs(32, '\0');
  ASSERT_EQ(read(pipe_fds[0], theirs.data(), theirs.size()), 32);
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(mine, theirs);
}

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

// What the RMS SDK's offline publisher rebuilds from a handed-over key:
// n and d little-endian, e. A key made from those three alone signs what
// the public key verifies.
std::string SignWithExponent(const PublicKey& pub, std::string d_le, std::string_view data) {
  std::string n_le(pub.modulus_be().rbegin(), pub.modulus_be().rend());
  BIGNUM* n = BN_lebin2bn(reinterpret_cast<const unsigned char*>(n_le.data()),
                          static_cast<int>(n_le.size()), nullptr);
  BIGNUM* d = BN_lebin2bn(reinterpret_cast<const unsigned char*>(d_le.data()),
                          static_cast<int>(d_le.size()), nullptr);
  BIGNUM* e = BN_new();
  BN_set_word(e, pub.exponent());
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* from = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_fromdata_init(from);
  EVP_PKEY_fromdata(from, &pkey, EVP_PKEY_KEYPAIR, params);
  std::string sig(512, '\0');
  size_t len = sig.size();
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  if (pkey != nullptr && EVP_DigestSignInit(md, nullptr, EVP_sha1(), nullptr, pkey) > 0 &&
      EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) > 0) {
    sig.resize(len);
  } else {
    sig.clear();
  }
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(pkey);
  EVP_PKEY_CTX_free(from);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(d);
  BN_free(e);
  return sig;
}

TEST(Keys, AHandedOverKeyIsItsHoldersAndOpensOnlyUnderTheKeyItIsSealedTo) {
  auto server = GenerateSealedRsaKey(2048, "pw");
  auto other = GenerateSealedRsaKey(2048, "pw");
  ASSERT_TRUE(server.ok() && other.ok());
  auto made = GenerateHandedOverKey(2048, server->key->public_key(), SystemRandom());
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(made->public_key.bits(), 2048);
  EXPECT_EQ(made->public_key.exponent(), 65537u);
  ASSERT_EQ(made->private_exponent_le.size(), 256u);

  // The holder signs with n, e and d alone.
  const std::string sig = SignWithExponent(made->public_key, made->private_exponent_le, "pld");
  ASSERT_FALSE(sig.empty());
  EXPECT_TRUE(made->public_key.Verify(DigestAlgorithm::kSha1, "pld", sig).ok());

  // The server opens its copy and decrypts what was encrypted to the holder.
  auto opened = OpenHandedOverKey(*server->key, made->sealed);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_TRUE((*opened)->public_key() == made->public_key);
  auto sealed = made->public_key.Encrypt(RsaPadding::kPkcs1v15, "session key 16 b");
  ASSERT_TRUE(sealed.ok());
  auto plain = (*opened)->Decrypt(RsaPadding::kPkcs1v15, *sealed);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*plain, "session key 16 b");

  // Another key, a changed byte anywhere, or a cut copy opens nothing.
  auto wrong = OpenHandedOverKey(*other->key, made->sealed);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message(), "the data was not encrypted to this key");
  std::string changed = made->sealed;
  changed[changed.size() - 40] ^= 1;
  EXPECT_EQ(OpenHandedOverKey(*server->key, changed).status().message(), "not a sealed key");
  EXPECT_EQ(OpenHandedOverKey(*server->key, "").status().message(), "not a sealed key");
  EXPECT_EQ(OpenHandedOverKey(*server->key, made->sealed.substr(0, 256 + 28)).status().message(),
            "not a sealed key");
  // Each key is new.
  auto again = GenerateHandedOverKey(2048, server->key->public_key(), SystemRandom());
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->public_key == made->public_key);
  EXPECT_EQ(GenerateHandedOverKey(1024, server->key->public_key(), SystemRandom()).status().code(),
            Code::kUnsupported);
}

TEST(Keys, OaepRoundTrip) {
  auto pair = GenerateSealedRsaKey(2048, "pw");
  ASSERT_TRUE(pair.ok());
  auto ct = pair->key->public_key().EncryptOaep("content key 1234");
  ASSERT_TRUE(ct.ok());
  EXPECT_EQ(*pair->key->Decrypt(*ct), "content key 1234");
}

// Each thread keeps the encryption context of the key it used last: keys
// taken in turn each seal to themselves, the same plaintext seals
// differently each time, a plaintext one byte too long for OAEP-SHA256 with
// a 2048-bit key is refused and the key seals again after it, and a key
// made again from the same modulus, after the first is gone, works too.
TEST(Keys, OaepSealsToTheKeyAskedAcrossKeysAndFailures) {
  auto a = GenerateSealedRsaKey(2048, "pw");
  auto b = GenerateSealedRsaKey(2048, "pw");
  ASSERT_TRUE(a.ok() && b.ok());
  for (int round = 0; round < 2; ++round) {
    for (auto* pair : {&*a, &*b}) {
      auto ct = pair->key->public_key().EncryptOaep("key of round " + std::to_string(round));
      ASSERT_TRUE(ct.ok()) << ct.status().ToString();
      EXPECT_EQ(*pair->key->Decrypt(*ct), "key of round " + std::to_string(round));
      EXPECT_FALSE((pair == &*a ? b : a)->key->Decrypt(*ct).ok());
    }
  }
  const PublicKey& pub = a->key->public_key();
  EXPECT_NE(*pub.EncryptOaep("same"), *pub.EncryptOaep("same"));
  EXPECT_EQ(pub.EncryptOaep(std::string(256 - 2 * 32 - 2, 'x'))->size(), 256u);  // the largest
  EXPECT_EQ(pub.EncryptOaep(std::string(256 - 2 * 32 - 1, 'x')).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(*a->key->Decrypt(*pub.EncryptOaep("")), "");
  EXPECT_EQ(*a->key->Decrypt(*pub.EncryptOaep("after")), "after");
  std::optional<PublicKey> again;
  {
    auto copy = PublicKey::FromPkcs1Der(pub.ToPkcs1Der());
    ASSERT_TRUE(copy.ok());
    EXPECT_EQ(*a->key->Decrypt(*copy->EncryptOaep("copy")), "copy");
  }
  again.emplace(*PublicKey::FromPkcs1Der(pub.ToPkcs1Der()));
  EXPECT_EQ(*a->key->Decrypt(*again->EncryptOaep("again")), "again");
}

TEST(Keys, EachPaddingOpensOnlyItself) {
  auto pair = GenerateSealedRsaKey(2048, "pw");
  ASSERT_TRUE(pair.ok());
  const PublicKey& pub = pair->key->public_key();
  const RsaPadding all[] = {RsaPadding::kOaepSha256, RsaPadding::kOaepSha1, RsaPadding::kPkcs1v15};
  for (RsaPadding made : all) {
    for (const std::string& plain : {std::string(), std::string(1, '\0'), std::string(190, 'k')}) {
      auto ct = pub.Encrypt(made, plain);
      ASSERT_TRUE(ct.ok());
      ASSERT_EQ(ct->size(), 256u);
      for (RsaPadding tried : all) {
        auto back = pair->key->Decrypt(tried, *ct);
        if (tried == made) {
          ASSERT_TRUE(back.ok()) << back.status().message();
          EXPECT_EQ(*back, plain);
        } else if (tried == RsaPadding::kPkcs1v15 && back.ok()) {
          // About one ciphertext in 2^16 of another padding happens to
          // unpad as PKCS#1 v1.5 (its only check is 00 02 ... 00): never
          // to the plain text.
          EXPECT_NE(*back, plain);
        } else {
          ASSERT_FALSE(back.ok());
          EXPECT_EQ(back.status().code(), Code::kInvalidArgument);
          EXPECT_EQ(back.status().message(), "the data was not encrypted to this key");
        }
      }
    }
  }
  // The largest plaintexts of each padding, and one byte more.
  EXPECT_TRUE(pub.Encrypt(RsaPadding::kOaepSha1, std::string(214, 'x')).ok());
  EXPECT_FALSE(pub.Encrypt(RsaPadding::kOaepSha1, std::string(215, 'x')).ok());
  EXPECT_TRUE(pub.Encrypt(RsaPadding::kPkcs1v15, std::string(245, 'x')).ok());
  EXPECT_FALSE(pub.Encrypt(RsaPadding::kPkcs1v15, std::string(246, 'x')).ok());
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
  // White space is what C's isspace calls so, anywhere; any other byte
  // outside the alphabet, a NUL or a byte over 0x7f among them, is refused.
  EXPECT_EQ(Base64Decode(" \tY\vW\fJj\rZ\nA==\n"), "abcd");
  EXPECT_EQ(Base64Decode(""), "");
  EXPECT_EQ(Base64Decode("\n"), "");
  EXPECT_FALSE(Base64Decode("Y"));
  EXPECT_FALSE(Base64Decode(std::string("YWJj\0A==", 8)));
  EXPECT_FALSE(Base64Decode("YWJj\xC3\xA9=="));
  EXPECT_FALSE(Base64Decode("YWJj-A=="));  // base64url is another alphabet
  // Exact blocks, and one and two bytes past them.
  for (size_t n :
       {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{3071}, size_t{3072}, size_t{3073}}) {
    std::string bytes(n, '\0');
    for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>(i * 7 + 1);
    EXPECT_EQ(Base64Decode(Base64Encode(bytes)), bytes) << n;
  }
}

TEST(Base64Url, UnpaddedAndStrict) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");  // '+' and '/' of base64
  EXPECT_EQ(Base64UrlDecode("-_8"), "\xfb\xff");
  EXPECT_EQ(Base64UrlDecode(""), "");
  EXPECT_EQ(Base64UrlDecode("Zg=="), std::nullopt);  // no padding
  EXPECT_EQ(Base64UrlDecode("Zm+v"), std::nullopt);  // base64's own alphabet
  EXPECT_EQ(Base64UrlDecode("Zm 9v"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Z"), std::nullopt);  // no whole byte
  for (size_t n = 0; n <= 66; ++n) {
    std::string bytes(n, '\0');
    for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>(i * 37 + 250);
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(bytes)), bytes) << n;
  }
}

// A scripted file system holding one file.
class OneFile final : public FileSystem {
 public:
  explicit OneFile(std::string text) : text_(std::move(text)) {}
  Result<std::string> ReadFile(const std::string& path, size_t max_bytes) override {
    if (path != "/etc/secret") return Status(Code::kNotFound, path + " does not exist");
    if (text_.size() > max_bytes) return Status(Code::kTooLarge, path + " is too large");
    return text_;
  }
  Status WriteFileAtomic(const std::string&, std::string_view) override { return Status::Ok(); }
  Status CreateFileIfMissing(const std::string&) override { return Status::Ok(); }
  bool Exists(const std::string& path) override { return path == "/etc/secret"; }
  Status CreateDirectories(const std::string&) override { return Status::Ok(); }
  std::optional<FileMode> Mode(const std::string&) override { return std::nullopt; }

 private:
  std::string text_;
};

TEST(PasswordHash, SecretFilesLoseTheirLineBreaksOnly) {
  auto read = [](const std::string& text) {
    OneFile fs(text);
    auto r = ReadSecretFile(fs, "/etc/secret");
    return r.ok() ? *r : "error: " + r.status().message();
  };
  EXPECT_EQ(read("s3cret\n"), "s3cret");
  EXPECT_EQ(read("s3cret\r\n"), "s3cret");
  EXPECT_EQ(read("s3cret"), "s3cret");
  EXPECT_EQ(read(" s3 cret \n\n"), " s3 cret ");  // spaces are the secret's
  EXPECT_EQ(read("x"), "x");
  EXPECT_EQ(read(""), "error: the file /etc/secret is empty");
  EXPECT_EQ(read("\r\n"), "error: the file /etc/secret is empty");
  EXPECT_EQ(read(std::string(4096, 'k')), std::string(4096, 'k'));
  EXPECT_EQ(read(std::string(4097, 'k')), "error: /etc/secret is too large");
  OneFile fs("x");
  EXPECT_EQ(ReadSecretFile(fs, "/nowhere").status().code(), Code::kNotFound);
  OneFile empty("\n");
  auto refused = ReadSecretFile(empty, "/etc/secret", "password file");
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(refused.status().message(), "the password file /etc/secret is empty");
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

namespace openrms::crypto {
namespace {

TEST(PasswordBoxTest, ScryptCostsAreBoundedAsAWhole) {
  EXPECT_TRUE(CheckScryptCost({}).ok());             // 2^17, 8, 1: 128 MiB
  EXPECT_TRUE(CheckScryptCost({18, 8, 1}).ok());     // 256 MiB: the edge
  EXPECT_TRUE(CheckScryptCost({14, 1, 1}).ok());     // the smallest
  const Status twice = CheckScryptCost({18, 8, 2});  // 512 MiB
  EXPECT_EQ(twice.code(), Code::kUnsupported);
  EXPECT_EQ(twice.message(),
            "scrypt cost N=2^18 r=8 p=2 needs 512 MiB; OpenRMS reads files that need at most "
            "256 MiB");
  EXPECT_EQ(CheckScryptCost({20, 16, 4}).code(), Code::kUnsupported);  // 8 GiB
  EXPECT_EQ(CheckScryptCost({13, 8, 1}).code(), Code::kUnsupported);
  EXPECT_EQ(CheckScryptCost({17, 0, 1}).code(), Code::kUnsupported);
}

TEST(PasswordBoxTest, AeadRefusesAnyChange) {
  const std::string key(32, 'k'), nonce(12, 'n');
  auto sealed = AeadSeal(key, nonce, "header", "secret");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), 6u + 16u);
  auto opened = AeadOpen(key, nonce, "header", *sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, "secret");
  EXPECT_EQ(AeadOpen(key, nonce, "headeR", *sealed).status().code(), Code::kBadSignature);
  for (size_t i = 0; i < sealed->size(); ++i) {
    std::string flipped = *sealed;
    flipped[i] = static_cast<char>(flipped[i] ^ 1);
    EXPECT_EQ(AeadOpen(key, nonce, "header", flipped).status().code(), Code::kBadSignature) << i;
  }
  auto empty = AeadSeal(key, nonce, "", "");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*AeadOpen(key, nonce, "", *empty), "");
}

TEST(PasswordBoxTest, ScryptNeedsAPassword) {
  EXPECT_EQ(ScryptDerive("", "salt", {14, 1, 1}, 32).status().code(), Code::kInvalidArgument);
  auto a = ScryptDerive("pw", "salt", {14, 1, 1}, 32);
  auto b = ScryptDerive("pw", "salt", {14, 1, 1}, 32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *ScryptDerive("pw", "salu", {14, 1, 1}, 32));
}

}  // namespace
}  // namespace openrms::crypto
