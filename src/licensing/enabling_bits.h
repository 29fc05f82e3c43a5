// XrML enabling bits (MS-RMPR 2.2.9.1.13): a symmetric key sealed to an RSA
// key, bound by a hash to the document that carries it. Pure functions of
// their inputs; the private key is reached only through crypto::PrivateKey.
//
//   raw = RSA(KPublic, KeyHeader || session key)
//      || AES-ECB(session key, EnablingBitsHeader || KeyHeader || key || hash)
//
// - "sealed-key" (version 1): RSAES-PKCS1-v1_5, a SHA-1 hash;
//   "sealed-key-v2" (version 2): RSA-OAEP, a SHA-256 hash.
// - KeyHeader (2.2.9.1.13.1), 12 bytes, little-endian: BlobSize (u16: this
//   header and the key), cipher mode (u16: 0xFFFF ECB, 0xFFFE CBC4K without
//   padding, 0xFFFD CBC4K with padding, 0xFFFC CBC512 without padding), key
//   size (u16, bytes), block size (u16, 16 for AES), flags (u32: A = 0x1
//   AES, E = 0x1000 ECB, C = 0x2000 CBC; the spec numbers bits from the most
//   significant).
// - EnablingBitsHeader (UDEBHeader), 16 bytes: version (u32), the size of
//   the key header, key and hash (u32), two reserved u32 that are 0.
// docs/FORMATS.md gives the choices the spec leaves open.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/random.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "xrml/element.h"

namespace openrms::licensing {

enum class SealedKeyVersion { kV1 = 1, kV2 = 2 };  // "sealed-key", "sealed-key-v2"

// The cipher mode a KeyHeader names for the key it describes.
enum class KeyCipherMode : uint16_t {
  kEcb = 0xFFFF,
  kCbc4kNoPadding = 0xFFFE,
  kCbc4k = 0xFFFD,  // with padding: MICROSOFT.CBC4K
  kCbc512NoPadding = 0xFFFC,
};

struct SymmetricKey {
  std::string bytes;  // 16, 24 or 32 bytes (AES)
  KeyCipherMode mode = KeyCipherMode::kCbc4k;
  ~SymmetricKey();
};

// The ENABLINGBITS type attribute of a version, and back (nullopt for any
// other text).
std::string_view SealedKeyType(SealedKeyVersion version);
std::optional<SealedKeyVersion> SealedKeyVersionOf(std::string_view type);

// The hash an enabling-bits block of `version` carries for `hashed` (the
// surface coding of the element the block is bound to, UTF-16LE).
std::string EnablingBitsHash(SealedKeyVersion version, std::string_view hashed);

// What a publishing license's enabling bits are bound to (2.2.9.1.13: "the
// ISSUEDPRINCIPALS element of PL"): the surface coding, in UTF-16LE, of
// that element without any ENABLINGBITS in it, so that the bits can be
// made before they are added.
Result<std::string> EnablingBitsBinding(const xrml::Element& issued_principals);

// Seals `key` to `to`, bound to `hashed` (see EnablingBitsHash). A fresh
// AES-128 session key comes from `random`.
Result<std::string> SealEnablingBits(const crypto::PublicKey& to, SealedKeyVersion version,
                                     const SymmetricKey& key, std::string_view hashed,
                                     Random& random);

struct OpenedEnablingBits {
  SealedKeyVersion version = SealedKeyVersion::kV2;
  SymmetricKey key;
  std::string hash;  // 20 (v1) or 32 (v2) bytes
};

// The largest enabling-bits block read (an RSA block of 4096 bits and a
// sealed RSA private key fit with room to spare).
inline constexpr size_t kMaxEnablingBits = 8192;

// Opens a block `version` says it is, with `key`. kPermissionDenied
// "the content key is not sealed to this cluster's key" when the RSA part
// does not decrypt under it (whatever the reason, in one message);
// kMalformed naming the field for a block that decrypts to a wrong
// structure; kTooLarge over kMaxEnablingBits.
Result<OpenedEnablingBits> OpenEnablingBits(const crypto::PrivateKey& key, SealedKeyVersion version,
                                            std::string_view raw);

}  // namespace openrms::licensing
