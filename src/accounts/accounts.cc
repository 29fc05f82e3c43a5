#include "accounts/accounts.h"

#include <algorithm>

#include "base/text.h"
#include "crypto/keys.h"
#include "crypto/password_hash.h"

namespace openrms::accounts {

namespace {

int64_t Secs(Time t) { return t.time_since_epoch().count(); }
Status Done(const Result<int64_t>& r) { return r.ok() ? Status::Ok() : r.status(); }

std::string Hash(std::string_view token) { return crypto::HexEncode(crypto::Sha256(token)); }

std::string JoinGroups(const std::vector<std::string>& groups) {
  std::string s;
  for (const auto& g : groups) s += (s.empty() ? "" : "\n") + g;
  return s;
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

}  // namespace

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
       "INTEGER NOT NULL)"});
}

Status AccountStore::AddUser(const std::string& user, const std::string& password,
                             const std::vector<std::string>& groups) {
  RETURN_IF_ERROR(CheckName(user, "user name"));
  RETURN_IF_ERROR(CheckPassword(password));
  for (const auto& g : groups) RETURN_IF_ERROR(CheckName(g, "group name"));
  ASSIGN_OR_RETURN(std::string hash, crypto::HashPassword(password));
  return db_.InTransaction([&](store::Database& tx) -> Status {
    auto r =
        tx.Execute("INSERT INTO accounts (name, password_hash, created_at) VALUES ($1, $2, $3)",
                   {user, hash, Secs(clock_.Now())});
    if (!r.ok() && r.status().code() == Code::kAlreadyUsed) {
      return Status(Code::kAlreadyUsed, "a user named \"" + user + "\" already exists");
    }
    RETURN_IF_ERROR(Done(r));
    for (const auto& g : groups) {
      RETURN_IF_ERROR(Done(
          tx.Execute("INSERT INTO account_groups (name, group_name) VALUES ($1, $2)", {user, g})));
    }
    return Status::Ok();
  });
}

Status AccountStore::SetPassword(const std::string& user, const std::string& password) {
  RETURN_IF_ERROR(CheckPassword(password));
  ASSIGN_OR_RETURN(std::string hash, crypto::HashPassword(password));
  ASSIGN_OR_RETURN(int64_t n, db_.Execute("UPDATE accounts SET password_hash = $1 WHERE name = $2",
                                          {hash, user}));
  if (n == 0) return Status(Code::kNotFound, "there is no user named \"" + user + "\"");
  return Status::Ok();
}

Status AccountStore::AddToGroup(const std::string& user, const std::string& group) {
  RETURN_IF_ERROR(CheckName(group, "group name"));
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT 1 FROM accounts WHERE name = $1", {user}));
  if (rows.empty()) return Status(Code::kNotFound, "there is no user named \"" + user + "\"");
  auto r =
      db_.Execute("INSERT INTO account_groups (name, group_name) VALUES ($1, $2)", {user, group});
  if (!r.ok() && r.status().code() == Code::kAlreadyUsed) return Status::Ok();
  return Done(r);
}

Status AccountStore::RemoveFromGroup(const std::string& user, const std::string& group) {
  return Done(
      db_.Execute("DELETE FROM account_groups WHERE name = $1 AND group_name = $2", {user, group}));
}

Result<std::vector<Identity>> AccountStore::ListUsers() {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT name FROM accounts ORDER BY name"));
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
  ASSIGN_OR_RETURN(auto rows,
                   db_.Query("SELECT password_hash FROM accounts WHERE name = $1", {user}));
  // Hash even for unknown users, so timing does not tell which names exist.
  static const std::string kDummy = *crypto::HashPassword("not a real password");
  const bool ok = crypto::VerifyPassword(password, rows.empty() ? kDummy : rows[0].Text(0));
  if (rows.empty() || !ok) {
    return Status(Code::kUnauthenticated, "the user name or password is wrong");
  }
  Identity id{user, {}, "local"};
  ASSIGN_OR_RETURN(auto groups,
                   db_.Query("SELECT group_name FROM account_groups WHERE name = $1", {user}));
  for (const auto& g : groups) id.groups.push_back(g.Text(0));
  return id;
}

Result<Identity> LogonService::LogOn(const std::string& user, const std::string& password) {
  if (user.empty() || user.size() > 256 || password.size() > 1024) {
    return Status(Code::kUnauthenticated, "the user name or password is wrong");
  }
  const Time now = clock_.Now();
  ASSIGN_OR_RETURN(auto lock, db_.Query("SELECT failures, locked_until FROM logon_failures WHERE "
                                        "name = $1",
                                        {user}));
  if (!lock.empty() && !lock[0].IsNull(1) && Secs(now) < lock[0].Int(1)) {
    return Status(Code::kPermissionDenied, "too many failed logons: the account is locked until " +
                                               FormatHuman(Time(Duration(lock[0].Int(1)))));
  }
  Status last(Code::kUnauthenticated, "the user name or password is wrong");
  for (Authenticator* source : sources_) {
    auto id = source->Authenticate(user, password);
    if (id.ok()) {
      RETURN_IF_ERROR(Done(db_.Execute("DELETE FROM logon_failures WHERE name = $1", {user})));
      return id;
    }
    if (id.status().code() != Code::kUnauthenticated) last = id.status();
  }
  const int64_t failures = (lock.empty() ? 0 : lock[0].Int(0)) + 1;
  const bool locks = failures >= policy_.max_failures;
  RETURN_IF_ERROR(Done(db_.Execute("DELETE FROM logon_failures WHERE name = $1", {user})));
  RETURN_IF_ERROR(Done(
      db_.Execute("INSERT INTO logon_failures (name, failures, locked_until) VALUES ($1, $2, $3)",
                  {user, locks ? int64_t{0} : failures,
                   locks ? store::Value(Secs(now + policy_.lock_for)) : store::Value(nullptr)})));
  return last;
}

Result<std::string> SessionStore::Create(const Identity& identity) {
  const std::string token = NewToken(random_, 32);
  const std::string csrf = NewToken(random_, 24);
  const int64_t now = Secs(clock_.Now());
  RETURN_IF_ERROR(Done(db_.Execute(
      "INSERT INTO sessions (token_hash, name, groups, csrf, created_at, last_seen, purpose) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7)",
      {Hash(token), identity.user, JoinGroups(identity.groups), csrf, now, now, purpose_})));
  return token;
}

Result<std::optional<Session>> SessionStore::Find(const std::string& token) {
  if (token.empty() || token.size() > 256) return std::optional<Session>();
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT name, groups, csrf, created_at, last_seen FROM "
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
  RETURN_IF_ERROR(Done(db_.Execute("UPDATE sessions SET last_seen = $1 WHERE token_hash = $2",
                                   {Secs(now), Hash(token)})));
  Session s{rows[0].Text(0), SplitGroups(rows[0].Text(1)), rows[0].Text(2),
            std::min(created + absolute_, now + idle_)};
  return std::optional<Session>(std::move(s));
}

Status SessionStore::Delete(const std::string& token) {
  return Done(db_.Execute("DELETE FROM sessions WHERE token_hash = $1", {Hash(token)}));
}

}  // namespace openrms::accounts
