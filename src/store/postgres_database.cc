// store::Database over libpq. Values travel as text (PQexecParams, text
// format): the server infers each parameter's type from where the SQL uses
// it, which keeps one SQL text valid for SQLite and PostgreSQL.
#include <libpq-fe.h>
#include <poll.h>

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "store/database.h"
#include "store/sql_text.h"

namespace openrms::store {
namespace {

// Type OIDs from catalog/pg_type.h (a server header, not in libpq-dev).
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;

constexpr int kTransactionAttempts = 6;  // the first run and 5 retries
// Per Database (per node): PostgreSQL serves max_connections (100 by
// default) for all nodes together.
constexpr int kMaxConnections = 16;
constexpr auto kConnectionWait = std::chrono::seconds(30);

std::string FirstLine(const char* text) {
  std::string s = text == nullptr ? "" : text;
  s = s.substr(0, s.find('\n'));
  return s.empty() ? "no message from libpq" : s;
}

bool IsConflict(std::string_view sqlstate) { return sqlstate == "40001" || sqlstate == "40P01"; }

// A pause before running a conflicting transaction again: random, so two
// transactions that collided do not collide again in lockstep, and longer
// after each conflict. The jitter needs no secret, so no injected Random.
void Backoff(int attempt) {
  thread_local std::minstd_rand jitter(static_cast<unsigned>(
      std::hash<std::thread::id>()(std::this_thread::get_id()) ^
      static_cast<size_t>(std::chrono::steady_clock::now().time_since_epoch().count())));
  const int max_ms = 1 << std::min(attempt + 1, 6);
  std::this_thread::sleep_for(
      std::chrono::microseconds(std::uniform_int_distribution<int>(100, max_ms * 1000)(jitter)));
}

// Takes turns between this process's transactions. Under SERIALIZABLE a
// transaction that lost a conflict tends to lose again to the same busy
// neighbour, which starts its next transaction at once (a tight loop of
// read-then-write on one row loses most retries). So every transaction
// runs holding the gate shared, and one that already lost twice runs
// holding it alone: it then meets no concurrent transaction of this
// process. Other processes (nodes) are not held back; against them the
// retries are all there is. Writers go first, so no retrier starves; a
// thread that already holds the gate (a transaction started inside
// another's body) does not take it again.
class TransactionGate final {
 public:
  class Hold final {
   public:
    Hold(TransactionGate& gate, bool alone) : gate_(depth_ == 0 ? &gate : nullptr), alone_(alone) {
      if (gate_ != nullptr) alone_ ? gate_->LockAlone() : gate_->LockShared();
      ++depth_;
    }
    ~Hold() {
      --depth_;
      if (gate_ != nullptr) alone_ ? gate_->UnlockAlone() : gate_->UnlockShared();
    }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    static thread_local int depth_;
    TransactionGate* gate_;
    bool alone_;
  };

  static TransactionGate& Process() {
    static TransactionGate gate;
    return gate;
  }

 private:
  void LockShared() {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return !alone_ && waiting_alone_ == 0; });
    ++shared_;
  }
  void UnlockShared() {
    std::lock_guard lock(mu_);
    if (--shared_ == 0) changed_.notify_all();
  }
  void LockAlone() {
    std::unique_lock lock(mu_);
    ++waiting_alone_;
    changed_.wait(lock, [&] { return !alone_ && shared_ == 0; });
    --waiting_alone_;
    alone_ = true;
  }
  void UnlockAlone() {
    std::lock_guard lock(mu_);
    alone_ = false;
    changed_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable changed_;
  int shared_ = 0;
  int waiting_alone_ = 0;
  bool alone_ = false;
};

thread_local int TransactionGate::Hold::depth_ = 0;

// One server connection, used by one thread at a time.
class Connection final {
 public:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  ~Connection() { PQfinish(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  PGconn* get() const { return conn_; }
  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }
  // The SQLSTATE of the last failed Run ("" after a success, or when the
  // connection failed).
  const std::string& last_sqlstate() const { return sqlstate_; }

  // False when the server closed this connection while it sat idle (a
  // restart). An idle connection is sent nothing we wait for: anything to
  // read (the server's goodbye, end of file) means it is closing. Never
  // waits.
  bool StillOpen() {
    if (broken() || PQtransactionStatus(conn_) != PQTRANS_IDLE) return false;
    pollfd p = {PQsocket(conn_), POLLIN, 0};
    return p.fd >= 0 && poll(&p, 1, 0) == 0;
  }

  // Runs `sql`: one statement, or several when `several_allowed` (and then
  // without parameters). Rows and change count are those of the last one.
  Result<std::vector<Row>> Run(std::string_view sql, const std::vector<Value>& params,
                               int64_t* changes, bool several_allowed = false) {
    sqlstate_.clear();
    ASSIGN_OR_RETURN(internal::SqlShape shape,
                     internal::CheckSql(sql, params.size(), several_allowed));
    const std::string text(sql);
    PGresult* raw = nullptr;
    if (params.empty()) {
      // The simple protocol: the one that takes several statements.
      raw = several_allowed
                ? PQexec(conn_, text.c_str())
                : PQexecParams(conn_, text.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0);
    } else {
      std::vector<std::string> numbers(params.size());
      std::vector<const char*> values(params.size(), nullptr);
      // A value the SQL never names has no type to infer; call it text.
      std::vector<Oid> types(params.size(), kTextOid);
      for (int n : shape.parameters) types[static_cast<size_t>(n - 1)] = 0;
      for (size_t i = 0; i < params.size(); ++i) {
        if (const auto* s = std::get_if<std::string>(&params[i])) {
          if (s->find('\0') != std::string::npos) {
            return Status(Code::kInvalidArgument, "value $" + std::to_string(i + 1) +
                                                      " holds a NUL character, which PostgreSQL "
                                                      "text cannot store");
          }
          values[i] = s->c_str();
        } else if (const auto* n = std::get_if<int64_t>(&params[i])) {
          numbers[i] = std::to_string(*n);
          values[i] = numbers[i].c_str();
        }
      }
      raw = PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()), types.data(),
                         values.data(), nullptr, nullptr, 0);
    }
    std::unique_ptr<PGresult, decltype(&PQclear)> result(raw, PQclear);
    const ExecStatusType status = raw == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(raw);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Error(raw);
    if (changes != nullptr) {
      const char* count = PQcmdTuples(raw);
      *changes = 0;
      std::from_chars(count, count + std::strlen(count), *changes);
    }
    return ReadRows(raw);
  }

  Status Error(const PGresult* result) {
    if (broken() || result == nullptr) {
      return Status(Code::kUnavailable,
                    "the connection to PostgreSQL failed: " + FirstLine(PQerrorMessage(conn_)));
    }
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    sqlstate_ = state == nullptr ? "" : state;
    // The primary message only: DETAIL would quote the values of a key.
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    const std::string message = FirstLine(primary != nullptr ? primary : PQerrorMessage(conn_)) +
                                " (SQLSTATE " + sqlstate_ + ")";
    if (sqlstate_.rfind("23", 0) == 0) {
      return Status(Code::kAlreadyUsed, "SQL statement failed: " + message);
    }
    if (IsConflict(sqlstate_)) {
      return Status(Code::kUnavailable, "conflict with a concurrent transaction: " + message);
    }
    if (sqlstate_.rfind("08", 0) == 0 || sqlstate_.rfind("57P", 0) == 0) {
      return Status(Code::kUnavailable, "PostgreSQL is not available: " + message);
    }
    return Status(Code::kIo, "SQL statement failed: " + message);
  }

 private:
  static std::vector<Row> ReadRows(const PGresult* result) {
    const int rows = PQntuples(result);
    const int columns = PQnfields(result);
    std::vector<bool> integer(static_cast<size_t>(columns));
    for (int c = 0; c < columns; ++c) {
      const Oid type = PQftype(result, c);
      integer[static_cast<size_t>(c)] = type == kInt2Oid || type == kInt4Oid || type == kInt8Oid;
    }
    std::vector<Row> out(static_cast<size_t>(rows));
    for (int r = 0; r < rows; ++r) {
      Row& row = out[static_cast<size_t>(r)];
      for (int c = 0; c < columns; ++c) {
        if (PQgetisnull(result, r, c)) {
          row.values.emplace_back(nullptr);
          continue;
        }
        const char* v = PQgetvalue(result, r, c);
        const size_t length = static_cast<size_t>(PQgetlength(result, r, c));
        int64_t n = 0;
        if (integer[static_cast<size_t>(c)] &&
            std::from_chars(v, v + length, n).ptr == v + length) {
          row.values.emplace_back(n);
        } else {
          row.values.emplace_back(std::string(v, length));
        }
      }
    }
    return out;
  }

  PGconn* conn_;
  std::string sqlstate_;
};

// A Database bound to one connection inside a transaction. Each statement
// runs under a savepoint: a failed one is undone alone and the transaction
// goes on, as in SQLite (PostgreSQL would otherwise refuse every later
// statement of the transaction).
class TransactionDatabase final : public Database {
 public:
  explicit TransactionDatabase(Connection& c) : conn_(c) {}

  Result<std::vector<Row>> Query(std::string_view sql, const std::vector<Value>& params) override {
    return Run(sql, params, nullptr);
  }
  Result<int64_t> Execute(std::string_view sql, const std::vector<Value>& params) override {
    int64_t changes = 0;
    auto r = Run(sql, params, &changes);
    if (!r.ok()) return r.status();
    return changes;
  }
  Status InTransaction(const std::function<Status(Database& tx)>& body) override {
    return body(*this);  // already inside one: nest by flattening
  }
  Dialect dialect() const override { return Dialect::kPostgres; }

  // A statement met a serialization failure or deadlock: the transaction
  // cannot commit and is to run again.
  bool conflicted() const { return conflicted_; }

 private:
  Result<std::vector<Row>> Run(std::string_view sql, const std::vector<Value>& params,
                               int64_t* changes) {
    if (conflicted_) {
      return Status(Code::kUnavailable,
                    "the transaction conflicted with a concurrent one and will run again");
    }
    RETURN_IF_ERROR(conn_.Run("SAVEPOINT openrms_statement", {}, nullptr).status());
    auto r = conn_.Run(sql, params, changes, params.empty());
    if (r.ok()) {
      RETURN_IF_ERROR(conn_.Run("RELEASE SAVEPOINT openrms_statement", {}, nullptr).status());
      return r;
    }
    if (conn_.broken()) return r;
    conflicted_ = IsConflict(conn_.last_sqlstate());
    auto undone = conn_.Run("ROLLBACK TO SAVEPOINT openrms_statement", {}, nullptr);
    if (!undone.ok()) return undone.status();
    return r;
  }

  Connection& conn_;
  bool conflicted_ = false;
};

class PostgresDatabase final : public Database {
 public:
  explicit PostgresDatabase(std::string conninfo) : conninfo_(std::move(conninfo)) {}

  Result<std::vector<Row>> Query(std::string_view sql, const std::vector<Value>& params) override {
    return Autocommit([&](Connection& c) { return c.Run(sql, params, nullptr); });
  }

  Result<int64_t> Execute(std::string_view sql, const std::vector<Value>& params) override {
    int64_t changes = 0;
    auto r =
        Autocommit([&](Connection& c) { return c.Run(sql, params, &changes, params.empty()); });
    if (!r.ok()) return r.status();
    return changes;
  }

  Status InTransaction(const std::function<Status(Database& tx)>& body) override {
    for (int attempt = 0;; ++attempt) {
      bool conflicted = false;
      Status s;
      {
        TransactionGate::Hold hold(TransactionGate::Process(), /*alone=*/attempt >= 2);
        s = RunTransaction(body, &conflicted);
      }
      if (!conflicted) return s;
      if (attempt + 1 == kTransactionAttempts) {
        return Status(Code::kUnavailable, "the transaction conflicted with concurrent ones " +
                                              std::to_string(kTransactionAttempts) +
                                              " times; try again");
      }
      Backoff(attempt);
    }
  }

  Dialect dialect() const override { return Dialect::kPostgres; }

  // A connection of the pool: an idle one the server has not closed, or a
  // new one while fewer than kMaxConnections are open; otherwise waits for
  // one to come back (kUnavailable after kConnectionWait).
  Result<std::unique_ptr<Connection>> Acquire() {
    std::unique_lock lock(mu_);
    for (;;) {
      if (!idle_.empty()) {
        std::unique_ptr<Connection> idle = std::move(idle_.back());
        idle_.pop_back();
        if (idle->StillOpen()) return idle;
        --open_;  // closed by the server while idle (a restart): dropped
        continue;
      }
      if (open_ < kMaxConnections) break;
      if (!returned_.wait_for(lock, kConnectionWait,
                              [&] { return !idle_.empty() || open_ < kMaxConnections; })) {
        return Status(Code::kUnavailable, "all " + std::to_string(kMaxConnections) +
                                              " connections to PostgreSQL stayed busy for " +
                                              std::to_string(kConnectionWait.count()) + " s");
      }
    }
    ++open_;
    lock.unlock();
    auto conn = Open();
    if (!conn.ok()) Drop();
    return conn;
  }

  // Back to the pool. A connection that broke, or was left inside a
  // transaction, is closed.
  void Release(std::unique_ptr<Connection> c) {
    if (c->broken() || PQtransactionStatus(c->get()) != PQTRANS_IDLE) {
      c.reset();
      Drop();
      return;
    }
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(c));
    returned_.notify_one();
  }

 private:
  Result<std::unique_ptr<Connection>> Open() {
    // A host that does not answer must not hold a request (or a node's
    // start) for the system's TCP timeout: 10 s, unless the connection
    // string sets its own (later settings override earlier ones).
    const char* const keywords[] = {"connect_timeout", "dbname", nullptr};
    const char* const values[] = {"10", conninfo_.c_str(), nullptr};
    auto conn = std::make_unique<Connection>(PQconnectdbParams(keywords, values, 1));
    if (conn->get() == nullptr || conn->broken()) {
      // The message names host or socket; the connection string may hold a
      // password, so it is not quoted.
      return Status(Code::kUnavailable,
                    "cannot connect to PostgreSQL: " +
                        FirstLine(conn->get() == nullptr ? nullptr : PQerrorMessage(conn->get())));
    }
    // Notices (a ROLLBACK with no transaction left) would go to stderr.
    PQsetNoticeProcessor(
        conn->get(), [](void*, const char*) {}, nullptr);
    return conn;
  }

  // One run of `body` from BEGIN to COMMIT or ROLLBACK. Sets *conflicted
  // when it ended in a serialization failure or deadlock.
  Status RunTransaction(const std::function<Status(Database& tx)>& body, bool* conflicted) {
    ASSIGN_OR_RETURN(auto conn, Acquire());
    auto begin = conn->Run("BEGIN ISOLATION LEVEL SERIALIZABLE", {}, nullptr);
    if (!begin.ok()) {
      Release(std::move(conn));
      return begin.status();
    }
    TransactionDatabase tx(*conn);
    Status s = body(tx);
    *conflicted = tx.conflicted();
    if (s.ok() && !*conflicted) {
      auto commit = conn->Run("COMMIT", {}, nullptr);
      if (!commit.ok()) {
        *conflicted = IsConflict(conn->last_sqlstate());
        s = conn->broken() ? Status(Code::kUnavailable,
                                    "the connection to PostgreSQL failed during COMMIT: the "
                                    "transaction may or may not have been applied")
                           : commit.status();
      }
    }
    if (!s.ok() || *conflicted) (void)conn->Run("ROLLBACK", {}, nullptr);
    Release(std::move(conn));
    return s;
  }

  // One statement in its own transaction; a deadlock undid it whole, so it
  // runs again.
  template <typename F>
  auto Autocommit(F run) -> decltype(run(std::declval<Connection&>())) {
    for (int attempt = 0;; ++attempt) {
      ASSIGN_OR_RETURN(auto conn, Acquire());
      auto r = run(*conn);
      const bool conflicted = !r.ok() && IsConflict(conn->last_sqlstate());
      Release(std::move(conn));
      if (!conflicted || attempt + 1 == kTransactionAttempts) return r;
      Backoff(attempt);
    }
  }

  void Drop() {
    std::lock_guard lock(mu_);
    --open_;
    returned_.notify_one();
  }

  const std::string conninfo_;
  std::mutex mu_;
  std::condition_variable returned_;
  int open_ = 0;  // idle and in use
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace

Result<std::unique_ptr<Database>> OpenPostgres(const std::string& conninfo) {
  auto db = std::make_unique<PostgresDatabase>(conninfo);
  ASSIGN_OR_RETURN(auto first, db->Acquire());  // fail early on a wrong address
  db->Release(std::move(first));
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace openrms::store
