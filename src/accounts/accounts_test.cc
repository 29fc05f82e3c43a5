#include "accounts/accounts.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "crypto/password_hash.h"

namespace openrms::accounts {
namespace {

constexpr char kHere[] = "127.0.0.1";

class AccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("openrms-accounts-" + std::to_string(getpid()) + ".db"))
                .string();
    std::filesystem::remove(path_);
    db_ = std::move(store::OpenSqlite(path_)).value();
    ASSERT_TRUE(AccountStore::Migrate(*db_).ok());
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::string path_;
  std::unique_ptr<store::Database> db_;
  FakeClock clock_{*ParseTime("2026-06-01T12:00")};
  DeterministicRandom random_{7};
};

TEST_F(AccountsTest, LocalLogonWithGroups) {
  AccountStore accounts(*db_, clock_);
  ASSERT_TRUE(accounts.AddUser("alice", "correct horse", {"Administrators"}).ok());
  EXPECT_EQ(accounts.AddUser("alice", "another one", {}).code(), Code::kAlreadyUsed);
  EXPECT_EQ(accounts.AddUser("bob", "short", {}).code(), Code::kInvalidArgument);
  LogonService logon(*db_, clock_, {&accounts});
  auto id = logon.LogOn("alice", "correct horse", kHere);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_TRUE(id->InGroup("administrators"));
  auto wrong = logon.LogOn("alice", "wrong horse", kHere);
  EXPECT_EQ(wrong.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(wrong.status().message(), "the user name or password is wrong");
  EXPECT_EQ(logon.LogOn("nobody", "correct horse", kHere).status().message(),
            "the user name or password is wrong");
}

TEST_F(AccountsTest, NamesAreNotCaseSensitive) {
  AccountStore accounts(*db_, clock_);
  ASSERT_TRUE(accounts.AddUser("bob", "bob password", {"Staff"}).ok());
  Status twin = accounts.AddUser("BOB", "another password", {"Administrators"});
  EXPECT_EQ(twin.code(), Code::kAlreadyUsed);
  EXPECT_EQ(twin.message(),
            "a user named \"bob\" already exists (user names are not case-sensitive)");
  EXPECT_EQ(accounts.AddUser("bob", "another password", {}).message(),
            "a user named \"bob\" already exists");
  EXPECT_EQ(accounts.AddUser("\xc3\x89mile", "emile password", {}).code(), Code::kInvalidArgument);

  LogonService logon(*db_, clock_, {&accounts});
  auto id = logon.LogOn("BOB", "bob password", kHere);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->user, "bob");  // the stored spelling
  EXPECT_EQ(id->groups, std::vector<std::string>{"Staff"});

  ASSERT_TRUE(accounts.SetPassword("Bob", "new bob password").ok());
  ASSERT_TRUE(accounts.AddToGroup("BOB", "Auditors").ok());
  ASSERT_TRUE(accounts.RemoveFromGroup("bOB", "Staff").ok());
  id = logon.LogOn("bob", "new bob password", kHere);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->groups, std::vector<std::string>{"Auditors"});
  EXPECT_EQ(accounts.SetPassword("carol", "carol password").code(), Code::kNotFound);

  // The throttle counts "BOB" and "bob" as one name.
  for (const char* name : {"BOB", "bob", "Bob", "bOb", "boB"}) {
    EXPECT_EQ(logon.LogOn(name, "guess", kHere).status().code(), Code::kUnauthenticated);
  }
  EXPECT_EQ(logon.LogOn("BoB", "new bob password", kHere).status().code(), Code::kPermissionDenied);

  ASSERT_TRUE(accounts.RemoveUser("BOB").ok());
  EXPECT_TRUE(accounts.ListUsers()->empty());
  // A new account of that name does not inherit the old one's groups.
  ASSERT_TRUE(accounts.AddUser("BOB", "new bob password", {}).ok());
  EXPECT_TRUE((*accounts.ListUsers())[0].groups.empty());
}

TEST_F(AccountsTest, FailuresFromOneAddressLeaveOthersAlone) {
  AccountStore accounts(*db_, clock_);
  ASSERT_TRUE(accounts.AddUser("admin", "admin password", {"Administrators"}).ok());
  LogonService logon(*db_, clock_, {&accounts});
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(logon.LogOn("admin", "guess", "127.0.0.1").status().code(), Code::kUnauthenticated);
  }
  auto held = logon.LogOn("admin", "admin password", "127.0.0.1");
  EXPECT_EQ(held.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(held.status().message(),
            "too many failed logons with this user name from 127.0.0.1: try again after "
            "2026-06-01 12:01 UTC (in 1 minute). Logons from other addresses are not affected.");
  auto elsewhere = logon.LogOn("admin", "admin password", "127.0.0.2");
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status().ToString();
  EXPECT_EQ(elsewhere->user, "admin");

  // A name that does not exist is held back the same way.
  for (int i = 0; i < 5; ++i) (void)logon.LogOn("nobody", "guess", "127.0.0.1");
  EXPECT_EQ(logon.LogOn("nobody", "guess", "127.0.0.1").status().message(),
            "too many failed logons with this user name from 127.0.0.1: try again after "
            "2026-06-01 12:01 UTC (in 1 minute). Logons from other addresses are not affected.");
}

TEST_F(AccountsTest, DelaysDoubleUpToTheCapAndSuccessClearsThem) {
  AccountStore accounts(*db_, clock_);
  ASSERT_TRUE(accounts.AddUser("alice", "correct horse", {}).ok());
  LogonService logon(*db_, clock_, {&accounts});
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(logon.LogOn("alice", "guess", kHere).ok());
  // After the 5th failure 1 minute, then 2, 4, 8, and 15 at most.
  for (int minutes : {1, 2, 4, 8, 15, 15}) {
    clock_.Advance(std::chrono::minutes(minutes) - std::chrono::seconds(1));
    auto held = logon.LogOn("alice", "correct horse", kHere);
    EXPECT_EQ(held.status().code(), Code::kPermissionDenied) << minutes;
    EXPECT_NE(held.status().message().find("(in 1 minute)"), std::string::npos)
        << held.status().message();
    clock_.Advance(std::chrono::seconds(1));
    EXPECT_EQ(logon.LogOn("alice", "guess", kHere).status().code(), Code::kUnauthenticated)
        << minutes;
  }
  auto held = logon.LogOn("alice", "correct horse", kHere);
  EXPECT_NE(held.status().message().find("(in 15 minutes)"), std::string::npos)
      << held.status().message();
  clock_.Advance(std::chrono::minutes(15));
  ASSERT_TRUE(logon.LogOn("alice", "correct horse", kHere).ok());
  // The success cleared the count: five immediate attempts again.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(logon.LogOn("alice", "guess", kHere).status().code(), Code::kUnauthenticated);
  }
  EXPECT_EQ(logon.LogOn("alice", "guess", kHere).status().code(), Code::kPermissionDenied);
  // An hour without attempts forgets the failures too.
  clock_.Advance(std::chrono::hours(1));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(logon.LogOn("alice", "guess", kHere).status().code(), Code::kUnauthenticated);
  }
}

// Counts the passwords actually checked.
class CountingAuthenticator final : public Authenticator {
 public:
  explicit CountingAuthenticator(Authenticator& inner) : inner_(inner) {}
  Result<Identity> Authenticate(const std::string& user, const std::string& password) override {
    ++calls;
    return inner_.Authenticate(user, password);
  }
  std::atomic<int> calls{0};

 private:
  Authenticator& inner_;
};

TEST_F(AccountsTest, ParallelGuessesAreEvaluatedAtMostUpToTheLimit) {
  AccountStore accounts(*db_, clock_);
  ASSERT_TRUE(accounts.AddUser("admin", "admin password", {}).ok());
  CountingAuthenticator counting(accounts);
  LogonService logon(*db_, clock_, {&counting});
  std::atomic<int> wrong{0}, held{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&] {
      const Code code = logon.LogOn("admin", "guess", "192.0.2.7").status().code();
      (code == Code::kUnauthenticated ? wrong : code == Code::kPermissionDenied ? held : other)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counting.calls.load(), 5);
  EXPECT_EQ(wrong.load(), 5);
  EXPECT_EQ(held.load(), 35);
  EXPECT_EQ(other.load(), 0);
}

TEST_F(AccountsTest, DistributedGuessingIsSlowedButNeverLocksTheAccount) {
  AccountStore accounts(*db_, clock_);
  ASSERT_TRUE(accounts.AddUser("admin", "admin password", {}).ok());
  LockoutPolicy policy;
  policy.account_ceiling = 10;
  LogonService logon(*db_, clock_, {&accounts}, policy);
  for (int i = 0; i < 10; ++i) {
    const std::string from = "198.51.100." + std::to_string(i);
    EXPECT_EQ(logon.LogOn("admin", "guess", from).status().code(), Code::kUnauthenticated);
  }
  // Past the ceiling each address gets one immediate attempt, then delays.
  EXPECT_EQ(logon.LogOn("admin", "guess", "203.0.113.1").status().code(), Code::kUnauthenticated);
  EXPECT_EQ(logon.LogOn("admin", "guess", "203.0.113.1").status().code(), Code::kPermissionDenied);
  EXPECT_EQ(logon.LogOn("admin", "guess", "198.51.100.0").status().code(), Code::kUnauthenticated);
  EXPECT_EQ(logon.LogOn("admin", "guess", "198.51.100.0").status().code(), Code::kPermissionDenied);
  // The administrator, from an address of their own, is let in at once.
  EXPECT_TRUE(logon.LogOn("admin", "admin password", "203.0.113.2").ok());
  clock_.Advance(std::chrono::minutes(1));
  EXPECT_TRUE(logon.LogOn("admin", "admin password", "203.0.113.1").ok());
}

TEST(SourceKeyTest, IPv6CountsPerSlash64) {
  EXPECT_EQ(SourceKey("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(SourceKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(SourceKey("2001:db8:1:2::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(SourceKey("::ffff:10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(SourceKey(""), "");
}

TEST_F(AccountsTest, MigrationKeepsNamesThatDifferOnlyInCaseButRefusesThem) {
  // The schema as it was before names became case-insensitive.
  db_.reset();
  std::filesystem::remove(path_);
  db_ = std::move(store::OpenSqlite(path_)).value();
  ASSERT_TRUE(
      store::Migrate(
          *db_, "accounts",
          {"CREATE TABLE accounts (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created_at "
           "INTEGER NOT NULL)",
           "CREATE TABLE account_groups (name TEXT NOT NULL, group_name TEXT NOT NULL, PRIMARY KEY "
           "(name, group_name))",
           "CREATE TABLE logon_failures (name TEXT PRIMARY KEY, failures INTEGER NOT NULL, "
           "locked_until INTEGER)",
           "CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, purpose TEXT NOT NULL, name TEXT "
           "NOT NULL, groups TEXT NOT NULL, csrf TEXT NOT NULL, created_at INTEGER NOT NULL, "
           "last_seen INTEGER NOT NULL)"})
          .ok());
  auto add = [&](const std::string& name, const std::string& password, const std::string& group) {
    ASSERT_TRUE(db_->Execute("INSERT INTO accounts (name, password_hash, created_at) VALUES ($1, "
                             "$2, 0)",
                             {name, *crypto::HashPassword(password)})
                    .ok());
    ASSERT_TRUE(
        db_->Execute("INSERT INTO account_groups (name, group_name) VALUES ($1, $2)", {name, group})
            .ok());
  };
  add("bob", "bob password", "Staff");
  add("BOB", "BOB password", "Administrators");
  add("Admin", "admin password", "Administrators");
  // The old lock of the administrator.
  ASSERT_TRUE(db_->Execute("INSERT INTO logon_failures (name, failures, locked_until) VALUES "
                           "('Admin', 0, 99999999999)")
                  .ok());

  ASSERT_TRUE(AccountStore::Migrate(*db_).ok());
  ASSERT_TRUE(AccountStore::Migrate(*db_).ok());  // idempotent
  AccountStore accounts(*db_, clock_);
  LogonService logon(*db_, clock_, {&accounts});
  ASSERT_EQ(accounts.ListUsers()->size(), 3u);  // nothing lost

  auto admin = logon.LogOn("admin", "admin password", kHere);
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  EXPECT_EQ(admin->user, "Admin");

  auto ambiguous = logon.LogOn("bob", "bob password", kHere);
  EXPECT_EQ(ambiguous.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(ambiguous.status().message(),
            "the user name \"bob\" belongs to several accounts whose names differ only in case, "
            "made before user names became case-insensitive: none of them can log on until an "
            "administrator removes all but one (openrms user remove NAME)");
  EXPECT_EQ(logon.LogOn("BOB", "BOB password", "10.0.0.1").status().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(logon.LogOn("Bob", "wrong", "10.0.0.2").status().code(), Code::kUnauthenticated);
  EXPECT_EQ(accounts.AddUser("boB", "yet another", {}).code(), Code::kAlreadyUsed);
  Status which = accounts.RemoveUser("Bob");
  EXPECT_EQ(which.code(), Code::kFailedPrecondition);
  EXPECT_EQ(which.message(),
            "the user name \"Bob\" matches several accounts that differ only in case (BOB, bob): "
            "give one of them exactly");

  ASSERT_TRUE(accounts.RemoveUser("BOB").ok());
  auto bob = logon.LogOn("Bob", "bob password", "10.0.0.3");
  ASSERT_TRUE(bob.ok()) << bob.status().ToString();
  EXPECT_EQ(bob->user, "bob");
  EXPECT_EQ(bob->groups, std::vector<std::string>{"Staff"});
  EXPECT_EQ(accounts.AddUser("BOB", "yet another", {}).code(), Code::kAlreadyUsed);
}

TEST_F(AccountsTest, SessionsExpire) {
  SessionStore sessions(*db_, clock_, random_);
  auto token = sessions.Create({"alice", {"Administrators"}, "local"});
  ASSERT_TRUE(token.ok());
  auto s = sessions.Find(*token);
  ASSERT_TRUE(s.ok() && s->has_value());
  EXPECT_EQ((*s)->user, "alice");
  EXPECT_EQ((*s)->groups, std::vector<std::string>{"Administrators"});
  EXPECT_FALSE((*s)->csrf_token.empty());
  EXPECT_FALSE(sessions.Find("forged")->has_value());
  clock_.Advance(std::chrono::minutes(31));  // idle too long
  EXPECT_FALSE(sessions.Find(*token)->has_value());
}

TEST_F(AccountsTest, ExpiredSessionsArePurgedAtMostOnceAMinute) {
  SessionStore sessions(*db_, clock_, random_, "admin", std::chrono::seconds(30));
  SessionStore bearer(*db_, clock_, random_, "bearer", std::chrono::seconds(30));
  auto count = [&](const std::string& purpose) {
    return db_->Query("SELECT COUNT(*) FROM sessions WHERE purpose = $1", {purpose})
        .value()[0]
        .Int(0);
  };
  ASSERT_TRUE(sessions.Create({"alice", {}, "local"}).ok());
  ASSERT_TRUE(bearer.Create({"alice", {}, "local"}).ok());
  clock_.Advance(std::chrono::seconds(40));  // both expired
  ASSERT_TRUE(sessions.Create({"bob", {}, "local"}).ok());
  EXPECT_EQ(count("admin"), 2);  // the last purge was less than a minute ago
  clock_.Advance(std::chrono::seconds(30));
  ASSERT_TRUE(sessions.Create({"carol", {}, "local"}).ok());
  EXPECT_EQ(count("admin"), 1);   // alice's and bob's are gone
  EXPECT_EQ(count("bearer"), 1);  // another purpose, purged by its own store
  ASSERT_TRUE(bearer.Create({"carol", {}, "local"}).ok());
  EXPECT_EQ(count("bearer"), 1);
}

// A local group change applies to the account's live sessions of every
// purpose at once, and leaves a directory user of the same name alone.
TEST_F(AccountsTest, LocalGroupChangesReachLiveSessions) {
  AccountStore accounts(*db_, clock_);
  ASSERT_TRUE(accounts.AddUser("frank", "frank's password", {"Finance"}).ok());
  SessionStore admin(*db_, clock_, random_);
  SessionStore bearer(*db_, clock_, random_, "bearer");
  auto web = admin.Create({"frank", {"Finance"}, "local"});
  auto token = bearer.Create({"frank", {"Finance"}, "local"});
  auto other = bearer.Create({"frank", {"Ldap-Finance"}, "directory"});
  ASSERT_TRUE(web.ok() && token.ok() && other.ok());
  auto groups = [](SessionStore& store, const std::string& t) {
    auto s = store.Find(t);
    EXPECT_TRUE(s.ok() && s->has_value());
    return s.ok() && s->has_value() ? (*s)->groups : std::vector<std::string>{"(none)"};
  };

  ASSERT_TRUE(accounts.AddToGroup("FRANK", "Sales").ok());
  EXPECT_EQ(groups(admin, *web), (std::vector<std::string>{"Finance", "Sales"}));
  EXPECT_EQ(groups(bearer, *token), (std::vector<std::string>{"Finance", "Sales"}));
  ASSERT_TRUE(accounts.AddToGroup("frank", "Sales").ok());  // already: no change
  ASSERT_TRUE(accounts.RemoveFromGroup("frank", "Finance").ok());
  EXPECT_EQ(groups(admin, *web), std::vector<std::string>{"Sales"});
  EXPECT_EQ(groups(bearer, *token), std::vector<std::string>{"Sales"});
  ASSERT_TRUE(accounts.RemoveFromGroup("frank", "Sales").ok());
  EXPECT_EQ(groups(bearer, *token), std::vector<std::string>{});
  EXPECT_EQ(groups(bearer, *other), std::vector<std::string>{"Ldap-Finance"});
}

// A scripted group source: what the directory says about each user.
class ScriptedGroups final : public GroupSource {
 public:
  std::string_view name() const override { return "directory"; }
  Result<std::optional<std::vector<std::string>>> GroupsOf(const std::string& user) override {
    ++asked;
    if (down) return Status(Code::kUnavailable, "the directory at ldaps://x cannot be reached");
    auto it = groups.find(user);
    if (it == groups.end()) return std::optional<std::vector<std::string>>();
    return std::optional<std::vector<std::string>>(it->second);
  }
  std::map<std::string, std::vector<std::string>> groups;
  bool down = false;
  int asked = 0;
};

// Sessions of directory users take their groups from the directory at each
// look-up; a user it no longer holds loses every session, and an outage
// keeps the groups last known. Local sessions never ask it.
TEST_F(AccountsTest, DirectorySessionsFollowTheDirectory) {
  ScriptedGroups directory;
  directory.groups = {{"bob", {"Staff", "Finance"}}, {"carol", {"Staff"}}};
  SessionStore bearer(*db_, clock_, random_, "bearer");
  SessionStore admin(*db_, clock_, random_);
  bearer.set_group_source(&directory);
  admin.set_group_source(&directory);
  auto bob = bearer.Create({"bob", {"Staff", "Finance"}, "directory"});
  auto bob_web = admin.Create({"bob", {"Staff", "Finance"}, "directory"});
  auto carol = bearer.Create({"carol", {"Staff"}, "directory"});
  auto local = bearer.Create({"dave", {"Staff"}, "local"});
  ASSERT_TRUE(bob.ok() && bob_web.ok() && carol.ok() && local.ok());

  // The same groups in another order are no change.
  directory.groups["bob"] = {"Finance", "Staff"};
  auto same = bearer.Find(*bob);
  ASSERT_TRUE(same.ok() && same->has_value());
  EXPECT_EQ((*same)->groups, (std::vector<std::string>{"Staff", "Finance"}));

  directory.groups["bob"] = {"Staff"};
  auto changed = bearer.Find(*bob);
  ASSERT_TRUE(changed.ok() && changed->has_value());
  EXPECT_EQ((*changed)->groups, std::vector<std::string>{"Staff"});
  // Stored for every session of bob's, which a node without a directory
  // (or in an outage) reads as they are.
  SessionStore plain(*db_, clock_, random_);
  EXPECT_EQ(plain.Find(*bob_web)->value().groups, std::vector<std::string>{"Staff"});

  directory.down = true;
  auto outage = bearer.Find(*bob);
  ASSERT_TRUE(outage.ok()) << outage.status().ToString();
  ASSERT_TRUE(outage->has_value());
  EXPECT_EQ((*outage)->groups, std::vector<std::string>{"Staff"});
  directory.down = false;

  const int asked = directory.asked;
  auto dave = bearer.Find(*local);
  ASSERT_TRUE(dave.ok() && dave->has_value());
  EXPECT_EQ(directory.asked, asked);  // a local session never asks

  directory.groups.erase("bob");
  EXPECT_FALSE(bearer.Find(*bob)->has_value());
  EXPECT_FALSE(plain.Find(*bob_web)->has_value());  // every purpose
  auto still = bearer.Find(*carol);
  ASSERT_TRUE(still.ok() && still->has_value());
  EXPECT_EQ((*still)->user, "carol");
}

}  // namespace
}  // namespace openrms::accounts
