// Content encryption for protected documents.
//
// MICROSOFT.CBC4K (what RMS clients read in PFILEs): AES-CBC over each
// 4096-byte block separately; block n's IV is AES-ECB(key, n as a 32-bit
// little-endian integer followed by 12 zero bytes). Full blocks are not
// padded; what follows the last full block (0 to 4095 bytes) is the last
// block, padded (PKCS#7), so content whose size is a multiple of 4096 ends
// in a 16-byte padding-only block under its own block number's IV, as RMS
// clients write and read it. Cbc4kDecrypt also reads the layout OpenRMS
// wrote before, with that padding chained onto the last full block.
// Keys are 16, 24 or 32 bytes.
//
// MICROSOFT.ECB (below) serves XrML's enabling bits and rights data.
//
// AES-256-GCM seals small secrets (a license's policy) under a content key.
#pragma once

#include <string>
#include <string_view>

#include "base/random.h"
#include "base/status.h"

namespace openrms::crypto {

inline constexpr size_t kCbc4kBlockSize = 4096;

Result<std::string> Cbc4kEncrypt(std::string_view key, std::string_view plaintext);
// kBadSignature-free: wrong keys show as kMalformed (bad padding).
Result<std::string> Cbc4kDecrypt(std::string_view key, std::string_view ciphertext);

// AES-ECB over the whole input; with `pad`, PKCS#7 padding (the input of
// EcbDecrypt must then end in valid padding); without it, the input must be
// a whole number of 16-byte blocks (MS-RMPR 2.2.9.1.13, 2.2.9.8).
Result<std::string> EcbEncrypt(std::string_view key, std::string_view plaintext, bool pad);
Result<std::string> EcbDecrypt(std::string_view key, std::string_view ciphertext, bool pad);

// nonce (12) || ciphertext || tag (16).
Result<std::string> GcmSeal(std::string_view key, std::string_view plaintext, Random& random);
Result<std::string> GcmOpen(std::string_view key, std::string_view sealed);

std::string RandomBytes(Random& random, size_t n);

}  // namespace openrms::crypto
