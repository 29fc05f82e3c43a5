// Password hashing for logons: scrypt (memory-hard), with a random salt, in
// a self-describing string "scrypt$N$r$p$salt$hash" (base64 parts).
#pragma once

#include <string>
#include <string_view>

#include "base/file_system.h"
#include "base/status.h"

namespace openrms::crypto {

// N=2^15, r=8, p=1: 32 MiB and tens of milliseconds per logon.
Result<std::string> HashPassword(std::string_view password);
// Constant-time comparison. False for a malformed hash.
bool VerifyPassword(std::string_view password, std::string_view hash);

// Compares secrets such as CSRF tokens in time that depends on their
// lengths only (CRYPTO_memcmp). False when either is empty.
bool SecretEquals(std::string_view a, std::string_view b);

// Overwrites a secret held in `s` (a password) with zeros in a way the
// compiler does not remove (OPENSSL_cleanse), then empties it.
void Wipe(std::string& s);

// A secret kept in a file of its own (a key password, an LDAP bind
// password, an OAuth client secret): the file's text without its trailing
// line breaks, at most 4 KiB. kFailedPrecondition "the WHAT PATH is empty"
// when nothing is left; the file system's error otherwise (kInvalidArgument
// for a FIFO or directory, kNotFound, kTooLarge). The read buffer is wiped.
Result<std::string> ReadSecretFile(FileSystem& fs, const std::string& path,
                                   std::string_view what = "file");

}  // namespace openrms::crypto
