// A cluster's state in the shared store: its configuration and sealed key,
// every SLC it has held, the pending renewal request, events and the audit
// log. Several server nodes may share one store, so nothing here is cached
// in the process: each call reads or writes the database. Thread-safe.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "cluster/tpd.h"
#include "store/database.h"

namespace openrms::cluster {

enum class ClusterKind { kRoot, kLicensingOnly };
std::string_view ClusterKindName(ClusterKind kind);  // "root", "licensing-only"

struct ClusterConfig {
  std::string name;
  ClusterKind kind = ClusterKind::kRoot;
  std::string url;            // the cluster's service URL
  std::string guid;           // the SLC GUID, kept across renewals
  std::string issuer_url;     // the enrollment endpoint, or the root cluster's URL
  std::string issuer_tls_ca;  // PEM roots trusted for issuer_url
  std::string trust_anchor;   // XrML CA certificate the SLC chain must end at
  std::string public_key;     // base64 DER (PKCS#1) of the cluster key
  std::string sealed_key;     // the cluster key, encrypted under the key password; "" in a token
  std::string key_uri;        // the cluster key in a PKCS#11 token (RFC 7512), or "" when sealed
  bool auto_renew = false;
  int renewal_due_days = 30;
  int expiring_days = 7;
  int subordinate_validity_days = 365;  // root: longest SLC it issues to licensing-only clusters
  Time created_at;
  std::optional<int64_t> active_slc;
  // Online renewal bookkeeping (automatic renewal, metrics).
  std::optional<Time> last_renewal_at;
  std::optional<bool> last_renewal_ok;
  std::optional<Time> next_renewal_attempt;
  int renewal_failures = 0;
  // Rights account certificates (MS-RMPR 3.1.3.3): standard and temporary.
  int rac_standard_days = 365;
  int rac_temporary_minutes = 15;
  int clc_days = 30;  // client licensor certificates
};

struct SlcRecord {
  int64_t id = 0;
  std::string certificate_id;
  std::string chain;  // the chain file, as issued (EnrollResponse text)
  Time issued;
  Time valid_from;
  Time valid_until;
  std::string issuer;
  std::string source;  // "provision", "online", "import"
  Time installed_at;
  std::string installed_by;
};

struct RequestRecord {
  int64_t id = 0;
  Time created_at;
  std::string created_by;
  std::string file_name;
  std::string request;
  std::string state;  // "pending", "completed", "superseded"
};

struct Event {
  int64_t id = 0;
  Time at;
  std::string level;  // "info", "warning", "error"
  std::string kind;   // "renewal-due", "expiring", "expired", "renewed", ...
  std::string message;
};

struct AuditEntry {
  Time at;
  std::string actor;
  std::string action;
  std::string detail;
};

// A new cluster key waiting for its SLC (an offline rekey): kept with the
// request it signed until `slc import` activates an SLC for it.
struct PendingKey {
  std::string public_key;  // base64 DER (PKCS#1)
  std::string sealed_key;  // sealed under the key password; "" in a token
  std::string key_uri;     // a token object, or ""
};

// What activating a rekey's SLC switches, in the same transaction: the
// cluster's key becomes `next` (only if it still is `old_public_key`), and
// the old key is kept as the retired domain `retired`.
struct KeySwitch {
  std::string old_public_key;
  PendingKey next;
  PublishingDomain retired;
};

// How long an uploaded certificate waits for the administrator's "Yes".
inline constexpr Duration kStagedImportLifetime = std::chrono::hours(1);

class ClusterStore final {
 public:
  explicit ClusterStore(store::Database& db) : db_(db) {}
  static Status Migrate(store::Database& db);

  store::Database& database() { return db_; }
  // Counts the clusters this object has created (Create, Activate with
  // `create`): a cache of the cluster list made in this process reads it
  // again at once when this moves. Clusters created by other nodes are
  // seen only by reading the store.
  uint64_t clusters_created() const { return created_.load(std::memory_order_acquire); }

  Result<std::vector<std::string>> ListClusters();
  // kNotFound naming the clusters that do exist.
  Result<ClusterConfig> Find(const std::string& name);
  // kAlreadyUsed when the name is taken.
  Status Create(const ClusterConfig& config);
  Status SetAutoRenew(const std::string& name, bool on);
  Status SetRacValidity(const std::string& name, int standard_days, int temporary_minutes);
  // How long the client licensor certificates of cluster `name` last.
  Status SetClcValidity(const std::string& name, int days);
  Status RecordRenewalAttempt(const std::string& name, Time at, bool ok,
                              std::optional<Time> next_attempt, int failures);

  // One renewal per cluster at a time, across every node of the cluster:
  // `holder` takes the lease until `until` unless another holder's lease
  // is still running (kFailedPrecondition, "... already in progress").
  // A holder that dies leaves a lease that simply runs out.
  Status TakeRenewalLease(const std::string& name, const std::string& holder, Time now, Time until);
  Status ReleaseRenewalLease(const std::string& name, const std::string& holder);

  // Switches the cluster's key from its sealed form to the token key
  // `key_uri`, in one transaction with its audit entry: the sealed key is
  // cleared. kFailedPrecondition when the key is no longer the sealed key
  // `public_key` (another node moved it, or it changed).
  Status MoveKeyToToken(const std::string& name, const std::string& public_key,
                        const std::string& key_uri, Time at, const std::string& actor);

  Result<std::optional<SlcRecord>> ActiveSlc(const std::string& name);
  Result<std::vector<SlcRecord>> History(const std::string& name);

  // Installs `slc` and makes it the active SLC, in one transaction: the
  // history row, the active pointer (only if it still is
  // `expected_active`, else kFailedPrecondition), the pending request
  // marked completed, an audit entry and a "renewed" event. A crash at any
  // point leaves either the old or the new SLC active.
  // With `create`, the cluster's row is inserted in the same transaction
  // (provisioning: the cluster appears with its first SLC, or not at all).
  // With `rekey`, the key switches too (KeySwitch); kFailedPrecondition
  // when the key changed meanwhile.
  Result<int64_t> Activate(const std::string& name, const SlcRecord& slc,
                           std::optional<int64_t> expected_active, const std::string& actor,
                           const std::string& event_message, const ClusterConfig* create = nullptr,
                           const KeySwitch* rekey = nullptr);

  Result<std::optional<RequestRecord>> PendingRequest(const std::string& name);
  // Records a new pending request; an older pending one becomes superseded.
  // `new_key`: the request asks for an SLC for this new key (a rekey).
  Status RecordRequest(const std::string& name, const RequestRecord& request,
                       const PendingKey* new_key = nullptr);
  // The new key of the pending request, when it is a rekey's.
  Result<std::optional<PendingKey>> PendingNewKey(const std::string& name);

  // Records an event. With a `dedupe` key, posts it only once per (cluster,
  // kind, dedupe); returns whether it was new.
  Result<bool> PostEvent(const std::string& name, const Event& event,
                         const std::optional<std::string>& dedupe = std::nullopt);
  Result<std::vector<Event>> Events(const std::string& name, int limit = 50);

  Status Audit(const std::string& name, Time at, const std::string& actor,
               const std::string& action, const std::string& detail);
  Result<std::vector<AuditEntry>> AuditLog(const std::string& name, int limit = 50);

  // A certificate file that `user` uploaded for cluster `name` and has not
  // confirmed yet, kept under `id` (an unguessable token) for
  // kStagedImportLifetime. Older staged files are purged on the way.
  Status StageImport(const std::string& id, const std::string& user, const std::string& name,
                     const std::string& file, Time now);
  // The file staged under `id`, at most once: the row is deleted whether or
  // not `user` and `name` match it, so an id shown to the wrong person or
  // posted to the wrong cluster is spent. kNotFound when nothing matches or
  // the file expired.
  Result<std::string> TakeStagedImport(const std::string& id, const std::string& user,
                                       const std::string& name, Time now);

 private:
  static Status Insert(store::Database& db, const ClusterConfig& config);
  store::Database& db_;
  std::atomic<uint64_t> created_{0};
};

}  // namespace openrms::cluster
