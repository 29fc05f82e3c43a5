// Retention of the license audit trail: entries older than [audit]
// keep_days are deleted, in bounded batches, by one node of the store at a
// time. That node holds a lease (the audit_retention_lease row) that it
// renews before every batch; a node that dies leaves a lease that runs
// out, and another node takes over at its next pass.
//
// Never in licensing's way: a batch is one short DELETE of at most
// `batch_rows` rows, and the pass pauses between batches at least as long
// as the batch took (so it keeps to half a core). Licensing writes
// its audit rows through BatchedAuditTrail, off the request threads, so a
// batch that holds SQLite's write lock for a moment delays a batch of
// audit rows, never a license.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "base/clock.h"
#include "base/status.h"
#include "store/database.h"

namespace openrms::licensing {

struct RetentionOptions {
  int keep_days = 400;  // entries younger than this stay; 0: keep every entry
  int64_t batch_rows = 5000;
  // Between batches: this, or as long as the batch took if longer; 0: none
  // (tests).
  std::chrono::milliseconds pause{20};
  Duration lease = std::chrono::seconds(60);
};

inline constexpr int kMaxKeepDays = 100 * 366;

struct RetentionPass {
  bool held = false;    // whether this holder had the lease (else another node ran it)
  std::string held_by;  // the other holder, when not held
  int64_t deleted = 0;  // entries deleted
  int64_t batches = 0;
};

class AuditRetention final {
 public:
  // `holder` names this node in the lease; unique per process.
  AuditRetention(store::Database& db, const Clock& clock, std::string holder,
                 RetentionOptions options = {})
      : db_(db), clock_(clock), holder_(std::move(holder)), options_(options) {}

  // One pass: takes (or renews) the lease, then deletes every entry older
  // than keep_days, a batch at a time, until none is left, the lease is
  // lost, or `stop` says so. The lease is kept after the pass until it runs
  // out, so the same node runs the next pass unless it goes away.
  Result<RetentionPass> RunPass(const std::function<bool()>& stop = nullptr);

 private:
  // Whether the lease is ours until now + lease; sets `other`.
  Result<bool> TakeLease(std::string& other);

  store::Database& db_;
  const Clock& clock_;
  const std::string holder_;
  const RetentionOptions options_;
};

}  // namespace openrms::licensing
