// Directory ("domain") logons against a real OpenLDAP slapd that the test
// starts on loopback, over ldaps:// with its own test CA.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "accounts/directory.h"
#include "http/client.h"
#include "support/process.h"
#include "support/slapd.h"
#include "support/web_logon.h"

namespace openrms::testing {
namespace {

const std::string kBin = OPENRMS_BINARY;
constexpr const char* kUserDn = kDirectoryUserDn;
constexpr const char* kGroupBase = kDirectoryGroupBase;

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

class DirectoryLogonTest : public ::testing::Test {
 protected:
  TempDir tmp_;
  Slapd slapd_{tmp_.path()};
};

TEST_F(DirectoryLogonTest, BindAuthenticatesAndGroupsComeFromTheDirectory) {
  accounts::DirectoryAuthenticator directory(slapd_.Config());
  auto alice = directory.Authenticate("alice", "alice-directory-pw");
  ASSERT_TRUE(alice.ok()) << alice.status().ToString();
  EXPECT_EQ(alice->source, "directory");
  EXPECT_TRUE(alice->InGroup("Administrators"));
  EXPECT_TRUE(alice->InGroup("Staff"));
  auto bob = directory.Authenticate("bob", "bob-directory-pw");
  ASSERT_TRUE(bob.ok());
  EXPECT_FALSE(bob->InGroup("Administrators"));
  // The directory ignores case; the identity is spelled as the directory does.
  auto upper = directory.Authenticate("ALICE", "alice-directory-pw");
  ASSERT_TRUE(upper.ok()) << upper.status().ToString();
  EXPECT_EQ(upper->user, "alice");
  EXPECT_TRUE(upper->InGroup("Administrators"));

  EXPECT_EQ(directory.Authenticate("alice", "wrong").status().code(), Code::kUnauthenticated);
  EXPECT_EQ(directory.Authenticate("nobody", "x").status().code(), Code::kUnauthenticated);
  // An empty password would be an anonymous bind, which the server accepts.
  EXPECT_EQ(directory.Authenticate("alice", "").status().code(), Code::kUnauthenticated);
  // Injection attempts in the DN are escaped.
  EXPECT_EQ(directory.Authenticate("alice,ou=people", "alice-directory-pw").status().code(),
            Code::kUnauthenticated);
}

TEST_F(DirectoryLogonTest, UntrustedOrUnreachableDirectoryIsUnavailable) {
  accounts::DirectoryConfig wrong_ca = slapd_.Config();
  wrong_ca.ca_file = "/etc/ssl/certs/ca-certificates.crt";
  EXPECT_EQ(accounts::DirectoryAuthenticator(wrong_ca)
                .Authenticate("alice", "alice-directory-pw")
                .status()
                .code(),
            Code::kUnavailable);
  accounts::DirectoryConfig nowhere = slapd_.Config();
  nowhere.uri = "ldaps://127.0.0.1:1";
  auto r = accounts::DirectoryAuthenticator(nowhere).Authenticate("alice", "alice-directory-pw");
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("the directory at ldaps://127.0.0.1:1 cannot be reached"),
            std::string::npos);
}

// The administration site lets directory administrators in, and no one else.
TEST_F(DirectoryLogonTest, AdministrationSiteLogon) {
  const std::string srv = tmp_.path() + "/server";
  const std::string pw = tmp_.path() + "/key-password";
  Write(pw, "directory test key password\n");
  ASSERT_EQ(RunCommand({kBin, "directory", "set", "--dir", srv, "--uri", slapd_.uri(), "--user-dn",
                        kUserDn, "--group-base", kGroupBase, "--ca-file", tmp_.path() + "/ca.pem"})
                .exit_code,
            0);
  BackgroundProcess node(
      {kBin, "serve", "--dir", srv, "--listen", "127.0.0.1:0", "--password-file", pw});
  const std::string url = node.WaitForLine("server: ");
  ASSERT_FALSE(url.empty()) << node.output();
  const std::string ca = ReadAll(srv + "/tls-ca.pem");

  auto logon = [&](const std::string& user, const std::string& password) {
    return WebLogOn(url + "/admin", ca, user, password);
  };
  auto alice = logon("alice", "alice-directory-pw");
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->status, 303) << alice->body;
  EXPECT_NE(alice->Header("set-cookie")->find("openrms_session="), std::string::npos);
  EXPECT_NE(alice->Header("set-cookie")->find("HttpOnly; SameSite=Strict"), std::string::npos);
  auto bob = logon("bob", "bob-directory-pw");
  ASSERT_TRUE(bob.ok());
  EXPECT_EQ(bob->status, 403);
  EXPECT_NE(bob->body.find("bob is not a member of the Administrators group"), std::string::npos);
  EXPECT_FALSE(bob->Header("set-cookie").has_value());
  auto wrong = logon("alice", "nope");
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, 401);
  EXPECT_NE(wrong->body.find("the user name or password is wrong"), std::string::npos);
}

// The groups of a signed-on user are looked up again as the bind account,
// over kept connections: a change in the directory shows at the next
// look-up, and a user whose entry is gone is no longer there.
TEST_F(DirectoryLogonTest, GroupsAreLookedUpAgainAsTheBindAccount) {
  accounts::DirectoryConfig config = slapd_.Config();
  config.bind_dn = kDirectoryAdminDn;
  config.bind_password_file = tmp_.path() + "/bind-password";
  Write(config.bind_password_file, std::string(kDirectoryAdminPassword) + "\n");
  accounts::DirectoryAuthenticator directory(config);
  EXPECT_EQ(directory.name(), "directory");
  auto alice = directory.GroupsOf("alice");
  ASSERT_TRUE(alice.ok()) << alice.status().ToString();
  ASSERT_TRUE(alice->has_value());
  EXPECT_EQ(Sorted(**alice), (std::vector<std::string>{"Administrators", "Staff"}));
  auto bob = directory.GroupsOf("bob");
  ASSERT_TRUE(bob.ok() && bob->has_value());
  EXPECT_EQ(**bob, std::vector<std::string>{"Staff"});

  ASSERT_TRUE(slapd_.Modify(std::string("dn: cn=Staff,") + kGroupBase +
                            "\nchangetype: modify\ndelete: member\nmember: uid=bob,ou=people," +
                            kDirectoryBase + "\n"));
  bob = directory.GroupsOf("bob");  // on the connection kept from before
  ASSERT_TRUE(bob.ok() && bob->has_value()) << bob.status().ToString();
  EXPECT_EQ(**bob, std::vector<std::string>{});

  ASSERT_TRUE(slapd_.Modify(std::string("dn: uid=bob,ou=people,") + kDirectoryBase +
                            "\nchangetype: delete\n"));
  bob = directory.GroupsOf("bob");
  ASSERT_TRUE(bob.ok()) << bob.status().ToString();
  EXPECT_FALSE(bob->has_value());
  // A name that would inject into the DN is escaped, so names no one.
  auto odd = directory.GroupsOf("alice,ou=people");
  ASSERT_TRUE(odd.ok()) << odd.status().ToString();
  EXPECT_FALSE(odd->has_value());

  // Anonymous look-ups, where the directory lets anyone read.
  accounts::DirectoryAuthenticator anonymous(slapd_.Config());
  auto anon = anonymous.GroupsOf("alice");
  ASSERT_TRUE(anon.ok() && anon->has_value()) << anon.status().ToString();
  EXPECT_EQ(Sorted(**anon), (std::vector<std::string>{"Administrators", "Staff"}));

  Write(config.bind_password_file, "wrong\n");
  auto refused = accounts::DirectoryAuthenticator(config).GroupsOf("alice");
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);
  EXPECT_EQ(refused.status().message(),
            std::string("the directory refused the bind as ") + kDirectoryAdminDn +
                " (Invalid credentials): check [directory] bind_dn and bind_password_file");
  config.bind_password_file = tmp_.path() + "/missing";
  auto unreadable = accounts::DirectoryAuthenticator(config).GroupsOf("alice");
  EXPECT_EQ(unreadable.status().code(), Code::kUnavailable);
  EXPECT_EQ(
      unreadable.status().message().rfind(
          "cannot read [directory] bind_password_file " + config.bind_password_file + ": ", 0),
      0u)
      << unreadable.status().message();
}

// An outage answers at once for a few seconds instead of holding each
// request for a timeout; then the directory is asked again.
TEST_F(DirectoryLogonTest, AnOutageIsToldAtOnceThenAskedAgain) {
  accounts::DirectoryConfig nowhere = slapd_.Config();
  nowhere.uri = "ldaps://127.0.0.1:1";
  FakeClock clock(*ParseTime("2026-06-01T12:00"));
  accounts::DirectoryAuthenticator directory(nowhere, clock);
  auto first = directory.GroupsOf("alice");
  EXPECT_EQ(first.status().code(), Code::kUnavailable);
  EXPECT_EQ(first.status().message().rfind("the directory at ldaps://127.0.0.1:1 cannot be "
                                           "reached: ",
                                           0),
            0u)
      << first.status().message();
  clock.Advance(
      std::chrono::seconds(accounts::DirectoryAuthenticator::kRetryAfterFailureSeconds - 1));
  auto soon = directory.GroupsOf("alice");
  EXPECT_EQ(soon.status().code(), Code::kUnavailable);
  EXPECT_EQ(soon.status().message(),
            "the directory at ldaps://127.0.0.1:1 could not be reached moments ago; trying again "
            "shortly");
  clock.Advance(std::chrono::seconds(1));
  auto again = directory.GroupsOf("alice");
  EXPECT_EQ(again.status().message().rfind("the directory at ldaps://127.0.0.1:1 cannot be "
                                           "reached: ",
                                           0),
            0u)
      << again.status().message();
}

}  // namespace
}  // namespace openrms::testing
