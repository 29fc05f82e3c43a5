#include "cli/backup_file.h"

#include <algorithm>
#include <set>

#include "base/json.h"
#include "crypto/content_cipher.h"
#include "crypto/keys.h"

namespace openrms::cli {

namespace {

constexpr char kMagic[] = "ORMSBAK1";
constexpr char kFormat[] = "openrms-backup/1";
constexpr char kCheckLabel[] = "OpenRMS backup password check";

std::string BigEndian(uint64_t v, int bytes) {
  std::string out(static_cast<size_t>(bytes), '\0');
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(v);
  return out;
}

uint64_t ReadBigEndian(std::string_view b) {
  uint64_t v = 0;
  for (const char c : b) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

Status Bad(const std::string& what) {
  return Status(Code::kMalformed, "the backup file is damaged: " + what);
}

bool IsDirectoryFile(std::string_view path) {
  return std::find(kBackupDirectoryFiles.begin(), kBackupDirectoryFiles.end(), path) !=
         kBackupDirectoryFiles.end();
}

// The manifest's list of files: the database first, then at most one of
// each directory file.
struct FileSize {
  std::string path;
  size_t size;
};

Result<std::vector<FileSize>> ReadFileList(const nlohmann::json& manifest) {
  const auto files = manifest.find("files");
  if (files == manifest.end() || !files->is_array() || files->empty() ||
      files->size() > 1 + kBackupDirectoryFiles.size()) {
    return Bad("its manifest must list 1 to " + std::to_string(1 + kBackupDirectoryFiles.size()) +
               " files");
  }
  std::vector<FileSize> out;
  std::set<std::string> seen;
  for (const nlohmann::json& f : *files) {
    if (!f.is_object()) return Bad("a file of its manifest is not an object");
    auto path = StringField(f, "path", "", 256);
    if (!path.ok()) return Bad(path.status().message());
    const bool database = out.empty();
    if (database ? *path != kBackupDatabasePath : !IsDirectoryFile(*path)) {
      return Bad("its manifest names the file \"" + path->substr(0, 64) + "\" " +
                 (database ? "where the database belongs" : "that a backup does not hold"));
    }
    if (!seen.insert(*path).second) return Bad("its manifest names " + *path + " twice");
    const int64_t max =
        static_cast<int64_t>(database ? kMaxBackupFileBytes : kMaxBackupDirectoryFileBytes);
    auto size = IntField(f, "size", -1, 0, max);
    if (!size.ok()) return Bad(size.status().message());
    if (*size < 0) return Bad("its manifest gives no size for " + *path);
    out.push_back({*path, static_cast<size_t>(*size)});
  }
  return out;
}

}  // namespace

Result<BackupEnvelope> ParseBackupEnvelope(std::string_view file, size_t max_bytes) {
  if (file.size() > max_bytes) {
    return Status(Code::kTooLarge, "the file is larger than an OpenRMS backup file can be (" +
                                       std::to_string(max_bytes) + " bytes)");
  }
  if (file.size() < 8 || file.substr(0, 8) != kMagic) {
    return Status(Code::kMalformed,
                  "the file is not an OpenRMS backup file (made by `openrms backup`)");
  }
  if (file.size() < kBackupHeaderBytes) {
    return Bad("it is cut short: " + std::to_string(file.size()) + " bytes, shorter than its " +
               std::to_string(kBackupHeaderBytes) + "-byte header");
  }
  if (file[8] != 1) return Status(Code::kUnsupported, "the file's key derivation is not scrypt");
  BackupEnvelope e;
  e.cost = {static_cast<uint8_t>(file[9]), static_cast<uint8_t>(file[10]),
            static_cast<uint8_t>(file[11])};
  RETURN_IF_ERROR(crypto::CheckScryptCost(e.cost));
  e.salt = file.substr(12, 16);
  e.nonce = file.substr(28, 12);
  e.check = file.substr(40, 16);
  const uint64_t length = ReadBigEndian(file.substr(56, 8));
  if (length > max_bytes - std::min(max_bytes, kBackupHeaderBytes)) {
    return Status(Code::kTooLarge, "the backup file's header says it holds " +
                                       std::to_string(length) +
                                       " bytes, more than a backup file can (" +
                                       std::to_string(max_bytes) + " bytes)");
  }
  if (length < 16 || length != file.size() - kBackupHeaderBytes) {
    return Bad("it is cut short or too long: its header says " + std::to_string(length) +
               " bytes follow, and " + std::to_string(file.size() - kBackupHeaderBytes) + " do");
  }
  e.header = file.substr(0, kBackupHeaderBytes);
  e.sealed = file.substr(kBackupHeaderBytes);
  return e;
}

Result<BackupContents> ParseBackupContents(std::string_view plain) {
  if (plain.size() < 4) return Bad("its contents are cut short");
  const uint64_t manifest_size = ReadBigEndian(plain.substr(0, 4));
  if (manifest_size > kMaxBackupManifestBytes) {
    return Bad("its manifest is larger than " + std::to_string(kMaxBackupManifestBytes) + " bytes");
  }
  if (manifest_size > plain.size() - 4) return Bad("its manifest is cut short");
  auto parsed = ParseJson(plain.substr(4, manifest_size), {kMaxBackupManifestBytes, 4});
  if (!parsed.ok()) return Bad("its manifest: " + parsed.status().message());
  const nlohmann::json& j = *parsed;
  if (!j.is_object()) return Bad("its manifest is not an object");
  auto format = StringField(j, "format", "", 64);
  if (!format.ok()) return Bad(format.status().message());
  if (*format != kFormat) {
    return Status(Code::kUnsupported,
                  "the backup file's format is \"" + *format + "\"; this OpenRMS reads " + kFormat);
  }
  BackupContents c;
  auto created = StringField(j, "created_at", "", 64);
  if (!created.ok()) return Bad(created.status().message());
  auto at = ParseTime(*created);
  if (!at) return Bad("created_at is not a time");
  c.created_at = *at;
  auto source = StringField(j, "source_dir", "", 4096);
  if (!source.ok()) return Bad(source.status().message());
  c.source_dir = std::move(source).value();
  ASSIGN_OR_RETURN(std::vector<FileSize> files, ReadFileList(j));

  std::string_view rest = plain.substr(4 + manifest_size);
  for (const FileSize& f : files) {
    if (f.size > rest.size()) return Bad(f.path + " is cut short");
    const std::string_view bytes = rest.substr(0, f.size);
    rest.remove_prefix(f.size);
    if (f.path == kBackupDatabasePath) {
      c.database = std::string(bytes);
    } else {
      c.files.push_back({f.path, std::string(bytes)});
    }
  }
  if (!rest.empty()) return Bad(std::to_string(rest.size()) + " bytes follow its last file");
  return c;
}

std::string WriteBackupContents(const BackupContents& c) {
  nlohmann::json files = nlohmann::json::array();
  files.push_back({{"path", kBackupDatabasePath}, {"size", c.database.size()}});
  size_t total = c.database.size();
  for (const BackupFileEntry& f : c.files) {
    files.push_back({{"path", f.path}, {"size", f.bytes.size()}});
    total += f.bytes.size();
  }
  const std::string manifest = WriteJson({{"format", kFormat},
                                          {"created_at", FormatIso8601(c.created_at)},
                                          {"source_dir", c.source_dir},
                                          {"files", files}});
  std::string out;
  out.reserve(4 + manifest.size() + total);
  out += BigEndian(manifest.size(), 4);
  out += manifest;
  out += c.database;
  for (const BackupFileEntry& f : c.files) out += f.bytes;
  return out;
}

Result<std::string> SealBackupFile(const BackupContents& contents, std::string_view password,
                                   Random& random, const crypto::ScryptCost& cost) {
  RETURN_IF_ERROR(crypto::CheckScryptCost(cost));
  const std::string plain = WriteBackupContents(contents);
  if (plain.size() + kBackupHeaderBytes + 16 > kMaxBackupFileBytes) {
    return Status(Code::kTooLarge,
                  "the store and the directory's files take " + std::to_string(plain.size()) +
                      " bytes; a backup file holds at most " + std::to_string(kMaxBackupFileBytes));
  }
  const std::string salt = crypto::RandomBytes(random, 16);
  const std::string nonce = crypto::RandomBytes(random, 12);
  ASSIGN_OR_RETURN(crypto::PasswordFileKeys keys,
                   crypto::DerivePasswordFileKeys(password, salt, cost, kCheckLabel));
  std::string header = kMagic;
  header += static_cast<char>(1);
  header += static_cast<char>(cost.log2_n);
  header += static_cast<char>(cost.r);
  header += static_cast<char>(cost.p);
  header += salt + nonce + keys.check + BigEndian(plain.size() + 16, 8);
  ASSIGN_OR_RETURN(std::string sealed, crypto::AeadSeal(keys.aead, nonce, header, plain));
  header += sealed;
  return header;
}

Result<BackupContents> OpenBackupFile(std::string_view file, std::string_view password) {
  ASSIGN_OR_RETURN(BackupEnvelope e, ParseBackupEnvelope(file));
  ASSIGN_OR_RETURN(crypto::PasswordFileKeys keys,
                   crypto::DerivePasswordFileKeys(password, e.salt, e.cost, kCheckLabel));
  if (keys.check != e.check) {
    return Status(Code::kPermissionDenied,
                  "the password does not open this backup file (or the file's header was "
                  "changed): nothing was restored");
  }
  auto plain = crypto::AeadOpen(keys.aead, e.nonce, e.header, e.sealed);
  if (!plain.ok()) {
    if (plain.status().code() != Code::kBadSignature) return plain.status();
    return Status(Code::kBadSignature,
                  "the backup file was changed after it was written (its AES-GCM tag does not "
                  "hold): nothing was restored");
  }
  return ParseBackupContents(*plain);
}

}  // namespace openrms::cli
