// The engine-neutral parts of the store: rows, SQL scanning, schema steps.
#include "store/database.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "store/sql_text.h"

namespace openrms::store {

bool Row::IsNull(size_t i) const {
  return i >= values.size() || std::holds_alternative<std::nullptr_t>(values[i]);
}

std::string Row::Text(size_t i) const {
  if (i >= values.size()) return "";
  if (const auto* s = std::get_if<std::string>(&values[i])) return *s;
  if (const auto* n = std::get_if<int64_t>(&values[i])) return std::to_string(*n);
  return "";
}

int64_t Row::Int(size_t i) const {
  if (i >= values.size()) return 0;
  if (const auto* n = std::get_if<int64_t>(&values[i])) return *n;
  if (const auto* s = std::get_if<std::string>(&values[i])) {
    int64_t n = 0;
    const char* end = s->data() + s->size();
    const auto [ptr, ec] = std::from_chars(s->data(), end, n);
    return ec == std::errc() && ptr == end ? n : 0;
  }
  return 0;
}

namespace {

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '$';
}

// Walks SQL text, telling literals, quoted names and comments (copied as
// they are) from code (words, numbers, punctuation).
class SqlReader {
 public:
  explicit SqlReader(std::string_view sql) : sql_(sql) {}
  bool done() const { return pos_ >= sql_.size(); }
  size_t pos() const { return pos_; }
  char peek(size_t ahead = 0) const {
    return pos_ + ahead < sql_.size() ? sql_[pos_ + ahead] : '\0';
  }

  // Skips a literal, quoted name or comment at the current position and
  // returns its text; "" when there is none.
  std::string_view SkipQuoted() {
    const size_t start = pos_;
    const char c = peek();
    if (c == '\'' || c == '"') {
      ++pos_;
      while (!done()) {
        if (sql_[pos_++] != c) continue;
        if (peek() != c) break;  // '' inside a literal is one quote
        ++pos_;
      }
    } else if (c == '-' && peek(1) == '-') {
      while (!done() && sql_[pos_] != '\n') ++pos_;
    } else if (c == '/' && peek(1) == '*') {
      const size_t end = sql_.find("*/", pos_ + 2);
      pos_ = end == std::string_view::npos ? sql_.size() : end + 2;
    }
    return sql_.substr(start, pos_ - start);
  }

  // The word (letters, digits, _ and $) at the current position, consumed.
  std::string_view Word() {
    const size_t start = pos_;
    while (!done() && IsWordChar(sql_[pos_])) ++pos_;
    return sql_.substr(start, pos_ - start);
  }

  char Next() { return sql_[pos_++]; }

 private:
  std::string_view sql_;
  size_t pos_ = 0;
};

bool EqualsWord(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == y;
         });
}

}  // namespace

namespace internal {

SqlShape ScanSql(std::string_view sql) {
  SqlShape shape;
  SqlReader r(sql);
  bool after_semicolon = false;
  while (!r.done()) {
    if (const std::string_view quoted = r.SkipQuoted(); !quoted.empty()) {
      // A comment after the last ';' is not another statement.
      const bool comment = quoted[0] == '-' || quoted[0] == '/';
      if (after_semicolon && !comment) shape.several_statements = true;
      continue;
    }
    const char c = r.peek();
    if (std::isspace(static_cast<unsigned char>(c))) {
      r.Next();
      continue;
    }
    if (after_semicolon && c != ';') shape.several_statements = true;
    if (c == ';') {
      after_semicolon = true;
      r.Next();
    } else if (c == '$' && std::isdigit(static_cast<unsigned char>(r.peek(1)))) {
      const std::string_view word = r.Word();
      int n = 0;
      const auto [ptr, ec] = std::from_chars(word.data() + 1, word.data() + word.size(), n);
      if (ec == std::errc() && ptr == word.data() + word.size()) shape.parameters.push_back(n);
    } else if (IsWordChar(c)) {
      r.Word();  // a name may hold '$' (a$1), which is no parameter
    } else {
      r.Next();
    }
  }
  std::sort(shape.parameters.begin(), shape.parameters.end());
  shape.parameters.erase(std::unique(shape.parameters.begin(), shape.parameters.end()),
                         shape.parameters.end());
  return shape;
}

Result<SqlShape> CheckSql(std::string_view sql, size_t values, bool several_allowed) {
  SqlShape shape = ScanSql(sql);
  if (shape.several_statements && !several_allowed) {
    return Status(Code::kInternal,
                  "several SQL statements in one call; only Execute without parameters takes "
                  "several");
  }
  if (!shape.parameters.empty() &&
      (shape.parameters.front() < 1 || static_cast<size_t>(shape.parameters.back()) > values)) {
    const int bad =
        shape.parameters.front() < 1 ? shape.parameters.front() : shape.parameters.back();
    return Status(Code::kInternal, "the SQL uses $" + std::to_string(bad) + " but " +
                                       std::to_string(values) + " values were given");
  }
  return shape;
}

}  // namespace internal

std::string PostgresSchemaStep(std::string_view sqlite_step) {
  std::string out;
  out.reserve(sqlite_step.size() + 32);
  SqlReader r(sqlite_step);
  while (!r.done()) {
    if (const std::string_view quoted = r.SkipQuoted(); !quoted.empty()) {
      out += quoted;
      continue;
    }
    if (!IsWordChar(r.peek())) {
      out += r.Next();
      continue;
    }
    const std::string_view word = r.Word();
    if (!EqualsWord(word, "INTEGER")) {
      out += word;
      continue;
    }
    // INTEGER PRIMARY KEY AUTOINCREMENT, with any blanks between the words.
    SqlReader ahead = r;
    bool autoincrement = true;
    for (const std::string_view expected : {"PRIMARY", "KEY", "AUTOINCREMENT"}) {
      while (!ahead.done() && std::isspace(static_cast<unsigned char>(ahead.peek()))) ahead.Next();
      if (!EqualsWord(ahead.Word(), expected)) {
        autoincrement = false;
        break;
      }
    }
    if (autoincrement) {
      out += "BIGSERIAL PRIMARY KEY";
      r = ahead;
    } else {
      out += "BIGINT";
    }
  }
  return out;
}

Result<std::unique_ptr<Database>> OpenDatabase(const std::string& url) {
  for (const char* scheme : {"postgresql://", "postgres://"}) {
    if (url.rfind(scheme, 0) == 0) return OpenPostgres(url);
  }
  const std::string path = url.rfind("sqlite:", 0) == 0 ? url.substr(7) : url;
  if (path.empty()) {
    return Status(Code::kInvalidArgument,
                  "no database named: give postgresql://..., sqlite:PATH or a file path");
  }
  return OpenSqlite(path);
}

namespace {

Status CreateMigrationsTable(Database& db) {
  std::string sql =
      "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, step INTEGER NOT "
      "NULL, PRIMARY KEY (component, step))";
  if (db.dialect() == Dialect::kPostgres) sql = PostgresSchemaStep(sql);
  auto created = db.Execute(sql);
  // Two PostgreSQL nodes creating it at the same moment: one of them fails
  // on the catalog's unique index; now the table is there.
  if (!created.ok()) created = db.Execute(sql);
  return created.status();
}

}  // namespace

Status Migrate(Database& db, std::string_view component, const std::vector<std::string>& steps) {
  RETURN_IF_ERROR(CreateMigrationsTable(db));
  const bool postgres = db.dialect() == Dialect::kPostgres;
  for (size_t i = 0; i < steps.size(); ++i) {
    const int64_t step = static_cast<int64_t>(i + 1);
    Status s = db.InTransaction([&](Database& tx) -> Status {
      // Taken before the first query, so the transaction's snapshot shows
      // the steps another node applied while this one waited.
      if (postgres) {
        RETURN_IF_ERROR(tx.Execute("LOCK TABLE schema_migrations IN EXCLUSIVE MODE").status());
      }
      ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT 1 FROM schema_migrations WHERE component = $1 "
                                           "AND step = $2",
                                           {std::string(component), step}));
      if (!rows.empty()) return Status::Ok();
      RETURN_IF_ERROR(tx.Execute(postgres ? PostgresSchemaStep(steps[i]) : steps[i]).status());
      return tx
          .Execute("INSERT INTO schema_migrations (component, step) VALUES ($1, $2)",
                   {std::string(component), step})
          .status();
    });
    if (!s.ok()) return s.WithContext("schema migration " + std::string(component));
  }
  return Status::Ok();
}

}  // namespace openrms::store
