// The backup file (`openrms backup`, `openrms restore`): a server
// directory's SQLite store, copied at one moment, and the directory's TLS
// files, sealed under a password as trusted publishing domain files are
// (cluster/tpd_file.h: the same KDF, cipher and password check). Untrusted
// input: every reader has a size limit and a fuzz target
// (tests/fuzz/backup_file_fuzz.cc); both parsers are pure functions of the
// bytes. docs/FORMATS.md has the layout.
//
// Layout (integers big-endian); the header, all of it before the
// ciphertext, is AES-GCM's additional data:
//   0  "ORMSBAK1"         magic and format version
//   8  1 byte             KDF: 1 = scrypt
//   9  3 bytes            scrypt log2(N), r, p
//  12  16 bytes           salt
//  28  12 bytes           GCM nonce
//  40  16 bytes           password check: SHA-256 of a label and the KDF's second half
//  56  8 bytes            ciphertext length (with the 16-byte tag)
//  64  ciphertext || tag  AES-256-GCM of the contents
// The contents:
//   0    4 bytes          manifest length M
//   4    M bytes          manifest (JSON): format, created_at, source_dir,
//                         files: [{path, size}], the database first
//   4+M  the files' bytes, one after another in the manifest's order
// The cluster keys are in the database, sealed under the key password (or
// in a PKCS#11 token, then only their URI); the file never holds the key
// password.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "crypto/password_box.h"

namespace openrms::cli {

// A backup file, and so the SQLite store in it, is at most 1 GiB: it is
// read, decrypted and parsed in memory (and AES-GCM's one-shot calls take
// an int). A store that outgrows it belongs in PostgreSQL.
inline constexpr size_t kMaxBackupFileBytes = size_t{1} << 30;
inline constexpr size_t kBackupHeaderBytes = 64;
inline constexpr size_t kMaxBackupManifestBytes = 64 << 10;
// Each file beside the database (a certificate, a sealed key).
inline constexpr size_t kMaxBackupDirectoryFileBytes = 1 << 20;

// The store's file and the directory's other files a backup holds,
// relative to the server directory (node::ServerPaths). Nothing else is
// read or written: a restore never writes outside its directory.
inline constexpr char kBackupDatabasePath[] = "openrms.db";
inline constexpr std::array<const char*, 4> kBackupDirectoryFiles = {
    "tls-ca.pem", "tls-server.pem", "keys/tls-ca.key", "keys/tls-server.key"};

struct BackupFileEntry {
  std::string path;  // one of kBackupDirectoryFiles
  std::string bytes;
};

struct BackupContents {
  Time created_at;
  std::string source_dir;  // where it was taken, for messages
  std::string database;    // the SQLite database image
  std::vector<BackupFileEntry> files;
};

// The file's parts, unopened: views into the bytes given.
struct BackupEnvelope {
  crypto::ScryptCost cost;
  std::string_view salt;
  std::string_view nonce;
  std::string_view check;
  std::string_view header;  // the bytes before the ciphertext (the AAD)
  std::string_view sealed;  // ciphertext || tag
};

// kTooLarge over `max_bytes` (the header's length field included, so no
// reader allocates for a larger file); kMalformed for what is not such a
// file or is cut short; kUnsupported for another KDF or a cost
// crypto::CheckScryptCost refuses.
Result<BackupEnvelope> ParseBackupEnvelope(std::string_view file,
                                           size_t max_bytes = kMaxBackupFileBytes);
// The decrypted contents. kMalformed naming what is wrong, kUnsupported
// for another format version.
Result<BackupContents> ParseBackupContents(std::string_view plain);
std::string WriteBackupContents(const BackupContents& contents);

// kTooLarge when the contents would make a file over kMaxBackupFileBytes.
Result<std::string> SealBackupFile(const BackupContents& contents, std::string_view password,
                                   Random& random, const crypto::ScryptCost& cost = {});
// kPermissionDenied for a wrong password, kBadSignature for a file changed
// after it was written, and the refusals of the two parsers.
Result<BackupContents> OpenBackupFile(std::string_view file, std::string_view password);

}  // namespace openrms::cli
