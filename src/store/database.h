// The one storage interface. Business code speaks SQL through Database;
// SQLite is the embedded default and PostgreSQL is a second implementation
// of the same interface (scale-out: several nodes share one cluster store).
//
// SQL is written in the common subset of both engines, with parameters
// numbered $1, $2, ... in order of first use.
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

// Thread-safe: any thread may call any method. A Database handed to the
// body of InTransaction is bound to that transaction and to that thread.
class Database {
 public:
  virtual ~Database() = default;
  virtual Result<std::vector<Row>> Query(std::string_view sql,
                                         const std::vector<Value>& params = {}) = 0;
  // Returns the number of rows changed.
  virtual Result<int64_t> Execute(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  // Runs `body` in one transaction: commits when it returns OK, rolls back
  // otherwise (or when the process dies before the commit).
  virtual Status InTransaction(const std::function<Status(Database& tx)>& body) = 0;
};

// Opens (creating if needed) an SQLite database file in WAL mode.
Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path);

// Applies the numbered schema steps of `component` that this database has
// not seen yet, each in its own transaction, recording them in
// schema_migrations.
Status Migrate(Database& db, std::string_view component, const std::vector<std::string>& steps);

}  // namespace openrms::store
