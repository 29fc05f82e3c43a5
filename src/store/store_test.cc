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

}  // namespace
}  // namespace openrms::store
