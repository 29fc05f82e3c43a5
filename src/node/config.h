// A node's configuration file (TOML): where it listens, its store, its key
// source, TLS, the administration group, metrics and the directory. Flags
// of `openrms serve` override it. Secrets never live in the file: it names
// files that hold them (key_password_file, pkcs11_pin_file), and the store
// URL may not carry a password (libpq reads PGPASSFILE or PGPASSWORD).
//
//   [node]
//   name = "rms1"                     # in the audit trail; default: host name and port
//   dir = "/var/lib/openrms"          # TLS files; the SQLite store when no [store]
//   listen = "0.0.0.0:8443"
//   threads = 0                       # 0: one per core
//   monitor_interval_seconds = 60
//   trusted_proxies = ["10.0.0.5"]    # balancers that send a PROXY header
//   max_connections_per_address = 1024
//   [store]
//   url = "postgresql://openrms@db.example.org/openrms"
//   [keys]
//   password_file = "/run/credentials/openrms-node.service/key-password"
//   pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so"
//   pkcs11_pin_file = "/run/credentials/openrms-node.service/pkcs11-pin"
//   [admin]
//   group = "Administrators"
//   [metrics]
//   token_file = "/etc/openrms/metrics-token"
//   allow = ["127.0.0.1"]
//   [audit]
//   keep_days = 400                   # entries older are deleted (one node at a time); 0: never
//   syslog = "127.0.0.1:514"          # also stream each entry (RFC 5424 over UDP)
//   [directory]                       # overrides the stored directory settings
//   uri = "ldaps://ldap.example.org"
//   user_dn = "uid={user},ou=people,dc=example,dc=org"
//   group_base = "ou=groups,dc=example,dc=org"
//   ca_file = "/etc/ssl/certs/ca-certificates.crt"
//   [[oidc]]                          # an OpenID Connect issuer whose JWTs are bearer tokens
//   issuer = "https://idp.example.org/realms/corp"
//   audience = "openrms"
//   user_claim = "email"              # or "upn", "preferred_username"
//   groups_claim = "groups"
//   group_map = { "rms-admins" = "Administrators" }
//   ca_file = "/etc/ssl/certs/ca-certificates.crt"
//   client_id = "openrms"             # administrators sign on through it (code flow)
//   client_secret_file = "/etc/openrms/oidc-client-secret"
//   name = "Contoso sign-on"          # on the logon page's button
//
// Unknown tables and keys are errors (a misspelt key would otherwise be
// silently ignored), and so is a key that would hold a secret.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "accounts/directory.h"
#include "accounts/oidc.h"
#include "base/file_system.h"
#include "base/status.h"

namespace openrms::node {

struct NodeConfig {
  std::string name;  // "": the host name and the listening port
  std::string dir;
  std::string listen = "127.0.0.1:8443";
  int threads = 0;
  int monitor_interval_seconds = 60;
  std::vector<std::string> trusted_proxies;
  int max_connections_per_address = 1024;
  std::string store_url;  // "": SQLite in dir
  std::string key_password_file;
  std::string pkcs11_module;
  std::string pkcs11_pin_file;
  std::string admin_group = "Administrators";
  std::string metrics_token_file;
  std::vector<std::string> metrics_allow;
  int audit_keep_days = 400;
  std::string audit_syslog;  // HOST:PORT, "" for none
  std::optional<accounts::DirectoryConfig> directory;
  std::vector<accounts::OidcIssuerConfig> oidc;  // ca_pem not read yet: ca_file names it
};

// The largest configuration file read.
inline constexpr size_t kMaxConfigBytes = 64 * 1024;

// Parses the text of a configuration file; `source` names it in errors.
// kMalformed for text that is not TOML (with line and column), and
// kInvalidArgument for a key that is unknown, of the wrong type or out of
// range, or that holds a secret.
Result<NodeConfig> ParseNodeConfig(std::string_view text, std::string_view source);

// A store URL as the node takes it: postgresql://, postgres:// or sqlite:,
// and no password in it. `where` names it in the error (a key, a flag).
Status CheckStoreUrl(std::string_view url, std::string_view where);

// Reads and parses `path` (at most kMaxConfigBytes).
Result<NodeConfig> LoadNodeConfig(FileSystem& fs, const std::string& path);

}  // namespace openrms::node
