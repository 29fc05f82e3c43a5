#include "cluster/cluster.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "cluster/cluster_store.h"
#include "cluster/monitor.h"
#include "cluster/renewal_plan.h"
#include "cluster/slc.h"
#include "crypto/encoding.h"
#include "support/postgres_server.h"

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

// Runs on SQLite and on PostgreSQL (one server for this program, a fresh
// database per test).
class StagedImportTest : public ::testing::TestWithParam<store::Dialect> {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("openrms-cluster-" + std::to_string(getpid()) + ".db"))
                .string();
    std::filesystem::remove(path_);
    if (GetParam() == store::Dialect::kSqlite) {
      db_ = std::move(store::OpenSqlite(path_)).value();
    } else {
      static auto server = testing::PostgresServer::Start();
      ASSERT_TRUE(server.ok()) << server.status().ToString();
      static int databases = 0;
      const std::string name = "cluster" + std::to_string(++databases);
      ASSERT_TRUE((*server)->CreateDatabase(name).ok());
      db_ = std::move(store::OpenPostgres((*server)->conninfo(name))).value();
    }
    ASSERT_TRUE(ClusterStore::Migrate(*db_).ok());
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::string path_;
  std::unique_ptr<store::Database> db_;
  const Time now_ = *ParseTime("2026-06-01T12:00");
};

INSTANTIATE_TEST_SUITE_P(Engines, StagedImportTest,
                         ::testing::Values(store::Dialect::kSqlite, store::Dialect::kPostgres),
                         [](const auto& info) {
                           return info.param == store::Dialect::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST_P(StagedImportTest, TakenOnceByItsUserForItsCluster) {
  ClusterStore store(*db_);
  ASSERT_TRUE(store.StageImport("id1", "alice", "ROOT", "<chain/>", now_).ok());
  EXPECT_EQ(store.StageImport("id1", "alice", "ROOT", "<other/>", now_).code(), Code::kAlreadyUsed);
  auto file = store.TakeStagedImport("id1", "alice", "ROOT", now_ + std::chrono::minutes(59));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(*file, "<chain/>");
  EXPECT_EQ(store.TakeStagedImport("id1", "alice", "ROOT", now_).status().code(), Code::kNotFound);
}

TEST_P(StagedImportTest, AnotherUserOrClusterIsRefusedAndSpendsTheId) {
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

TEST_P(StagedImportTest, ExpiredFilesArePurged) {
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

TEST_P(StagedImportTest, DatabaseMigratedByTheOldAdminSiteKeepsItsTable) {
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

// The cluster key's source: sealed in the row, or a token key by URI.
// The key columns on both engines too.
class KeySourceTest : public StagedImportTest {};
INSTANTIATE_TEST_SUITE_P(Engines, KeySourceTest,
                         ::testing::Values(store::Dialect::kSqlite, store::Dialect::kPostgres),
                         [](const auto& info) {
                           return info.param == store::Dialect::kSqlite ? "Sqlite" : "Postgres";
                         });

ClusterConfig SealedCluster(const std::string& name, Time at) {
  ClusterConfig c;
  c.name = name;
  c.url = "https://rms.example/_wmcs";
  c.guid = "{guid}";
  c.public_key = "PUBLIC";
  c.sealed_key = "-----BEGIN ENCRYPTED PRIVATE KEY-----...";
  c.created_at = at;
  return c;
}

TEST_P(KeySourceTest, KeyMovesToATokenOnceAndTheSealedKeyIsCleared) {
  ClusterStore store(*db_);
  ASSERT_TRUE(store.Create(SealedCluster("ROOT", now_)).ok());
  auto before = store.Find("ROOT");
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->key_uri, "");
  const std::string uri = "pkcs11:token=T;object=root";
  EXPECT_EQ(store.MoveKeyToToken("ROOT", "ANOTHER", uri, now_, "cli:test").code(),
            Code::kFailedPrecondition);
  ASSERT_TRUE(store.MoveKeyToToken("ROOT", "PUBLIC", uri, now_, "cli:test").ok());
  auto after = store.Find("ROOT");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->key_uri, uri);
  EXPECT_EQ(after->sealed_key, "");
  Status again = store.MoveKeyToToken("ROOT", "PUBLIC", uri, now_, "cli:test");
  EXPECT_EQ(again.code(), Code::kFailedPrecondition);
  EXPECT_EQ(again.message(),
            "the key of cluster ROOT changed while it was being moved (another node may have "
            "moved it): nothing was switched; look at the cluster again");
  auto log = store.AuditLog("ROOT");
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].action, "move-key");
  EXPECT_EQ((*log)[0].detail, "the cluster key now lives in " + uri);
}

class NoTransport final : public IssuerTransport {
 public:
  Result<std::string> PostSoap(const std::string&, const std::string&, const std::string&,
                               const std::string&) override {
    return Status(Code::kUnavailable, "no network in this test");
  }
};

TEST_P(KeySourceTest, TokenKeyWithoutAModuleNamesTheOptions) {
  ClusterStore store(*db_);
  ClusterConfig c = SealedCluster("ROOT", now_);
  c.sealed_key = "";
  c.key_uri = "pkcs11:token=T;object=root";
  ASSERT_TRUE(store.Create(c).ok());
  NoTransport transport;
  ClusterService service(store, {DefaultClock(), crypto::SystemRandom(), transport});
  auto key = service.ClusterKey("ROOT", "password");
  EXPECT_EQ(key.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(key.status().message(),
            "the key of cluster ROOT lives in a PKCS#11 token (pkcs11:token=T;object=root): give "
            "this node its module and PIN (--pkcs11-module PATH, and --pin-file FILE or "
            "$OPENRMS_PKCS11_PIN)");
  auto moved = service.MoveKeyToToken("ROOT", "password", "pkcs11:token=T;object=x", "test");
  EXPECT_EQ(moved.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(moved.status().message(),
            "the key of cluster ROOT is in a PKCS#11 token already (pkcs11:token=T;object=root)");
}

}  // namespace
}  // namespace openrms::cluster
