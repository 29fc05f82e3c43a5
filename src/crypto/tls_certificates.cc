#include "crypto/tls_certificates.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

#include "crypto/sealing.h"
#include "crypto/ssl_util.h"

namespace openrms::crypto {

namespace {

using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using Asn1OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, Deleter<BASIC_CONSTRAINTS_free>>;
using AuthorityKeyIdPtr = std::unique_ptr<AUTHORITY_KEYID, Deleter<AUTHORITY_KEYID_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, Deleter<ASN1_STRING_free>>;
using ExtKeyUsagePtr = std::unique_ptr<EXTENDED_KEY_USAGE, Deleter<EXTENDED_KEY_USAGE_free>>;

constexpr int kRsaBits = 2048;
// RFC 5280 ub-common-name.
constexpr size_t kMaxCommonName = 64;
constexpr size_t kMaxDnsName = 253;

// keyUsage bit numbers (RFC 5280 4.2.1.3).
constexpr int kDigitalSignature = 0;
constexpr int kKeyEncipherment = 2;
constexpr int kKeyCertSign = 5;
constexpr int kCrlSign = 6;

Result<PkeyPtr> NewRsaKey() {
  EVP_PKEY* raw = EVP_RSA_gen(kRsaBits);
  if (raw == nullptr) return SslError(Code::kInternal, "RSA key generation failed");
  return PkeyPtr(raw);
}

// A random, positive 128-bit serial number (RFC 5280 allows up to 20 octets).
Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  BnPtr bn;
  do {
    if (RAND_bytes(bytes, sizeof bytes) != 1) return SslError(Code::kInternal, "RAND_bytes");
    bn.reset(BN_bin2bn(bytes, sizeof bytes, nullptr));
    if (!bn) return SslError(Code::kInternal, "BN_bin2bn");
  } while (BN_is_zero(bn.get()));
  if (BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return SslError(Code::kInternal, "cannot set the certificate's serial number");
  }
  return Status::Ok();
}

Status SetValidity(X509* cert, Time now, Duration validity) {
  if (validity.count() <= 0) {
    return Status(Code::kInvalidArgument, "the certificate validity must be positive");
  }
  // Backdated by an hour so that peers whose clocks lag a little accept it.
  const Time not_before = now - std::chrono::hours(1);
  const Time not_after = not_before + validity;
  if (ASN1_TIME_set(X509_getm_notBefore(cert),
                    static_cast<time_t>(not_before.time_since_epoch().count())) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert),
                    static_cast<time_t>(not_after.time_since_epoch().count())) == nullptr) {
    return SslError(Code::kInvalidArgument, "the certificate validity period cannot be encoded");
  }
  return Status::Ok();
}

Status AddExtension(X509* cert, int nid, void* value, bool critical, std::string_view what) {
  if (X509_add1_ext_i2d(cert, nid, value, critical ? 1 : 0, X509V3_ADD_REPLACE) != 1) {
    return SslError(Code::kInternal, "cannot add the " + std::string(what) + " extension");
  }
  return Status::Ok();
}

Status AddBasicConstraints(X509* cert, bool ca) {
  BasicConstraintsPtr bc(BASIC_CONSTRAINTS_new());
  if (!bc) return SslError(Code::kInternal, "BASIC_CONSTRAINTS_new");
  bc->ca = ca ? 0xFF : 0;
  return AddExtension(cert, NID_basic_constraints, bc.get(), true, "basicConstraints");
}

Status AddKeyUsage(X509* cert, std::initializer_list<int> bits) {
  Asn1StringPtr usage(ASN1_BIT_STRING_new());
  if (!usage) return SslError(Code::kInternal, "ASN1_BIT_STRING_new");
  for (int bit : bits) {
    if (ASN1_BIT_STRING_set_bit(usage.get(), bit, 1) != 1) {
      return SslError(Code::kInternal, "ASN1_BIT_STRING_set_bit");
    }
  }
  return AddExtension(cert, NID_key_usage, usage.get(), true, "keyUsage");
}

Status AddServerAuthUsage(X509* cert) {
  ExtKeyUsagePtr eku(sk_ASN1_OBJECT_new_null());
  if (!eku) return SslError(Code::kInternal, "sk_ASN1_OBJECT_new_null");
  ASN1_OBJECT* server_auth = OBJ_nid2obj(NID_server_auth);
  if (server_auth == nullptr || sk_ASN1_OBJECT_push(eku.get(), server_auth) <= 0) {
    return SslError(Code::kInternal, "cannot build extendedKeyUsage");
  }
  Status status = AddExtension(cert, NID_ext_key_usage, eku.get(), false, "extendedKeyUsage");
  // OBJ_nid2obj returns a static object; do not free it with the stack.
  sk_ASN1_OBJECT_pop(eku.get());
  return status;
}

// SHA-1 of the subjectPublicKey BIT STRING (RFC 5280 4.2.1.2, method 1).
Result<std::string> KeyIdOf(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_pubkey_digest(cert, EVP_sha1(), md, &len) != 1) {
    return SslError(Code::kInternal, "cannot hash the certificate's public key");
  }
  return std::string(reinterpret_cast<char*>(md), len);
}

Status AddSubjectKeyId(X509* cert, const std::string& key_id) {
  Asn1OctetStringPtr oct(ASN1_OCTET_STRING_new());
  if (!oct ||
      ASN1_OCTET_STRING_set(oct.get(), reinterpret_cast<const unsigned char*>(key_id.data()),
                            static_cast<int>(key_id.size())) != 1) {
    return SslError(Code::kInternal, "ASN1_OCTET_STRING_set");
  }
  return AddExtension(cert, NID_subject_key_identifier, oct.get(), false, "subjectKeyIdentifier");
}

Status AddAuthorityKeyId(X509* cert, const std::string& issuer_key_id) {
  AuthorityKeyIdPtr akid(AUTHORITY_KEYID_new());
  if (!akid) return SslError(Code::kInternal, "AUTHORITY_KEYID_new");
  akid->keyid = ASN1_OCTET_STRING_new();
  if (akid->keyid == nullptr ||
      ASN1_OCTET_STRING_set(akid->keyid,
                            reinterpret_cast<const unsigned char*>(issuer_key_id.data()),
                            static_cast<int>(issuer_key_id.size())) != 1) {
    return SslError(Code::kInternal, "ASN1_OCTET_STRING_set");
  }
  return AddExtension(cert, NID_authority_key_identifier, akid.get(), false,
                      "authorityKeyIdentifier");
}

bool IsDnsName(std::string_view name) {
  if (name.empty() || name.size() > kMaxDnsName || name.front() == '.' || name.back() == '.') {
    return false;
  }
  size_t label = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    // A wildcard only as the whole left-most label ("*.example.org").
    const bool wildcard = c == '*' && i == 0 && name.size() > 2 && name[1] == '.';
    if (!alnum && c != '-' && !wildcard) return false;
    if (++label > 63) return false;
  }
  return true;
}

// Builds subjectAltName from DNS names and IP addresses.
Result<GeneralNamesPtr> SubjectAltNames(const std::vector<std::string>& names) {
  GeneralNamesPtr gens(sk_GENERAL_NAME_new_null());
  if (!gens) return SslError(Code::kInternal, "sk_GENERAL_NAME_new_null");
  for (const std::string& name : names) {
    GeneralNamePtr gen(GENERAL_NAME_new());
    if (!gen) return SslError(Code::kInternal, "GENERAL_NAME_new");
    std::string literal = name;
    if (literal.size() > 2 && literal.front() == '[' && literal.back() == ']') {
      literal = literal.substr(1, literal.size() - 2);  // "[::1]" as in URLs
    }
    if (ASN1_OCTET_STRING* ip = a2i_IPADDRESS(literal.c_str()); ip != nullptr) {
      GENERAL_NAME_set0_value(gen.get(), GEN_IPADD, ip);
    } else {
      ERR_clear_error();
      if (!IsDnsName(name)) {
        return Status(Code::kInvalidArgument,
                      "\"" + name +
                          "\" is neither an IP address nor a DNS host name (letters, digits, "
                          "'-' and '.')");
      }
      ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
      if (dns == nullptr || ASN1_STRING_set(dns, name.data(), static_cast<int>(name.size())) != 1) {
        ASN1_IA5STRING_free(dns);
        return SslError(Code::kInternal, "ASN1_STRING_set");
      }
      GENERAL_NAME_set0_value(gen.get(), GEN_DNS, dns);
    }
    if (sk_GENERAL_NAME_push(gens.get(), gen.get()) <= 0) {
      return SslError(Code::kInternal, "sk_GENERAL_NAME_push");
    }
    gen.release();  // now owned by `gens`
  }
  return gens;
}

Status SetCommonName(X509_NAME* subject, const std::string& common_name) {
  if (X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    return SslError(Code::kInvalidArgument,
                    "\"" + common_name + "\" cannot be used as a certificate common name");
  }
  return Status::Ok();
}

Result<std::string> CertificateToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return SslError(Code::kInternal, "cannot write the certificate as PEM");
  }
  return BioToString(bio.get());
}

Status Sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) {
    return SslError(Code::kInternal, "cannot sign the certificate");
  }
  return Status::Ok();
}

Result<X509Ptr> NewCertificate(EVP_PKEY* subject_key, Time now, Duration validity) {
  X509Ptr cert(X509_new());
  if (!cert) return SslError(Code::kInternal, "X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return SslError(Code::kInternal, "cannot set up the certificate");
  }
  RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  RETURN_IF_ERROR(SetValidity(cert.get(), now, validity));
  return cert;
}

}  // namespace

Result<TlsCredential> CreateTlsCa(const std::string& common_name, Time now, Duration validity,
                                  std::string_view password) {
  if (common_name.empty() || common_name.size() > kMaxCommonName) {
    return Status(Code::kInvalidArgument, "the CA's common name must be 1 to 64 characters long");
  }
  if (password.empty()) return Status(Code::kInvalidArgument, "the key password is empty");
  ASSIGN_OR_RETURN(PkeyPtr key, NewRsaKey());
  ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(key.get(), now, validity));
  RETURN_IF_ERROR(SetCommonName(X509_get_subject_name(cert.get()), common_name));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1) {
    return SslError(Code::kInternal, "X509_set_issuer_name");
  }
  ASSIGN_OR_RETURN(std::string key_id, KeyIdOf(cert.get()));
  RETURN_IF_ERROR(AddBasicConstraints(cert.get(), /*ca=*/true));
  RETURN_IF_ERROR(AddKeyUsage(cert.get(), {kKeyCertSign, kCrlSign}));
  RETURN_IF_ERROR(AddSubjectKeyId(cert.get(), key_id));
  RETURN_IF_ERROR(AddAuthorityKeyId(cert.get(), key_id));
  RETURN_IF_ERROR(Sign(cert.get(), key.get()));
  ASSIGN_OR_RETURN(std::string pem, CertificateToPem(cert.get()));
  ASSIGN_OR_RETURN(std::string sealed, SealPrivateKey(key.get(), password));
  return TlsCredential{std::move(pem), std::move(sealed)};
}

Result<TlsCredential> IssueTlsServerCertificate(const TlsCredential& ca,
                                                std::string_view ca_password,
                                                const std::vector<std::string>& names, Time now,
                                                Duration validity, std::string_view password) {
  if (names.empty()) {
    return Status(Code::kInvalidArgument,
                  "a server certificate needs at least one host name or IP address");
  }
  if (password.empty()) return Status(Code::kInvalidArgument, "the key password is empty");

  BioPtr bio(
      BIO_new_mem_buf(ca.certificate_pem.data(), static_cast<int>(ca.certificate_pem.size())));
  X509Ptr ca_cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!ca_cert) {
    ERR_clear_error();
    return Status(Code::kMalformed, "the TLS CA certificate is not a PEM X.509 certificate");
  }
  if (X509_check_ca(ca_cert.get()) == 0) {
    return Status(Code::kInvalidArgument,
                  "the TLS CA certificate is not a CA certificate (basicConstraints CA:FALSE)");
  }
  Result<PkeyPtr> ca_key = UnsealPrivateKey(ca.sealed_key_pem, ca_password);
  if (!ca_key.ok()) return ca_key.status().WithContext("cannot open the TLS CA's private key");
  if (X509_check_private_key(ca_cert.get(), ca_key->get()) != 1) {
    ERR_clear_error();
    return Status(Code::kMismatch,
                  "the TLS CA's private key does not belong to the TLS CA certificate");
  }
  std::string ca_key_id;
  if (const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(ca_cert.get()); skid != nullptr) {
    ca_key_id.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(skid)),
                     static_cast<size_t>(ASN1_STRING_length(skid)));
  } else {
    ASSIGN_OR_RETURN(ca_key_id, KeyIdOf(ca_cert.get()));
  }

  ASSIGN_OR_RETURN(GeneralNamesPtr alt_names, SubjectAltNames(names));
  ASSIGN_OR_RETURN(PkeyPtr key, NewRsaKey());
  ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(key.get(), now, validity));
  // The first name is also the CN when it fits; otherwise the subject is
  // empty and subjectAltName critical (RFC 5280 4.2.1.6).
  const bool has_cn = names.front().size() <= kMaxCommonName;
  if (has_cn) RETURN_IF_ERROR(SetCommonName(X509_get_subject_name(cert.get()), names.front()));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) != 1) {
    return SslError(Code::kInternal, "X509_set_issuer_name");
  }
  ASSIGN_OR_RETURN(std::string key_id, KeyIdOf(cert.get()));
  RETURN_IF_ERROR(AddBasicConstraints(cert.get(), /*ca=*/false));
  RETURN_IF_ERROR(AddKeyUsage(cert.get(), {kDigitalSignature, kKeyEncipherment}));
  RETURN_IF_ERROR(AddServerAuthUsage(cert.get()));
  RETURN_IF_ERROR(
      AddExtension(cert.get(), NID_subject_alt_name, alt_names.get(), !has_cn, "subjectAltName"));
  RETURN_IF_ERROR(AddSubjectKeyId(cert.get(), key_id));
  RETURN_IF_ERROR(AddAuthorityKeyId(cert.get(), ca_key_id));
  RETURN_IF_ERROR(Sign(cert.get(), ca_key->get()));
  ASSIGN_OR_RETURN(std::string pem, CertificateToPem(cert.get()));
  ASSIGN_OR_RETURN(std::string sealed, SealPrivateKey(key.get(), password));
  return TlsCredential{std::move(pem), std::move(sealed)};
}

}  // namespace openrms::crypto
