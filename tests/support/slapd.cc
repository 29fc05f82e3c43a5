#include "support/slapd.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace openrms::testing {
namespace {

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

bool Sh(const std::string& cmd) {
  if (std::system(cmd.c_str()) == 0) return true;
  ADD_FAILURE() << "failed: " << cmd;
  return false;
}

std::string People(const std::string& uid) { return "uid=" + uid + ",ou=people," + kDirectoryBase; }

}  // namespace

Slapd::Slapd(const std::string& dir) : dir_(dir) {
  std::filesystem::create_directories(dir);
  port_ = FreeLoopbackPort();
  // A test CA and the server's certificate for 127.0.0.1.
  const std::string ca = dir + "/ca", srv = dir + "/server";
  if (!Sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + ca + ".key -out " + ca +
          ".pem -days 2 -subj /CN=OpenRMS-LDAP-Test-CA -addext basicConstraints=critical,CA:TRUE "
          "-addext keyUsage=critical,keyCertSign 2>/dev/null") ||
      !Sh("openssl req -newkey rsa:2048 -nodes -keyout " + srv + ".key -out " + srv +
          ".csr -subj /CN=127.0.0.1 2>/dev/null")) {
    return;
  }
  Write(dir + "/san.cnf", "subjectAltName=IP:127.0.0.1\n");
  if (!Sh("openssl x509 -req -in " + srv + ".csr -CA " + ca + ".pem -CAkey " + ca +
          ".key -CAcreateserial -out " + srv + ".pem -days 2 -extfile " + dir +
          "/san.cnf 2>/dev/null") ||
      !Sh("mkdir -p " + dir + "/db")) {
    return;
  }
  const std::string base = kDirectoryBase;
  Write(dir + "/slapd.conf",
        "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n"
        "include /etc/ldap/schema/inetorgperson.schema\npidfile " +
            dir + "/slapd.pid\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\n" +
            "TLSCACertificateFile " + ca + ".pem\nTLSCertificateFile " + srv +
            ".pem\nTLSCertificateKeyFile " + srv + ".key\n" +
            "database mdb\nmaxsize 10485760\nsuffix \"" + base + "\"\nrootdn \"" +
            kDirectoryAdminDn + "\"\nrootpw " + kDirectoryAdminPassword + "\ndirectory " + dir +
            "/db\n");
  Write(dir + "/data.ldif",
        "dn: " + base +
            "\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n"
            "dn: ou=people," +
            base + "\nobjectClass: organizationalUnit\nou: people\n\ndn: ou=groups," + base +
            "\nobjectClass: organizationalUnit\nou: groups\n\ndn: " + People("alice") +
            "\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice\nsn: Admin\n"
            "userPassword: alice-directory-pw\n\ndn: " +
            People("bob") +
            "\nobjectClass: inetOrgPerson\nuid: bob\ncn: Bob\nsn: Staff\n"
            "userPassword: bob-directory-pw\n\ndn: cn=Administrators,ou=groups," +
            base + "\nobjectClass: groupOfNames\ncn: Administrators\nmember: " + People("alice") +
            "\n\ndn: cn=Staff,ou=groups," + base +
            "\nobjectClass: groupOfNames\ncn: Staff\nmember: " + People("alice") +
            "\nmember: " + People("bob") + "\n");
  if (!Sh("/usr/sbin/slapadd -f " + dir + "/slapd.conf -l " + dir + "/data.ldif 2>/dev/null")) {
    return;
  }
  process_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{"/usr/sbin/slapd", "-f", dir + "/slapd.conf", "-h",
                               "ldaps://127.0.0.1:" + std::to_string(port_) + "/", "-d", "0"});
  // Wait until it answers.
  for (int i = 0; i < 100; ++i) {
    auto r = accounts::DirectoryAuthenticator(Config()).Authenticate("alice", "alice-directory-pw");
    if (r.ok()) return;
    if (r.status().code() != Code::kUnavailable) break;
    usleep(100000);
  }
  ADD_FAILURE() << "slapd did not answer on " << uri() << ": " << process_->output();
}

Slapd::~Slapd() = default;

accounts::DirectoryConfig Slapd::Config() const {
  accounts::DirectoryConfig c;
  c.uri = uri();
  c.user_dn = kDirectoryUserDn;
  c.group_base = kDirectoryGroupBase;
  c.ca_file = ca_file();
  c.timeout_seconds = 5;
  return c;
}

bool Slapd::Modify(const std::string& ldif) {
  const std::string file = dir_ + "/change.ldif";
  Write(file, ldif);
  CommandResult r = RunCommand({"/usr/bin/ldapmodify", "-x", "-H", uri(), "-D", kDirectoryAdminDn,
                                "-w", kDirectoryAdminPassword, "-f", file},
                               {"LDAPTLS_CACERT=" + ca_file()});
  if (r.exit_code == 0) return true;
  ADD_FAILURE() << "ldapmodify refused:\n" << ldif << r.out << r.err;
  return false;
}

}  // namespace openrms::testing
