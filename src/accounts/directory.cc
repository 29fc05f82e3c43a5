#include "accounts/directory.h"

#include <ldap.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/text.h"

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
  const nlohmann::json j = {{"uri", c.uri},
                            {"user_dn", c.user_dn},
                            {"group_base", c.group_base},
                            {"group_filter", c.group_filter},
                            {"group_attribute", c.group_attribute},
                            {"ca_file", c.ca_file},
                            {"timeout_seconds", c.timeout_seconds}};
  return db.InTransaction([&](store::Database& tx) -> Status {
    auto del = tx.Execute("DELETE FROM settings WHERE name = 'directory'");
    if (!del.ok()) return del.status();
    auto ins =
        tx.Execute("INSERT INTO settings (name, value) VALUES ('directory', $1)", {WriteJson(j)});
    return ins.ok() ? Status::Ok() : ins.status();
  });
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
                             {"ca_file", &c.ca_file}}) {
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

Result<Identity> DirectoryAuthenticator::Authenticate(const std::string& user,
                                                      const std::string& password) {
  // An empty password would make an unauthenticated bind, which succeeds.
  if (user.empty() || password.empty()) {
    return Status(Code::kUnauthenticated, "the user name or password is wrong");
  }
  LDAP* raw = nullptr;
  int rc = ldap_initialize(&raw, config_.uri.c_str());
  if (rc != LDAP_SUCCESS) return Unavailable(config_, rc);
  std::unique_ptr<LDAP, LdapDeleter> ld(raw);
  const int version = LDAP_VERSION3;
  ldap_set_option(ld.get(), LDAP_OPT_PROTOCOL_VERSION, &version);
  timeval timeout{config_.timeout_seconds, 0};
  ldap_set_option(ld.get(), LDAP_OPT_NETWORK_TIMEOUT, &timeout);
  ldap_set_option(ld.get(), LDAP_OPT_TIMEOUT, &timeout);
  ldap_set_option(ld.get(), LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
  if (!config_.ca_file.empty()) {
    ldap_set_option(ld.get(), LDAP_OPT_X_TLS_CACERTFILE, config_.ca_file.c_str());
    const int demand = LDAP_OPT_X_TLS_DEMAND;
    ldap_set_option(ld.get(), LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
    const int fresh = 0;
    ldap_set_option(ld.get(), LDAP_OPT_X_TLS_NEWCTX, &fresh);
  }
  const std::string dn = Replace(config_.user_dn, "{user}", EscapeDnValue(user));
  berval cred{static_cast<ber_len_t>(password.size()), const_cast<char*>(password.data())};
  rc = ldap_sasl_bind_s(ld.get(), dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
  if (rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INVALID_DN_SYNTAX || rc == LDAP_NO_SUCH_OBJECT) {
    return Status(Code::kUnauthenticated, "the user name or password is wrong");
  }
  if (rc != LDAP_SUCCESS) return Unavailable(config_, rc);

  Identity id{CanonicalName(ld.get(), config_, dn, user, timeout), {}, "directory"};
  if (config_.group_base.empty()) return id;
  const std::string filter = Replace(config_.group_filter, "{dn}", EscapeFilterValue(dn));
  char* attrs[] = {const_cast<char*>(config_.group_attribute.c_str()), nullptr};
  LDAPMessage* result = nullptr;
  rc = ldap_search_ext_s(ld.get(), config_.group_base.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(),
                         attrs, 0, nullptr, nullptr, &timeout, 1000, &result);
  std::unique_ptr<LDAPMessage, int (*)(LDAPMessage*)> owned(result, ldap_msgfree);
  if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) return Unavailable(config_, rc);
  for (LDAPMessage* e = ldap_first_entry(ld.get(), result); e != nullptr;
       e = ldap_next_entry(ld.get(), e)) {
    berval** values = ldap_get_values_len(ld.get(), e, config_.group_attribute.c_str());
    if (values == nullptr) continue;
    for (int i = 0; values[i] != nullptr; ++i) {
      id.groups.emplace_back(values[i]->bv_val, values[i]->bv_len);
    }
    ldap_value_free_len(values);
  }
  return id;
}

}  // namespace openrms::accounts
