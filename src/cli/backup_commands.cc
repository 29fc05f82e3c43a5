// openrms backup|restore: a server directory's SQLite store, copied while
// its nodes run (store/sqlite_backup.h), and the directory's TLS files, in
// one file sealed under a password (cli/backup_file.h); and bringing a
// destroyed directory back from it.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "base/fault.h"
#include "base/file_system.h"
#include "base/text.h"
#include "cli/backup_file.h"
#include "cli/commands.h"
#include "cli/file_modes.h"
#include "cli/password.h"
#include "crypto/encoding.h"
#include "crypto/password_hash.h"
#include "node/server_context.h"
#include "store/database.h"
#include "store/sqlite_backup.h"

namespace openrms::cli {

namespace {

constexpr char kBackupPasswordEnv[] = "OPENRMS_BACKUP_PASSWORD";
constexpr char kReadmeSection[] = "README.md, \"Backup and restore\"";

bool IsPostgresUrl(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

// The store of `dir`: --store, else the one the directory remembers, else
// "" for its own SQLite file.
Result<std::string> StoreUrl(const node::ServerPaths& p, const std::string& flag) {
  if (!flag.empty()) return flag;
  FileSystem& fs = RealFileSystem();
  if (!fs.Exists(p.store_url)) return std::string();
  ASSIGN_OR_RETURN(std::string text, fs.ReadFile(p.store_url, 4096));
  return std::string(Trim(text));
}

Status PostgresRefusal(const std::string& dir, const std::string& url) {
  return Status(Code::kFailedPrecondition,
                "the store of " + dir + " is PostgreSQL (" + url +
                    "): `openrms backup` copies SQLite stores only. Back up the database with "
                    "pg_dump (pg_dump --format=custom; pg_restore brings it back), and keep the "
                    "directory's other files (TLS certificates and keys, store-url) and the key "
                    "password apart from it; see " +
                    kReadmeSection);
}

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

// The clusters of a store, and a warning for each key that lives in a
// PKCS#11 token (a backup holds only its URI).
struct StoreSummary {
  std::vector<std::string> clusters;
  std::vector<std::string> token_keys;
};

Result<StoreSummary> Summarize(node::ServerContext& context) {
  StoreSummary s;
  ASSIGN_OR_RETURN(s.clusters, context.store().ListClusters());
  for (const std::string& name : s.clusters) {
    ASSIGN_OR_RETURN(auto domains, context.clusters().ListDomains(name));
    for (const auto& d : domains) {
      if (!d.key_uri.empty()) s.token_keys.push_back(d.key_uri + " of cluster " + name);
    }
  }
  return s;
}

void WarnAboutTokenKeys(const StoreSummary& s, const std::string& what) {
  for (const std::string& key : s.token_keys) {
    std::cerr << "warning: the key " << key << " lives in a PKCS#11 token: " << what
              << " only its URI, and the cluster needs that token (or one brought back with the "
                 "token's own backup tools)\n";
  }
}

struct BackupFlags {
  std::string dir, out, store, password_file;
};

Status Backup(const BackupFlags& f) {
  const node::ServerPaths p(f.dir);
  ASSIGN_OR_RETURN(const std::string url, StoreUrl(p, f.store));
  if (IsPostgresUrl(url)) return PostgresRefusal(f.dir, url);
  const std::string database =
      url.empty() ? p.database : (url.starts_with("sqlite:") ? url.substr(7) : url);
  FileSystem& fs = RealFileSystem();
  if (!fs.Exists(f.dir) || !fs.Exists(database)) {
    return Status(Code::kNotFound, f.dir + " holds no OpenRMS server (there is no " + database +
                                       "); give the directory `cluster provision` made");
  }
  WarnAboutOpenServerFiles(f.dir);
  ASSIGN_OR_RETURN(std::string password,
                   ReadKeyPassword(f.password_file, kBackupPasswordEnv, /*confirm=*/true));

  node::ContextOptions options;
  options.store_url = f.store;
  ASSIGN_OR_RETURN(auto context, node::ServerContext::Open(f.dir, std::nullopt, false, options));
  ASSIGN_OR_RETURN(const StoreSummary summary, Summarize(*context));
  context.reset();

  BackupContents contents;
  contents.created_at = DefaultClock().Now();
  contents.source_dir = std::filesystem::absolute(f.dir).lexically_normal().string();
  store::SqliteSnapshotOptions snapshot;
  snapshot.max_bytes = kMaxBackupFileBytes - kMaxBackupManifestBytes -
                       kBackupDirectoryFiles.size() * kMaxBackupDirectoryFileBytes;
  ASSIGN_OR_RETURN(contents.database, store::SnapshotSqlite(database, snapshot));
  for (const char* name : kBackupDirectoryFiles) {
    const std::string path = f.dir + "/" + name;
    if (!fs.Exists(path)) continue;
    ASSIGN_OR_RETURN(std::string bytes, fs.ReadFile(path, kMaxBackupDirectoryFileBytes));
    contents.files.push_back({name, std::move(bytes)});
  }
  auto sealed = SealBackupFile(contents, password, crypto::SystemRandom());
  crypto::Wipe(password);
  if (!sealed.ok()) return sealed.status();
  RETURN_IF_ERROR(fs.WriteFileAtomic(f.out, *sealed));
  std::cout << "wrote " << f.out << ": the SQLite store of " << f.dir << " as of "
            << FormatHuman(contents.created_at) << " (" << contents.database.size()
            << " bytes; clusters: " << Join(summary.clusters) << ") and " << contents.files.size()
            << " TLS file(s), sealed under the password (scrypt, AES-256-GCM)\n"
            << "the cluster keys in it are sealed under the key password, which it does not "
               "hold: keep the key password and the file's password apart from the file\n";
  WarnAboutTokenKeys(summary, "the backup holds");
  return Status::Ok();
}

// Refuses a directory that holds a store or anything else: a restore
// never writes over files.
Status CheckRestoreTarget(const node::ServerPaths& p) {
  FileSystem& fs = RealFileSystem();
  for (const std::string& store : {p.database, p.store_url}) {
    if (fs.Exists(store)) {
      return Status(Code::kFailedPrecondition,
                    p.dir + " already holds an OpenRMS store (" + store +
                        "): a restore never writes over one. Restore into a new directory, or "
                        "stop the directory's nodes, move it aside and restore again");
    }
  }
  std::error_code ec;
  if (!std::filesystem::exists(p.dir, ec)) return Status::Ok();
  if (!std::filesystem::is_directory(p.dir, ec)) {
    return Status(Code::kFailedPrecondition, p.dir + " is not a directory: restore into a new one");
  }
  if (!std::filesystem::is_empty(p.dir, ec) || ec) {
    return Status(Code::kFailedPrecondition,
                  p.dir + " is not empty: restore into a new or empty directory");
  }
  return Status::Ok();
}

Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status(Code::kIo, "cannot open " + dir + " to sync it");
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Status(Code::kIo, "cannot sync " + dir);
  return Status::Ok();
}

// A directory beside `dir` in which the restore is assembled; renamed to
// `dir` only when whole, and removed by its destructor otherwise.
class StagingDirectory final {
 public:
  static Result<std::unique_ptr<StagingDirectory>> Create(const std::filesystem::path& dir) {
    const std::filesystem::path parent =
        dir.has_parent_path() ? dir.parent_path() : std::filesystem::path(".");
    RETURN_IF_ERROR(RealFileSystem().CreateDirectories(parent.string()));
    std::string name = (parent / ("." + dir.filename().string() + ".restore-XXXXXX")).string();
    if (::mkdtemp(name.data()) == nullptr) {  // mode 0700
      return Status(Code::kIo, "cannot make a directory beside " + dir.string() +
                                   " to restore into: " + std::strerror(errno));
    }
    return std::unique_ptr<StagingDirectory>(new StagingDirectory(std::move(name)));
  }
  ~StagingDirectory() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  const std::string& path() const { return path_; }
  // rename(2) makes the whole directory appear at once, in place of an
  // empty one if there is one.
  Status MoveTo(const std::filesystem::path& dir) {
    RETURN_IF_ERROR(SyncDirectory(path_));
    if (std::rename(path_.c_str(), dir.c_str()) != 0) {
      return Status(Code::kIo, "cannot move the restored files to " + dir.string() + ": " +
                                   std::strerror(errno));
    }
    path_.clear();
    const std::filesystem::path parent =
        dir.has_parent_path() ? dir.parent_path() : std::filesystem::path(".");
    return SyncDirectory(parent.string());
  }

 private:
  explicit StagingDirectory(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

struct RestoreFlags {
  std::string file, dir, password_file;
};

Status Restore(const RestoreFlags& f) {
  const node::ServerPaths target(f.dir);
  RETURN_IF_ERROR(CheckRestoreTarget(target));
  FileSystem& fs = RealFileSystem();
  ASSIGN_OR_RETURN(const std::string file, fs.ReadFile(f.file, kMaxBackupFileBytes));
  ASSIGN_OR_RETURN(std::string password,
                   ReadKeyPassword(f.password_file, kBackupPasswordEnv, /*confirm=*/false));
  auto opened = OpenBackupFile(file, password);
  crypto::Wipe(password);
  if (!opened.ok()) return opened.status();
  const BackupContents& contents = *opened;

  ASSIGN_OR_RETURN(auto staging, StagingDirectory::Create(f.dir));
  const node::ServerPaths staged(staging->path());
  RETURN_IF_ERROR(fs.WriteFileAtomic(staged.database, contents.database));
  OPENRMS_CRASH_POINT("restore: database staged");
  RETURN_IF_ERROR(fs.CreateDirectories(staged.dir + "/keys"));
  for (const BackupFileEntry& e : contents.files) {
    RETURN_IF_ERROR(fs.WriteFileAtomic(staged.dir + "/" + e.path, e.bytes));
  }
  // The database must open as a whole store before it takes the
  // directory's place.
  StoreSummary summary;
  {
    ASSIGN_OR_RETURN(auto db, store::OpenSqlite(staged.database));
    ASSIGN_OR_RETURN(auto check, db->Query("PRAGMA integrity_check"));
    if (check.empty() || check[0].Text(0) != "ok") {
      return Status(Code::kDataLoss,
                    "the backup's database fails SQLite's integrity check (" +
                        (check.empty() ? std::string("no answer") : check[0].Text(0)) +
                        "): nothing was restored");
    }
    ASSIGN_OR_RETURN(auto context, node::ServerContext::Open(staged.dir, std::nullopt, false));
    ASSIGN_OR_RETURN(summary, Summarize(*context));
  }
  OPENRMS_CRASH_POINT("restore: files staged");
  RETURN_IF_ERROR(staging->MoveTo(f.dir));
  std::cout << "restored " << f.dir << " from " << f.file << ", taken "
            << FormatHuman(contents.created_at) << " from " << contents.source_dir
            << " (clusters: " << Join(summary.clusters) << "; " << contents.files.size()
            << " TLS file(s))\n"
            << "start its nodes with the key password it had; revocations, accounts and audit "
               "rows made after "
            << FormatHuman(contents.created_at) << " are not in it (" << kReadmeSection << ")\n";
  WarnAboutTokenKeys(summary, "the store holds");
  return Status::Ok();
}

}  // namespace

void RegisterBackupCommands(CLI::App& app, int& exit_code) {
  static BackupFlags b;
  auto* backup = app.add_subcommand(
      "backup",
      "Copy a server directory's SQLite store, while its nodes run, and its TLS files into one "
      "file sealed under a password");
  backup->add_option("--dir", b.dir, "The server directory")->required();
  backup->add_option("--out", b.out, "The file to write")->required();
  backup->add_option("--store", b.store,
                     "The store, when not the one the directory names (sqlite:PATH; a "
                     "postgresql:// store is refused: use pg_dump)");
  backup->add_option("--password-file", b.password_file,
                     "File holding the backup file's password (else $OPENRMS_BACKUP_PASSWORD or "
                     "a prompt, asked twice)");
  backup->callback([&exit_code] {
    if (Status s = Backup(b); !s.ok()) exit_code = ReportError(s);
  });

  static RestoreFlags r;
  auto* restore = app.add_subcommand(
      "restore", "Bring a server directory back from a file `openrms backup` wrote");
  restore->add_option("FILE", r.file, "The backup file")->required();
  restore->add_option("--dir", r.dir, "The directory to restore into (new or empty)")->required();
  restore->add_option("--password-file", r.password_file,
                      "File holding the backup file's password (else $OPENRMS_BACKUP_PASSWORD or "
                      "a prompt)");
  restore->callback([&exit_code] {
    if (Status s = Restore(r); !s.ok()) exit_code = ReportError(s);
  });
}

}  // namespace openrms::cli
