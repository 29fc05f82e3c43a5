// The trusted publishing domain file (`openrms tpd export|import`): a
// cluster's SLC chains, their private keys and the rights policy
// templates, sealed under a password. Untrusted input: every reader here
// has a size limit and a fuzz target (tests/fuzz/tpd_file_fuzz.cc).
//
// Layout (integers big-endian), all of it before the ciphertext being the
// header, authenticated as AES-GCM's additional data:
//   0  "ORMSTPD1"         magic and format version
//   8  1 byte             KDF: 1 = scrypt
//   9  3 bytes            scrypt log2(N), r, p
//  12  16 bytes           salt
//  28  12 bytes           GCM nonce
//  40  16 bytes           password check: SHA-256 of the KDF's second half
//  56  4 bytes            ciphertext length (with the 16-byte tag)
//  60  ciphertext || tag  AES-256-GCM of the contents (JSON, below)
// The KDF gives 64 bytes: the first 32 are the AES key; the check tells a
// wrong password from a changed file (both would fail the tag alike).
// Inside, each private key is a sealed key (PKCS#8, PBES2) under the same
// password, so it never exists unsealed outside crypto/.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "crypto/password_box.h"

namespace openrms::cluster {

inline constexpr size_t kMaxTpdFileBytes = 16 << 20;
inline constexpr size_t kMaxTpdDomains = 64;

// One domain: a key and the last SLC chain that certified it.
struct TpdDomain {
  std::string fingerprint;  // crypto::PublicKey::Fingerprint of the key
  std::string public_key;   // base64 DER (PKCS#1)
  std::string sealed_key;   // PEM, sealed under the file's password
  std::string chain;        // the SLC chain file (EnrollResponse text)
  Time issued;
  Time expires;
  std::string state;  // "active" or "retired" on the exporting cluster
};

struct TpdContents {
  std::string cluster;  // the exporting cluster's name and GUID
  std::string guid;
  Time exported_at;
  std::vector<TpdDomain> domains;
  std::string templates_json = "[]";  // a JSON array, written and read by the command line
};

// The file's parts, unopened.
struct TpdEnvelope {
  crypto::ScryptCost cost;
  std::string salt;
  std::string nonce;
  std::string check;
  std::string header;  // the bytes before the ciphertext (the AAD)
  std::string sealed;  // ciphertext || tag
};

// kMalformed (not such a file, or cut short), kTooLarge, kUnsupported (KDF
// or cost).
Result<TpdEnvelope> ParseTpdEnvelope(std::string_view file);
// The decrypted contents. kMalformed naming the field.
Result<TpdContents> ParseTpdContents(std::string_view json);
std::string WriteTpdContents(const TpdContents& contents);

Result<std::string> SealTpdFile(const TpdContents& contents, std::string_view password,
                                Random& random, const crypto::ScryptCost& cost = {});
// kPermissionDenied for a wrong password, kBadSignature for a file changed
// after it was written, and the refusals of the two parsers.
Result<TpdContents> OpenTpdFile(std::string_view file, std::string_view password);

}  // namespace openrms::cluster
