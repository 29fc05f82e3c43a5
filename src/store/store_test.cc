#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "store/database.h"

namespace openrms::store {
namespace {

std::string TempPath(const char* name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("openrms-store-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  std::filesystem::remove(p);
  return p.string();
}

TEST(Sqlite, MigratesOnceAndRoundTripsValues) {
  auto db = OpenSqlite(TempPath("a.db"));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  const std::vector<std::string> steps = {"CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER)"};
  ASSERT_TRUE(Migrate(**db, "test", steps).ok());
  ASSERT_TRUE(Migrate(**db, "test", steps).ok());  // idempotent
  ASSERT_TRUE(
      (*db)->Execute("INSERT INTO t (k, n) VALUES ($1, $2)", {std::string("a"), int64_t{7}}).ok());
  auto rows = (*db)->Query("SELECT k, n FROM t WHERE k = $1", {std::string("a")});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].Text(0), "a");
  EXPECT_EQ((*rows)[0].Int(1), 7);
  auto dup = (*db)->Execute("INSERT INTO t (k, n) VALUES ($1, $2)", {std::string("a"), int64_t{8}});
  EXPECT_EQ(dup.status().code(), Code::kAlreadyUsed);
}

TEST(Sqlite, FailedTransactionChangesNothing) {
  auto db = OpenSqlite(TempPath("b.db"));
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(Migrate(**db, "test", {"CREATE TABLE t (k TEXT PRIMARY KEY)"}).ok());
  Status s = (*db)->InTransaction([](Database& tx) -> Status {
    auto r = tx.Execute("INSERT INTO t (k) VALUES ('x')");
    if (!r.ok()) return r.status();
    return Status(Code::kInvalidArgument, "changed my mind");
  });
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE((*db)->Query("SELECT k FROM t")->empty());
}

TEST(Sqlite, ConcurrentWritersAllLand) {
  auto db = OpenSqlite(TempPath("c.db"));
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(Migrate(**db, "test", {"CREATE TABLE t (n INTEGER)"}).ok());
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 25; ++j) {
        Status s = (*db)->InTransaction([&](Database& tx) -> Status {
          auto r = tx.Execute("INSERT INTO t (n) VALUES ($1)", {int64_t{i * 100 + j}});
          return r.ok() ? Status::Ok() : r.status();
        });
        EXPECT_TRUE(s.ok()) << s.ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ((*db)->Query("SELECT COUNT(*) FROM t")->at(0).Int(0), 100);
}

// Rows never throw: NULL, text and a REAL in an integer's place, and a
// column past the end, each read as a defined value.
TEST(Sqlite, RowAccessorsAreTotal) {
  auto db = OpenSqlite(TempPath("d.db"));
  ASSERT_TRUE(db.ok());
  auto rows = (*db)->Query(
      "SELECT NULL, 'seven', '42', 2.5, 9223372036854775807, '99999999999999999999', ' 5'");
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

}  // namespace
}  // namespace openrms::store
