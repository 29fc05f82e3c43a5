#include "cluster/cluster.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "cluster/cluster_store.h"
#include "cluster/monitor.h"
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

TEST(ExpiryMonitor, RenewalTimeIsTwoThirdsWithSmallStableJitter) {
  const Time from = *ParseTime("2026-01-01T00:00");
  const Time until = from + Days(300);
  const Time at = ExpiryMonitor::RenewalTime(from, until, "{a}");
  EXPECT_EQ(at, ExpiryMonitor::RenewalTime(from, until, "{a}"));  // every node agrees
  EXPECT_GE(at, from + Days(200) - Days(3));
  EXPECT_LE(at, from + Days(200) + Days(3));
  bool differs = false;
  for (const char* id : {"{b}", "{c}", "{d}", "{e}"}) {
    differs |= ExpiryMonitor::RenewalTime(from, until, id) != at;
  }
  EXPECT_TRUE(differs) << "no jitter";
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
class KeySourceTest : public StagedImportTest {};

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

TEST_F(KeySourceTest, KeyMovesToATokenOnceAndTheSealedKeyIsCleared) {
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

TEST_F(KeySourceTest, TokenKeyWithoutAModuleNamesTheOptions) {
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
