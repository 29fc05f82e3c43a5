// The one storage interface. Business code speaks SQL through Database;
// SQLite is the embedded default and PostgreSQL is a second implementation
// of the same interface (scale-out: several nodes share one cluster store).
//
// SQL is written in the common subset of both engines, with parameters
// numbered $1, $2, ...: $N takes params[N-1], in any order, as often as the
// SQL names it. A value the SQL does not name is ignored; a $N without a
// value is an error (kInternal), as is any other parameter form (?, :x).
// One call runs one statement, except Execute without parameters, which
// runs several separated by ';' (schema steps).
//
// Schema steps (Migrate) are written for SQLite; on PostgreSQL they pass
// through PostgresSchemaStep first (INTEGER is 64-bit in SQLite, 32-bit in
// PostgreSQL). Queries are not translated: they must be portable as written
// (no INSERT OR ..., datetime(), typeof, rowid; ON CONFLICT (cols) DO ...
// is fine in both).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"

namespace openrms::store {

using Value = std::variant<std::nullptr_t, int64_t, std::string>;

// One result row. The accessors are total and never throw, whatever the
// column holds: storage damage is found by the code that reads the value
// (a time of 0, an empty name), not by an exception far from it. A column
// index past the end of the row reads as NULL.
struct Row {
  std::vector<Value> values;
  bool IsNull(size_t i) const;
  // Text of column i: "" for NULL, integers in decimal.
  std::string Text(size_t i) const;
  // Integer of column i: 0 for NULL, and 0 for text that is not wholly a
  // decimal int64 (SQLite returns REAL and TEXT columns as text). Code that
  // must tell 0 from NULL asks IsNull first.
  int64_t Int(size_t i) const;
};

// The SQL engine behind a Database.
enum class Dialect { kSqlite, kPostgres };

// Thread-safe: any thread may call any method. A Database handed to the
// body of InTransaction is bound to that transaction and to that thread.
//
// Errors: a unique or other constraint violation is kAlreadyUsed; an engine
// that cannot be reached (or stays busy, or keeps conflicting) is
// kUnavailable; other failures are kIo. Messages name what failed, never
// the parameter values.
class Database {
 public:
  virtual ~Database() = default;
  virtual Result<std::vector<Row>> Query(std::string_view sql,
                                         const std::vector<Value>& params = {}) = 0;
  // Returns the number of rows changed.
  virtual Result<int64_t> Execute(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  // Runs `body` in one transaction: commits when it returns OK, rolls back
  // otherwise (or when the process dies before the commit). Transactions
  // are serialisable: in SQLite one writer at a time (BEGIN IMMEDIATE); in
  // PostgreSQL ISOLATION LEVEL SERIALIZABLE, where a transaction that
  // conflicts with a concurrent one (SQLSTATE 40001, 40P01) is rolled back
  // and `body` runs again, up to 6 times in all, after a short random pause
  // (from the third run on, alone among this process's transactions); then
  // kUnavailable.
  // So `body` must be safe to run more than once: it may touch only the
  // database and local variables it sets afresh on each run. A statement
  // that fails inside `body` is undone alone (the transaction goes on), as
  // in SQLite. InTransaction on `tx` runs the body in the same transaction.
  virtual Status InTransaction(const std::function<Status(Database& tx)>& body) = 0;
  virtual Dialect dialect() const = 0;
};

// Opens (creating if needed) an SQLite database file in WAL mode.
Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path);

// Connects to PostgreSQL; `conninfo` is a libpq connection string or URI
// ("host=/run/postgresql dbname=openrms", "postgresql://user@host/db").
// Connections are pooled, at most 16 per Database (a call waits up to 30 s
// for one, then kUnavailable); one that broke (server restart, network) is
// dropped and a new one opened on the next call. Fails with kUnavailable when the server cannot be
// reached now. Tables sort text by the database's collation: create the database with LC_COLLATE
// "C" for the byte order SQLite uses.
Result<std::unique_ptr<Database>> OpenPostgres(const std::string& conninfo);

// Opens the store that `url` names: "postgresql://..." or "postgres://..."
// is PostgreSQL (OpenPostgres), "sqlite:PATH" or a plain PATH is SQLite.
Result<std::unique_ptr<Database>> OpenDatabase(const std::string& url);

// The PostgreSQL form of a schema step written for SQLite, outside string
// literals, quoted names and comments, case-insensitively:
//   INTEGER PRIMARY KEY AUTOINCREMENT -> BIGSERIAL PRIMARY KEY
//   INTEGER                           -> BIGINT
// SQLite's INTEGER holds 64 bits (times in nanoseconds, ids), PostgreSQL's
// only 32. Steps stay written for SQLite because SQLite databases have
// already applied them by number; they must not change under those files.
std::string PostgresSchemaStep(std::string_view sqlite_step);

// Applies the numbered schema steps of `component` that this database has
// not seen yet, each in its own transaction, recording them in
// schema_migrations. A step may hold several statements separated by ';'.
// On PostgreSQL each step first locks schema_migrations, so nodes that
// start together apply every step once.
Status Migrate(Database& db, std::string_view component, const std::vector<std::string>& steps);

}  // namespace openrms::store
