// Secrets sealed under a password, for files an administrator carries
// between servers (trusted publishing domains): scrypt (RFC 7914) turns the
// password into a key, AES-256-GCM seals the data with the caller's header
// authenticated as additional data. Why these two: scrypt is memory-hard,
// so guessing passwords on GPUs or ASICs costs memory as well as time, and
// OpenSSL 3 has it (Argon2 only from 3.2; Debian 12 ships 3.0); GCM is the
// AEAD OpenSSL does fastest, and a flipped byte anywhere fails its tag.
// Also: re-sealing a sealed private key (keys.h) under another password,
// without the key's bytes leaving this folder. Thread-safe (no state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/random.h"
#include "base/status.h"

namespace openrms::crypto {

// scrypt's cost: N = 2^log2_n, block size r, parallelism p. Memory is
// 128 * r * N bytes (2^17, 8: 128 MiB).
struct ScryptCost {
  int log2_n = 17;
  int r = 8;
  int p = 1;
};

// The costs a file may ask for: log2_n 14 to 20, r 1 to 16, p 1 to 4, and
// 128 * r * N * p at most kMaxScryptMemory (so a hostile header cannot make
// a reader spend gigabytes). kUnsupported otherwise.
inline constexpr uint64_t kMaxScryptMemory = uint64_t{256} << 20;
Status CheckScryptCost(const ScryptCost& cost);

// `size` bytes derived from `password` and `salt`.
Result<std::string> ScryptDerive(std::string_view password, std::string_view salt,
                                 const ScryptCost& cost, size_t size);

// The keys of a file sealed under a password (TPD files, backups): scrypt
// gives 64 bytes; the first 32 are the AES-256-GCM key, and the SHA-256 of
// `check_label` and the other 32, cut to 16 bytes, is the password check
// the file stores, so a wrong password is told apart from a changed file.
struct PasswordFileKeys {
  std::string aead;
  std::string check;
};
Result<PasswordFileKeys> DerivePasswordFileKeys(std::string_view password, std::string_view salt,
                                                const ScryptCost& cost,
                                                std::string_view check_label);

// AES-256-GCM with a 12-byte nonce: ciphertext || 16-byte tag.
Result<std::string> AeadSeal(std::string_view key, std::string_view nonce, std::string_view aad,
                             std::string_view plaintext);
// kBadSignature when the tag does not hold (wrong key, or changed data or
// additional data).
Result<std::string> AeadOpen(std::string_view key, std::string_view nonce, std::string_view aad,
                             std::string_view sealed);

// A sealed private key (keys.h, GenerateSealedRsaKey) sealed again under
// `to_password`. kPermissionDenied for a wrong `from_password`.
Result<std::string> ResealKey(std::string_view sealed_pem, std::string_view from_password,
                              std::string_view to_password);

}  // namespace openrms::crypto
