#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "store/database.h"
#include "store/sql_text.h"
#include "support/postgres_server.h"

namespace openrms::store {
namespace {

std::string TempPath(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("openrms-store-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  std::filesystem::remove(p);
  return p.string();
}

// One server for this test program; each test gets a database of its own.
testing::PostgresServer& SharedServer() {
  static std::unique_ptr<testing::PostgresServer> server = [] {
    auto s = testing::PostgresServer::Start();
    if (!s.ok()) {
      ADD_FAILURE() << s.status().ToString();
      std::abort();
    }
    return std::move(s).value();
  }();
  return *server;
}

// Every test of StoreTest runs on both engines.
class StoreTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    static int counter = 0;
    const std::string name = "t" + std::to_string(++counter);
    if (GetParam() == Dialect::kSqlite) {
      url_ = "sqlite:" + TempPath(name + ".db");
    } else {
      auto created = SharedServer().CreateDatabase(name);
      ASSERT_TRUE(created.ok()) << created.status().ToString();
      url_ = SharedServer().url(name);
    }
    db_ = Open();
  }

  // Another Database on the same store: another node.
  std::unique_ptr<Database> Open() {
    auto db = OpenDatabase(url_);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(db).value() : nullptr;
  }

  std::string url_;
  std::unique_ptr<Database> db_;
};

INSTANTIATE_TEST_SUITE_P(Engines, StoreTest,
                         ::testing::Values(Dialect::kSqlite, Dialect::kPostgres),
                         [](const auto& info) {
                           return info.param == Dialect::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST_P(StoreTest, OpensTheEngineTheUrlNames) { EXPECT_EQ(db_->dialect(), GetParam()); }

TEST_P(StoreTest, MigratesOnceAndRoundTripsValues) {
  const std::vector<std::string> steps = {"CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER)"};
  ASSERT_TRUE(Migrate(*db_, "test", steps).ok());
  ASSERT_TRUE(Migrate(*db_, "test", steps).ok());  // idempotent
  ASSERT_TRUE(
      db_->Execute("INSERT INTO t (k, n) VALUES ($1, $2)", {std::string("a"), int64_t{7}}).ok());
  auto rows = db_->Query("SELECT k, n FROM t WHERE k = $1", {std::string("a")});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].values, (std::vector<Value>{std::string("a"), int64_t{7}}));
  EXPECT_EQ(db_->Query("SELECT COUNT(*) FROM schema_migrations")->at(0).Int(0), 1);
}

TEST_P(StoreTest, ConstraintViolationIsAlreadyUsedAndQuotesNoValue) {
  ASSERT_TRUE(
      Migrate(*db_, "test", {"CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL)"}).ok());
  const std::string secret = "secret-value-42";
  ASSERT_TRUE(db_->Execute("INSERT INTO t (k, n) VALUES ($1, $2)", {secret, int64_t{1}}).ok());
  auto dup = db_->Execute("INSERT INTO t (k, n) VALUES ($1, $2)", {secret, int64_t{2}});
  EXPECT_EQ(dup.status().code(), Code::kAlreadyUsed);
  EXPECT_EQ(dup.status().message().find(secret), std::string::npos) << dup.status().message();
  const std::string expected = GetParam() == Dialect::kSqlite
                                   ? "SQL statement failed: UNIQUE constraint failed: t.k"
                                   : "SQL statement failed: duplicate key value violates unique "
                                     "constraint \"t_pkey\" (SQLSTATE 23505)";
  EXPECT_EQ(dup.status().message(), expected);
  auto null = db_->Execute("INSERT INTO t (k, n) VALUES ($1, $2)", {std::string("b"), nullptr});
  EXPECT_EQ(null.status().code(), Code::kAlreadyUsed);  // NOT NULL is a constraint too
  auto bad = db_->Query("SELECT nothing FROM t");
  EXPECT_EQ(bad.status().code(), Code::kIo);
}

TEST_P(StoreTest, NullIntegersAndTextRoundTrip) {
  ASSERT_TRUE(Migrate(*db_, "test",
                      {"CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n "
                       "INTEGER, s TEXT)"})
                  .ok());
  const std::vector<std::pair<Value, Value>> cases = {
      {int64_t{INT64_MAX}, std::string("")},
      {int64_t{INT64_MIN}, std::string("ünïcødé ✓")},
      {int64_t{-1}, std::string("it's \"quoted\"; -- not a comment $1")},
      {int64_t{4102444800000000000}, nullptr},  // 2100-01-01 in nanoseconds
      {nullptr, std::string("0")},
  };
  for (const auto& [n, s] : cases) {
    ASSERT_TRUE(db_->Execute("INSERT INTO t (n, s) VALUES ($1, $2)", {n, s}).ok());
  }
  auto rows = db_->Query("SELECT id, n, s FROM t ORDER BY id");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ((*rows)[i].values,
              (std::vector<Value>{int64_t(i + 1), cases[i].first, cases[i].second}))
        << i;
  }
  // Selected by an integer parameter.
  auto max = db_->Query("SELECT s FROM t WHERE n = $1", {int64_t{INT64_MAX}});
  ASSERT_TRUE(max.ok());
  ASSERT_EQ(max->size(), 1u);
  EXPECT_EQ(max->at(0).Text(0), "");
  EXPECT_FALSE(max->at(0).IsNull(0));
}

TEST_P(StoreTest, ParametersBindByNumberNotByOrderOfAppearance) {
  ASSERT_TRUE(Migrate(*db_, "test", {"CREATE TABLE t (k TEXT, n INTEGER)"}).ok());
  // $2 before $1: SQLite numbers by first appearance and used to swap them.
  ASSERT_TRUE(
      db_->Execute("INSERT INTO t (n, k) VALUES ($2, $1)", {std::string("x"), int64_t{5}}).ok());
  auto rows =
      db_->Query("SELECT k, n FROM t WHERE n = $2 AND k = $1", {std::string("x"), int64_t{5}});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->at(0).values, (std::vector<Value>{std::string("x"), int64_t{5}}));
  // One value named twice, and a value the SQL does not name.
  auto twice = db_->Query("SELECT k FROM t WHERE k = $3 AND (n = $1 OR n = $1)",
                          {int64_t{5}, std::string("unused"), std::string("x")});
  ASSERT_TRUE(twice.ok()) << twice.status().ToString();
  EXPECT_EQ(twice->size(), 1u);
  // A $N without a value is an error, not NULL.
  auto missing =
      db_->Query("SELECT k FROM t WHERE k = $1 OR n = $3", {std::string("x"), int64_t{5}});
  EXPECT_EQ(missing.status().code(), Code::kInternal);
  EXPECT_EQ(missing.status().message(), "the SQL uses $3 but 2 values were given");
  auto none = db_->Execute("DELETE FROM t WHERE k = $1");
  EXPECT_EQ(none.status().message(), "the SQL uses $1 but 0 values were given");
  // "$1" in a literal is text, not a parameter.
  auto literal = db_->Query("SELECT '$1' FROM t");
  ASSERT_TRUE(literal.ok()) << literal.status().ToString();
  EXPECT_EQ(literal->at(0).Text(0), "$1");
}

TEST_P(StoreTest, SchemaStepWithSeveralStatementsRunsThemAll) {
  ASSERT_TRUE(Migrate(*db_, "test",
                      {"CREATE TABLE a (x INTEGER); CREATE TABLE b (y TEXT);\n"
                       "INSERT INTO b (y) VALUES ('from the step; with a semicolon'); -- done"})
                  .ok());
  EXPECT_TRUE(db_->Execute("INSERT INTO a (x) VALUES ($1)", {int64_t{1}}).ok());
  auto b = db_->Query("SELECT y FROM b");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->size(), 1u);
  EXPECT_EQ(b->at(0).Text(0), "from the step; with a semicolon");
  // Elsewhere one call is one statement.
  auto query = db_->Query("SELECT x FROM a; SELECT y FROM b");
  EXPECT_EQ(query.status().code(), Code::kInternal);
  EXPECT_EQ(query.status().message(),
            "several SQL statements in one call; only Execute without parameters takes several");
  auto with_params = db_->Execute("DELETE FROM a WHERE x = $1; DELETE FROM b", {int64_t{1}});
  EXPECT_EQ(with_params.status().code(), Code::kInternal);
  EXPECT_EQ(db_->Query("SELECT COUNT(*) FROM a")->at(0).Int(0), 1);  // nothing ran
  // A failing statement of a step rolls the whole step back.
  auto failed =
      Migrate(*db_, "test2", {"CREATE TABLE c (z INTEGER); INSERT INTO nowhere VALUES (1)"});
  EXPECT_EQ(failed.code(), Code::kIo);
  EXPECT_EQ(db_->Query("SELECT COUNT(*) FROM c").status().code(), Code::kIo);  // no table c
}

TEST_P(StoreTest, FailedTransactionChangesNothing) {
  ASSERT_TRUE(Migrate(*db_, "test", {"CREATE TABLE t (k TEXT PRIMARY KEY)"}).ok());
  Status s = db_->InTransaction([](Database& tx) -> Status {
    RETURN_IF_ERROR(tx.Execute("INSERT INTO t (k) VALUES ('x')").status());
    // Nested: the same transaction.
    RETURN_IF_ERROR(tx.InTransaction(
        [](Database& inner) { return inner.Execute("INSERT INTO t (k) VALUES ('y')").status(); }));
    return Status(Code::kInvalidArgument, "changed my mind");
  });
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "changed my mind");
  EXPECT_TRUE(db_->Query("SELECT k FROM t")->empty());
}

TEST_P(StoreTest, FailedStatementInTransactionIsUndoneAlone) {
  ASSERT_TRUE(Migrate(*db_, "test", {"CREATE TABLE t (k TEXT PRIMARY KEY)"}).ok());
  Status s = db_->InTransaction([](Database& tx) -> Status {
    RETURN_IF_ERROR(tx.Execute("INSERT INTO t (k) VALUES ('a')").status());
    auto again = tx.Execute("INSERT INTO t (k) VALUES ('a'), ('c')");
    if (again.status().code() != Code::kAlreadyUsed) {
      return Status(Code::kInternal, "expected a duplicate: " + again.status().ToString());
    }
    return tx.Execute("INSERT INTO t (k) VALUES ('b')").status();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto rows = db_->Query("SELECT k FROM t ORDER BY k");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows->at(0).Text(0), "a");
  EXPECT_EQ(rows->at(1).Text(0), "b");
}

TEST_P(StoreTest, ConcurrentWritersAllLand) {
  ASSERT_TRUE(Migrate(*db_, "test", {"CREATE TABLE t (n INTEGER)"}).ok());
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 25; ++j) {
        Status s = db_->InTransaction([&](Database& tx) -> Status {
          return tx.Execute("INSERT INTO t (n) VALUES ($1)", {int64_t{i * 100 + j}}).status();
        });
        EXPECT_TRUE(s.ok()) << s.ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(db_->Query("SELECT COUNT(*) FROM t")->at(0).Int(0), 100);
}

// Read, then write what was read plus one: only serialisable transactions
// (and, on PostgreSQL, running the losers again) end at 400.
TEST_P(StoreTest, ReadModifyWriteTransactionsAreSerialisable) {
  ASSERT_TRUE(Migrate(*db_, "test",
                      {"CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); "
                       "INSERT INTO counter (id, n) VALUES (1, 0)"})
                  .ok());
  std::atomic<int> runs = 0;
  auto increment = [&](Database& db) {
    for (int i = 0; i < 200; ++i) {
      Status s = db.InTransaction([&](Database& tx) -> Status {
        ++runs;
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT n FROM counter WHERE id = 1"));
        return tx.Execute("UPDATE counter SET n = $1 WHERE id = 1", {rows.at(0).Int(0) + 1})
            .status();
      });
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
  };
  auto other_node = Open();
  std::thread a([&] { increment(*db_); });
  std::thread b([&] { increment(*other_node); });
  a.join();
  b.join();
  EXPECT_EQ(db_->Query("SELECT n FROM counter")->at(0).Int(0), 400);
  std::printf("%s: 400 increments took %d runs of the body\n",
              GetParam() == Dialect::kSqlite ? "SQLite" : "PostgreSQL", runs.load());
}

TEST_P(StoreTest, NodesMigratingTogetherApplyEachStepOnce) {
  const std::vector<std::string> steps = {"CREATE TABLE t (k TEXT PRIMARY KEY)",
                                          "ALTER TABLE t ADD COLUMN n INTEGER",
                                          "INSERT INTO t (k, n) VALUES ('once', 1)"};
  std::vector<std::unique_ptr<Database>> nodes;
  for (int i = 0; i < 4; ++i) nodes.push_back(Open());
  std::vector<std::thread> threads;
  for (auto& node : nodes) {
    threads.emplace_back([&] {
      Status s = Migrate(*node, "test", steps);
      EXPECT_TRUE(s.ok()) << s.ToString();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(db_->Query("SELECT COUNT(*) FROM t")->at(0).Int(0), 1);
  EXPECT_EQ(db_->Query("SELECT COUNT(*) FROM schema_migrations")->at(0).Int(0), 3);
}

// Rows never throw: NULL, text and a decimal in an integer's place, and a
// column past the end, each read as a defined value.
// A statement runs again and again with new values (SQLite keeps it
// prepared per connection): after a failure of the same statement, after the
// table it reads changes shape, past the number of statements kept, and with
// too few values, which is refused each time, not only the first.
TEST_P(StoreTest, AStatementRunsAgainWithNewValues) {
  ASSERT_TRUE(Migrate(*db_, "test", {"CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER)"}).ok());
  const std::string insert = "INSERT INTO t (k, n) VALUES ($1, $2)";
  const std::string select = "SELECT n FROM t WHERE k = $1";
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(db_->Execute(insert, {"k" + std::to_string(i), int64_t{i}}).ok());
  }
  EXPECT_EQ(db_->Execute(insert, {std::string("k1"), int64_t{9}}).status().code(),
            Code::kAlreadyUsed);
  ASSERT_TRUE(db_->Execute(insert, {std::string("k5"), int64_t{5}}).ok());
  for (int i = 0; i <= 5; ++i) {
    auto rows = db_->Query(select, {"k" + std::to_string(i)});
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ(rows->at(0).Int(0), i);
  }
  EXPECT_TRUE(db_->Query(select, {std::string("none")})->empty());

  ASSERT_TRUE(db_->Execute("ALTER TABLE t ADD COLUMN note TEXT", {}).ok());
  const std::string all = "SELECT * FROM t WHERE k = $1";
  ASSERT_EQ(db_->Query(all, {std::string("k2")})->at(0).values.size(), 3u);
  ASSERT_TRUE(db_->Execute("ALTER TABLE t ADD COLUMN more INTEGER", {}).ok());
  ASSERT_EQ(db_->Query(all, {std::string("k2")})->at(0).values.size(), 4u);

  for (int i = 0; i < 300; ++i) {  // more distinct statements than are kept
    auto rows = db_->Query("SELECT n + " + std::to_string(i) + " FROM t WHERE k = $1",
                           {std::string("k3")});
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    EXPECT_EQ(rows->at(0).Int(0), 3 + i);
  }
  EXPECT_EQ(db_->Query(select, {std::string("k4")})->at(0).Int(0), 4);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(db_->Query(select, {}).status().code(), Code::kInternal);
  }
  EXPECT_EQ(db_->Query(select, {std::string("k4")})->at(0).Int(0), 4);
}

TEST_P(StoreTest, RowAccessorsAreTotal) {
  auto rows = db_->Query(
      "SELECT NULL, 'seven', '42', 2.5, 9223372036854775807, '99999999999999999999', "
      "' 5'");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  const Row& r = rows->at(0);
  EXPECT_TRUE(r.IsNull(0));
  EXPECT_EQ(r.Int(0), 0);
  EXPECT_EQ(r.Text(0), "");
  EXPECT_EQ(r.Int(1), 0);
  EXPECT_EQ(r.Int(2), 42);
  EXPECT_EQ(r.Int(3), 0);
  EXPECT_EQ(r.Text(3), "2.5");
  EXPECT_EQ(r.Int(4), INT64_MAX);
  EXPECT_EQ(r.Int(5), 0);  // out of range
  EXPECT_EQ(r.Int(6), 0);  // not wholly a number
  EXPECT_TRUE(r.IsNull(7));
  EXPECT_EQ(r.Int(7), 0);
  EXPECT_EQ(r.Text(7), "");
}

TEST(Postgres, ReconnectsAfterTheServerRestarts) {
  auto server = testing::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_TRUE((*server)->CreateDatabase("restart").ok());
  auto db = OpenPostgres((*server)->conninfo("restart"));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE(Migrate(**db, "test", {"CREATE TABLE t (n INTEGER)"}).ok());
  ASSERT_TRUE((*db)->Execute("INSERT INTO t (n) VALUES (1)").ok());

  ASSERT_TRUE((*server)->Restart().ok());
  // The pooled connection died with the old server; the next call opens a
  // new one rather than failing on the dead one.
  auto rows = (*db)->Query("SELECT n FROM t");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->size(), 1u);
  Status s = (*db)->InTransaction(
      [](Database& tx) { return tx.Execute("INSERT INTO t (n) VALUES (2)").status(); });
  EXPECT_TRUE(s.ok()) << s.ToString();

  // While the server is down: kUnavailable, and back once it is up.
  const std::string dir = (*server)->directory();
  server->reset();
  auto down = (*db)->Query("SELECT n FROM t");
  EXPECT_EQ(down.status().code(), Code::kUnavailable);
  EXPECT_EQ(down.status().message().rfind("cannot connect to PostgreSQL: ", 0), 0u)
      << down.status().message();
}

// 40 threads share at most 16 connections: the others wait their turn.
TEST(Postgres, PoolIsBounded) {
  static int runs = 0;  // --gtest_repeat
  const std::string name = "pool" + std::to_string(++runs);
  ASSERT_TRUE(SharedServer().CreateDatabase(name).ok());
  auto db = OpenPostgres(SharedServer().conninfo(name));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  std::atomic<int64_t> most = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&] {
      Status s = (*db)->InTransaction([&](Database& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(*) FROM pg_stat_activity WHERE "
                                             "datname = current_database()"));
        int64_t seen = rows.at(0).Int(0);
        for (int64_t m = most.load(); seen > m && !most.compare_exchange_weak(m, seen);) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return Status::Ok();
      });
      EXPECT_TRUE(s.ok()) << s.ToString();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(most.load(), 1);
  EXPECT_LE(most.load(), 16);
}

// SQLite keeps a NUL inside text; PostgreSQL text cannot hold one, and
// libpq would cut the value there. Refused rather than cut.
TEST(Postgres, TextWithNulIsRefusedNotCut) {
  static int runs = 0;  // --gtest_repeat
  const std::string name = "nul" + std::to_string(++runs);
  ASSERT_TRUE(SharedServer().CreateDatabase(name).ok());
  auto db = OpenPostgres(SharedServer().conninfo(name));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto r = (*db)->Query("SELECT $1, $2", {std::string("ok"), std::string("a\0b", 3)});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "value $2 holds a NUL character, which PostgreSQL text cannot store");
}

TEST(Postgres, UnreachableServerIsUnavailable) {
  auto db = OpenPostgres("host=/nonexistent-openrms port=1 user=openrms dbname=x password=hunter2");
  EXPECT_EQ(db.status().code(), Code::kUnavailable);
  EXPECT_EQ(db.status().message().rfind("cannot connect to PostgreSQL: ", 0), 0u);
  EXPECT_EQ(db.status().message().find("hunter2"), std::string::npos);
  auto by_url = OpenDatabase("postgres://openrms@/x?host=/nonexistent-openrms&port=1");
  EXPECT_EQ(by_url.status().code(), Code::kUnavailable);
}

TEST(OpenDatabase, PathsAndSqliteUrlsAreSqlite) {
  const std::string path = TempPath("plain.db");
  auto plain = OpenDatabase(path);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ((*plain)->dialect(), Dialect::kSqlite);
  EXPECT_TRUE(std::filesystem::exists(path));
  auto url = OpenDatabase("sqlite:" + TempPath("url.db"));
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ((*url)->dialect(), Dialect::kSqlite);
  EXPECT_EQ(OpenDatabase("").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(OpenDatabase("sqlite:").status().code(), Code::kInvalidArgument);
}

TEST(PostgresSchemaStep, WidensIntegersAndTurnsAutoincrementIntoBigserial) {
  EXPECT_EQ(PostgresSchemaStep("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER "
                               "NOT NULL, s TEXT)"),
            "CREATE TABLE t (id BIGSERIAL PRIMARY KEY, n BIGINT NOT NULL, s TEXT)");
  EXPECT_EQ(PostgresSchemaStep("create table t (id integer  primary\n key autoincrement)"),
            "create table t (id BIGSERIAL PRIMARY KEY)");
  // A plain INTEGER PRIMARY KEY is no serial: it keeps the ids it is given.
  EXPECT_EQ(PostgresSchemaStep("CREATE TABLE t (id INTEGER PRIMARY KEY)"),
            "CREATE TABLE t (id BIGINT PRIMARY KEY)");
  EXPECT_EQ(PostgresSchemaStep("ALTER TABLE t ADD COLUMN n INTEGER NOT NULL DEFAULT 0"),
            "ALTER TABLE t ADD COLUMN n BIGINT NOT NULL DEFAULT 0");
  // Words that only contain it, literals, quoted names and comments stay.
  EXPECT_EQ(PostgresSchemaStep("CREATE TABLE integers (integer_x TEXT DEFAULT 'INTEGER', "
                               "\"INTEGER\" TEXT) -- INTEGER\n/* INTEGER */"),
            "CREATE TABLE integers (integer_x TEXT DEFAULT 'INTEGER', \"INTEGER\" TEXT) -- "
            "INTEGER\n/* INTEGER */");
  EXPECT_EQ(PostgresSchemaStep("CREATE TABLE a (x INTEGER); CREATE TABLE b (y INTEGER)"),
            "CREATE TABLE a (x BIGINT); CREATE TABLE b (y BIGINT)");
}

TEST(ScanSql, FindsParametersAndStatementsOutsideLiterals) {
  auto shape = internal::ScanSql("SELECT $2, '$9', \"$8\", a$7 FROM t WHERE x = $1 -- $6\n");
  EXPECT_EQ(shape.parameters, (std::vector<int>{1, 2}));
  EXPECT_FALSE(shape.several_statements);
  EXPECT_FALSE(internal::ScanSql("SELECT 1; ").several_statements);
  EXPECT_FALSE(internal::ScanSql("SELECT 1; -- end\n /* end */ ;").several_statements);
  EXPECT_FALSE(internal::ScanSql("SELECT 'a;b'").several_statements);
  EXPECT_TRUE(internal::ScanSql("SELECT 1; SELECT 2").several_statements);
  EXPECT_TRUE(internal::ScanSql("SELECT 1;'x'").several_statements);
  EXPECT_EQ(internal::ScanSql("SELECT 'it''s $3'").parameters, std::vector<int>{});
}

}  // namespace
}  // namespace openrms::store
