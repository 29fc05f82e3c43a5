#include "accounts/accounts.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "base/text.h"
#include "crypto/keys.h"
#include "crypto/password_hash.h"

namespace openrms::accounts {

namespace {

int64_t Secs(Time t) { return t.time_since_epoch().count(); }

std::string Hash(std::string_view token) { return HexEncode(crypto::Sha256(token)); }

std::string JoinGroups(const std::vector<std::string>& groups) {
  std::string s;
  for (const auto& g : groups) s += (s.empty() ? "" : "\n") + g;
  return s;
}

// Whether two lists name the same groups, in any order.
bool SameGroups(std::vector<std::string> a, std::vector<std::string> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

std::vector<std::string> SplitGroups(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size() && !s.empty()) {
    const size_t nl = s.find('\n', start);
    out.push_back(s.substr(start, nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

Status CheckPassword(const std::string& password) {
  if (password.size() < 8) {
    return Status(Code::kInvalidArgument, "the password must have at least 8 characters");
  }
  if (password.size() > 1024) return Status(Code::kInvalidArgument, "the password is too long");
  return Status::Ok();
}

Status CheckName(const std::string& name, const char* what) {
  if (name.empty() || name.size() > 128 || name.find_first_of("\n\r\t") != std::string::npos) {
    return Status(Code::kInvalidArgument,
                  std::string("the ") + what + " must be 1 to 128 characters on one line");
  }
  return Status::Ok();
}

// New local account names are printable ASCII: names compare with ASCII
// case folding (NameKey, EqualsIgnoreCase in rights matching), so "É" and
// "é" would be two different names. Directory accounts are not limited.
Status CheckUserName(const std::string& name) {
  RETURN_IF_ERROR(CheckName(name, "user name"));
  for (unsigned char c : name) {
    if (c < 0x20 || c >= 0x7f) {
      return Status(Code::kInvalidArgument,
                    "the user name must be ASCII letters, digits, spaces or punctuation: user "
                    "names are not case-sensitive, and only ASCII letters have a case rule here");
    }
  }
  return Status::Ok();
}

// NameKey in SQL, the same in every engine (lower() may fold more than
// ASCII, or less).
std::string NameKeySql(const std::string& column) {
  std::string expr = column;
  for (char c = 'A'; c <= 'Z'; ++c) {
    expr = "replace(" + expr + ", '" + c + "', '" + static_cast<char>(c - 'A' + 'a') + "')";
  }
  return expr;
}

const Status& Wrong() {
  static const Status kWrong(Code::kUnauthenticated, "the user name or password is wrong");
  return kWrong;
}

// The stored name of the account that `user` names, in any case. When
// several legacy accounts differ only in case, `user` must be one exactly.
Result<std::string> Resolve(store::Database& db, const std::string& user) {
  ASSIGN_OR_RETURN(
      auto rows,
      db.Query("SELECT name FROM accounts WHERE name_key = $1 ORDER BY name", {NameKey(user)}));
  if (rows.empty()) return Status(Code::kNotFound, "there is no user named \"" + user + "\"");
  if (rows.size() == 1) return rows[0].Text(0);
  std::string names;
  for (const auto& r : rows) {
    if (r.Text(0) == user) return r.Text(0);
    names += (names.empty() ? "" : ", ") + r.Text(0);
  }
  return Status(Code::kFailedPrecondition,
                "the user name \"" + user +
                    "\" matches several accounts that differ only in case (" + names +
                    "): give one of them exactly");
}

// The local account's groups, copied into its live sessions (of every
// purpose; "" are sessions from before sources were kept, when only local
// accounts could make them). Directory logons of the same name keep theirs.
Status UpdateSessionGroups(store::Database& tx, const std::string& name) {
  ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT group_name FROM account_groups WHERE name = $1 "
                                       "ORDER BY group_name",
                                       {name}));
  std::vector<std::string> groups;
  for (const auto& r : rows) groups.push_back(r.Text(0));
  return tx
      .Execute("UPDATE sessions SET groups = $1 WHERE name = $2 AND source IN ('local', '')",
               {JoinGroups(groups), name})
      .status();
}

}  // namespace

std::string NameKey(std::string_view name) {
  std::string key(name);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return key;
}

std::string SourceKey(const std::string& address) {
  in6_addr v6{};
  if (address.find(':') == std::string::npos || inet_pton(AF_INET6, address.c_str(), &v6) != 1) {
    return address;
  }
  char text[INET6_ADDRSTRLEN] = {};
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    return inet_ntop(AF_INET, v6.s6_addr + 12, text, sizeof text) ? text : address;
  }
  // One subscriber usually holds a whole /64: counting its addresses one by
  // one would give it 2^64 budgets.
  std::memset(v6.s6_addr + 8, 0, 8);
  return inet_ntop(AF_INET6, &v6, text, sizeof text) ? std::string(text) + "/64" : address;
}

bool Identity::InGroup(std::string_view group) const {
  return std::any_of(groups.begin(), groups.end(),
                     [&](const std::string& g) { return EqualsIgnoreCase(g, group); });
}

Status AccountStore::Migrate(store::Database& db) {
  return store::Migrate(
      db, "accounts",
      {"CREATE TABLE accounts (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created_at "
       "INTEGER NOT NULL)",
       "CREATE TABLE account_groups (name TEXT NOT NULL, group_name TEXT NOT NULL, PRIMARY KEY "
       "(name, group_name))",
       "CREATE TABLE logon_failures (name TEXT PRIMARY KEY, failures INTEGER NOT NULL, "
       "locked_until INTEGER)",
       "CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, purpose TEXT NOT NULL, name TEXT NOT "
       "NULL, groups TEXT NOT NULL, csrf TEXT NOT NULL, created_at INTEGER NOT NULL, last_seen "
       "INTEGER NOT NULL)",
       // 5-6: failures per (name, source address), never a lock of the account.
       "DROP TABLE logon_failures",
       "CREATE TABLE logon_failures (name_key TEXT NOT NULL, source TEXT NOT NULL, failures "
       "INTEGER NOT NULL, last_attempt INTEGER NOT NULL, next_allowed INTEGER NOT NULL, PRIMARY "
       "KEY (name_key, source))",
       // 7-11: names compare case-insensitively (NameKey). Names that already
       // differ only in case are kept and marked ambiguous (see the header).
       "ALTER TABLE accounts ADD COLUMN name_key TEXT",
       "ALTER TABLE accounts ADD COLUMN ambiguous INTEGER NOT NULL DEFAULT 0",
       "UPDATE accounts SET name_key = " + NameKeySql("name"),
       "UPDATE accounts SET ambiguous = 1 WHERE name_key IN (SELECT name_key FROM accounts GROUP "
       "BY name_key HAVING COUNT(*) > 1)",
       "CREATE UNIQUE INDEX accounts_name_key ON accounts (name_key) WHERE ambiguous = 0",
       // 12: purging expired sessions.
       "CREATE INDEX sessions_purpose_last_seen ON sessions (purpose, last_seen)",
       // 13-14: where a session's user signed on ("local", "directory"; ""
       // for sessions made before), and finding a user's sessions, whose
       // groups follow changes (AddToGroup, GroupSource).
       "ALTER TABLE sessions ADD COLUMN source TEXT NOT NULL DEFAULT ''",
       "CREATE INDEX sessions_name ON sessions (name)"});
}

Status AccountStore::AddUser(const std::string& user, const std::string& password,
                             const std::vector<std::string>& groups) {
  RETURN_IF_ERROR(CheckUserName(user));
  RETURN_IF_ERROR(CheckPassword(password));
  for (const auto& g : groups) RETURN_IF_ERROR(CheckName(g, "group name"));
  ASSIGN_OR_RETURN(std::string hash, crypto::HashPassword(password));
  const std::string key = NameKey(user);
  auto taken = [&](const std::string& existing) {
    return Status(Code::kAlreadyUsed,
                  "a user named \"" + existing + "\" already exists" +
                      (existing == user ? "" : " (user names are not case-sensitive)"));
  };
  return db_.InTransaction([&](store::Database& tx) -> Status {
    // Also finds legacy ambiguous names, which the unique index leaves out.
    ASSIGN_OR_RETURN(auto existing,
                     tx.Query("SELECT name FROM accounts WHERE name_key = $1", {key}));
    if (!existing.empty()) return taken(existing[0].Text(0));
    auto r = tx.Execute(
        "INSERT INTO accounts (name, name_key, password_hash, created_at) VALUES ($1, $2, $3, $4)",
        {user, key, hash, Secs(clock_.Now())});
    if (!r.ok() && r.status().code() == Code::kAlreadyUsed) return taken(user);
    RETURN_IF_ERROR(r.status());
    // A new account starts with the given groups only, never with
    // memberships left behind by an older account of that name.
    RETURN_IF_ERROR(tx.Execute("DELETE FROM account_groups WHERE name = $1", {user}).status());
    for (const auto& g : groups) {
      auto added =
          tx.Execute("INSERT INTO account_groups (name, group_name) VALUES ($1, $2)", {user, g});
      if (!added.ok() && added.status().code() == Code::kAlreadyUsed) continue;  // given twice
      RETURN_IF_ERROR(added.status());
    }
    return Status::Ok();
  });
}

Status AccountStore::SetPassword(const std::string& user, const std::string& password) {
  RETURN_IF_ERROR(CheckPassword(password));
  ASSIGN_OR_RETURN(std::string hash, crypto::HashPassword(password));
  return db_.InTransaction([&](store::Database& tx) -> Status {
    ASSIGN_OR_RETURN(std::string name, Resolve(tx, user));
    return tx.Execute("UPDATE accounts SET password_hash = $1 WHERE name = $2", {hash, name})
        .status();
  });
}

Status AccountStore::AddToGroup(const std::string& user, const std::string& group) {
  RETURN_IF_ERROR(CheckName(group, "group name"));
  return db_.InTransaction([&](store::Database& tx) -> Status {
    ASSIGN_OR_RETURN(std::string name, Resolve(tx, user));
    auto r =
        tx.Execute("INSERT INTO account_groups (name, group_name) VALUES ($1, $2)", {name, group});
    if (!r.ok() && r.status().code() == Code::kAlreadyUsed) return Status::Ok();
    RETURN_IF_ERROR(r.status());
    return UpdateSessionGroups(tx, name);
  });
}

Status AccountStore::RemoveFromGroup(const std::string& user, const std::string& group) {
  return db_.InTransaction([&](store::Database& tx) -> Status {
    ASSIGN_OR_RETURN(std::string name, Resolve(tx, user));
    RETURN_IF_ERROR(
        tx.Execute("DELETE FROM account_groups WHERE name = $1 AND group_name = $2", {name, group})
            .status());
    return UpdateSessionGroups(tx, name);
  });
}

Status AccountStore::RemoveUser(const std::string& user) {
  return db_.InTransaction([&](store::Database& tx) -> Status {
    ASSIGN_OR_RETURN(std::string name, Resolve(tx, user));
    RETURN_IF_ERROR(tx.Execute("DELETE FROM account_groups WHERE name = $1", {name}).status());
    RETURN_IF_ERROR(tx.Execute("DELETE FROM sessions WHERE name = $1", {name}).status());
    RETURN_IF_ERROR(tx.Execute("DELETE FROM accounts WHERE name = $1", {name}).status());
    // The last of several names that differed only in case is no longer
    // ambiguous.
    return tx
        .Execute(
            "UPDATE accounts SET ambiguous = 0 WHERE name_key = $1 AND (SELECT COUNT(*) FROM "
            "accounts WHERE name_key = $1) = 1",
            {NameKey(name)})
        .status();
  });
}

Result<bool> AccountStore::Exists(const std::string& user) {
  ASSIGN_OR_RETURN(auto rows,
                   db_.Query("SELECT 1 FROM accounts WHERE name_key = $1", {NameKey(user)}));
  return !rows.empty();
}

Result<std::vector<Identity>> AccountStore::ListUsers() {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT name FROM accounts ORDER BY name_key, name"));
  std::vector<Identity> out;
  for (const auto& r : rows) {
    Identity id{r.Text(0), {}, "local"};
    ASSIGN_OR_RETURN(auto groups, db_.Query("SELECT group_name FROM account_groups WHERE name = "
                                            "$1 ORDER BY group_name",
                                            {id.user}));
    for (const auto& g : groups) id.groups.push_back(g.Text(0));
    out.push_back(std::move(id));
  }
  return out;
}

Result<Identity> AccountStore::Authenticate(const std::string& user, const std::string& password) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT name, password_hash FROM accounts WHERE name_key "
                                        "= $1 ORDER BY name",
                                        {NameKey(user)}));
  // Hash even for unknown users, so timing does not tell which names exist.
  static const std::string kDummy = *crypto::HashPassword("not a real password");
  if (rows.empty()) {
    (void)crypto::VerifyPassword(password, kDummy);
    return Wrong();
  }
  bool matched = false;
  for (const auto& r : rows) matched = crypto::VerifyPassword(password, r.Text(1)) || matched;
  if (!matched) return Wrong();
  if (rows.size() > 1) {
    // Legacy accounts whose names differ only in case: whichever we picked,
    // one person could act with the rights of another.
    return Status(Code::kFailedPrecondition,
                  "the user name \"" + user +
                      "\" belongs to several accounts whose names differ only in case, made "
                      "before user names became case-insensitive: none of them can log on until "
                      "an administrator removes all but one (openrms user remove NAME)");
  }
  Identity id{rows[0].Text(0), {}, "local"};
  ASSIGN_OR_RETURN(auto groups,
                   db_.Query("SELECT group_name FROM account_groups WHERE name = $1", {id.user}));
  for (const auto& g : groups) id.groups.push_back(g.Text(0));
  return id;
}

Duration LogonService::DelayAfter(int64_t failures, int64_t free) const {
  if (failures < free) return Duration(0);
  const int64_t doublings = failures - free;
  if (doublings >= 30) return policy_.max_delay;
  return std::min(policy_.max_delay, policy_.first_delay * (int64_t{1} << doublings));
}

Result<std::optional<Time>> LogonService::Reserve(const std::string& key,
                                                  const std::string& source) {
  const Time now = clock_.Now();
  const int64_t forget_before = Secs(now) - policy_.forget_after.count();
  // Names that do not exist get rows too; forget the old ones now and then.
  int64_t last = last_purge_.load();
  if (Secs(now) - last >= 60 && last_purge_.compare_exchange_strong(last, Secs(now))) {
    RETURN_IF_ERROR(
        db_.Execute("DELETE FROM logon_failures WHERE last_attempt <= $1", {forget_before})
            .status());
  }
  std::optional<Time> wait;
  RETURN_IF_ERROR(db_.InTransaction([&](store::Database& tx) -> Status {
    wait.reset();
    ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT failures, last_attempt, next_allowed FROM "
                                         "logon_failures WHERE name_key = $1 AND source = $2",
                                         {key, source}));
    int64_t failures = 0;
    if (!rows.empty() && rows[0].Int(1) > forget_before) {
      if (Secs(now) < rows[0].Int(2)) {
        wait = Time(Duration(rows[0].Int(2)));
        return Status::Ok();
      }
      failures = rows[0].Int(0);
    }
    ASSIGN_OR_RETURN(auto total, tx.Query("SELECT COALESCE(SUM(failures), 0) FROM logon_failures "
                                          "WHERE name_key = $1 AND last_attempt > $2",
                                          {key, forget_before}));
    const int64_t free = total[0].Int(0) >= policy_.account_ceiling ? 1 : policy_.max_failures;
    // Counted as a failure now; a success deletes the row.
    ++failures;
    return tx
        .Execute(
            "INSERT INTO logon_failures (name_key, source, failures, last_attempt, next_allowed) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name_key, source) DO UPDATE SET failures = "
            "$3, last_attempt = $4, next_allowed = $5",
            {key, source, failures, Secs(now), Secs(now + DelayAfter(failures, free))})
        .status();
  }));
  return wait;
}

Result<Identity> LogonService::LogOn(const std::string& user, const std::string& password,
                                     const std::string& source) {
  if (user.empty() || user.size() > 256 || password.size() > 1024) return Wrong();
  const std::string key = NameKey(user);
  const std::string from = SourceKey(source);
  ASSIGN_OR_RETURN(std::optional<Time> wait, Reserve(key, from));
  if (wait) {
    // The same answer whether or not the name exists. Whole minutes, rounded up.
    const Time at = std::chrono::ceil<std::chrono::minutes>(*wait);
    const auto minutes = std::chrono::ceil<std::chrono::minutes>(*wait - clock_.Now()).count();
    return Status(Code::kPermissionDenied,
                  "too many failed logons with this user name from " +
                      (source.empty() ? std::string("your address") : source) +
                      ": try again after " + FormatHuman(at) + " (in " + std::to_string(minutes) +
                      (minutes == 1 ? " minute" : " minutes") +
                      "). Logons from other addresses are not affected.");
  }
  Status last = Wrong();
  for (Authenticator* authenticator : sources_) {
    auto id = authenticator->Authenticate(user, password);
    if (id.ok()) {
      RETURN_IF_ERROR(
          db_.Execute("DELETE FROM logon_failures WHERE name_key = $1 AND source = $2", {key, from})
              .status());
      return id;
    }
    if (id.status().code() != Code::kUnauthenticated) last = id.status();
  }
  return last;
}

Result<std::string> SessionStore::Create(const Identity& identity) {
  const std::string token = NewToken(random_, 32);
  const std::string csrf = NewToken(random_, 24);
  const int64_t now = Secs(clock_.Now());
  int64_t last = last_purge_.load();
  if (now - last >= 60 && last_purge_.compare_exchange_strong(last, now)) {
    // The same rule as Find: expired at created + absolute or last_seen + idle.
    RETURN_IF_ERROR(
        db_.Execute(
               "DELETE FROM sessions WHERE purpose = $1 AND (last_seen <= $2 OR created_at <= $3)",
               {purpose_, now - idle_.count(), now - absolute_.count()})
            .status());
  }
  RETURN_IF_ERROR(db_.Execute("INSERT INTO sessions (token_hash, name, groups, csrf, created_at, "
                              "last_seen, purpose, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                              {Hash(token), identity.user, JoinGroups(identity.groups), csrf, now,
                               now, purpose_, identity.source})
                      .status());
  return token;
}

Result<std::optional<Session>> SessionStore::Find(const std::string& token) {
  if (token.empty() || token.size() > 256) return std::optional<Session>();
  ASSIGN_OR_RETURN(auto rows,
                   db_.Query("SELECT name, groups, csrf, created_at, last_seen, source FROM "
                             "sessions WHERE token_hash = $1 AND purpose = $2",
                             {Hash(token), purpose_}));
  if (rows.empty()) return std::optional<Session>();
  const Time now = clock_.Now();
  const Time created(Duration(rows[0].Int(3)));
  const Time last_seen(Duration(rows[0].Int(4)));
  if (now >= created + absolute_ || now >= last_seen + idle_) {
    RETURN_IF_ERROR(Delete(token));
    return std::optional<Session>();
  }
  Session s{rows[0].Text(0), SplitGroups(rows[0].Text(1)), rows[0].Text(2),
            std::min(created + absolute_, now + idle_)};
  if (group_source_ != nullptr && rows[0].Text(5) == group_source_->name()) {
    auto groups = group_source_->GroupsOf(s.user);
    if (groups.ok() && !*groups) {
      // The source no longer holds the user: every session of theirs ends.
      RETURN_IF_ERROR(db_.Execute("DELETE FROM sessions WHERE name = $1 AND source = $2",
                                  {s.user, std::string(group_source_->name())})
                          .status());
      return std::optional<Session>();
    }
    if (groups.ok() && !SameGroups(**groups, s.groups)) {
      s.groups = std::move(**groups);
      RETURN_IF_ERROR(
          db_.Execute("UPDATE sessions SET groups = $1 WHERE name = $2 AND source = $3",
                      {JoinGroups(s.groups), s.user, std::string(group_source_->name())})
              .status());
    }
    // Otherwise (kUnavailable) the groups stay as they were last known.
  }
  RETURN_IF_ERROR(db_.Execute("UPDATE sessions SET last_seen = $1 WHERE token_hash = $2",
                              {Secs(now), Hash(token)})
                      .status());
  return std::optional<Session>(std::move(s));
}

Status SessionStore::Delete(const std::string& token) {
  return db_.Execute("DELETE FROM sessions WHERE token_hash = $1", {Hash(token)}).status();
}

}  // namespace openrms::accounts
