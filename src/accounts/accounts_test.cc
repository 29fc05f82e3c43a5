#include "accounts/accounts.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace openrms::accounts {
namespace {

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
  auto id = logon.LogOn("alice", "correct horse");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_TRUE(id->InGroup("administrators"));
  auto wrong = logon.LogOn("alice", "wrong horse");
  EXPECT_EQ(wrong.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(wrong.status().message(), "the user name or password is wrong");
  EXPECT_EQ(logon.LogOn("nobody", "correct horse").status().message(),
            "the user name or password is wrong");
}

TEST_F(AccountsTest, LockoutAfterRepeatedFailures) {
  AccountStore accounts(*db_, clock_);
  ASSERT_TRUE(accounts.AddUser("alice", "correct horse", {}).ok());
  LogonService logon(*db_, clock_, {&accounts});
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(logon.LogOn("alice", "guess").ok());
  auto locked = logon.LogOn("alice", "correct horse");
  EXPECT_EQ(locked.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(locked.status().message(),
            "too many failed logons: the account is locked until 2026-06-01 12:15 UTC");
  clock_.Advance(std::chrono::minutes(16));
  EXPECT_TRUE(logon.LogOn("alice", "correct horse").ok());
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

}  // namespace
}  // namespace openrms::accounts
