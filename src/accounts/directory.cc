#include "accounts/directory.h"

#include <ldap.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/text.h"
#include "crypto/password_hash.h"

namespace openrms::accounts {

namespace {

std::string Replace(std::string text, std::string_view key, std::string_view value) {
  for (size_t at = text.find(key); at != std::string::npos;
       at = text.find(key, at + value.size())) {
    text.replace(at, key.size(), value);
  }
  return text;
}

struct LdapDeleter {
  void operator()(LDAP* ld) const { ldap_unbind_ext_s(ld, nullptr, nullptr); }
};

Status Unavailable(const DirectoryConfig& c, int rc) {
  return Status(Code::kUnavailable,
                "the directory at " + c.uri + " cannot be reached: " + ldap_err2string(rc));
}

// A connection with the options every use needs; not yet bound.
Result<std::unique_ptr<LDAP, LdapDeleter>> OpenLdap(const DirectoryConfig& config,
                                                    timeval& timeout) {
  LDAP* raw = nullptr;
  const int rc = ldap_initialize(&raw, config.uri.c_str());
  if (rc != LDAP_SUCCESS) return Unavailable(config, rc);
  std::unique_ptr<LDAP, LdapDeleter> ld(raw);
  const int version = LDAP_VERSION3;
  ldap_set_option(ld.get(), LDAP_OPT_PROTOCOL_VERSION, &version);
  ldap_set_option(ld.get(), LDAP_OPT_NETWORK_TIMEOUT, &timeout);
  ldap_set_option(ld.get(), LDAP_OPT_TIMEOUT, &timeout);
  ldap_set_option(ld.get(), LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
  if (!config.ca_file.empty()) {
    ldap_set_option(ld.get(), LDAP_OPT_X_TLS_CACERTFILE, config.ca_file.c_str());
    const int demand = LDAP_OPT_X_TLS_DEMAND;
    ldap_set_option(ld.get(), LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
    const int fresh = 0;
    ldap_set_option(ld.get(), LDAP_OPT_X_TLS_NEWCTX, &fresh);
  }
  return ld;
}

// The names of the groups whose filter matches the user's DN.
Result<std::vector<std::string>> SearchGroups(LDAP* ld, const DirectoryConfig& config,
                                              const std::string& dn, timeval& timeout) {
  std::vector<std::string> groups;
  if (config.group_base.empty()) return groups;
  const std::string filter = Replace(config.group_filter, "{dn}", EscapeFilterValue(dn));
  char* attrs[] = {const_cast<char*>(config.group_attribute.c_str()), nullptr};
  LDAPMessage* result = nullptr;
  const int rc =
      ldap_search_ext_s(ld, config.group_base.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(), attrs, 0,
                        nullptr, nullptr, &timeout, 1000, &result);
  std::unique_ptr<LDAPMessage, int (*)(LDAPMessage*)> owned(result, ldap_msgfree);
  if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) return Unavailable(config, rc);
  for (LDAPMessage* e = ldap_first_entry(ld, result); e != nullptr; e = ldap_next_entry(ld, e)) {
    berval** values = ldap_get_values_len(ld, e, config.group_attribute.c_str());
    if (values == nullptr) continue;
    for (int i = 0; values[i] != nullptr; ++i) {
      groups.emplace_back(values[i]->bv_val, values[i]->bv_len);
    }
    ldap_value_free_len(values);
  }
  return groups;
}

// The directory matches names without regard to case; a logon as "BOB" is
// uid=bob. The identity carries the directory's own spelling, so that one
// person has one name in sessions, policies and audit records. Falls back
// to `user` when the template does not start with ATTRIBUTE={user} or the
// entry cannot be read.
std::string CanonicalName(LDAP* ld, const DirectoryConfig& config, const std::string& dn,
                          const std::string& user, timeval& timeout) {
  const size_t eq = config.user_dn.find("={user}");
  if (eq == std::string::npos || eq == 0 || config.user_dn.find_first_of(",+", 0) < eq) {
    return user;
  }
  const std::string attribute = config.user_dn.substr(0, eq);
  char* attrs[] = {const_cast<char*>(attribute.c_str()), nullptr};
  LDAPMessage* result = nullptr;
  const int rc = ldap_search_ext_s(ld, dn.c_str(), LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
                                   nullptr, nullptr, &timeout, 1, &result);
  std::unique_ptr<LDAPMessage, int (*)(LDAPMessage*)> owned(result, ldap_msgfree);
  if (rc != LDAP_SUCCESS) return user;
  LDAPMessage* entry = ldap_first_entry(ld, result);
  if (entry == nullptr) return user;
  berval** values = ldap_get_values_len(ld, entry, attribute.c_str());
  if (values == nullptr) return user;
  std::string name = user;
  int count = 0;
  for (int i = 0; values[i] != nullptr; ++i) {
    const std::string value(values[i]->bv_val, values[i]->bv_len);
    if (EqualsIgnoreCase(value, user)) name = value;
    ++count;
  }
  // A single value is the one the DN named, even where only non-ASCII
  // letters differ in case.
  if (count == 1) name.assign(values[0]->bv_val, values[0]->bv_len);
  ldap_value_free_len(values);
  return name;
}

}  // namespace

std::string EscapeDnValue(std::string_view value) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const bool special = c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' ||
                         c == ';' || c == '=' || (i == 0 && (c == '#' || c == ' ')) ||
                         (i + 1 == value.size() && c == ' ');
    if (c == '\0') {
      out += "\\00";
    } else {
      if (special) out += '\\';
      out += c;
    }
  }
  return out;
}

std::string EscapeFilterValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '*' || c == '(' || c == ')' || c == '\\' || c == '\0') {
      out += '\\' + HexEncode(std::string_view(&c, 1));
    } else {
      out += c;
    }
  }
  return out;
}

Status MigrateSettings(store::Database& db) {
  return store::Migrate(db, "settings",
                        {"CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)"});
}

Status SaveDirectoryConfig(store::Database& db, const DirectoryConfig& c) {
  if (c.uri.rfind("ldaps://", 0) != 0 && c.uri.rfind("ldap://", 0) != 0) {
    return Status(Code::kInvalidArgument, "the directory URI must start with ldaps://");
  }
  if (c.user_dn.find("{user}") == std::string::npos) {
    return Status(Code::kInvalidArgument, "the user DN template must contain {user}");
  }
  if (c.bind_dn.empty() != c.bind_password_file.empty()) {
    return Status(Code::kInvalidArgument,
                  "a bind DN needs its password file, and a password file its bind DN: give "
                  "both or neither");
  }
  const nlohmann::json j = {{"uri", c.uri},
                            {"user_dn", c.user_dn},
                            {"group_base", c.group_base},
                            {"group_filter", c.group_filter},
                            {"group_attribute", c.group_attribute},
                            {"ca_file", c.ca_file},
                            {"timeout_seconds", c.timeout_seconds},
                            {"bind_dn", c.bind_dn},
                            {"bind_password_file", c.bind_password_file}};
  return db.InTransaction([&](store::Database& tx) -> Status {
    auto del = tx.Execute("DELETE FROM settings WHERE name = 'directory'");
    if (!del.ok()) return del.status();
    auto ins =
        tx.Execute("INSERT INTO settings (name, value) VALUES ('directory', $1)", {WriteJson(j)});
    return ins.ok() ? Status::Ok() : ins.status();
  });
}

Result<bool> RemoveDirectoryConfig(store::Database& db) {
  ASSIGN_OR_RETURN(int64_t removed, db.Execute("DELETE FROM settings WHERE name = 'directory'"));
  return removed > 0;
}

Result<std::optional<DirectoryConfig>> LoadDirectoryConfig(store::Database& db) {
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT value FROM settings WHERE name = 'directory'"));
  if (rows.empty()) return std::optional<DirectoryConfig>();
  const auto j = nlohmann::json::parse(rows[0].Text(0), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status(Code::kDataLoss, "the stored directory settings are not valid JSON");
  }
  // Checked readers: a damaged field is an error naming it, never an
  // exception in the middle of a logon.
  DirectoryConfig c;
  auto damaged = [](const Status& s) {
    return Status(Code::kDataLoss, "the stored directory settings are damaged: " + s.message());
  };
  for (auto [name, field] : {std::pair{"uri", &c.uri},
                             {"user_dn", &c.user_dn},
                             {"group_base", &c.group_base},
                             {"group_filter", &c.group_filter},
                             {"group_attribute", &c.group_attribute},
                             {"ca_file", &c.ca_file},
                             {"bind_dn", &c.bind_dn},
                             {"bind_password_file", &c.bind_password_file}}) {
    auto v = StringField(j, name, *field);
    if (!v.ok()) return damaged(v.status());
    *field = std::move(*v);
  }
  auto timeout = IntField(j, "timeout_seconds", 10, std::numeric_limits<int>::min(),
                          std::numeric_limits<int>::max());
  if (!timeout.ok()) return damaged(timeout.status());
  c.timeout_seconds = static_cast<int>(*timeout);
  return std::optional<DirectoryConfig>(std::move(c));
}

struct DirectoryAuthenticator::Connection {
  std::unique_ptr<LDAP, LdapDeleter> ld;
};

DirectoryAuthenticator::DirectoryAuthenticator(DirectoryConfig config, const Clock& clock,
                                               FileSystem& fs)
    : config_(std::move(config)), clock_(clock), fs_(fs) {}

DirectoryAuthenticator::~DirectoryAuthenticator() = default;

Result<Identity> DirectoryAuthenticator::Authenticate(const std::string& user,
                                                      const std::string& password) {
  // An empty password would make an unauthenticated bind, which succeeds.
  if (user.empty() || password.empty()) {
    return Status(Code::kUnauthenticated, "the user name or password is wrong");
  }
  timeval timeout{config_.timeout_seconds, 0};
  ASSIGN_OR_RETURN(auto ld, OpenLdap(config_, timeout));
  const std::string dn = Replace(config_.user_dn, "{user}", EscapeDnValue(user));
  berval cred{static_cast<ber_len_t>(password.size()), const_cast<char*>(password.data())};
  const int rc =
      ldap_sasl_bind_s(ld.get(), dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
  if (rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INVALID_DN_SYNTAX || rc == LDAP_NO_SUCH_OBJECT) {
    return Status(Code::kUnauthenticated, "the user name or password is wrong");
  }
  if (rc != LDAP_SUCCESS) return Unavailable(config_, rc);
  Identity id{CanonicalName(ld.get(), config_, dn, user, timeout), {}, "directory"};
  ASSIGN_OR_RETURN(id.groups, SearchGroups(ld.get(), config_, dn, timeout));
  return id;
}

Result<std::unique_ptr<DirectoryAuthenticator::Connection>> DirectoryAuthenticator::Connect(
    int timeout_seconds) const {
  timeval timeout{timeout_seconds, 0};
  ASSIGN_OR_RETURN(auto ld, OpenLdap(config_, timeout));
  // Without a bind DN the look-ups are anonymous: LDAPv3 needs no bind.
  if (!config_.bind_dn.empty()) {
    auto read = crypto::ReadSecretFile(fs_, config_.bind_password_file);
    if (!read.ok()) {
      return Status(Code::kUnavailable, "cannot read [directory] bind_password_file " +
                                            config_.bind_password_file + ": " +
                                            read.status().message());
    }
    std::string password = std::move(*read);
    berval cred{static_cast<ber_len_t>(password.size()), password.data()};
    const int rc = ldap_sasl_bind_s(ld.get(), config_.bind_dn.c_str(), LDAP_SASL_SIMPLE, &cred,
                                    nullptr, nullptr, nullptr);
    crypto::Wipe(password);
    if (rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INVALID_DN_SYNTAX ||
        rc == LDAP_NO_SUCH_OBJECT || rc == LDAP_UNWILLING_TO_PERFORM) {
      return Status(Code::kUnavailable, "the directory refused the bind as " + config_.bind_dn +
                                            " (" + ldap_err2string(rc) +
                                            "): check [directory] bind_dn and bind_password_file");
    }
    if (rc != LDAP_SUCCESS) return Unavailable(config_, rc);
  }
  return std::make_unique<Connection>(Connection{std::move(ld)});
}

Result<std::optional<std::vector<std::string>>> DirectoryAuthenticator::LookUp(
    Connection& c, const std::string& user) {
  timeval timeout{std::min(config_.timeout_seconds, kLookupTimeoutSeconds), 0};
  const std::string dn = Replace(config_.user_dn, "{user}", EscapeDnValue(user));
  char* none[] = {const_cast<char*>(LDAP_NO_ATTRS), nullptr};
  LDAPMessage* result = nullptr;
  const int rc = ldap_search_ext_s(c.ld.get(), dn.c_str(), LDAP_SCOPE_BASE, "(objectClass=*)", none,
                                   0, nullptr, nullptr, &timeout, 1, &result);
  std::unique_ptr<LDAPMessage, int (*)(LDAPMessage*)> owned(result, ldap_msgfree);
  if (rc == LDAP_NO_SUCH_OBJECT) return std::optional<std::vector<std::string>>();
  if (rc != LDAP_SUCCESS) return Unavailable(config_, rc);
  ASSIGN_OR_RETURN(auto groups, SearchGroups(c.ld.get(), config_, dn, timeout));
  return std::optional<std::vector<std::string>>(std::move(groups));
}

Result<std::optional<std::vector<std::string>>> DirectoryAuthenticator::GroupsOf(
    const std::string& user) {
  const int64_t now = clock_.Now().time_since_epoch().count();
  if (now < down_until_.load(std::memory_order_relaxed)) {
    return Status(Code::kUnavailable, "the directory at " + config_.uri +
                                          " could not be reached moments ago; trying again "
                                          "shortly");
  }
  std::unique_ptr<Connection> c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      c = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  // A kept connection may have been closed by the server since: one more
  // try on a new one.
  for (bool fresh = c == nullptr;; fresh = true) {
    if (c == nullptr) {
      auto made = Connect(std::min(config_.timeout_seconds, kLookupTimeoutSeconds));
      if (!made.ok()) {
        down_until_.store(now + kRetryAfterFailureSeconds, std::memory_order_relaxed);
        return made.status();
      }
      c = std::move(*made);
    }
    auto found = LookUp(*c, user);
    if (found.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (idle_.size() < kIdleConnections) idle_.push_back(std::move(c));
      return found;
    }
    c.reset();
    if (fresh) {
      down_until_.store(now + kRetryAfterFailureSeconds, std::memory_order_relaxed);
      return found.status();
    }
  }
}

}  // namespace openrms::accounts
