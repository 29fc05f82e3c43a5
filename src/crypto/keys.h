// RSA keys. The only way business code reaches a private key is the
// PrivateKey interface (Sign, Decrypt): there is no accessor for its bytes.
// Sealed keys (encrypted at rest) are opaque PEM text that only this folder
// opens. A key in a PKCS#11 token is the second PrivateKey implementation
// (pkcs11.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/random.h"
#include "base/status.h"

struct evp_pkey_st;

namespace openrms::crypto {

enum class DigestAlgorithm { kSha1, kSha256 };

// How a small secret is encrypted to an RSA key.
// - kOaepSha256: RSA-OAEP with SHA-256 and MGF1-SHA-256 (OpenRMS's
//   publishing licenses before the spec format, and its own sealing);
// - kOaepSha1: RSA-OAEP with SHA-1 and MGF1-SHA-1, CryptoAPI's OAEP (XrML
//   "sealed-key-v2" enabling bits, MS-RMPR 2.2.9.1.13);
// - kPkcs1v15: RSAES-PKCS1-v1_5 (XrML "sealed-key" enabling bits). Its
//   decryption is only ever offered on data a trusted signature covers, and
//   every failure reads the same (see SECURITY.md).
enum class RsaPadding { kOaepSha256, kOaepSha1, kPkcs1v15 };

std::string Sha1(std::string_view data);
std::string Sha256(std::string_view data);
std::string Digest(DigestAlgorithm algorithm, std::string_view data);

// RSA key sizes we accept. XrML mode 1 is 1024-bit (verify only); mode 2 is
// 2048-bit. 3072 and 4096 are accepted for roots we make ourselves.
bool IsSupportedRsaBits(int bits);

// An RSA public key. A value type; cheap to copy. Thread-safe.
class PublicKey final {
 public:
  // `modulus` is big-endian. kUnsupported for sizes IsSupportedRsaBits refuses.
  static Result<PublicKey> FromModulus(std::string_view modulus_be, uint32_t exponent);
  // A base64 DER PKCS#1 RSAPublicKey, as MS-RMPR's aPublicKeyBytes.
  static Result<PublicKey> FromPkcs1Der(std::string_view der);

  const std::string& modulus_be() const { return modulus_; }
  uint32_t exponent() const { return exponent_; }
  int bits() const;
  std::string ToPkcs1Der() const;
  // SHA-256 of the big-endian modulus, hex: a stable name for the key.
  std::string Fingerprint() const;

  // kBadSignature when `signature_be` is not a PKCS#1 v1.5 signature of
  // `data` under this key.
  Status Verify(DigestAlgorithm algorithm, std::string_view data,
                std::string_view signature_be) const;
  // RSA-OAEP (SHA-256, MGF1 SHA-256) encryption to this key.
  Result<std::string> EncryptOaep(std::string_view plaintext) const;
  // Encryption to this key with the padding named.
  Result<std::string> Encrypt(RsaPadding padding, std::string_view plaintext) const;

  friend bool operator==(const PublicKey& a, const PublicKey& b) {
    return a.exponent_ == b.exponent_ && a.modulus_ == b.modulus_;
  }

 private:
  PublicKey(std::string modulus, uint32_t exponent, std::shared_ptr<evp_pkey_st> pkey)
      : modulus_(std::move(modulus)), exponent_(exponent), pkey_(std::move(pkey)) {}
  friend class SoftwarePrivateKey;
  std::string modulus_;  // big-endian, no leading zero bytes
  uint32_t exponent_;
  std::shared_ptr<evp_pkey_st> pkey_;  // shared, never mutated after construction
};

// A private key: sign and decrypt, nothing else. Thread-safe: Sign and
// Decrypt may be called concurrently.
class PrivateKey {
 public:
  virtual ~PrivateKey() = default;
  virtual const PublicKey& public_key() const = 0;
  // PKCS#1 v1.5 signature, big-endian bytes.
  virtual Result<std::string> Sign(DigestAlgorithm algorithm, std::string_view data) const = 0;
  // RSA-OAEP (SHA-256, MGF1 SHA-256) decryption.
  Result<std::string> Decrypt(std::string_view ciphertext) const {
    return Decrypt(RsaPadding::kOaepSha256, ciphertext);
  }
  // Decryption with the padding named. kInvalidArgument "the data was not
  // encrypted to this key" for every ciphertext that does not decrypt.
  virtual Result<std::string> Decrypt(RsaPadding padding, std::string_view ciphertext) const = 0;
};

// A freshly made key and its sealed (encrypted) form, to be stored.
struct SealedKeyPair {
  std::unique_ptr<PrivateKey> key;
  std::string sealed_pem;  // PKCS#8, PBES2 with scrypt and AES-256-CBC
};

// Makes an RSA key of `bits` and seals it under `password`.
Result<SealedKeyPair> GenerateSealedRsaKey(int bits, std::string_view password);
// Opens a sealed key. kPermissionDenied for a wrong password.
Result<std::unique_ptr<PrivateKey>> UnsealKey(std::string_view sealed_pem,
                                              std::string_view password);

// A key made for another party to hold: the client licensor key that the
// RMS SDK's offline publisher asks the server to make (it sends no key of
// its own). Its private exponent goes to that holder; a copy of the whole
// key travels sealed to a key of the server's, so that the server can later
// decrypt what was encrypted to it without storing anything.
struct HandedOverKey {
  PublicKey public_key;
  // d, little-endian, as the SDK reads it. For the holder only: never
  // logged, never stored here.
  std::string private_exponent_le;
  // RSA-OAEP (SHA-256) of a fresh AES-256 key to `seal_to`, then that key's
  // AES-256-GCM of the PKCS#8 DER: opaque, for OpenHandedOverKey.
  std::string sealed;
};
Result<HandedOverKey> GenerateHandedOverKey(int bits, const PublicKey& seal_to, Random& random);
// The key of `sealed`, opened with the key it was sealed to. kInvalidArgument
// "the data was not encrypted to this key" for another key, kMalformed for
// bytes that are not a sealed key.
Result<std::unique_ptr<PrivateKey>> OpenHandedOverKey(const PrivateKey& sealed_to,
                                                      std::string_view sealed);

}  // namespace openrms::crypto
