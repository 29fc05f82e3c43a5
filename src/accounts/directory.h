// Directory ("domain") accounts over LDAP: a simple bind as the user
// authenticates them, and their groups come from the directory. Reached
// over ldaps:// (or ldap:// on loopback, for tests of refusal paths only).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "accounts/accounts.h"
#include "base/file_system.h"

namespace openrms::accounts {

struct DirectoryConfig {
  std::string uri;         // ldaps://host:port
  std::string user_dn;     // "uid={user},ou=people,dc=example,dc=test"
  std::string group_base;  // "ou=groups,dc=example,dc=test"
  std::string group_filter = "(&(objectClass=groupOfNames)(member={dn}))";
  std::string group_attribute = "cn";
  std::string ca_file;  // PEM roots for ldaps://
  int timeout_seconds = 10;
  // The account that looks up signed-on users' groups again (GroupsOf),
  // with its password in a file of each node (never in the store). Empty:
  // those look-ups are anonymous. It must be able to read users' entries
  // and the groups: a user it cannot see is taken as gone.
  std::string bind_dn;
  std::string bind_password_file;  // read at each new connection
};

// Stored in the server's settings, so every node uses the same directory.
Status SaveDirectoryConfig(store::Database& db, const DirectoryConfig& config);
Result<std::optional<DirectoryConfig>> LoadDirectoryConfig(store::Database& db);
// Directory logons end (after each node restarts); true when there were any.
Result<bool> RemoveDirectoryConfig(store::Database& db);
Status MigrateSettings(store::Database& db);

class DirectoryAuthenticator final : public Authenticator, public GroupSource {
 public:
  explicit DirectoryAuthenticator(DirectoryConfig config, const Clock& clock = DefaultClock(),
                                  FileSystem& fs = RealFileSystem());
  ~DirectoryAuthenticator() override;
  // kUnauthenticated for a wrong password or unknown user, kUnavailable
  // when the directory cannot be reached. The identity's name is spelled as
  // in the directory (uid "bob" for a logon as "BOB").
  Result<Identity> Authenticate(const std::string& user, const std::string& password) override;

  std::string_view name() const override { return "directory"; }
  // The user's groups now, looked up as bind_dn over a kept connection (at
  // most kIdleConnections of them), each search waiting at most
  // kLookupTimeoutSeconds; nullopt when the user's entry is gone. After a
  // failure to reach the directory, answers kUnavailable at once for
  // kRetryAfterFailureSeconds, so that an outage does not hold every
  // request for a timeout. Thread-safe.
  Result<std::optional<std::vector<std::string>>> GroupsOf(const std::string& user) override;

  static constexpr int kLookupTimeoutSeconds = 2;
  static constexpr int kRetryAfterFailureSeconds = 5;
  static constexpr size_t kIdleConnections = 4;

 private:
  struct Connection;
  Result<std::unique_ptr<Connection>> Connect(int timeout_seconds) const;
  Result<std::optional<std::vector<std::string>>> LookUp(Connection& c, const std::string& user);

  DirectoryConfig config_;
  const Clock& clock_;
  FileSystem& fs_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  std::atomic<int64_t> down_until_{0};             // seconds of clock_
};

// RFC 4514 escaping of an attribute value inside a DN, and RFC 4515
// escaping of a value inside a search filter.
std::string EscapeDnValue(std::string_view value);
std::string EscapeFilterValue(std::string_view value);

}  // namespace openrms::accounts
