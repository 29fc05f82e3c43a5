// Licensing: publishing licenses and use licenses, as the REST protocol of
// Microsoft's RMS SDK for portable devices asks for them (/my/v2), and the
// rights policy templates. The SLC's key signs every publishing license and
// opens every content key; nothing is issued while the SLC has expired.
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "accounts/accounts.h"
#include "cluster/cluster.h"

namespace openrms::licensing {

// Rights of MS-RMPR 2.2.9.7 / the SDK's common rights.
bool IsKnownRight(std::string_view right);

struct UserRights {
  std::vector<std::string> users;   // user names, group names, or "ANYONE"
  std::vector<std::string> rights;  // "VIEW", "EDIT", ...
};

struct Template {
  std::string id;  // GUID
  std::string name;
  std::string description;
  std::vector<UserRights> user_rights;
  std::optional<int> valid_days;  // content expiry, counted from publishing
};

struct Policy {
  std::string content_id;
  std::string owner;
  std::string name;
  std::string description;
  std::string template_id;
  std::vector<UserRights> user_rights;
  bool allow_offline = true;
  int interval_days = 30;
  std::optional<Time> valid_until;  // content expiry
};

// The rights of a publishing request's "Policy" object (the RMS SDK's
// custom-policy JSON): user rights, descriptors, offline access, content
// expiry. Pure; kInvalidArgument naming the field for anything out of
// shape. Owner, content id and template are the caller's.
Result<Policy> CustomPolicyFromRequest(const nlohmann::json& policy);

// A license the client may cache is valid for at most this long when the
// policy allows no offline access.
inline constexpr Duration kOnlineOnlyLicense = std::chrono::hours(1);

struct LicensingOptions {
  std::string super_users_group = "SuperUsers";
};

// An error of the REST protocol: {"Code","Message"} with an HTTP status.
struct ProtocolError {
  int http_status = 400;
  std::string code;
  std::string message;
};

class LicensingService final {
 public:
  LicensingService(cluster::ClusterService& clusters, store::Database& db, const Clock& clock,
                   Random& random, std::string key_password, LicensingOptions options = {})
      : clusters_(clusters),
        db_(db),
        clock_(clock),
        random_(random),
        password_(std::move(key_password)),
        options_(std::move(options)) {}

  static Status Migrate(store::Database& db);

  // POST /publishinglicenses. `license_url` is the License-Acquisition-URL
  // written into the license.
  Result<nlohmann::json> Publish(const std::string& cluster, const accounts::Identity& who,
                                 const nlohmann::json& request, const std::string& license_url);
  // POST /enduserlicenses.
  Result<nlohmann::json> EndUserLicense(const std::string& cluster, const accounts::Identity& who,
                                        const nlohmann::json& request);

  // A rights account certificate (MS-RMPR 2.2.9.5) for `key`, issued by a
  // root cluster to a logged-on user: standard or temporary. The chain goes
  // RAC -> SLC -> enrollment chain.
  Result<std::vector<xrml::Document>> Certify(const std::string& cluster,
                                              const accounts::Identity& who,
                                              const crypto::PublicKey& key, bool temporary);

  Result<std::vector<Template>> ListTemplates();
  Result<Template> AddTemplate(Template t);
  Status DeleteTemplate(const std::string& id);

  // Maps a Status from the calls above to the protocol's error.
  static ProtocolError ToProtocolError(const Status& status);

 private:
  Result<std::shared_ptr<crypto::PrivateKey>> Key(const std::string& cluster);
  Status CheckCanIssue(const std::string& cluster);
  Status Audit(const std::string& cluster, const std::string& user, const std::string& kind,
               const std::string& content_id, const std::string& result, const std::string& detail);

  cluster::ClusterService& clusters_;
  store::Database& db_;
  const Clock& clock_;
  Random& random_;
  std::string password_;
  LicensingOptions options_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<crypto::PrivateKey>> keys_;
};

// Publishing licenses travel as UTF-8 with a byte-order mark.
std::string EncodeLicense(const std::string& xml);
// Accepts UTF-8 (with or without BOM) and UTF-16LE with a BOM.
Result<std::string> DecodeLicense(std::string_view bytes);

}  // namespace openrms::licensing
