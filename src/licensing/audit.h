// The license audit trail: one row in license_audit for every license
// issued or refused. The store is the truth: every node writes its own rows
// and the store numbers them (no id is assigned in the process).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/status.h"
#include "store/database.h"

namespace openrms::licensing {

// One entry of the trail: who asked what of which node, from where, about
// which content, and what came of it. Exported as JSON Lines and syslog
// (audit_query.h) with the names in the comments.
struct AuditRecord {
  std::string cluster;
  Time at;                 // "time"
  std::string user;        // who asked; "cli:NAME" for the command-line tools
  std::string kind;        // "operation": "use", "publish", "rac", "rac-temporary", "clc", "revoke"
  std::string content_id;  // the content, the RAC's or CLC's ID; "" when none
  std::string result;      // "issued", "AccessGranted", "AccessDenied", "refused", ...
  std::string detail;      // "reason": why, or what was granted; "" when nothing to say
  std::string node;        // the node that answered; "" for the command-line tools
  std::string address;     // the client's address as the node saw it; "" when none
  std::string owner;       // the content's owner, when the node knew it; "" otherwise
};

// Where audit rows go. Thread-safe.
class AuditTrail {
 public:
  virtual ~AuditTrail() = default;
  // Records one row, or says why it cannot. A refusal means the license
  // must not be issued: nothing is issued that the trail does not hold.
  virtual Status Append(AuditRecord record) = 0;
  // Rows accepted and not yet in the store.
  virtual size_t queued() const = 0;
};

// One INSERT per row on the caller's thread (the command-line tools).
class DirectAuditTrail final : public AuditTrail {
 public:
  explicit DirectAuditTrail(store::Database& db) : db_(db) {}
  Status Append(AuditRecord record) override;
  size_t queued() const override { return 0; }

 private:
  store::Database& db_;
};

// Where a node also sends the rows it has written (audit_syslog.h: RFC 5424
// syslog). Called on the trail's writer thread, after each batch is in the
// store, so what it sends the store holds; it must not block for long.
class AuditForward {
 public:
  virtual ~AuditForward() = default;
  virtual void Forward(const std::deque<AuditRecord>& rows) = 0;
};

struct AuditBatching {
  // A row waits at most this long in memory before its batch is written.
  std::chrono::milliseconds interval{100};
  // A batch is written at once when this many rows wait.
  size_t batch_rows = 256;
  // The queue's bound: Append waits (back-pressure) while it is full.
  size_t max_queued = 8192;
  // How long Append waits on a full queue before refusing the row.
  std::chrono::milliseconds max_wait{10000};
  // Not owned; must outlive the trail. nullptr: the store only.
  AuditForward* forward = nullptr;
};

// Rows queued in memory and written by a thread of its own, one transaction
// per batch: at most `interval` after the batch's first row, or at once when
// `batch_rows` wait. After a kill -9 at most the rows of the batch being
// gathered (and the one being written) are lost; Stop writes every row.
//
// A failed write keeps its rows and is retried (every 100 ms up to 1 s).
// While the store refuses, Append refuses new rows at once, with the
// write's code (kUnavailable in an outage): licensing stops rather than
// issue what the trail cannot hold.
//
// The bound during an outage: the rows in memory are those accepted before
// the first write that failed, never more than `max_queued` (in practice
// the last `interval` of licenses, or a write's worth when the store hangs
// rather than refuses). They are written when the store is back; a crash
// of the node while it is down loses them, and nothing accepted after.
//
// Thread-safe. The write's body only inserts its fixed rows, so a store
// that re-runs a transaction (PostgreSQL on a serialization failure) writes
// them once.
class BatchedAuditTrail final : public AuditTrail {
 public:
  BatchedAuditTrail(store::Database& db, AuditBatching batching = {});
  ~BatchedAuditTrail() override;
  BatchedAuditTrail(const BatchedAuditTrail&) = delete;
  BatchedAuditTrail& operator=(const BatchedAuditTrail&) = delete;

  Status Append(AuditRecord record) override;
  size_t queued() const override { return queued_.load(std::memory_order_relaxed); }
  // Waits until every row appended before the call is in the store, or
  // the write failed (its error).
  Status Flush();
  // Writes every queued row (retrying for up to 5 s while the store
  // refuses), then ends the thread. Later Appends are refused. Idempotent.
  void Stop();

 private:
  void WriterLoop();
  Status Write(const std::deque<AuditRecord>& rows);

  store::Database& db_;
  const AuditBatching batching_;
  mutable std::mutex mu_;
  std::condition_variable wake_writer_;
  std::condition_variable wake_appenders_;  // room in the queue, or a batch written
  std::deque<AuditRecord> queue_;
  std::chrono::steady_clock::time_point oldest_;  // when the oldest queued row came
  std::atomic<size_t> queued_{0};                 // queue_ + the batch being written
  uint64_t appended_ = 0;                         // rows ever appended
  uint64_t written_ = 0;                          // rows ever written
  Status last_error_;                             // of the last write; OK when it worked
  bool stopping_ = false;
  bool writer_done_ = false;
  std::mutex join_mu_;
  std::thread writer_;
};

}  // namespace openrms::licensing
