#include "store/sqlite_backup.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "base/file_system.h"
#include "store/database.h"

namespace openrms::store {
namespace {

class SqliteSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("openrms-snapshot-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "live.db").string();
    auto db = OpenSqlite(path_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    ASSERT_TRUE(db_->Execute("CREATE TABLE pairs (id INTEGER PRIMARY KEY, v TEXT)").ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Each transaction adds two rows: a consistent copy holds an even number.
  Status AddPair(Database& db) {
    return db.InTransaction([](Database& tx) {
      const std::string filler(300, 'x');
      RETURN_IF_ERROR(tx.Execute("INSERT INTO pairs (v) VALUES ($1)", {filler}).status());
      return tx.Execute("INSERT INTO pairs (v) VALUES ($1)", {filler}).status();
    });
  }

  // The image as a database file of its own.
  std::unique_ptr<Database> Restored(const std::string& image) {
    const std::string path = (dir_ / "copy.db").string();
    std::filesystem::remove(path);
    EXPECT_TRUE(RealFileSystem().WriteFileAtomic(path, image).ok());
    auto db = OpenSqlite(path);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    auto check = (*db)->Query("PRAGMA integrity_check");
    EXPECT_TRUE(check.ok());
    EXPECT_EQ((*check)[0].Text(0), "ok");
    return std::move(db).value();
  }

  static int64_t Count(Database& db) {
    auto rows = db.Query("SELECT COUNT(*) FROM pairs");
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() ? (*rows)[0].Int(0) : -1;
  }

  SqliteSnapshotOptions Options() {
    SqliteSnapshotOptions o;
    o.max_bytes = 64 << 20;
    return o;
  }

  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<Database> db_;
};

TEST_F(SqliteSnapshotTest, TheImageHoldsEveryCommittedRow) {
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(AddPair(*db_).ok());
  auto image = SnapshotSqlite(path_, Options());
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->substr(0, 16), std::string("SQLite format 3\0", 16));
  EXPECT_EQ(Count(*Restored(*image)), 100);
}

TEST_F(SqliteSnapshotTest, AnOpenWriteTransactionNeitherBlocksItNorIsCopied) {
  ASSERT_TRUE(AddPair(*db_).ok());
  Result<std::string> image = Status(Code::kInternal, "not taken");
  Status s = db_->InTransaction([&](Database& tx) {
    RETURN_IF_ERROR(tx.Execute("INSERT INTO pairs (v) VALUES ('uncommitted')").status());
    image = SnapshotSqlite(path_, Options());
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(Count(*Restored(*image)), 2);
  EXPECT_EQ(Count(*db_), 3);
}

TEST_F(SqliteSnapshotTest, WritersGoOnDuringAPageByPageCopyAndTheCopyIsOneMoment) {
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(AddPair(*db_).ok());
  std::atomic<bool> copying{true};
  std::atomic<int> written{0};
  std::thread writer([&] {
    auto other = OpenSqlite(path_);  // another node
    ASSERT_TRUE(other.ok());
    while (copying) {
      ASSERT_TRUE(AddPair(**other).ok());
      ++written;
    }
  });
  while (written < 5) std::this_thread::yield();
  SqliteSnapshotOptions o = Options();
  o.pages_per_step = 1;
  o.pause = std::chrono::milliseconds(5);
  const int before = written;
  auto image = SnapshotSqlite(path_, o);
  const int during = written - before;
  copying = false;
  writer.join();
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  const int64_t copied = Count(*Restored(*image));
  EXPECT_EQ(copied % 2, 0) << "a transaction was copied in part";
  EXPECT_GE(copied, 1010);
  EXPECT_GE(during, 3) << "the writer waited for the copy";
}

TEST_F(SqliteSnapshotTest, ADatabaseOverTheLimitIsRefusedBeforeItIsCopied) {
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(AddPair(*db_).ok());
  SqliteSnapshotOptions o = Options();
  o.max_bytes = 8192;
  auto image = SnapshotSqlite(path_, o);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), Code::kTooLarge);
  EXPECT_NE(image.status().message().find("a backup holds at most 8192"), std::string::npos)
      << image.status().message();
}

TEST_F(SqliteSnapshotTest, NoDatabaseIsNotFound) {
  auto image = SnapshotSqlite((dir_ / "none.db").string(), Options());
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "none.db"));
}

TEST_F(SqliteSnapshotTest, AFileThatIsNoDatabaseIsRefused) {
  const std::string path = (dir_ / "text.db").string();
  ASSERT_TRUE(RealFileSystem().WriteFileAtomic(path, std::string(8192, 'x')).ok());
  auto image = SnapshotSqlite(path, Options());
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), Code::kIo);
}

}  // namespace
}  // namespace openrms::store
