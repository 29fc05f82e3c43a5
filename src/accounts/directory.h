// Directory ("domain") accounts over LDAP: a simple bind as the user
// authenticates them, and their groups come from the directory. Reached
// over ldaps:// (or ldap:// on loopback, for tests of refusal paths only).
#pragma once

#include <string>

#include "accounts/accounts.h"

namespace openrms::accounts {

struct DirectoryConfig {
  std::string uri;         // ldaps://host:port
  std::string user_dn;     // "uid={user},ou=people,dc=example,dc=test"
  std::string group_base;  // "ou=groups,dc=example,dc=test"
  std::string group_filter = "(&(objectClass=groupOfNames)(member={dn}))";
  std::string group_attribute = "cn";
  std::string ca_file;  // PEM roots for ldaps://
  int timeout_seconds = 10;
};

// Stored in the server's settings, so every node uses the same directory.
Status SaveDirectoryConfig(store::Database& db, const DirectoryConfig& config);
Result<std::optional<DirectoryConfig>> LoadDirectoryConfig(store::Database& db);
Status MigrateSettings(store::Database& db);

class DirectoryAuthenticator final : public Authenticator {
 public:
  explicit DirectoryAuthenticator(DirectoryConfig config) : config_(std::move(config)) {}
  // kUnauthenticated for a wrong password or unknown user, kUnavailable
  // when the directory cannot be reached. The identity's name is spelled as
  // in the directory (uid "bob" for a logon as "BOB").
  Result<Identity> Authenticate(const std::string& user, const std::string& password) override;

 private:
  DirectoryConfig config_;
};

// RFC 4514 escaping of an attribute value inside a DN, and RFC 4515
// escaping of a value inside a search filter.
std::string EscapeDnValue(std::string_view value);
std::string EscapeFilterValue(std::string_view value);

}  // namespace openrms::accounts
