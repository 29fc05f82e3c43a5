#include "node/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace openrms::node {
namespace {

TEST(NodeConfigTest, ReadsEveryTable) {
  auto c = ParseNodeConfig(R"(
[node]
name = "rms1"
dir = "/srv/openrms"
listen = "0.0.0.0:9443"
threads = 3
monitor_interval_seconds = 0
trusted_proxies = ["10.0.0.5", "10.1.0.0/16"]
max_connections_per_address = 0
[store]
url = "postgresql://openrms@db/openrms"
[keys]
password_file = "/run/pw"
pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so"
pkcs11_pin_file = "/run/pin"
[admin]
group = "RMS Admins"
[audit]
keep_days = 30
syslog = "127.0.0.1:5514"
[metrics]
token_file = "/run/token"
allow = ["127.0.0.1", "::1"]
[directory]
uri = "ldaps://ldap"
user_dn = "uid={user},dc=x"
timeout_seconds = 5
bind_dn = "cn=reader,dc=x"
bind_password_file = "/run/ldap-pw"
)",
                           "node.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->name, "rms1");
  EXPECT_EQ(c->dir, "/srv/openrms");
  EXPECT_EQ(c->audit_keep_days, 30);
  EXPECT_EQ(c->audit_syslog, "127.0.0.1:5514");
  EXPECT_EQ(c->listen, "0.0.0.0:9443");
  EXPECT_EQ(c->threads, 3);
  EXPECT_EQ(c->monitor_interval_seconds, 0);
  EXPECT_EQ(c->trusted_proxies, (std::vector<std::string>{"10.0.0.5", "10.1.0.0/16"}));
  EXPECT_EQ(c->max_connections_per_address, 0);
  EXPECT_EQ(c->store_url, "postgresql://openrms@db/openrms");
  EXPECT_EQ(c->key_password_file, "/run/pw");
  EXPECT_EQ(c->pkcs11_module, "/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(c->pkcs11_pin_file, "/run/pin");
  EXPECT_EQ(c->admin_group, "RMS Admins");
  EXPECT_EQ(c->metrics_token_file, "/run/token");
  EXPECT_EQ(c->metrics_allow, (std::vector<std::string>{"127.0.0.1", "::1"}));
  ASSERT_TRUE(c->directory.has_value());
  EXPECT_EQ(c->directory->uri, "ldaps://ldap");
  EXPECT_EQ(c->directory->user_dn, "uid={user},dc=x");
  EXPECT_EQ(c->directory->group_attribute, "cn");  // the default stays
  EXPECT_EQ(c->directory->timeout_seconds, 5);
  EXPECT_EQ(c->directory->bind_dn, "cn=reader,dc=x");
  EXPECT_EQ(c->directory->bind_password_file, "/run/ldap-pw");
}

TEST(NodeConfigTest, EmptyFileGivesTheDefaults) {
  auto c = ParseNodeConfig("", "empty.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->listen, "127.0.0.1:8443");
  EXPECT_EQ(c->threads, 0);
  EXPECT_EQ(c->monitor_interval_seconds, 60);
  EXPECT_TRUE(c->trusted_proxies.empty());
  EXPECT_EQ(c->max_connections_per_address, 1024);
  EXPECT_EQ(c->store_url, "");
  EXPECT_EQ(c->admin_group, "Administrators");
  EXPECT_EQ(c->name, "");
  EXPECT_EQ(c->audit_keep_days, 400);
  EXPECT_EQ(c->audit_syslog, "");
  EXPECT_FALSE(c->directory.has_value());
}

TEST(NodeConfigTest, TheDeployedExampleParses) {
  std::ifstream in(std::string(OPENRMS_TEST_DATA) + "/../../deploy/openrms.toml");
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  auto c = ParseNodeConfig(text.str(), "deploy/openrms.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->dir, "/var/lib/openrms");
  EXPECT_EQ(c->key_password_file, "/run/credentials/openrms-node.service/key-password");
}

void ExpectRefused(std::string_view text, Code code, std::string_view message) {
  auto c = ParseNodeConfig(text, "n.toml");
  ASSERT_FALSE(c.ok()) << text;
  EXPECT_EQ(c.status().code(), code) << c.status().message();
  EXPECT_EQ(c.status().message(), message);
}

TEST(NodeConfigTest, NotTomlNamesTheLine) {
  auto c = ParseNodeConfig("[node]\nlisten = \n", "n.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kMalformed);
  EXPECT_EQ(c.status().message().rfind("n.toml:2:", 0), 0u) << c.status().message();
}

TEST(NodeConfigTest, UnknownTablesAndKeysAreRefused) {
  ExpectRefused(
      "[nodes]\n", Code::kInvalidArgument,
      "n.toml: unknown table [nodes]; the tables are [admin], [audit], [directory], [keys], "
      "[metrics], [node], [store], [[oidc]]");
  ExpectRefused("[node]\nlisen = \"x\"\n", Code::kInvalidArgument,
                "n.toml: node.lisen is not a known key; [node] takes dir, listen, "
                "max_connections_per_address, monitor_interval_seconds, name, threads, "
                "trusted_proxies");
  ExpectRefused("node = 3\n", Code::kInvalidArgument, "n.toml: node must be a table ([node])");
}

TEST(NodeConfigTest, WrongTypesAndRanges) {
  ExpectRefused("[node]\nthreads = \"4\"\n", Code::kInvalidArgument,
                "n.toml: node.threads must be an integer");
  ExpectRefused("[node]\nthreads = 257\n", Code::kInvalidArgument,
                "n.toml: node.threads must be between 0 and 256");
  ExpectRefused("[node]\nthreads = -1\n", Code::kInvalidArgument,
                "n.toml: node.threads must be between 0 and 256");
  // A float is not converted, however large (found by node_config_fuzz).
  ExpectRefused("[node]\nmonitor_interval_seconds = 4.4e113\n", Code::kInvalidArgument,
                "n.toml: node.monitor_interval_seconds must be an integer");
  ExpectRefused("[node]\nthreads = 2.0\n", Code::kInvalidArgument,
                "n.toml: node.threads must be an integer");
  ExpectRefused("[directory]\nuri = \"ldap://x\"\nuser_dn = \"u\"\ntimeout_seconds = 1e300\n",
                Code::kInvalidArgument,
                "n.toml: directory.timeout_seconds must be an integer between 1 and 300");
  ExpectRefused("[node]\nlisten = 8443\n", Code::kInvalidArgument,
                "n.toml: node.listen must be a string");
  ExpectRefused("[node]\nlisten = \"\"\n", Code::kInvalidArgument,
                "n.toml: node.listen must be a non-empty string (leave the key out instead)");
  ExpectRefused("[node]\ntrusted_proxies = \"10.0.0.5\"\n", Code::kInvalidArgument,
                "n.toml: node.trusted_proxies must be an array of addresses or networks "
                "(\"10.0.0.0/24\")");
  ExpectRefused("[node]\nmax_connections_per_address = -1\n", Code::kInvalidArgument,
                "n.toml: node.max_connections_per_address must be between 0 and 1000000");
  ExpectRefused("[metrics]\nallow = \"127.0.0.1\"\n", Code::kInvalidArgument,
                "n.toml: metrics.allow must be an array of addresses");
  ExpectRefused("[store]\nurl = \"mysql://x\"\n", Code::kInvalidArgument,
                "n.toml: store.url must be a postgresql:// URL or sqlite:PATH");
  ExpectRefused("[directory]\nuri = \"ldap://x\"\n", Code::kInvalidArgument,
                "n.toml: [directory] needs at least uri and user_dn");
  ExpectRefused("[directory]\nuri = \"ldap://x\"\nuser_dn = \"u\"\nbind_dn = \"cn=r\"\n",
                Code::kInvalidArgument,
                "n.toml: [directory] bind_dn and bind_password_file go together: give both or "
                "neither");
  ExpectRefused("[audit]\nkeep_days = -1\n", Code::kInvalidArgument,
                "n.toml: audit.keep_days must be between 0 and 36600");
  ExpectRefused("[audit]\nkeep_days = 36601\n", Code::kInvalidArgument,
                "n.toml: audit.keep_days must be between 0 and 36600");
  ExpectRefused("[audit]\nsyslog = 514\n", Code::kInvalidArgument,
                "n.toml: audit.syslog must be a string");
  // The edges of a range are allowed.
  ASSERT_TRUE(ParseNodeConfig("[audit]\nkeep_days = 0\n", "n.toml").ok());
  ASSERT_TRUE(ParseNodeConfig("[audit]\nkeep_days = 36600\n", "n.toml").ok());
  auto c = ParseNodeConfig("[node]\nthreads = 256\n", "n.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->threads, 256);
}

TEST(NodeConfigTest, SecretsStayOutOfTheFile) {
  ExpectRefused("[keys]\npassword = \"hunter2\"\n", Code::kInvalidArgument,
                "n.toml: keys.password would put a secret in the configuration file: name a "
                "file that holds it with keys.password_file (or use the environment)");
  ExpectRefused("[keys]\npkcs11_pin = \"1234\"\n", Code::kInvalidArgument,
                "n.toml: keys.pkcs11_pin would put a secret in the configuration file: name a "
                "file that holds it with keys.pkcs11_pin_file (or use the environment)");
  ExpectRefused("[directory]\nbind_password = \"x\"\n", Code::kInvalidArgument,
                "n.toml: directory.bind_password would put a secret in the configuration file: "
                "name a file that holds it with directory.bind_password_file");
  const std::string refused =
      "n.toml: store.url holds a password: keep secrets out of the configuration and the "
      "command line; put it in a pgpass file (PGPASSFILE) or the environment (PGPASSWORD)";
  ExpectRefused("[store]\nurl = \"postgresql://u:secret@db/x\"\n", Code::kInvalidArgument, refused);
  ExpectRefused("[store]\nurl = \"postgresql://db/x?password=secret\"\n", Code::kInvalidArgument,
                refused);
  // A port is not a password.
  auto c = ParseNodeConfig("[store]\nurl = \"postgresql://u@db:5432/x\"\n", "n.toml");
  EXPECT_TRUE(c.ok()) << c.status().message();
}

TEST(NodeConfigTest, SizeLimit) {
  std::string big = "# " + std::string(kMaxConfigBytes - 3, 'x') + "\n";
  ASSERT_EQ(big.size(), kMaxConfigBytes);
  EXPECT_TRUE(ParseNodeConfig(big, "n.toml").ok());
  big += " ";
  auto c = ParseNodeConfig(big, "n.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kTooLarge);
}

TEST(NodeConfigTest, OidcIssuers) {
  auto c = ParseNodeConfig(R"(
[[oidc]]
issuer = "https://idp.example.org/realms/corp"
audience = "openrms"
user_claim = "upn"
group_map = { "rms-admins" = "Administrators" }
ca_file = "/etc/idp-ca.pem"
client_id = "openrms-admin"
client_secret_file = "/etc/openrms/idp-client-secret"
name = "Corporate sign-on"
[[oidc]]
issuer = "https://login.example.com/tenant/v2.0"
audience = "api://openrms"
)",
                           "n.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->oidc.size(), 2u);
  EXPECT_EQ(c->oidc[0].issuer, "https://idp.example.org/realms/corp");
  EXPECT_EQ(c->oidc[0].audience, "openrms");
  EXPECT_EQ(c->oidc[0].user_claim, "upn");
  EXPECT_EQ(c->oidc[0].groups_claim, "groups");  // the default
  EXPECT_EQ(c->oidc[0].group_map,
            (std::vector<std::pair<std::string, std::string>>{{"rms-admins", "Administrators"}}));
  EXPECT_EQ(c->oidc[0].ca_file, "/etc/idp-ca.pem");
  EXPECT_EQ(c->oidc[0].client_id, "openrms-admin");
  EXPECT_EQ(c->oidc[0].client_secret_file, "/etc/openrms/idp-client-secret");
  EXPECT_EQ(c->oidc[0].client_secret, "");  // read when the node starts
  EXPECT_EQ(c->oidc[0].display_name, "Corporate sign-on");
  EXPECT_EQ(c->oidc[1].user_claim, "email");
  EXPECT_EQ(c->oidc[1].client_id, "");
  ExpectRefused("[oidc]\nissuer = \"https://x\"\n", Code::kInvalidArgument,
                "n.toml: oidc must be an array of tables ([[oidc]])");
  ExpectRefused("[[oidc]]\nissuer = \"http://x\"\naudience = \"a\"\n", Code::kInvalidArgument,
                "n.toml: oidc[0] needs an https:// issuer and an audience");
  ExpectRefused("[[oidc]]\nissuer = \"https://x\"\n", Code::kInvalidArgument,
                "n.toml: oidc[0] needs an https:// issuer and an audience");
  ExpectRefused("[[oidc]]\nisuer = \"https://x\"\n", Code::kInvalidArgument,
                "n.toml: oidc[0].isuer is not a known key; [[oidc]] takes audience, ca_file, "
                "client_id, client_secret_file, group_map, groups_claim, issuer, name, "
                "user_claim");
  constexpr char kIssuer[] = "[[oidc]]\nissuer = \"https://x\"\naudience = \"a\"\n";
  ExpectRefused(std::string(kIssuer) + "client_id = \"c\"\n", Code::kInvalidArgument,
                "n.toml: oidc[0] needs client_id and client_secret_file together (they let "
                "administrators sign on through the issuer)");
  ExpectRefused(std::string(kIssuer) + "client_secret = \"s3cret\"\n", Code::kInvalidArgument,
                "n.toml: oidc[0].client_secret holds a secret: keep it out of the configuration; "
                "put it in a file readable by the node alone and name it in client_secret_file");
  ExpectRefused("[[oidc]]\naudience = 5\n", Code::kInvalidArgument,
                "n.toml: oidc[0].audience must be a non-empty string");
}

}  // namespace
}  // namespace openrms::node
