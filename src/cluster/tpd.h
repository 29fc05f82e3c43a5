// Trusted publishing domains (TPDs): the keys, besides its own, whose
// content a cluster licenses. A rekey retires the old key and SLC into one;
// `openrms tpd import` adds another server's. The cluster's own key and
// active SLC are its active domain, kept where they always were (the
// clusters row and cluster_slcs); cluster_tpds holds the retired ones.
// Thread-safe; nothing is cached in the process.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "store/database.h"

namespace openrms::cluster {

struct PublishingDomain {
  int64_t id = 0;           // 0 for the active domain
  std::string fingerprint;  // crypto::PublicKey::Fingerprint (SHA-256 of the modulus, hex)
  std::string public_key;   // base64 DER (PKCS#1)
  std::string sealed_key;   // sealed under the key password; "" when in a token
  std::string key_uri;      // the key in a PKCS#11 token, or ""
  std::string chain;        // the last SLC chain that certified the key
  Time issued;
  Time expires;
  std::string state;   // "active" or "retired"
  std::string source;  // "cluster" (the active one), "rekey" or "import"
  Time added_at;
  std::string added_by;
};

class PublishingDomainStore final {
 public:
  explicit PublishingDomainStore(store::Database& db) : db_(db) {}

  // The retired domains of `cluster`, oldest first.
  Result<std::vector<PublishingDomain>> Retired(const std::string& cluster);
  Result<std::optional<PublishingDomain>> Find(const std::string& cluster,
                                               const std::string& fingerprint);
  // Inside the caller's transaction. kAlreadyUsed when the cluster holds a
  // domain with that fingerprint.
  static Status Insert(store::Database& tx, const std::string& cluster,
                       const PublishingDomain& domain);

 private:
  store::Database& db_;
};

// The result of `tpd import`.
struct TpdImport {
  std::vector<PublishingDomain> added;
  std::vector<std::string> already_held;  // fingerprints of domains the cluster had
  std::string from_cluster;
  std::string templates_json;  // the file's templates, for the caller to add
};

}  // namespace openrms::cluster
