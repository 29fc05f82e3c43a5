// A consistent copy of a live SQLite store, for `openrms backup`: SQLite's
// online backup API (https://sqlite.org/backup.html) while nodes go on
// reading and writing the same file.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "base/status.h"

namespace openrms::store {

struct SqliteSnapshotOptions {
  // The image may be at most this large (checked before it is copied).
  size_t max_bytes = 0;
  // Pages copied per sqlite3_backup_step, and the pause after each, so a
  // long copy leaves the disk and the CPU to the nodes.
  int pages_per_step = 128;
  std::chrono::milliseconds pause{2};
  // How long SQLITE_BUSY and SQLITE_LOCKED are retried, in all, before
  // giving up.
  std::chrono::milliseconds busy_limit{30000};
};

// The bytes of a database file that holds what the database at `path` held
// at one moment: the copy is made inside one read transaction, which in WAL
// mode (every OpenSqlite database) blocks no writer and sees none of their
// later commits, so it never restarts. Nothing is written to disk but
// SQLite's own -wal and -shm files of `path`. kNotFound when `path` is no
// database file, kTooLarge over `options.max_bytes`, kUnavailable when the
// database stays busy past `options.busy_limit`, kIo for other failures.
// Thread-safe (a connection of its own).
Result<std::string> SnapshotSqlite(const std::string& path, const SqliteSnapshotOptions& options);

}  // namespace openrms::store
