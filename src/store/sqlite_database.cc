#include <sqlite3.h>

#include <charconv>
#include <map>
#include <mutex>
#include <vector>

#include "base/file_system.h"
#include "store/database.h"
#include "store/sql_text.h"

namespace openrms::store {

namespace {

Status SqliteError(sqlite3* db, std::string_view what) {
  const int code = sqlite3_errcode(db);
  const Code c = (code == SQLITE_CONSTRAINT)                      ? Code::kAlreadyUsed
                 : (code == SQLITE_BUSY || code == SQLITE_LOCKED) ? Code::kUnavailable
                                                                  : Code::kIo;
  return Status(c, std::string(what) + ": " + sqlite3_errmsg(db));
}

// One connection, used by one thread at a time.
class Connection final {
 public:
  explicit Connection(sqlite3* db) : db_(db) {}
  ~Connection() {
    for (auto& [sql, stmt] : prepared_) sqlite3_finalize(stmt.stmt);
    sqlite3_close_v2(db_);
  }
  sqlite3* get() const { return db_; }

  // Runs `sql`: one statement, or several when `several_allowed`; the rows
  // and the change count are those of the last one.
  Result<std::vector<Row>> Run(std::string_view sql, const std::vector<Value>& params,
                               int64_t* changes, bool several_allowed = false) {
    if (!several_allowed) return RunPrepared(sql, params, changes);
    RETURN_IF_ERROR(internal::CheckSql(sql, params.size(), several_allowed).status());
    std::vector<Row> rows;
    const char* next = sql.data();
    const char* const end = sql.data() + sql.size();
    while (next < end) {
      sqlite3_stmt* raw = nullptr;
      if (sqlite3_prepare_v2(db_, next, static_cast<int>(end - next), &raw, &next) != SQLITE_OK) {
        return SqliteError(db_, "SQL error");
      }
      if (raw == nullptr) break;  // only blanks and comments are left
      std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
      RETURN_IF_ERROR(Bind(raw, params));
      ASSIGN_OR_RETURN(rows, Step(raw));
    }
    if (changes != nullptr) *changes = sqlite3_changes64(db_);
    return rows;
  }

 private:
  // Binds by name: SQLite numbers parameters in order of first appearance,
  // so "$2 ... $1" would take the values swapped if bound by position.
  Status Bind(sqlite3_stmt* stmt, const std::vector<Value>& params) {
    const int count = sqlite3_bind_parameter_count(stmt);
    for (int idx = 1; idx <= count; ++idx) {
      const char* name = sqlite3_bind_parameter_name(stmt, idx);
      const std::string_view text = name == nullptr ? "?" : name;
      size_t n = 0;
      const auto [ptr, ec] = std::from_chars(text.data() + 1, text.data() + text.size(), n);
      if (text[0] != '$' || ec != std::errc() || ptr != text.data() + text.size() || n < 1 ||
          n > params.size()) {
        return Status(Code::kInternal, "the SQL parameter " + std::string(text) +
                                           " has no value (parameters are $1 to $" +
                                           std::to_string(params.size()) + ")");
      }
      const Value& v = params[n - 1];
      int rc = SQLITE_OK;
      if (const auto* s = std::get_if<std::string>(&v)) {
        rc = sqlite3_bind_text(stmt, idx, s->data(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
      } else if (const auto* i = std::get_if<int64_t>(&v)) {
        rc = sqlite3_bind_int64(stmt, idx, *i);
      } else {
        rc = sqlite3_bind_null(stmt, idx);
      }
      if (rc != SQLITE_OK) return SqliteError(db_, "cannot bind parameter " + std::string(text));
    }
    return Status::Ok();
  }

  Result<std::vector<Row>> Step(sqlite3_stmt* raw) {
    std::vector<Row> rows;
    for (;;) {
      const int rc = sqlite3_step(raw);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return SqliteError(db_, "SQL statement failed");
      Row row;
      const int n = sqlite3_column_count(raw);
      for (int c = 0; c < n; ++c) {
        switch (sqlite3_column_type(raw, c)) {
          case SQLITE_NULL:
            row.values.emplace_back(nullptr);
            break;
          case SQLITE_INTEGER:
            row.values.emplace_back(int64_t{sqlite3_column_int64(raw, c)});
            break;
          default: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw, c));
            row.values.emplace_back(
                std::string(text, static_cast<size_t>(sqlite3_column_bytes(raw, c))));
          }
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  // One statement, prepared once per connection and kept (a statement is
  // re-prepared by SQLite itself when the schema changes). Compiling the
  // SQL cost more than running it: an audit row's INSERT spent most of its
  // time in SQLite's parser.
  Result<std::vector<Row>> RunPrepared(std::string_view sql, const std::vector<Value>& params,
                                       int64_t* changes) {
    auto it = prepared_.find(sql);
    if (it == prepared_.end() || it->second.values != params.size()) {
      RETURN_IF_ERROR(internal::CheckSql(sql, params.size(), false).status());
      if (it != prepared_.end()) {
        it->second.values = params.size();  // checked for this many values now
      } else {
        sqlite3_stmt* raw = nullptr;
        const char* tail = nullptr;
        if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                               SQLITE_PREPARE_PERSISTENT, &raw, &tail) != SQLITE_OK) {
          return SqliteError(db_, "SQL error");
        }
        if (raw == nullptr) {  // only blanks and comments
          if (changes != nullptr) *changes = sqlite3_changes64(db_);
          return std::vector<Row>{};
        }
        if (prepared_.size() >= kMaxPrepared) {
          // SQL built at run time could grow the map without end: start over.
          for (auto& [text, stmt] : prepared_) sqlite3_finalize(stmt.stmt);
          prepared_.clear();
        }
        it = prepared_.emplace(std::string(sql), Prepared{raw, params.size()}).first;
      }
    }
    sqlite3_stmt* stmt = it->second.stmt;
    struct Reset {
      sqlite3_stmt* stmt;
      ~Reset() {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
      }
    } reset{stmt};
    RETURN_IF_ERROR(Bind(stmt, params));
    ASSIGN_OR_RETURN(auto rows, Step(stmt));
    if (changes != nullptr) *changes = sqlite3_changes64(db_);
    return rows;
  }

  struct Prepared {
    sqlite3_stmt* stmt;
    size_t values;  // the number of values CheckSql passed it with
  };
  static constexpr size_t kMaxPrepared = 128;

  sqlite3* db_;
  std::map<std::string, Prepared, std::less<>> prepared_;
};

// A Database bound to one connection inside a transaction.
class TransactionDatabase final : public Database {
 public:
  explicit TransactionDatabase(Connection& c) : conn_(c) {}
  Result<std::vector<Row>> Query(std::string_view sql, const std::vector<Value>& params) override {
    return conn_.Run(sql, params, nullptr);
  }
  Result<int64_t> Execute(std::string_view sql, const std::vector<Value>& params) override {
    int64_t changes = 0;
    auto r = conn_.Run(sql, params, &changes, params.empty());
    if (!r.ok()) return r.status();
    return changes;
  }
  Status InTransaction(const std::function<Status(Database& tx)>& body) override {
    return body(*this);  // already inside one: nest by flattening
  }
  Dialect dialect() const override { return Dialect::kSqlite; }

 private:
  Connection& conn_;
};

class SqliteDatabase final : public Database {
 public:
  explicit SqliteDatabase(std::string path) : path_(std::move(path)) {}

  Result<std::unique_ptr<Connection>> Open() {
    sqlite3* db = nullptr;
    const int rc =
        sqlite3_open_v2(path_.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    auto conn = std::make_unique<Connection>(db);
    if (rc != SQLITE_OK) return SqliteError(db, "cannot open database " + path_);
    sqlite3_busy_timeout(db, 10000);
    for (const char* pragma :
         {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
      auto r = conn->Run(pragma, {}, nullptr);
      if (!r.ok()) return r.status().WithContext(path_);
    }
    return conn;
  }

  Result<std::vector<Row>> Query(std::string_view sql, const std::vector<Value>& params) override {
    ASSIGN_OR_RETURN(auto conn, Acquire());
    auto r = conn->Run(sql, params, nullptr);
    Release(std::move(conn));
    return r;
  }

  Result<int64_t> Execute(std::string_view sql, const std::vector<Value>& params) override {
    ASSIGN_OR_RETURN(auto conn, Acquire());
    int64_t changes = 0;
    auto r = conn->Run(sql, params, &changes, params.empty());
    Release(std::move(conn));
    if (!r.ok()) return r.status();
    return changes;
  }

  Status InTransaction(const std::function<Status(Database& tx)>& body) override {
    ASSIGN_OR_RETURN(auto conn, Acquire());
    // IMMEDIATE takes the write lock up front, so two writers wait for each
    // other instead of failing half way.
    auto begin = conn->Run("BEGIN IMMEDIATE", {}, nullptr);
    if (!begin.ok()) {
      Release(std::move(conn));
      return begin.status();
    }
    TransactionDatabase tx(*conn);
    Status s = body(tx);
    if (s.ok()) {
      auto commit = conn->Run("COMMIT", {}, nullptr);
      if (!commit.ok()) s = commit.status();
    }
    if (!s.ok()) (void)conn->Run("ROLLBACK", {}, nullptr);
    Release(std::move(conn));
    return s;
  }

  Dialect dialect() const override { return Dialect::kSqlite; }

 private:
  Result<std::unique_ptr<Connection>> Acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    return Open();
  }

  void Release(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mu_);
    if (idle_.size() < 8) idle_.push_back(std::move(c));
  }

  const std::string path_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace

Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path) {
  // SQLite would make the file 0644 less the umask, and makes its -wal,
  // -shm and -journal files with the mode of the database file: a file
  // made 0600 first keeps all of them private.
  if (!path.empty() && path != ":memory:" && path.rfind("file:", 0) != 0) {
    RETURN_IF_ERROR(RealFileSystem().CreateFileIfMissing(path));
  }
  auto db = std::make_unique<SqliteDatabase>(path);
  ASSIGN_OR_RETURN(auto first, db->Open());  // fail early on a bad path
  (void)first;
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace openrms::store
