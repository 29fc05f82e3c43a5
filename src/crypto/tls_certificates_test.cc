#include "crypto/tls_certificates.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include "base/text.h"
#include "crypto/keys.h"
#include "crypto/sealing.h"
#include "crypto/ssl_util.h"

namespace openrms::crypto {
namespace {

using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;

const Time kNow = Time(std::chrono::seconds(1'790'000'000));  // 2026-09-22

X509Ptr ParsePem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::string Hex(const ASN1_OCTET_STRING* s) {
  if (s == nullptr) return "";
  return HexEncode(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                    static_cast<size_t>(ASN1_STRING_length(s))));
}

std::vector<std::string> AltNames(X509* cert) {
  std::vector<std::string> out;
  auto* gens =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (gens == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(gens); ++i) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    GENERAL_NAME_print(bio.get(), sk_GENERAL_NAME_value(gens, i));  // "DNS:x", "IP Address:y"
    out.push_back(BioToString(bio.get()));
  }
  GENERAL_NAMES_free(gens);
  return out;
}

std::string CommonName(X509* cert) {
  char buf[256] = {};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf) < 0) {
    return "";
  }
  return buf;
}

// Verifies `leaf` against `root` at kNow, for TLS server use.
int VerifyChain(X509* root, X509* leaf, Time at = kNow) {
  StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), root);
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()),
                             static_cast<time_t>(at.time_since_epoch().count()));
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(ctx.get());
}

class TlsCertificatesTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto ca = CreateTlsCa("OpenRMS Test TLS CA", kNow, Days(3650), "ca-pw");
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    ca_ = new TlsCredential(*ca);
    auto server = IssueTlsServerCertificate(*ca_, "ca-pw", {"rms.example.org", "127.0.0.1", "::1"},
                                            kNow, Days(825), "server-pw");
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = new TlsCredential(*server);
  }
  static void TearDownTestSuite() {
    delete ca_;
    delete server_;
  }
  static TlsCredential* ca_;
  static TlsCredential* server_;
};
TlsCredential* TlsCertificatesTest::ca_ = nullptr;
TlsCredential* TlsCertificatesTest::server_ = nullptr;

TEST_F(TlsCertificatesTest, CaIsSelfSignedCaWithKeyIdentifiers) {
  X509Ptr ca = ParsePem(ca_->certificate_pem);
  ASSERT_TRUE(ca);
  EXPECT_EQ(CommonName(ca.get()), "OpenRMS Test TLS CA");
  EXPECT_EQ(X509_get_version(ca.get()), X509_VERSION_3);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_TRUE(X509_get_extension_flags(ca.get()) & EXFLAG_SS);
  EXPECT_EQ(X509_get_signature_nid(ca.get()), NID_sha256WithRSAEncryption);
  EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(ca.get())), 2048);
  const uint32_t usage = X509_get_key_usage(ca.get());
  EXPECT_TRUE(usage & KU_KEY_CERT_SIGN);
  EXPECT_TRUE(usage & KU_CRL_SIGN);
  EXPECT_FALSE(usage & KU_DIGITAL_SIGNATURE);
  const std::string skid = Hex(X509_get0_subject_key_id(ca.get()));
  EXPECT_EQ(skid.size(), 40u);
  EXPECT_EQ(Hex(X509_get0_authority_key_id(ca.get())), skid);
  // Valid from an hour before `now`, for the given duration.
  // (OpenSSL compares: no calendar arithmetic of our own.)
  const time_t from = (kNow - std::chrono::hours(1)).time_since_epoch().count();
  EXPECT_EQ(ASN1_TIME_cmp_time_t(X509_get0_notBefore(ca.get()), from), 0);
  EXPECT_EQ(ASN1_TIME_cmp_time_t(X509_get0_notAfter(ca.get()), from + Days(3650).count()), 0);
  EXPECT_EQ(X509_verify(ca.get(), X509_get0_pubkey(ca.get())), 1);  // self-signed
}

TEST_F(TlsCertificatesTest, ServerCertificateChainsToCaAndNamesEveryHost) {
  X509Ptr ca = ParsePem(ca_->certificate_pem);
  X509Ptr leaf = ParsePem(server_->certificate_pem);
  ASSERT_TRUE(ca && leaf);
  EXPECT_EQ(CommonName(leaf.get()), "rms.example.org");
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_TRUE(X509_get_extended_key_usage(leaf.get()) & XKU_SSL_SERVER);
  EXPECT_TRUE(X509_get_key_usage(leaf.get()) & KU_DIGITAL_SIGNATURE);
  EXPECT_FALSE(X509_get_key_usage(leaf.get()) & KU_KEY_CERT_SIGN);
  EXPECT_EQ(AltNames(leaf.get()),
            (std::vector<std::string>{"DNS:rms.example.org", "IP Address:127.0.0.1",
                                      "IP Address:0:0:0:0:0:0:0:1"}));
  EXPECT_EQ(Hex(X509_get0_authority_key_id(leaf.get())), Hex(X509_get0_subject_key_id(ca.get())));
  EXPECT_NE(Hex(X509_get0_subject_key_id(leaf.get())), Hex(X509_get0_subject_key_id(ca.get())));
  EXPECT_EQ(VerifyChain(ca.get(), leaf.get()), X509_V_OK);
  EXPECT_EQ(VerifyChain(ca.get(), leaf.get(), kNow + Days(826)), X509_V_ERR_CERT_HAS_EXPIRED);
  EXPECT_EQ(VerifyChain(ca.get(), leaf.get(), kNow - Days(1)), X509_V_ERR_CERT_NOT_YET_VALID);

  EXPECT_EQ(X509_check_host(leaf.get(), "rms.example.org", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "other.example.org", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "127.0.0.2", 0), 0);
}

TEST_F(TlsCertificatesTest, SerialNumbersAreRandomAndLarge) {
  X509Ptr ca = ParsePem(ca_->certificate_pem);
  X509Ptr leaf = ParsePem(server_->certificate_pem);
  auto serial = [](X509* cert) {
    BnPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
    EXPECT_FALSE(BN_is_negative(bn.get()));
    return bn;
  };
  BnPtr a = serial(ca.get());
  BnPtr b = serial(leaf.get());
  EXPECT_NE(BN_cmp(a.get(), b.get()), 0);
  // 128 random bits: fewer than 100 significant bits has probability 2^-28.
  EXPECT_GT(BN_num_bits(a.get()), 100);
  EXPECT_LE(BN_num_bits(a.get()), 128);
}

TEST_F(TlsCertificatesTest, KeysAreSealedUnderTheirPasswords) {
  EXPECT_NE(server_->sealed_key_pem.find("BEGIN ENCRYPTED PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(server_->sealed_key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(UnsealKey(server_->sealed_key_pem, "ca-pw").status().code(), Code::kPermissionDenied);
  auto key = UnsealPrivateKey(server_->sealed_key_pem, "server-pw");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  X509Ptr leaf = ParsePem(server_->certificate_pem);
  EXPECT_EQ(X509_check_private_key(leaf.get(), key->get()), 1);
  auto ca_key = UnsealPrivateKey(ca_->sealed_key_pem, "ca-pw");
  ASSERT_TRUE(ca_key.ok()) << ca_key.status().ToString();
  X509Ptr ca = ParsePem(ca_->certificate_pem);
  EXPECT_EQ(X509_check_private_key(ca.get(), ca_key->get()), 1);
}

TEST_F(TlsCertificatesTest, WrongCaPasswordIsPermissionDenied) {
  auto r = IssueTlsServerCertificate(*ca_, "wrong", {"localhost"}, kNow, Days(30), "pw");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  EXPECT_NE(r.status().message().find("TLS CA"), std::string::npos) << r.status().message();
}

TEST_F(TlsCertificatesTest, RefusesBadInput) {
  auto bad_name = IssueTlsServerCertificate(*ca_, "ca-pw", {"localhost", "bad name,DNS:evil"}, kNow,
                                            Days(30), "pw");
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad_name.status().message().find("bad name,DNS:evil"), std::string::npos);

  EXPECT_EQ(IssueTlsServerCertificate(*ca_, "ca-pw", {}, kNow, Days(30), "pw").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(
      IssueTlsServerCertificate(*ca_, "ca-pw", {"localhost"}, kNow, Days(0), "pw").status().code(),
      Code::kInvalidArgument);
  EXPECT_EQ(
      IssueTlsServerCertificate(*ca_, "ca-pw", {"localhost"}, kNow, Days(30), "").status().code(),
      Code::kInvalidArgument);
  EXPECT_EQ(CreateTlsCa("", kNow, Days(30), "pw").status().code(), Code::kInvalidArgument);

  // A leaf cannot act as a CA.
  auto from_leaf =
      IssueTlsServerCertificate(*server_, "server-pw", {"localhost"}, kNow, Days(30), "pw");
  ASSERT_FALSE(from_leaf.ok());
  EXPECT_EQ(from_leaf.status().code(), Code::kInvalidArgument);

  // A CA certificate with somebody else's key.
  TlsCredential mixed{ca_->certificate_pem, server_->sealed_key_pem};
  EXPECT_EQ(IssueTlsServerCertificate(mixed, "server-pw", {"localhost"}, kNow, Days(30), "pw")
                .status()
                .code(),
            Code::kMismatch);

  TlsCredential garbage{"not a certificate", ca_->sealed_key_pem};
  EXPECT_EQ(IssueTlsServerCertificate(garbage, "ca-pw", {"localhost"}, kNow, Days(30), "pw")
                .status()
                .code(),
            Code::kMalformed);
}

TEST_F(TlsCertificatesTest, LongHostNameGoesOnlyIntoSubjectAltName) {
  const std::string long_name = std::string(60, 'a') + ".example.org";  // 72 characters
  auto r = IssueTlsServerCertificate(*ca_, "ca-pw", {long_name, "[::1]"}, kNow, Days(30), "pw");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  X509Ptr leaf = ParsePem(r->certificate_pem);
  EXPECT_EQ(CommonName(leaf.get()), "");
  EXPECT_EQ(AltNames(leaf.get()),
            (std::vector<std::string>{"DNS:" + long_name, "IP Address:0:0:0:0:0:0:0:1"}));
  const int idx = X509_get_ext_by_NID(leaf.get(), NID_subject_alt_name, -1);
  ASSERT_GE(idx, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(leaf.get(), idx)), 1);
}

}  // namespace
}  // namespace openrms::crypto
