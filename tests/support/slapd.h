// An OpenLDAP slapd of a test's own, on loopback over ldaps:// with a test
// CA of its own, holding dc=example,dc=test:
//   uid=alice (password alice-directory-pw): Administrators, Staff
//   uid=bob   (password bob-directory-pw):   Staff
// and a root account (kAdminDn, kAdminPassword) that may change anything.
// Default access (anyone reads everything but passwords). Stopped by the
// destructor. Not thread-safe.
#pragma once

#include <memory>
#include <string>

#include "accounts/directory.h"
#include "support/process.h"

namespace openrms::testing {

inline constexpr char kDirectoryBase[] = "dc=example,dc=test";
inline constexpr char kDirectoryUserDn[] = "uid={user},ou=people,dc=example,dc=test";
inline constexpr char kDirectoryGroupBase[] = "ou=groups,dc=example,dc=test";
inline constexpr char kDirectoryAdminDn[] = "cn=admin,dc=example,dc=test";
inline constexpr char kDirectoryAdminPassword[] = "directory-admin-pw";

class Slapd final {
 public:
  // Writes its files under `dir`; fails the test (ADD_FAILURE) when slapd
  // cannot start.
  explicit Slapd(const std::string& dir);
  ~Slapd();
  Slapd(const Slapd&) = delete;
  Slapd& operator=(const Slapd&) = delete;

  // For this directory: uri, user_dn, group_base, ca_file.
  accounts::DirectoryConfig Config() const;
  std::string uri() const { return "ldaps://127.0.0.1:" + std::to_string(port_); }
  std::string ca_file() const { return dir_ + "/ca.pem"; }

  // Applies an LDIF change (ldapmodify as the root account); false, with
  // the tool's output added to the failure, when it is refused.
  bool Modify(const std::string& ldif);

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

}  // namespace openrms::testing
