// Directory ("domain") logons against a real OpenLDAP slapd that the test
// starts on loopback, over ldaps:// with its own test CA.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "accounts/directory.h"
#include "http/client.h"
#include "support/process.h"
#include "support/web_logon.h"

namespace openrms::testing {
namespace {

const std::string kBin = OPENRMS_BINARY;
constexpr char kBase[] = "dc=example,dc=test";
constexpr char kUserDn[] = "uid={user},ou=people,dc=example,dc=test";
constexpr char kGroupBase[] = "ou=groups,dc=example,dc=test";

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

class Slapd {
 public:
  explicit Slapd(const std::string& dir) : dir_(dir) {
    port_ = FreeLoopbackPort();
    // A test CA and the server's certificate for 127.0.0.1.
    const std::string ca = dir + "/ca", srv = dir + "/server";
    Sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + ca + ".key -out " + ca +
       ".pem -days 2 -subj /CN=OpenRMS-LDAP-Test-CA -addext basicConstraints=critical,CA:TRUE "
       "-addext keyUsage=critical,keyCertSign 2>/dev/null");
    Sh("openssl req -newkey rsa:2048 -nodes -keyout " + srv + ".key -out " + srv +
       ".csr -subj /CN=127.0.0.1 2>/dev/null");
    Write(dir + "/san.cnf", "subjectAltName=IP:127.0.0.1\n");
    Sh("openssl x509 -req -in " + srv + ".csr -CA " + ca + ".pem -CAkey " + ca +
       ".key -CAcreateserial -out " + srv + ".pem -days 2 -extfile " + dir +
       "/san.cnf 2>/dev/null");
    Sh("mkdir -p " + dir + "/db");
    Write(dir + "/slapd.conf",
          "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n"
          "include /etc/ldap/schema/inetorgperson.schema\npidfile " +
              dir +
              "/slapd.pid\n"
              "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
              "TLSCACertificateFile " +
              ca + ".pem\nTLSCertificateFile " + srv +
              ".pem\n"
              "TLSCertificateKeyFile " +
              srv +
              ".key\n"
              "database mdb\nmaxsize 10485760\nsuffix \"" +
              kBase + "\"\nrootdn \"cn=admin," + kBase +
              "\"\nrootpw not-used-by-tests\ndirectory " + dir + "/db\n");
    Write(dir + "/data.ldif", std::string("dn: ") + kBase +
                                  "\nobjectClass: dcObject\nobjectClass: organization\n"
                                  "o: Example\ndc: example\n\n"
                                  "dn: ou=people," +
                                  kBase +
                                  "\nobjectClass: organizationalUnit\nou: people\n\n"
                                  "dn: ou=groups," +
                                  kBase +
                                  "\nobjectClass: organizationalUnit\nou: groups\n\n"
                                  "dn: uid=alice,ou=people," +
                                  kBase +
                                  "\nobjectClass: inetOrgPerson\nuid: alice\n"
                                  "cn: Alice\nsn: Admin\nuserPassword: alice-directory-pw\n\n"
                                  "dn: uid=bob,ou=people," +
                                  kBase +
                                  "\nobjectClass: inetOrgPerson\nuid: bob\n"
                                  "cn: Bob\nsn: Staff\nuserPassword: bob-directory-pw\n\n"
                                  "dn: cn=Administrators,ou=groups," +
                                  kBase +
                                  "\nobjectClass: groupOfNames\n"
                                  "cn: Administrators\nmember: uid=alice,ou=people," +
                                  kBase +
                                  "\n\n"
                                  "dn: cn=Staff,ou=groups," +
                                  kBase +
                                  "\nobjectClass: groupOfNames\ncn: Staff\n"
                                  "member: uid=alice,ou=people," +
                                  kBase + "\nmember: uid=bob,ou=people," + kBase + "\n");
    Sh("/usr/sbin/slapadd -f " + dir + "/slapd.conf -l " + dir + "/data.ldif 2>/dev/null");
    process_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{"/usr/sbin/slapd", "-f", dir + "/slapd.conf", "-h",
                                 "ldaps://127.0.0.1:" + std::to_string(port_) + "/", "-d", "0"});
    // Wait until it answers.
    for (int i = 0; i < 100; ++i) {
      auto r =
          accounts::DirectoryAuthenticator(Config()).Authenticate("alice", "alice-directory-pw");
      if (r.ok() || r.status().code() != Code::kUnavailable) break;
      usleep(100000);
    }
  }

  accounts::DirectoryConfig Config() const {
    accounts::DirectoryConfig c;
    c.uri = uri();
    c.user_dn = kUserDn;
    c.group_base = kGroupBase;
    c.ca_file = dir_ + "/ca.pem";
    c.timeout_seconds = 5;
    return c;
  }
  std::string uri() const { return "ldaps://127.0.0.1:" + std::to_string(port_); }

 private:
  static void Sh(const std::string& cmd) { ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd; }
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

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

}  // namespace
}  // namespace openrms::testing
