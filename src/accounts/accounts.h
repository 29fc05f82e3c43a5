// Who may log on to the administration web site: local accounts and groups
// kept in the server's store (passwords hashed with scrypt), lockout after
// repeated failures, and sessions. Directory (LDAP) accounts plug in as
// another Authenticator. Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "store/database.h"

namespace openrms::accounts {

struct Identity {
  std::string user;
  std::vector<std::string> groups;
  std::string source;  // "local" or "directory"

  bool InGroup(std::string_view group) const;
};

// Checks a user name and password. kUnauthenticated when they do not match
// (never saying which part was wrong).
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual Result<Identity> Authenticate(const std::string& user, const std::string& password) = 0;
};

struct LockoutPolicy {
  int max_failures = 5;
  Duration lock_for = std::chrono::minutes(15);
};

class AccountStore final : public Authenticator {
 public:
  AccountStore(store::Database& db, const Clock& clock) : db_(db), clock_(clock) {}
  static Status Migrate(store::Database& db);

  // kAlreadyUsed when the name is taken; kInvalidArgument for a weak password.
  Status AddUser(const std::string& user, const std::string& password,
                 const std::vector<std::string>& groups);
  Status SetPassword(const std::string& user, const std::string& password);
  Status AddToGroup(const std::string& user, const std::string& group);
  Status RemoveFromGroup(const std::string& user, const std::string& group);
  Result<std::vector<Identity>> ListUsers();

  Result<Identity> Authenticate(const std::string& user, const std::string& password) override;

 private:
  store::Database& db_;
  const Clock& clock_;
};

// Tries each authenticator in turn (local accounts, then the directory) and
// applies the lockout policy to the user name across all of them.
class LogonService final {
 public:
  LogonService(store::Database& db, const Clock& clock, std::vector<Authenticator*> sources,
               LockoutPolicy policy = {})
      : db_(db), clock_(clock), sources_(std::move(sources)), policy_(policy) {}

  // kUnauthenticated: "the user name or password is wrong";
  // kPermissionDenied: locked, with the time it unlocks.
  Result<Identity> LogOn(const std::string& user, const std::string& password);

 private:
  store::Database& db_;
  const Clock& clock_;
  std::vector<Authenticator*> sources_;
  LockoutPolicy policy_;
};

struct Session {
  std::string user;
  std::vector<std::string> groups;
  std::string csrf_token;
  Time expires_at;
};

// Sessions live in the store (any node can serve any request). Only a hash
// of the session token is stored.
class SessionStore final {
 public:
  // `purpose` keeps kinds apart: an "admin" session cookie is not a
  // "bearer" token for the licensing protocol, nor the reverse.
  SessionStore(store::Database& db, const Clock& clock, Random& random,
               std::string purpose = "admin", Duration idle = std::chrono::minutes(30),
               Duration absolute = std::chrono::hours(8))
      : db_(db),
        clock_(clock),
        random_(random),
        purpose_(std::move(purpose)),
        idle_(idle),
        absolute_(absolute) {}

  // Returns the token for the cookie.
  Result<std::string> Create(const Identity& identity);
  // nullopt when unknown or expired; an active session's idle timer restarts.
  Result<std::optional<Session>> Find(const std::string& token);
  Status Delete(const std::string& token);

 private:
  store::Database& db_;
  const Clock& clock_;
  Random& random_;
  std::string purpose_;
  Duration idle_;
  Duration absolute_;
};

}  // namespace openrms::accounts
