// Who may log on to the administration web site: local accounts and groups
// kept in the server's store (passwords hashed with scrypt), throttling of
// repeated failures, and sessions. Directory (LDAP) accounts plug in as
// another Authenticator. Thread-safe.
//
// User names are not case-sensitive: "BOB" and "bob" are one account, as
// they are in a directory and in rights matching (EqualsIgnoreCase). Only
// ASCII letters fold; other bytes compare exactly, which is why new local
// account names must be ASCII.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "store/database.h"

namespace openrms::accounts {

// The key a user name is compared by: ASCII letters in lower case, any
// other byte unchanged.
std::string NameKey(std::string_view name);

struct Identity {
  Identity() = default;
  Identity(std::string user, std::vector<std::string> groups, std::string source,
           std::string address = "")
      : user(std::move(user)),
        groups(std::move(groups)),
        source(std::move(source)),
        address(std::move(address)) {}

  std::string user;  // as stored (local accounts) or as the directory spells it
  std::vector<std::string> groups;
  std::string source;  // "local" or "directory"
  // Where the request came from, for the audit trail: the client's address
  // as the node saw it (after a trusted proxy's PROXY header); "" for none.
  std::string address;

  bool InGroup(std::string_view group) const;
};

// Checks a user name and password. kUnauthenticated when they do not match
// (never saying which part was wrong).
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual Result<Identity> Authenticate(const std::string& user, const std::string& password) = 0;
};

// Throttling of failed logons. Nothing here locks an account: every limit
// is a delay for one source address, so no anonymous client can keep a
// user out -- the user logs on from another address at once.
//
// Per (user name key, source) -- the source is the client's IPv4 address,
// or its IPv6 /64 network -- every attempt first takes a slot, in one
// transaction and before any password is checked, so parallel guesses
// cannot outrun the count. The first `max_failures` attempts run at once;
// after that many failures the next attempt must wait `first_delay`, and
// each further failure doubles the wait, up to `max_delay`. A success from
// that source clears its count; `forget_after` without attempts forgets it.
//
// Per user name from all sources: once `account_ceiling` failures within
// `forget_after` came from anywhere (distributed guessing), every source is
// allowed one immediate attempt instead of `max_failures` before its own
// delays start. Still delays only, still per source: an address with no
// failures of its own always gets its attempt immediately.
struct LockoutPolicy {
  int max_failures = 5;
  Duration first_delay = std::chrono::minutes(1);
  Duration max_delay = std::chrono::minutes(15);
  Duration forget_after = std::chrono::hours(1);  // must be longer than max_delay
  int account_ceiling = 100;
};

class AccountStore final : public Authenticator {
 public:
  AccountStore(store::Database& db, const Clock& clock) : db_(db), clock_(clock) {}
  // Step 5 onwards: names compare case-insensitively. Accounts of an older
  // database whose names differ only in case ("bob", "BOB") are all kept,
  // with their groups, but marked ambiguous: none of them can log on (the
  // message says why) until an administrator removes all but one with
  // `openrms user remove NAME` (exact spelling). Keeping "the first" would
  // hand the name to whichever was made first, silently.
  static Status Migrate(store::Database& db);

  // kAlreadyUsed when the name is taken in any case ("BOB" beside "bob");
  // kInvalidArgument for a weak password or a name that is not ASCII.
  Status AddUser(const std::string& user, const std::string& password,
                 const std::vector<std::string>& groups);
  // These find the account in any case. An ambiguous name (see Migrate)
  // must be given exactly as stored.
  Status SetPassword(const std::string& user, const std::string& password);
  // A group change applies to the account's live sessions and bearer
  // tokens too, in the same transaction: a node that keeps a token in
  // memory sees it within its 2 s (node/api/bearer.h).
  Status AddToGroup(const std::string& user, const std::string& group);
  Status RemoveFromGroup(const std::string& user, const std::string& group);
  // Deletes the account, its group memberships and its sessions.
  Status RemoveUser(const std::string& user);
  Result<std::vector<Identity>> ListUsers();
  // Whether a local account of that name (in any case) exists.
  Result<bool> Exists(const std::string& user);

  // The Identity carries the stored spelling of the name. A name that
  // matches several legacy accounts is refused (kFailedPrecondition) when
  // the password is right for one of them, and wrong otherwise.
  Result<Identity> Authenticate(const std::string& user, const std::string& password) override;

 private:
  store::Database& db_;
  const Clock& clock_;
};

// Tries each authenticator in turn (local accounts, then the directory) and
// applies the throttling policy to the user name across all of them.
class LogonService final {
 public:
  LogonService(store::Database& db, const Clock& clock, std::vector<Authenticator*> sources,
               LockoutPolicy policy = {})
      : db_(db), clock_(clock), sources_(std::move(sources)), policy_(policy) {}

  // `source` is the client's address (http::Request::remote_address).
  // kUnauthenticated: "the user name or password is wrong";
  // kPermissionDenied: too many failures from this source, with the time
  // of the next allowed attempt -- the same for names that do not exist.
  Result<Identity> LogOn(const std::string& user, const std::string& password,
                         const std::string& source);

 private:
  // Takes an attempt slot; the time to wait for when there is none.
  Result<std::optional<Time>> Reserve(const std::string& key, const std::string& source);
  Duration DelayAfter(int64_t failures, int64_t free) const;

  store::Database& db_;
  const Clock& clock_;
  std::vector<Authenticator*> sources_;
  LockoutPolicy policy_;
  std::atomic<int64_t> last_purge_{0};
};

// The throttling key of a client address: an IPv4 address as it is, an IPv6
// address as its /64 network ("2001:db8:1:2::/64"), anything else as given.
std::string SourceKey(const std::string& address);

struct Session {
  std::string user;
  std::vector<std::string> groups;
  std::string csrf_token;
  Time expires_at;
};

// Where the groups of a user who signed on through it are asked again while
// the user's sessions live: the directory. A group change there reaches
// every session of the user at its next look-up (SessionStore::Find).
class GroupSource {
 public:
  virtual ~GroupSource() = default;
  // The source's name for Identity::source ("directory").
  virtual std::string_view name() const = 0;
  // The user's groups now; nullopt when the source no longer holds the
  // user; kUnavailable when it cannot say.
  virtual Result<std::optional<std::vector<std::string>>> GroupsOf(const std::string& user) = 0;
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

  // Sessions of users from `source` (identity.source == source->name())
  // take their groups from it at each Find: a group change there applies at
  // the next look-up, and a user it no longer holds loses every session.
  // While it cannot say (kUnavailable), a session keeps the groups it had.
  // Set before the first Find; not owned.
  void set_group_source(GroupSource* source) { group_source_ = source; }

  // Returns the token for the cookie. Also deletes this purpose's expired
  // sessions, at most once a minute.
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
  GroupSource* group_source_ = nullptr;
  std::atomic<int64_t> last_purge_{0};
};

}  // namespace openrms::accounts
