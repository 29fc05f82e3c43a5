#include "store/sqlite_backup.h"

#include <sqlite3.h>

#include <memory>
#include <thread>

namespace openrms::store {

namespace {

struct CloseConnection {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Connection = std::unique_ptr<sqlite3, CloseConnection>;

bool Busy(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

Status Error(sqlite3* db, int rc, const std::string& what) {
  const Code code = Busy(rc) ? Code::kUnavailable : Code::kIo;
  return Status(code, what + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

Result<Connection> Open(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Connection db(raw);
  if (rc == SQLITE_CANTOPEN) {
    return Status(Code::kNotFound, "there is no SQLite database at " + path);
  }
  if (rc != SQLITE_OK) return Error(db.get(), rc, "cannot open " + path);
  return db;
}

Status Exec(sqlite3* db, const char* sql, const std::string& what) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(db, rc, what);
  return Status::Ok();
}

Result<int64_t> Pragma(sqlite3* db, const char* sql, const std::string& what) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    return Error(db, sqlite3_errcode(db), what);
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  const int rc = sqlite3_step(raw);
  if (rc != SQLITE_ROW) return Error(db, rc, what);
  return int64_t{sqlite3_column_int64(raw, 0)};
}

}  // namespace

Result<std::string> SnapshotSqlite(const std::string& path, const SqliteSnapshotOptions& options) {
  ASSIGN_OR_RETURN(Connection source, Open(path, SQLITE_OPEN_READWRITE));
  sqlite3_busy_timeout(source.get(), static_cast<int>(options.busy_limit.count()));
  // The read transaction is the snapshot: the backup's steps read inside
  // it, so commits by the nodes after this point are neither copied nor a
  // reason for SQLite to start the copy again.
  RETURN_IF_ERROR(Exec(source.get(), "BEGIN", "cannot start a read transaction on " + path));
  RETURN_IF_ERROR(Exec(source.get(), "SELECT COUNT(*) FROM sqlite_schema",
                       "cannot read the schema of " + path));
  ASSIGN_OR_RETURN(const int64_t page_size,
                   Pragma(source.get(), "PRAGMA page_size", "cannot read " + path));
  ASSIGN_OR_RETURN(const int64_t pages,
                   Pragma(source.get(), "PRAGMA page_count", "cannot read " + path));
  if (page_size <= 0 || pages < 0 ||
      static_cast<uint64_t>(pages) > options.max_bytes / static_cast<uint64_t>(page_size)) {
    return Status(Code::kTooLarge,
                  "the database " + path + " holds " + std::to_string(pages * page_size) +
                      " bytes; a backup holds at most " + std::to_string(options.max_bytes));
  }

  ASSIGN_OR_RETURN(Connection copy, Open(":memory:", SQLITE_OPEN_READWRITE));
  // An in-memory destination takes only the source's page size.
  const std::string set_page_size = "PRAGMA page_size=" + std::to_string(page_size);
  RETURN_IF_ERROR(Exec(copy.get(), set_page_size.c_str(), "cannot prepare the copy"));
  sqlite3_backup* backup = sqlite3_backup_init(copy.get(), "main", source.get(), "main");
  if (backup == nullptr) {
    return Error(copy.get(), sqlite3_errcode(copy.get()), "cannot start the backup of " + path);
  }
  std::chrono::milliseconds busy_for{0};
  constexpr std::chrono::milliseconds kBusyPause{10};
  int rc = SQLITE_OK;
  for (;;) {
    rc = sqlite3_backup_step(backup, options.pages_per_step);
    if (rc == SQLITE_DONE) break;
    if (rc == SQLITE_OK) {
      std::this_thread::sleep_for(options.pause);
      continue;
    }
    if (!Busy(rc) || busy_for >= options.busy_limit) break;
    std::this_thread::sleep_for(kBusyPause);
    busy_for += kBusyPause;
  }
  const int finished = sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    if (Busy(rc)) {
      return Status(Code::kUnavailable, "the database " + path + " stayed busy for " +
                                            std::to_string(options.busy_limit.count()) +
                                            " ms: try again");
    }
    return Error(nullptr, rc, "the backup of " + path + " failed");
  }
  if (finished != SQLITE_OK)
    return Error(copy.get(), finished, "the backup of " + path + " failed");
  (void)Exec(source.get(), "COMMIT", "");

  sqlite3_int64 size = 0;
  unsigned char* bytes = sqlite3_serialize(copy.get(), "main", &size, 0);
  if (bytes == nullptr) {
    return Status(Code::kInternal, "cannot serialize the copy of " + path + " (out of memory)");
  }
  std::string image(reinterpret_cast<const char*>(bytes), static_cast<size_t>(size));
  sqlite3_free(bytes);
  return image;
}

}  // namespace openrms::store
