// Keys in a PKCS#11 token, against a real SoftHSM2: each test has its own
// token directory and configuration, and the module is finalised between
// tests (the last token handle closes it), so SOFTHSM2_CONF is read anew.
#include "crypto/pkcs11.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "crypto/keys.h"

namespace openrms::crypto {
namespace {

constexpr char kModule[] = "/usr/lib/softhsm/libsofthsm2.so";
constexpr char kPin[] = "user-pin-4711";
constexpr char kSoPin[] = "so-pin-0815";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class Pkcs11 : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kModule))
        << kModule << " is missing: SoftHSM2 is installed by scripts/install-deps.sh";
    std::string t = (std::filesystem::temp_directory_path() / "openrms-pkcs11-XXXXXX").string();
    ASSERT_NE(mkdtemp(t.data()), nullptr);
    dir_ = t;
    std::filesystem::create_directory(dir_ + "/tokens");
    std::ofstream(dir_ + "/softhsm2.conf") << "directories.tokendir = " << dir_ << "/tokens\n"
                                           << "objectstore.backend = file\n"
                                           << "log.level = ERROR\n";
    // Read by the module at C_Initialize, and by softhsm2-util.
    setenv("SOFTHSM2_CONF", (dir_ + "/softhsm2.conf").c_str(), 1);
    const std::string cmd = "softhsm2-util --init-token --free --label OpenRMS --so-pin " +
                            std::string(kSoPin) + " --pin " + kPin + " >" + dir_ + "/init.log 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << ReadAll(dir_ + "/init.log");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::shared_ptr<Pkcs11Token> Token() {
    auto token = Pkcs11Token::Open(kModule, "OpenRMS", kPin);
    EXPECT_TRUE(token.ok()) << token.status().ToString();
    return token.ok() ? *token : nullptr;
  }

  std::string dir_;
};

TEST_F(Pkcs11, GeneratedKeySignsSha1AndSha256AndTheSignaturesVerify) {
  auto token = Token();
  ASSERT_TRUE(token);
  auto made = GenerateRsaKey(token, "cluster-root", 2048);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(made->uri, "pkcs11:token=OpenRMS;object=cluster-root;type=private");
  const PublicKey& pub = made->key->public_key();
  EXPECT_EQ(pub.bits(), 2048);
  EXPECT_EQ(pub.exponent(), 65537u);
  for (DigestAlgorithm a : {DigestAlgorithm::kSha1, DigestAlgorithm::kSha256}) {
    auto sig = made->key->Sign(a, "a license to sign");
    ASSERT_TRUE(sig.ok()) << sig.status().ToString();
    EXPECT_EQ(sig->size(), 256u);
    EXPECT_TRUE(pub.Verify(a, "a license to sign", *sig).ok());
    EXPECT_EQ(pub.Verify(a, "a license to sigN", *sig).code(), Code::kBadSignature);
  }
}

TEST_F(Pkcs11, TokenDecryptsOaepSha256FromEmptyToTheLargestPlaintextAndRefusesTampering) {
  auto token = Token();
  ASSERT_TRUE(token);
  auto made = GenerateRsaKey(token, "decrypt", 2048);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  // 2048-bit OAEP with SHA-256: 256 - 2 * 32 - 2 = 190 bytes at most.
  std::string largest(190, '\0');
  for (size_t i = 0; i < largest.size(); ++i) largest[i] = static_cast<char>(i * 7);
  for (const std::string& plain : {std::string(), std::string("\x00", 1), largest}) {
    auto ct = made->key->public_key().EncryptOaep(plain);
    ASSERT_TRUE(ct.ok()) << ct.status().ToString();
    auto back = made->key->Decrypt(*ct);
    ASSERT_TRUE(back.ok()) << plain.size() << ": " << back.status().ToString();
    EXPECT_EQ(*back, plain);
  }
  EXPECT_FALSE(made->key->public_key().EncryptOaep(largest + "x").ok());

  auto ct = made->key->public_key().EncryptOaep("content key");
  ASSERT_TRUE(ct.ok());
  std::string tampered = *ct;
  tampered[100] ^= 0x01;
  auto refused = made->key->Decrypt(tampered);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument) << refused.status().ToString();
  EXPECT_EQ(made->key->Decrypt(ct->substr(1)).status().code(), Code::kInvalidArgument);
  // The refusals did not spoil the sessions the next calls get.
  auto plain = made->key->Decrypt(*ct);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(*plain, "content key");
}

// The paddings of XrML's enabling bits (MS-RMPR 2.2.9.1.13): OAEP with
// SHA-1 ("sealed-key-v2") and PKCS#1 v1.5 ("sealed-key"), in the token.
TEST_F(Pkcs11, TokenDecryptsOaepSha1AndPkcs1AndRefusesTheOtherPadding) {
  auto token = Token();
  ASSERT_TRUE(token);
  auto made = GenerateRsaKey(token, "paddings", 2048);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  const PublicKey& pub = made->key->public_key();
  // The largest plaintexts: 256 - 2 * 20 - 2 (OAEP-SHA-1), 256 - 11 (PKCS#1).
  for (auto [padding, largest] : {std::pair{RsaPadding::kOaepSha1, size_t{214}},
                                  std::pair{RsaPadding::kPkcs1v15, size_t{245}}}) {
    for (size_t n : {size_t{0}, size_t{1}, largest}) {
      const std::string plain(n, '\x5c');
      auto ct = pub.Encrypt(padding, plain);
      ASSERT_TRUE(ct.ok()) << n << ": " << ct.status().ToString();
      auto back = made->key->Decrypt(padding, *ct);
      ASSERT_TRUE(back.ok()) << n << ": " << back.status().ToString();
      EXPECT_EQ(*back, plain);
    }
    EXPECT_FALSE(pub.Encrypt(padding, std::string(largest + 1, 'x')).ok());
  }
  auto oaep = pub.Encrypt(RsaPadding::kOaepSha1, "session key");
  auto pkcs1 = pub.Encrypt(RsaPadding::kPkcs1v15, "session key");
  EXPECT_EQ(made->key->Decrypt(RsaPadding::kPkcs1v15, *oaep).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(made->key->Decrypt(RsaPadding::kOaepSha1, *pkcs1).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(made->key->Decrypt(*oaep).status().code(), Code::kInvalidArgument)
      << "OAEP with SHA-256 does not open OAEP with SHA-1";
  EXPECT_EQ(*made->key->Decrypt(RsaPadding::kOaepSha1, *oaep), "session key");
}

TEST_F(Pkcs11, ImportedSoftwareKeyKeepsItsPublicKeyAndSignsInTheToken) {
  auto software = GenerateSealedRsaKey(2048, "sealing password");
  ASSERT_TRUE(software.ok());
  auto token = Token();
  ASSERT_TRUE(token);

  auto wrong = ImportSealedKey(token, "cluster", software->sealed_pem, "not the password");
  EXPECT_EQ(wrong.status().code(), Code::kPermissionDenied);

  auto imported = ImportSealedKey(token, "cluster", software->sealed_pem, "sealing password");
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_EQ(imported->uri, "pkcs11:token=OpenRMS;object=cluster;type=private");
  const PublicKey& pub = software->key->public_key();
  EXPECT_TRUE(imported->key->public_key() == pub);
  auto sig = imported->key->Sign(DigestAlgorithm::kSha256, "issued by the cluster");
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(pub.Verify(DigestAlgorithm::kSha256, "issued by the cluster", *sig).ok());
  // PKCS#1 v1.5 is deterministic: the token signs exactly as the software key.
  auto software_sig = software->key->Sign(DigestAlgorithm::kSha256, "issued by the cluster");
  ASSERT_TRUE(software_sig.ok());
  EXPECT_EQ(*sig, *software_sig);
  auto ct = pub.EncryptOaep("content key");
  ASSERT_TRUE(ct.ok());
  auto plain = imported->key->Decrypt(*ct);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(*plain, "content key");

  auto again = ImportSealedKey(token, "cluster", software->sealed_pem, "sealing password");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("already has an object labelled \"cluster\""),
            std::string::npos)
      << again.status().message();
}

TEST_F(Pkcs11, GenerateRefusesALabelInUse) {
  auto token = Token();
  ASSERT_TRUE(token);
  ASSERT_TRUE(GenerateRsaKey(token, "root", 2048).ok());
  auto again = GenerateRsaKey(token, "root", 2048);
  EXPECT_EQ(again.status().code(), Code::kFailedPrecondition) << again.status().ToString();
  EXPECT_EQ(GenerateRsaKey(token, "small", 1024).status().code(), Code::kUnsupported);
}

TEST_F(Pkcs11, ExportIsRefusedBecauseTheTokenKeepsThePrivatePart) {
  auto software = GenerateSealedRsaKey(2048, "pw");
  ASSERT_TRUE(software.ok());
  auto token = Token();
  ASSERT_TRUE(token);
  auto made = GenerateRsaKey(token, "tpd", 2048);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto imported = ImportSealedKey(token, "moved", software->sealed_pem, "pw");
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  for (const std::string& uri : {made->uri, imported->uri}) {
    auto exported = ExportPrivateKey(*token, uri);
    ASSERT_FALSE(exported.ok());
    EXPECT_EQ(exported.status().code(), Code::kPermissionDenied);
    EXPECT_EQ(exported.status().message(),
              "the private key " + uri +
                  " lives in a PKCS#11 token and was made non-extractable: the token does not "
                  "give out its private part (CKR_ATTRIBUTE_SENSITIVE). A key that can be "
                  "exported would have to be created so on purpose.");
  }
}

TEST_F(Pkcs11, KeyOpensAgainByItsUriAfterTheModuleWasClosed) {
  std::string uri;
  std::string fingerprint;
  {
    auto token = Token();
    ASSERT_TRUE(token);
    auto made = GenerateRsaKey(token, "persistent", 2048);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    uri = made->uri;
    fingerprint = made->key->public_key().Fingerprint();
  }  // the last handle: sessions closed, C_Finalize
  auto key = OpenPkcs11Key(kModule, uri, kPin);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ((*key)->public_key().Fingerprint(), fingerprint);
  auto sig = (*key)->Sign(DigestAlgorithm::kSha1, "x");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE((*key)->public_key().Verify(DigestAlgorithm::kSha1, "x", *sig).ok());
  // A URI without type=private names the same key.
  auto by_label = OpenPkcs11Key(kModule, "pkcs11:token=OpenRMS;object=persistent", kPin);
  ASSERT_TRUE(by_label.ok()) << by_label.status().ToString();
  EXPECT_EQ((*by_label)->public_key().Fingerprint(), fingerprint);
}

TEST_F(Pkcs11, WrongPinIsPermissionDeniedAndNotShown) {
  auto wrong = Pkcs11Token::Open(kModule, "OpenRMS", "not-the-pin");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(wrong.status().message(), "wrong PIN for token \"OpenRMS\" (CKR_PIN_INCORRECT)");

  // With the token open, a second Open is checked against the PIN it has.
  auto token = Token();
  ASSERT_TRUE(token);
  auto same = Pkcs11Token::Open(kModule, "OpenRMS", kPin);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->get(), token.get());
  auto wrong_again = Pkcs11Token::Open(kModule, "OpenRMS", "not-the-pin");
  EXPECT_EQ(wrong_again.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(wrong_again.status().message().find("not-the-pin"), std::string::npos);
  EXPECT_EQ(OpenPkcs11Key(kModule, "pkcs11:token=OpenRMS;object=x", "not-the-pin").status().code(),
            Code::kPermissionDenied);
}

TEST_F(Pkcs11, UnknownTokenIsNotFoundAndListsTheTokensPresent) {
  auto none = Pkcs11Token::Open(kModule, "Elsewhere", kPin);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  EXPECT_EQ(none.status().message(), "no token labelled \"Elsewhere\" in PKCS#11 module " +
                                         std::string(kModule) + "; tokens present: \"OpenRMS\"");
}

TEST_F(Pkcs11, UnknownObjectIsNotFoundAndNamesTheUri) {
  auto token = Token();
  ASSERT_TRUE(token);
  const std::string uri = "pkcs11:token=OpenRMS;object=no-such-key;type=private";
  auto missing = OpenPkcs11Key(token, uri);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(missing.status().message(), "no private key in token \"OpenRMS\" matches " + uri);
  EXPECT_EQ(ExportPrivateKey(*token, uri).status().code(), Code::kNotFound);
  EXPECT_EQ(OpenPkcs11Key(token, "pkcs11:token=Other;object=k").status().code(), Code::kMismatch);
}

TEST_F(Pkcs11, ModuleNotFoundNamesThePath) {
  auto missing = Pkcs11Token::Open("/nonexistent/libnothing.so", "OpenRMS", kPin);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("PKCS#11 module not found: /nonexistent/libnothing.so"),
            std::string::npos)
      << missing.status().message();
}

TEST_F(Pkcs11, MalformedOrUnsuitableUriIsInvalidArgument) {
  auto token = Token();
  ASSERT_TRUE(token);
  for (const char* uri : {
           "http://example.com/key",                        // not pkcs11:
           "pkcs11:token=OpenRMS;object=%zz",               // bad percent-encoding
           "pkcs11:token=OpenRMS;object=k;colour=blue",     // unknown attribute
           "pkcs11:token=OpenRMS;object=k;type=public",     // not a private key
           "pkcs11:token=OpenRMS",                          // no object
           "pkcs11:token=OpenRMS;object=k?pin-value=1234",  // a PIN in the URI
       }) {
    auto key = OpenPkcs11Key(token, uri);
    ASSERT_FALSE(key.ok()) << uri;
    EXPECT_EQ(key.status().code(), Code::kInvalidArgument) << uri << ": " << key.status().message();
    EXPECT_EQ(key.status().message().find("1234"), std::string::npos) << key.status().message();
  }
  EXPECT_EQ(OpenPkcs11Key(kModule, "pkcs11:object=k", kPin).status().code(),
            Code::kInvalidArgument);
}

TEST_F(Pkcs11, EightThreadsSignConcurrentlyAndEverySignatureVerifies) {
  auto token = Token();
  ASSERT_TRUE(token);
  auto made = GenerateRsaKey(token, "busy", 2048);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  const PrivateKey& key = *made->key;
  constexpr int kThreads = 8, kEach = 50;
  std::vector<int> good(kThreads, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&key, &good, i] {
      for (int j = 0; j < kEach; ++j) {
        const std::string msg = "license " + std::to_string(i) + "/" + std::to_string(j);
        const DigestAlgorithm a = j % 2 ? DigestAlgorithm::kSha1 : DigestAlgorithm::kSha256;
        auto sig = key.Sign(a, msg);
        if (sig.ok() && key.public_key().Verify(a, msg, *sig).ok()) ++good[i];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(good[i], kEach) << "thread " << i;
}

TEST_F(Pkcs11, KeyStoreMakesAKeyOnceThenFindsItByItsUri) {
  Pkcs11KeyStore store({kModule, kPin});
  const std::string uri = "pkcs11:token=OpenRMS;object=cluster-key";
  auto made = store.OpenOrGenerate(uri, 2048);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_TRUE(made->created);
  auto again = store.OpenOrGenerate(uri, 2048);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->created);
  EXPECT_TRUE(again->key->public_key() == made->key->public_key());
  // One login per token for the store's life: the same token object.
  auto t1 = store.TokenOf(uri);
  auto t2 = store.TokenOf("pkcs11:token=OpenRMS;object=other");
  ASSERT_TRUE(t1.ok() && t2.ok());
  EXPECT_EQ(t1->get(), t2->get());
  // A new key is named by its label alone.
  auto by_id = store.OpenOrGenerate("pkcs11:token=OpenRMS;object=new;id=%01", 2048);
  EXPECT_EQ(by_id.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(by_id.status().message(),
            "no private key in token \"OpenRMS\" matches pkcs11:token=OpenRMS;object=new;id=%01; "
            "to put a new key there, name it by object=LABEL alone (without id=)");
  auto exported = store.Export(uri);
  EXPECT_EQ(exported.status().code(), Code::kPermissionDenied);
}

TEST_F(Pkcs11, KeyStoreImportsOnceAndRefusesAnObjectHoldingAnotherKey) {
  auto software = GenerateSealedRsaKey(2048, "pw");
  auto other = GenerateSealedRsaKey(2048, "pw");
  ASSERT_TRUE(software.ok() && other.ok());
  Pkcs11KeyStore store({kModule, kPin});
  const std::string uri = "pkcs11:token=OpenRMS;object=moved";
  auto moved = store.OpenOrImport(uri, software->sealed_pem, "pw");
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_TRUE(moved->created);
  EXPECT_TRUE(moved->key->public_key() == software->key->public_key());
  // Running it again (after a crash, say) finds the same key.
  auto rerun = store.OpenOrImport(uri, software->sealed_pem, "pw");
  ASSERT_TRUE(rerun.ok()) << rerun.status().ToString();
  EXPECT_FALSE(rerun->created);
  auto clash = store.OpenOrImport(uri, other->sealed_pem, "pw");
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.status().code(), Code::kAlreadyUsed);
  EXPECT_NE(clash.status().message().find("token \"OpenRMS\" already holds a key named by " + uri +
                                          ", and it is another key"),
            std::string::npos)
      << clash.status().message();
}

TEST_F(Pkcs11, KeyStoreDoesNotRetryAWrongPin) {
  Pkcs11KeyStore store({kModule, "not-the-pin"});
  auto first = store.Open("pkcs11:token=OpenRMS;object=k");
  EXPECT_EQ(first.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(first.status().message(), "wrong PIN for token \"OpenRMS\" (CKR_PIN_INCORRECT)");
  auto second = store.Open("pkcs11:token=OpenRMS;object=k");
  EXPECT_EQ(second.status().message(), first.status().message());
}

TEST(Pkcs11ErrorName, NamesCommonCodesAndShowsOthersInHex) {
  EXPECT_EQ(Pkcs11ErrorName(0xa0), "CKR_PIN_INCORRECT");
  EXPECT_EQ(Pkcs11ErrorName(0x11), "CKR_ATTRIBUTE_SENSITIVE");
  EXPECT_EQ(Pkcs11ErrorName(0x12345), "CKR_0x12345");
}

}  // namespace
}  // namespace openrms::crypto
