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

struct Row {
  std::vector<Value> values;
  bool IsNull(size_t i) const { return std::holds_alternative<std::nullptr_t>(values.at(i)); }
  // Text of column i ("" for NULL; integers are formatted).
  std::string Text(size_t i) const;
  int64_t Int(size_t i) const;  // 0 for NULL
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
