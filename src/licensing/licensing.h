// Licensing: publishing licenses and use licenses, as the REST protocol of
// Microsoft's RMS SDK for portable devices asks for them (/my/v2), and the
// rights policy templates. The SLC's key signs every publishing license and
// opens every content key; nothing is issued while the SLC has expired.
// Requests and answers are typed values: the protocol's JSON is read and
// written by node/api/my_v2_codec. Thread-safe.
//
// What it keeps in memory, each a copy with a bound (the store stays the
// truth; several nodes share it):
// - per cluster, the active SLC (its validity, its parsed chain) and the
//   cluster's configuration, read again from the store once they are
//   `cluster_refresh` old (2 s): an SLC renewed or imported through another
//   node is used here within that bound;
// - per publishing license (the SHA-256 of its bytes, per cluster), what the
//   license itself proves once its signature held: its policy and its
//   content key. At most `publishing_license_cache` entries, least recently
//   used first out; a key is wiped when its entry is evicted or the cache
//   destroyed (once no request still holds it). Whether a user holds a right,
//   and whether the content has expired, is decided again on every request.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "accounts/accounts.h"
#include "cluster/cluster.h"
#include "licensing/audit.h"
#include "licensing/audit_query.h"
#include "licensing/enabling_bits.h"
#include "licensing/lru_cache.h"
#include "xrml/document.h"

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

// The rules every policy's user rights follow, from the SDK or from a
// template: at least one entry, user names of 1 to 256 bytes, known rights
// (upper-cased here), at most 500 users in all. kInvalidArgument naming the
// entry ("UserRights[2].Users ...").
Status CheckUserRights(std::vector<UserRights>& user_rights);

// The longest offline interval a policy may give (100 years).
inline constexpr int kMaxIntervalDays = 36500;

// A license the client may cache is valid for at most this long when the
// policy allows no offline access.
inline constexpr Duration kOnlineOnlyLicense = std::chrono::hours(1);

// POST /publishinglicenses: the rights of a template, or the publisher's
// own. Exactly one of the two is set.
struct PublishRequest {
  std::optional<std::string> template_id;  // a template's GUID
  // Custom rights: its user_rights, name, description, allow_offline,
  // interval_days (0 to kMaxIntervalDays) and valid_until are used; owner,
  // content id and template are the service's.
  std::optional<Policy> custom;
  // "PreferDeprecatedAlgorithms": an AES-128 key for MICROSOFT.ECB, which
  // Office documents need (MS-OFFCRYPTO 2.2.10), instead of AES-256 for
  // MICROSOFT.CBC4K.
  bool prefer_deprecated_algorithms = false;
};

// A publishing license and the content key it seals.
struct PublishedLicense {
  Policy policy;                   // as written into the license
  std::string publishing_license;  // XrML bytes, UTF-8 with a byte-order mark
  std::string content_key;         // AES key bytes: 32 (CBC4K) or 16 (ECB)
  KeyCipherMode content_key_mode = KeyCipherMode::kCbc4k;
};

// POST /enduserlicenses.
struct EndUserLicenseRequest {
  std::string publishing_license;  // the license's bytes (see DecodeLicense)
};

enum class AccessStatus { kGranted, kDenied, kContentExpired };

// What a user may do with one piece of content. Rights, the license's
// validity and the content key are set only when access is granted.
struct UseLicense {
  Policy policy;  // the rights the publishing license carries
  std::string issued_to;
  AccessStatus access = AccessStatus::kDenied;
  std::vector<std::string> rights;  // sorted; {"OWNER"} for owners and super users
  Time valid_until{};               // how long the client may cache the license
  // Why access is denied when the reason is not the rights themselves
  // ("revoked by admin at 2027-01-02 10:00 UTC"); "" otherwise.
  std::string reason;
  std::string content_key;
  KeyCipherMode content_key_mode = KeyCipherMode::kCbc4k;  // as the license seals it
  // The SHA-256 of the publishing license's bytes: EndUserLicenseOfOpened
  // takes it instead of the bytes.
  std::string license_digest;
};

struct LicensingOptions {
  std::string super_users_group = "SuperUsers";
  // Whether the holder of a client licensor certificate still has an
  // account; content that holder published offline opens only while it
  // does. Unset: not checked.
  std::function<Result<bool>(const std::string& user)> account_exists = nullptr;
  // The node's name in the audit trail ("" for the command-line tools).
  std::string node{};
  // Where audit rows go; nullptr: one INSERT per row on the request's
  // thread (DirectAuditTrail). Not owned; must outlive the service.
  AuditTrail* audit = nullptr;
  // Publishing licenses whose content key and policy are kept (0: none).
  size_t publishing_license_cache = 4096;
  // How old the in-memory copy of a cluster's active SLC may grow.
  Duration cluster_refresh = std::chrono::seconds(2);
};

// Hits and misses of one cache. Relaxed atomics: read by /metrics.
struct CacheCounters {
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
};

// What the service counts, for /metrics. Licenses issued: use licenses
// that grant access, publishing licenses, RACs (standard, temporary).
struct LicensingCounters {
  CacheCounters publishing_licenses;  // content key and policy per license
  CacheCounters clusters;             // the active SLC per cluster
  std::atomic<uint64_t> issued_use{0};
  std::atomic<uint64_t> issued_publish{0};
  std::atomic<uint64_t> issued_rac{0};
  std::atomic<uint64_t> issued_rac_temporary{0};
  std::atomic<uint64_t> issued_clc{0};
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
        options_(std::move(options)),
        direct_audit_(db),
        audit_(options_.audit != nullptr ? *options_.audit : direct_audit_),
        opened_(options_.publishing_license_cache) {}

  static Status Migrate(store::Database& db);

  // A publishing license for new content owned by `who`. `license_url` is
  // the License-Acquisition-URL written into it.
  Result<PublishedLicense> Publish(const std::string& cluster, const accounts::Identity& who,
                                   const PublishRequest& request, const std::string& license_url);
  // The use license of `who` for the content of a publishing license this
  // cluster issued. Refusals (denied, expired) are answers, not errors.
  Result<UseLicense> EndUserLicense(const std::string& cluster, const accounts::Identity& who,
                                    const EndUserLicenseRequest& request);
  // The same, for a publishing license this service opened before, named by
  // its UseLicense::license_digest; nullopt when it is no longer in memory
  // (then send its bytes to EndUserLicense).
  Result<std::optional<UseLicense>> EndUserLicenseOfOpened(const std::string& cluster,
                                                           const accounts::Identity& who,
                                                           const std::string& license_digest);

  // A rights account certificate (MS-RMPR 2.2.9.5) for `key`, issued by a
  // root cluster to a logged-on user: standard or temporary. The chain goes
  // RAC -> SLC -> enrollment chain.
  Result<std::vector<xrml::Document>> Certify(const std::string& cluster,
                                              const accounts::Identity& who,
                                              const crypto::PublicKey& key, bool temporary);
  // The same RAC and chain as a chain file (xrml::WriteChainFile), written
  // from the SLC chain's file kept in memory.
  Result<std::string> CertifyChainFile(const std::string& cluster, const accounts::Identity& who,
                                       const crypto::PublicKey& key, bool temporary);

  // A client licensor certificate (MS-RMPR 2.2.9.6; SOAP clients ask for it
  // with GetClientLicensorCert, 3.5.4.2) for `key`, a key the caller holds,
  // issued to a logged-on user by any cluster that licenses, and signed
  // with the SLC's key: with it the user publishes offline
  // (PublishOffline). It lasts the cluster's clc_days. `license_url` is
  // where its licenses are opened. Audited ("clc").
  // The chain goes CLC -> SLC -> enrollment chain.
  Result<std::vector<xrml::Document>> IssueClc(const std::string& cluster,
                                               const accounts::Identity& who,
                                               const crypto::PublicKey& key,
                                               const std::string& license_url);
  // A client licensor certificate for the RMS SDK's offline publisher, which
  // sends no key (json_license.h): the server makes a 2048-bit key and
  // hands it to the caller in the certificate, keeping nothing; the CLC
  // lasts as IssueClc's. Audited ("clc"). The text is the answer's
  // SerializedThinCLC.
  struct ThinClcIssued {
    std::string serialized;
    Time valid_until;
  };
  Result<ThinClcIssued> IssueThinClc(const std::string& cluster, const accounts::Identity& who,
                                     const std::string& license_url);

  // Revocation: from the moment it is stored, no use license is issued for
  // the content `content_id` of `cluster` -- on every node within
  // `cluster_refresh` (each node reads the cluster's revocations with its
  // SLC), cached licenses included. Use licenses already issued live until
  // they expire. kAlreadyUsed names who revoked it and when.
  // `owner` goes into the audit row when the caller knows it.
  Status Revoke(const std::string& cluster, const std::string& content_id,
                const accounts::Identity& by, const std::string& owner = "");
  // Revocation asked for by `who` through the protocol: allowed to the
  // content's owner and to super users. The content is named by its
  // publishing license (whose owner it states) or, for content this
  // cluster published online, by its ID alone (the owner is the publish
  // row's). Returns the content ID.
  Result<std::string> RevokeAs(const std::string& cluster, const accounts::Identity& who,
                               const std::string& content_id,
                               const std::string& publishing_license);

  // tracking.cc: what the audit trail knows of protected documents.
  // A document and its license requests, newest first (at most `limit`).
  struct Tracking {
    DocumentSummary document;
    std::vector<AuditEntry> requests;
  };
  // For the document's owner and super users (DocumentFor's refusals).
  Result<Tracking> Track(const std::string& cluster, const accounts::Identity& who,
                         const std::string& content_id, size_t limit = 1000);
  // For administrators: any document; kNotFound when the trail has none.
  Result<Tracking> TrackAny(const std::string& cluster, const std::string& content_id,
                            size_t limit = 1000);
  // The documents `who` owns, newest first.
  Result<std::vector<DocumentSummary>> DocumentsOf(const std::string& cluster,
                                                   const accounts::Identity& who,
                                                   size_t limit = 1000);
  Result<std::vector<DocumentSummary>> SearchDocuments(const DocumentSearch& search);

  Result<std::vector<Template>> ListTemplates();
  Result<Template> AddTemplate(Template t);
  Status DeleteTemplate(const std::string& id);

  // Maps a Status from the calls above to the protocol's error.
  static ProtocolError ToProtocolError(const Status& status);

  const LicensingCounters& counters() const { return counters_; }
  const AuditTrail& audit_trail() const { return audit_; }

  // What a publishing license proves once its signature held.
  struct OpenedLicense {
    std::string digest;  // SHA-256 of the license's bytes
    Policy policy;
    std::string content_key;
    KeyCipherMode content_key_mode = KeyCipherMode::kCbc4k;
    // For content published offline: the holder of the client licensor
    // certificate that signed the license; "" for the cluster's own.
    std::string clc_holder;
    ~OpenedLicense();
  };
  // The in-memory copy of a cluster's state (see the header comment).
  struct ClusterSnapshot {
    Time read_at;
    std::optional<cluster::SlcRecord> active;  // without its chain text
    Status chain_status;                       // of parsing the active SLC's chain
    std::shared_ptr<const std::vector<xrml::Document>> slc_chain;
    // The chain file of a RAC before and after the RAC's own text (empty
    // when it could not be made: then the file is written whole).
    std::string chain_file_head;
    std::string chain_file_tail;
    Status config_status;
    std::optional<cluster::ClusterConfig> config;
    // Content ID -> "revoked by X at T", and how many rows that was read
    // from (-1: unknown).
    Status revocations_status;
    int64_t revocation_count = -1;
    std::shared_ptr<const std::map<std::string, std::string>> revocations;
  };

 private:
  Result<std::shared_ptr<const ClusterSnapshot>> Snapshot(const std::string& cluster);
  // The cluster's snapshot, once its active SLC allows issuing now.
  Result<std::shared_ptr<const ClusterSnapshot>> CheckCanIssue(const std::string& cluster);
  Result<xrml::Document> IssueRac(const std::string& cluster, const accounts::Identity& who,
                                  const crypto::PublicKey& user_key, bool temporary,
                                  std::shared_ptr<const ClusterSnapshot>& snapshot);
  static void SplitChainFile(const std::vector<xrml::Document>& slc_chain, std::string& head,
                             std::string& tail);
  Result<std::shared_ptr<const OpenedLicense>> Open(const std::string& cluster,
                                                    const std::string& xml);
  // offline_json.cc: a license of the SDK's offline publisher (JSON).
  Result<std::shared_ptr<OpenedLicense>> OpenJson(const std::string& cluster,
                                                  std::string_view text);
  // From now (to the minute) for the cluster's clc_days, never past the SLC.
  std::pair<Time, Time> ClcValidity(const ClusterSnapshot& snapshot,
                                    const cluster::ClusterConfig& config) const;
  // The key of the publishing domain that may open a license signed by a
  // client licensor certificate, the next document of `documents`, once
  // the certificate and the license hold; sets `holder`.
  Result<std::shared_ptr<crypto::PrivateKey>> CheckOfflineSigned(
      const std::string& cluster, const xrml::Document& pl,
      const std::vector<std::string_view>& documents, std::string& holder);
  // The use license of `who` under an opened publishing license, audited.
  Result<UseLicense> Decide(const std::string& cluster, const accounts::Identity& who,
                            const OpenedLicense& opened);
  // publishing_domains.cc: the key new licenses are made with (the one
  // `config` names), and the key of the publishing domain a publishing
  // license was made under (the cluster's own or a trusted publishing
  // domain's, by the license's issuer key). Cached by key fingerprint.
  Result<std::shared_ptr<crypto::PrivateKey>> CurrentKey(const cluster::ClusterConfig& config);
  Result<std::shared_ptr<crypto::PrivateKey>> KeyForLicense(const std::string& cluster,
                                                            const xrml::Document& pl);
  // The same by the issuer's key; kMismatch names `issuer_name`.
  Result<std::shared_ptr<crypto::PrivateKey>> KeyForIssuer(
      const std::string& cluster, const std::optional<crypto::PublicKey>& issuer_key,
      const std::string& issuer_name);
  Status Audit(const std::string& cluster, const accounts::Identity& who, const std::string& kind,
               const std::string& content_id, const std::string& result, const std::string& detail,
               const std::string& owner = "");

  cluster::ClusterService& clusters_;
  store::Database& db_;
  const Clock& clock_;
  Random& random_;
  std::string password_;
  LicensingOptions options_;
  DirectAuditTrail direct_audit_;
  AuditTrail& audit_;
  LicensingCounters counters_;
  std::mutex mu_;
  // Keys by cluster and public key fingerprint (publishing_domains.cc).
  std::map<std::string, std::shared_ptr<crypto::PrivateKey>> keys_;
  std::shared_mutex snapshots_mu_;
  std::map<std::string, std::shared_ptr<const ClusterSnapshot>> snapshots_;
  ShardedLruCache<std::shared_ptr<const OpenedLicense>> opened_;
};

inline constexpr char kTypeClientLicensorCertificate[] = "Client-Licensor-Certificate";

// Who signs a publishing license and whose key opens it.
struct LicenseParties {
  xrml::Party issuer;       // the signer, with its public key
  xrml::Party server;       // the cluster the content key is sealed to, with its key
  std::string license_url;  // License-Acquisition-URL
};

// A publishing license in MS-RMPR's format (2.2.9.7): `policy` (owner and
// content ID set) in the Encrypted-Rights-Data, `content_key` in
// sealed-key-v2 enabling bits for the server's key, signed with `signer`
// (the issuer's key). UTF-8 with a byte-order mark.
Result<std::string> WritePublishingLicense(const Policy& policy, Time now,
                                           const LicenseParties& parties,
                                           const crypto::PrivateKey& signer,
                                           const SymmetricKey& content_key, Random& random);

// Publishing without the server, under a CLC (MS-RMPR 2.2.9.6):
// a license for `policy`'s rights, owned by the holder of `clc`, signed
// with `clc_key` and followed by the CLC itself, as Microsoft's clients
// write them. The cluster that issued the CLC opens it. Refused when the
// CLC is not valid at `now` or `clc_key` is not its key.
Result<PublishedLicense> PublishOffline(const xrml::Document& clc,
                                        const crypto::PrivateKey& clc_key, Policy policy, Time now,
                                        Random& random, bool prefer_deprecated_algorithms = false);

// Publishing licenses travel as UTF-8 with a byte-order mark.
std::string EncodeLicense(const std::string& xml);
// Accepts UTF-8 (with or without BOM) and UTF-16LE with a BOM.
Result<std::string> DecodeLicense(std::string_view bytes);

}  // namespace openrms::licensing
