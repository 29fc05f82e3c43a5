#include "licensing/audit.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <thread>

#include "licensing/licensing.h"

namespace openrms::licensing {
namespace {

using std::chrono::milliseconds;

std::unique_ptr<store::Database> FreshDb(const char* name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("openrms-audit-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  std::filesystem::remove(path);
  auto db = store::OpenSqlite(path.string());
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_TRUE(LicensingService::Migrate(**db).ok());
  return std::move(*db);
}

int64_t Rows(store::Database& db) {
  auto rows = db.Query("SELECT COUNT(*) FROM license_audit");
  return rows.ok() ? (*rows)[0].Int(0) : -1;
}

AuditRecord Row(int n) {
  AuditRecord r;
  r.cluster = "ROOT";
  r.at = Time(Duration(1800000000 + n));
  r.user = "alice";
  r.kind = "use";
  r.content_id = "content-" + std::to_string(n);
  r.result = "AccessGranted";
  r.detail = "VIEW";
  return r;
}

TEST(DirectAuditTrail, WritesEachRowAtOnce) {
  auto db = FreshDb("direct.db");
  DirectAuditTrail trail(*db);
  ASSERT_TRUE(trail.Append(Row(1)).ok());
  EXPECT_EQ(Rows(*db), 1);
  EXPECT_EQ(trail.queued(), 0u);
}

TEST(BatchedAuditTrail, WritesABatchWithinItsIntervalAndEveryRowOnStop) {
  auto db = FreshDb("batched.db");
  BatchedAuditTrail trail(*db, {.interval = milliseconds(200), .batch_rows = 1000});
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(trail.Append(Row(i)).ok());
  // Not on the request's thread: the rows wait in memory first.
  EXPECT_EQ(Rows(*db), 0);
  EXPECT_EQ(trail.queued(), 10u);
  ASSERT_TRUE(trail.Flush().ok());
  EXPECT_EQ(Rows(*db), 10);
  EXPECT_EQ(trail.queued(), 0u);
  // The fields land where they belong, in order.
  auto rows = db->Query(
      "SELECT cluster, at, user_name, kind, content_id, result, detail FROM license_audit "
      "ORDER BY id");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[3].Text(0), "ROOT");
  EXPECT_EQ((*rows)[3].Int(1), 1800000003);
  EXPECT_EQ((*rows)[3].Text(4), "content-3");
  EXPECT_EQ((*rows)[3].Text(5), "AccessGranted");

  for (int i = 10; i < 25; ++i) ASSERT_TRUE(trail.Append(Row(i)).ok());
  trail.Stop();
  EXPECT_EQ(Rows(*db), 25);
  auto late = trail.Append(Row(99));
  EXPECT_EQ(late.code(), Code::kFailedPrecondition);
  EXPECT_EQ(late.message(), "the license audit trail is stopped");
}

TEST(BatchedAuditTrail, AFullBatchIsWrittenBeforeItsInterval) {
  auto db = FreshDb("full.db");
  BatchedAuditTrail trail(*db, {.interval = std::chrono::hours(1), .batch_rows = 5});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(trail.Append(Row(i)).ok());
  ASSERT_TRUE(trail.Flush().ok());  // would wait an hour if the batch waited
  EXPECT_EQ(Rows(*db), 5);
}

TEST(BatchedAuditTrail, AFullQueueHoldsTheCallerInsteadOfDroppingRows) {
  auto db = FreshDb("pressure.db");
  // The store is held by another writer: the trail cannot write.
  auto other = store::OpenSqlite((std::filesystem::temp_directory_path() /
                                  ("openrms-audit-" + std::to_string(::getpid())) / "pressure.db")
                                     .string());
  ASSERT_TRUE(other.ok());
  std::promise<void> release;
  std::promise<void> holding;
  std::thread blocker([&] {
    (void)(*other)->InTransaction([&](store::Database& tx) {
      (void)tx.Execute(
          "INSERT INTO license_audit (cluster, at, user_name, kind, content_id, "
          "result, detail) VALUES ('X', 0, 'x', 'use', 'x', 'x', 'x')");
      holding.set_value();
      release.get_future().wait();
      return Status::Ok();
    });
  });
  holding.get_future().wait();
  BatchedAuditTrail trail(*db, {.interval = milliseconds(10), .batch_rows = 2, .max_queued = 2});
  ASSERT_TRUE(trail.Append(Row(0)).ok());
  ASSERT_TRUE(trail.Append(Row(1)).ok());
  // The writer took those two and waits on the lock; two more fill the queue.
  std::this_thread::sleep_for(milliseconds(50));
  ASSERT_TRUE(trail.Append(Row(2)).ok());
  ASSERT_TRUE(trail.Append(Row(3)).ok());
  auto third = std::async(std::launch::async, [&] { return trail.Append(Row(4)); });
  EXPECT_EQ(third.wait_for(milliseconds(200)), std::future_status::timeout)
      << "a full queue makes the caller wait";
  release.set_value();
  blocker.join();
  ASSERT_TRUE(third.get().ok());
  trail.Stop();
  EXPECT_EQ(Rows(*db), 6);  // the blocker's row and all five
}

TEST(BatchedAuditTrail, WhileTheStoreRefusesNewRowsAreRefusedAndQueuedRowsAreKept) {
  auto db = FreshDb("refuse.db");
  BatchedAuditTrail trail(*db, {.interval = milliseconds(10)});
  ASSERT_TRUE(db->Execute("ALTER TABLE license_audit RENAME TO away").ok());
  ASSERT_TRUE(trail.Append(Row(1)).ok());
  const Status failed = trail.Flush();
  EXPECT_FALSE(failed.ok());
  auto refused = trail.Append(Row(2));
  // A missing table is no outage: the write's own code, not kUnavailable.
  EXPECT_EQ(refused.code(), failed.code());
  EXPECT_EQ(refused.code(), Code::kIo);
  EXPECT_EQ(refused.message().rfind("the license audit trail cannot be written (", 0), 0u)
      << refused.message();
  EXPECT_NE(refused.message().find("): licensing is refused until it can"), std::string::npos);
  EXPECT_EQ(trail.queued(), 1u);
  // The store comes back: the kept row is written, and rows are taken again.
  ASSERT_TRUE(db->Execute("ALTER TABLE away RENAME TO license_audit").ok());
  for (int i = 0; i < 100 && trail.queued() > 0; ++i) std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(Rows(*db), 1);
  EXPECT_TRUE(trail.Append(Row(3)).ok());
  trail.Stop();
  EXPECT_EQ(Rows(*db), 2);
}

TEST(BatchedAuditTrail, ManyThreadsLoseNoRow) {
  auto db = FreshDb("threads.db");
  BatchedAuditTrail trail(*db, {.interval = milliseconds(5), .batch_rows = 64, .max_queued = 128});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) EXPECT_TRUE(trail.Append(Row(t * 1000 + i)).ok());
    });
  }
  for (auto& t : threads) t.join();
  trail.Stop();
  EXPECT_EQ(Rows(*db), 2000);
}

}  // namespace
}  // namespace openrms::licensing
