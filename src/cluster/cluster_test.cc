#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "cluster/cluster_store.h"
#include "cluster/monitor.h"
#include "cluster/renewal_plan.h"
#include "cluster/slc.h"

namespace openrms::cluster {
namespace {

TEST(SlcState, ThresholdsOfTheOriginalSystem) {
  const Time expires = *ParseTime("2027-01-31T00:00");
  const ExpiryPolicy policy;  // 30 and 7 days
  EXPECT_EQ(StateAt(expires - Days(31), expires, policy), SlcState::kValid);
  EXPECT_EQ(StateAt(expires - Days(30), expires, policy), SlcState::kRenewalDue);
  EXPECT_EQ(StateAt(expires - Days(8), expires, policy), SlcState::kRenewalDue);
  EXPECT_EQ(StateAt(expires - Days(7), expires, policy), SlcState::kExpiring);
  EXPECT_EQ(StateAt(expires - Duration(1), expires, policy), SlcState::kExpiring);
  EXPECT_EQ(StateAt(expires, expires, policy), SlcState::kExpired);
  EXPECT_EQ(SlcStateName(SlcState::kRenewalDue), "renewal due");
}

TEST(RenewalPlan, LocalRuleIsTwoThirdsGiveOrTakeOnePercent) {
  const Time from = *ParseTime("2026-01-01T00:00");
  const RenewalWindow w = LocalRenewalWindow(from, from + Days(300));
  EXPECT_EQ(w.start, from + Days(197));
  EXPECT_EQ(w.end, from + Days(203));
  EXPECT_EQ(WindowSourceName(WindowSource::kLocalRule), "local rule");
  EXPECT_EQ(WindowSourceName(WindowSource::kIssuer), "issuer");
}

TEST(RenewalPlan, RandomMomentIsInsideTheWindowAndSpreads) {
  const Time from = *ParseTime("2026-01-01T00:00");
  const RenewalWindow w{from, from + Days(10)};
  DeterministicRandom random(7);
  std::set<long> days;
  for (int i = 0; i < 200; ++i) {
    const Time t = RandomMomentIn(w, random);
    ASSERT_GE(t, w.start);
    ASSERT_LT(t, w.end);
    days.insert((t - from).count() / 86400);
  }
  EXPECT_EQ(days.size(), 10u) << "not spread over the window";
  EXPECT_EQ(RandomMomentIn({from, from}, random), from);
}

TEST(RenewalPlan, StoredMomentIsKeptUntilTheWindowOrCertificateChanges) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("openrms-plan-" + std::to_string(getpid()) + ".db"))
                               .string();
  std::filesystem::remove(path);
  auto db = std::move(store::OpenSqlite(path)).value();
  ASSERT_TRUE(ClusterStore::Migrate(*db).ok());
  RenewalPlanStore plans(*db);
  const Time from = *ParseTime("2026-01-01T00:00");
  RenewalPlan wanted;
  wanted.certificate_id = "{a}";
  wanted.window = {from, from + Days(30)};
  DeterministicRandom one(1), two(2);
  auto first = plans.Choose("ROOT", wanted, one);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(first->renew_at);
  // Another node (another random stream), or a restart: the same moment.
  wanted.fetch_error = "cannot connect";
  auto second = plans.Choose("ROOT", wanted, two);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->renew_at, first->renew_at);
  EXPECT_EQ(second->fetch_error, "cannot connect");
  EXPECT_EQ((*plans.Find("ROOT"))->renew_at, first->renew_at);
  // The issuer moves the window: a new moment inside the new one.
  wanted.window = {from - Days(2), from - Days(1)};
  wanted.source = WindowSource::kIssuer;
  wanted.explanation_url = "https://status.example.test/7";
  auto moved = plans.Choose("ROOT", wanted, two);
  ASSERT_TRUE(moved.ok());
  EXPECT_GE(*moved->renew_at, from - Days(2));
  EXPECT_LT(*moved->renew_at, from - Days(1));
  EXPECT_EQ(moved->source, WindowSource::kIssuer);
  EXPECT_EQ(moved->explanation_url, "https://status.example.test/7");
  // A new certificate: a new plan.
  wanted.certificate_id = "{b}";
  wanted.window = {from + Days(100), from + Days(130)};
  EXPECT_GE(*plans.Choose("ROOT", wanted, one)->renew_at, from + Days(100));
  EXPECT_FALSE(*plans.Find("OTHER"));
  std::filesystem::remove(path);
}

class StagedImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("openrms-cluster-" + std::to_string(getpid()) + ".db"))
                .string();
    std::filesystem::remove(path_);
    db_ = std::move(store::OpenSqlite(path_)).value();
    ASSERT_TRUE(ClusterStore::Migrate(*db_).ok());
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::string path_;
  std::unique_ptr<store::Database> db_;
  const Time now_ = *ParseTime("2026-06-01T12:00");
};

TEST_F(StagedImportTest, TakenOnceByItsUserForItsCluster) {
  ClusterStore store(*db_);
  ASSERT_TRUE(store.StageImport("id1", "alice", "ROOT", "<chain/>", now_).ok());
  EXPECT_EQ(store.StageImport("id1", "alice", "ROOT", "<other/>", now_).code(), Code::kAlreadyUsed);
  auto file = store.TakeStagedImport("id1", "alice", "ROOT", now_ + std::chrono::minutes(59));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(*file, "<chain/>");
  EXPECT_EQ(store.TakeStagedImport("id1", "alice", "ROOT", now_).status().code(), Code::kNotFound);
}

TEST_F(StagedImportTest, AnotherUserOrClusterIsRefusedAndSpendsTheId) {
  ClusterStore store(*db_);
  ASSERT_TRUE(store.StageImport("id1", "alice", "ROOT", "<chain/>", now_).ok());
  ASSERT_TRUE(store.StageImport("id2", "alice", "ROOT", "<chain/>", now_).ok());
  EXPECT_EQ(store.TakeStagedImport("id1", "mallory", "ROOT", now_).status().code(),
            Code::kNotFound);
  EXPECT_EQ(store.TakeStagedImport("id2", "alice", "LIC", now_).status().code(), Code::kNotFound);
  // The administration site's behaviour: a wrong confirmation spends the id.
  EXPECT_EQ(store.TakeStagedImport("id1", "alice", "ROOT", now_).status().code(), Code::kNotFound);
  EXPECT_EQ(store.TakeStagedImport("id2", "alice", "ROOT", now_).status().code(), Code::kNotFound);
}

TEST_F(StagedImportTest, ExpiredFilesArePurged) {
  ClusterStore store(*db_);
  ASSERT_TRUE(store.StageImport("old", "alice", "ROOT", "<old/>", now_).ok());
  const Time later = now_ + kStagedImportLifetime + Duration(1);
  ASSERT_TRUE(store.StageImport("new", "alice", "ROOT", "<new/>", later).ok());
  auto rows = db_->Query("SELECT id FROM admin_staged_imports");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);  // staging purged the expired file
  EXPECT_EQ((*rows)[0].Text(0), "new");
  ASSERT_TRUE(store.StageImport("old", "alice", "ROOT", "<old/>", now_).ok());
  EXPECT_EQ(store.TakeStagedImport("old", "alice", "ROOT", later).status().code(), Code::kNotFound);
  EXPECT_TRUE(store.TakeStagedImport("new", "alice", "ROOT", later).ok());
}

TEST_F(StagedImportTest, DatabaseMigratedByTheOldAdminSiteKeepsItsTable) {
  // Before the cluster store owned the table, the administration site
  // created it as component "admin", step 1; migrating again is a no-op.
  ClusterStore store(*db_);
  ASSERT_TRUE(store.StageImport("id1", "alice", "ROOT", "<chain/>", now_).ok());
  ASSERT_TRUE(ClusterStore::Migrate(*db_).ok());
  auto steps = db_->Query("SELECT step FROM schema_migrations WHERE component = 'admin'");
  ASSERT_TRUE(steps.ok());
  ASSERT_EQ(steps->size(), 1u);
  EXPECT_EQ((*steps)[0].Int(0), 1);
  EXPECT_TRUE(store.TakeStagedImport("id1", "alice", "ROOT", now_).ok());
}

}  // namespace
}  // namespace openrms::cluster
