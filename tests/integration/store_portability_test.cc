// Every component's schema and a sample of its queries, on a fresh SQLite
// file and a fresh PostgreSQL database: the SQL is portable, and the two
// engines end with the same tables and columns.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "accounts/accounts.h"
#include "accounts/directory.h"
#include "cluster/cluster_store.h"
#include "enrollment/service.h"
#include "licensing/licensing.h"
#include "store/database.h"
#include "support/postgres_server.h"

namespace openrms {
namespace {

Status MigrateEverything(store::Database& db) {
  RETURN_IF_ERROR(cluster::ClusterStore::Migrate(db));
  RETURN_IF_ERROR(enrollment::EnrollmentService::Migrate(db));
  RETURN_IF_ERROR(accounts::AccountStore::Migrate(db));
  RETURN_IF_ERROR(accounts::MigrateSettings(db));
  return licensing::LicensingService::Migrate(db);
}

// "table.column" for every column of every table, sorted.
std::vector<std::string> Columns(store::Database& db) {
  auto rows = db.dialect() == store::Dialect::kSqlite
                  ? db.Query(
                        "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p "
                        "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'")
                  : db.Query(
                        "SELECT table_name, column_name FROM information_schema.columns WHERE "
                        "table_schema = 'public'");
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  std::vector<std::string> out;
  if (rows.ok()) {
    for (const auto& r : *rows) out.push_back(r.Text(0) + "." + r.Text(1));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A sample of each store's queries: transactions with a failing statement
// inside, upserts, LIMIT $N, NULL dedupe keys, sums.
void ExerciseStores(store::Database& db) {
  FakeClock clock(*ParseTime("2026-06-01T12:00"));
  const Time now = clock.Now();

  accounts::AccountStore users(db, clock);
  ASSERT_TRUE(users.AddUser("Alice", "a long password 1", {"admins", "admins", "ops"}).ok());
  EXPECT_EQ(users.AddUser("ALICE", "a long password 2", {}).code(), Code::kAlreadyUsed);
  auto alice = users.Authenticate("alice", "a long password 1");
  ASSERT_TRUE(alice.ok()) << alice.status().ToString();
  EXPECT_EQ(alice->user, "Alice");
  EXPECT_EQ(alice->groups, (std::vector<std::string>{"admins", "ops"}));
  accounts::LogonService logons(db, clock, {&users});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(logons.LogOn("alice", "wrong", "192.0.2.1").status().code(), Code::kUnauthenticated);
  }
  EXPECT_TRUE(logons.LogOn("alice", "a long password 1", "192.0.2.2").ok());
  DeterministicRandom random(7);
  accounts::SessionStore sessions(db, clock, random);
  auto token = sessions.Create(*alice);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  auto session = sessions.Find(*token);
  ASSERT_TRUE(session.ok() && session->has_value());
  EXPECT_EQ((*session)->groups, alice->groups);
  // Group changes reach the live session (local) and follow a source (directory).
  ASSERT_TRUE(users.RemoveFromGroup("alice", "ops").ok());
  EXPECT_EQ(sessions.Find(*token)->value().groups, std::vector<std::string>{"admins"});
  ASSERT_TRUE(users.AddToGroup("alice", "auditors").ok());
  EXPECT_EQ(sessions.Find(*token)->value().groups,
            (std::vector<std::string>{"admins", "auditors"}));
  struct Directory final : accounts::GroupSource {
    std::string_view name() const override { return "directory"; }
    Result<std::optional<std::vector<std::string>>> GroupsOf(const std::string& user) override {
      if (user == "gone") return std::optional<std::vector<std::string>>();
      return std::optional<std::vector<std::string>>({"now"});
    }
  } directory;
  sessions.set_group_source(&directory);
  auto bob = sessions.Create({"bob", {"then"}, "directory"});
  auto gone = sessions.Create({"gone", {"then"}, "directory"});
  ASSERT_TRUE(bob.ok() && gone.ok());
  EXPECT_EQ(sessions.Find(*bob)->value().groups, std::vector<std::string>{"now"});
  EXPECT_FALSE(sessions.Find(*gone)->has_value());
  ASSERT_TRUE(users.RemoveUser("alice").ok());

  cluster::ClusterStore clusters(db);
  cluster::ClusterConfig config;
  config.name = "ROOT";
  config.url = "https://rms.example/_wmcs";
  config.guid = "{00000000-0000-4000-8000-000000000001}";
  config.created_at = now;
  ASSERT_TRUE(clusters.Create(config).ok());
  EXPECT_EQ(clusters.Create(config).code(), Code::kAlreadyUsed);
  cluster::SlcRecord slc{0,        "cert-1",    "<chain/>", now,     now, now + Days(365),
                         "issuer", "provision", now,        "tester"};
  auto first = clusters.Activate("ROOT", slc, std::nullopt, "tester", "installed");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  slc.certificate_id = "cert-2";
  auto second = clusters.Activate("ROOT", slc, *first, "tester", "renewed");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(clusters.Activate("ROOT", slc, *second, "tester", "again").status().code(),
            Code::kAlreadyUsed);
  ASSERT_EQ(clusters.Find("ROOT")->clc_days, 30);
  ASSERT_TRUE(clusters.SetClcValidity("ROOT", 7).ok());
  EXPECT_EQ(clusters.Find("ROOT")->clc_days, 7);
  EXPECT_EQ(clusters.SetClcValidity("NONE", 7).code(), Code::kNotFound);
  auto active = clusters.ActiveSlc("ROOT");
  ASSERT_TRUE(active.ok() && active->has_value());
  EXPECT_EQ((*active)->id, *second);
  const cluster::Event due{0, now, "warning", "renewal-due", "renew soon"};
  EXPECT_TRUE(*clusters.PostEvent("ROOT", due, std::string("2026-06")));
  EXPECT_FALSE(*clusters.PostEvent("ROOT", due, std::string("2026-06")));  // deduplicated
  EXPECT_TRUE(*clusters.PostEvent("ROOT", due));                           // no key: always new
  auto events = clusters.Events("ROOT", 2);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  EXPECT_EQ(events->size(), 2u);
  ASSERT_TRUE(clusters.TakeRenewalLease("ROOT", "node-a", now, now + Days(1)).ok());
  EXPECT_EQ(clusters.TakeRenewalLease("ROOT", "node-b", now, now + Days(1)).code(),
            Code::kFailedPrecondition);
  ASSERT_TRUE(clusters.StageImport("id", "alice", "ROOT", "<chain/>", now).ok());
  EXPECT_EQ(*clusters.TakeStagedImport("id", "alice", "ROOT", now), "<chain/>");
  auto audit = clusters.AuditLog("ROOT", 10);
  ASSERT_TRUE(audit.ok()) << audit.status().ToString();
  EXPECT_EQ(audit->size(), 2u);
}

// One PostgreSQL server for this program; each test gets a database.
testing::PostgresServer& Server() {
  static std::unique_ptr<testing::PostgresServer> server = [] {
    auto started = testing::PostgresServer::Start();
    if (!started.ok()) {
      std::fprintf(stderr, "%s\n", started.status().ToString().c_str());
      std::abort();
    }
    return std::move(started).value();
  }();
  return *server;
}

class StorePortabilityTest : public ::testing::TestWithParam<store::Dialect> {
 protected:
  void SetUp() override {
    static int databases = 0;
    const std::string name = "portability" + std::to_string(++databases);
    sqlite_path_ = (std::filesystem::temp_directory_path() /
                    ("openrms-" + name + "-" + std::to_string(getpid()) + ".db"))
                       .string();
    std::filesystem::remove(sqlite_path_);
    if (GetParam() == store::Dialect::kSqlite) {
      url_ = "sqlite:" + sqlite_path_;
    } else {
      ASSERT_TRUE(Server().CreateDatabase(name).ok());
      url_ = Server().url(name);
    }
    db_ = Open();
    ASSERT_NE(db_, nullptr);
    ASSERT_EQ(db_->dialect(), GetParam());
  }
  void TearDown() override { std::filesystem::remove(sqlite_path_); }

  // Another Database on the same store: another node.
  std::unique_ptr<store::Database> Open() {
    auto db = store::OpenDatabase(url_);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(db).value() : nullptr;
  }

  std::string sqlite_path_;
  std::string url_;
  std::unique_ptr<store::Database> db_;
};

INSTANTIATE_TEST_SUITE_P(Engines, StorePortabilityTest,
                         ::testing::Values(store::Dialect::kSqlite, store::Dialect::kPostgres),
                         [](const auto& info) {
                           return info.param == store::Dialect::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST_P(StorePortabilityTest, EveryComponentMigratesAndItsQueriesRun) {
  Status migrated = MigrateEverything(*db_);
  ASSERT_TRUE(migrated.ok()) << migrated.ToString();
  ASSERT_TRUE(MigrateEverything(*db_).ok());  // a second node, or a restart

  auto steps = db_->Query(
      "SELECT component, COUNT(*) FROM schema_migrations GROUP BY component ORDER BY component");
  ASSERT_TRUE(steps.ok()) << steps.status().ToString();
  std::vector<std::string> counts;
  for (const auto& r : *steps) counts.push_back(r.Text(0) + "=" + r.Text(1));
  EXPECT_EQ(counts, (std::vector<std::string>{"accounts=14", "admin=1", "cluster=14",
                                              "cluster-renewal-plan=1", "enrollment=11",
                                              "licensing=5", "settings=1"}));

  // Both engines end with the same tables and columns.
  const std::vector<std::string> columns = Columns(*db_);
  EXPECT_GT(columns.size(), 100u);
  if (GetParam() == store::Dialect::kPostgres) {
    auto sqlite = store::OpenSqlite(sqlite_path_);
    ASSERT_TRUE(sqlite.ok());
    ASSERT_TRUE(MigrateEverything(**sqlite).ok());
    EXPECT_EQ(columns, Columns(**sqlite));
    // No 32-bit integer column is left: times are nanoseconds.
    auto narrow = db_->Query(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
        "'public' AND data_type NOT IN ('bigint', 'text')");
    ASSERT_TRUE(narrow.ok()) << narrow.status().ToString();
    EXPECT_TRUE(narrow->empty()) << narrow->at(0).Text(0) << "." << narrow->at(0).Text(1);
  }
  ExerciseStores(*db_);
}

// Counts the passwords actually checked.
class CountingAuthenticator final : public accounts::Authenticator {
 public:
  explicit CountingAuthenticator(Authenticator& inner) : inner_(inner) {}
  Result<accounts::Identity> Authenticate(const std::string& user,
                                          const std::string& password) override {
    ++calls;
    return inner_.Authenticate(user, password);
  }
  std::atomic<int> calls{0};

 private:
  Authenticator& inner_;
};

// The throttle's attempt slots are taken in transactions: 40 parallel
// guesses over 4 nodes get exactly the 5 free slots, on either engine.
TEST_P(StorePortabilityTest, ParallelGuessesTakeOnlyTheFreeSlots) {
  ASSERT_TRUE(accounts::AccountStore::Migrate(*db_).ok());
  FakeClock clock(*ParseTime("2026-06-01T12:00"));
  accounts::AccountStore users(*db_, clock);
  ASSERT_TRUE(users.AddUser("admin", "admin password", {}).ok());
  CountingAuthenticator counting(users);
  std::vector<std::unique_ptr<store::Database>> nodes;
  std::vector<std::unique_ptr<accounts::LogonService>> logons;
  for (int i = 0; i < 4; ++i) {
    nodes.push_back(Open());
    logons.push_back(std::make_unique<accounts::LogonService>(
        *nodes.back(), clock, std::vector<accounts::Authenticator*>{&counting}));
  }
  std::atomic<int> wrong{0}, held{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&, i] {
      const Status s = logons[i % 4]->LogOn("admin", "guess", "192.0.2.7").status();
      if (s.code() == Code::kUnauthenticated) {
        ++wrong;
      } else if (s.code() == Code::kPermissionDenied) {
        ++held;
      } else {
        ++other;
        ADD_FAILURE() << s.ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counting.calls.load(), 5);
  EXPECT_EQ(wrong.load(), 5);
  EXPECT_EQ(held.load(), 35);
  EXPECT_EQ(other.load(), 0);
}

// One renewal per cluster across the nodes: of 8 nodes racing for the
// lease, exactly one gets it.
TEST_P(StorePortabilityTest, OneRenewalLeaseAmongRacingNodes) {
  ASSERT_TRUE(cluster::ClusterStore::Migrate(*db_).ok());
  const Time now = *ParseTime("2026-06-01T12:00");
  std::vector<std::unique_ptr<store::Database>> nodes;
  for (int i = 0; i < 8; ++i) nodes.push_back(Open());
  std::atomic<int> taken{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      cluster::ClusterStore store(*nodes[static_cast<size_t>(i)]);
      const Status s = store.TakeRenewalLease("ROOT", "node-" + std::to_string(i), now,
                                              now + std::chrono::minutes(10));
      if (s.ok()) {
        ++taken;
      } else if (s.code() == Code::kFailedPrecondition) {
        ++refused;
      } else {
        ADD_FAILURE() << s.ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(taken.load(), 1);
  EXPECT_EQ(refused.load(), 7);
}

}  // namespace
}  // namespace openrms
