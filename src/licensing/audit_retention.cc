#include "licensing/audit_retention.h"

#include <algorithm>
#include <thread>

namespace openrms::licensing {

namespace {

constexpr char kLease[] = "license_audit";

int64_t Secs(Time t) { return t.time_since_epoch().count(); }

}  // namespace

Result<bool> AuditRetention::TakeLease(std::string& other) {
  const Time now = clock_.Now();
  bool ours = false;
  RETURN_IF_ERROR(db_.InTransaction([&](store::Database& tx) -> Status {
    ours = false;
    other.clear();
    ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT holder, expires_at FROM audit_retention_lease "
                                         "WHERE name = $1",
                                         {std::string(kLease)}));
    if (!rows.empty() && rows[0].Text(0) != holder_ && rows[0].Int(1) > Secs(now)) {
      other = rows[0].Text(0);
      return Status::Ok();
    }
    RETURN_IF_ERROR(
        tx.Execute("DELETE FROM audit_retention_lease WHERE name = $1", {std::string(kLease)})
            .status());
    RETURN_IF_ERROR(tx.Execute("INSERT INTO audit_retention_lease (name, holder, expires_at) "
                               "VALUES ($1, $2, $3)",
                               {std::string(kLease), holder_, Secs(now + options_.lease)})
                        .status());
    ours = true;
    return Status::Ok();
  }));
  return ours;
}

Result<RetentionPass> AuditRetention::RunPass(const std::function<bool()>& stop) {
  RetentionPass pass;
  if (options_.keep_days < 0 || options_.keep_days > kMaxKeepDays || options_.batch_rows < 1) {
    return Status(Code::kInvalidArgument,
                  "audit keep_days must be between 0 and " + std::to_string(kMaxKeepDays));
  }
  if (options_.keep_days == 0) return pass;  // keep everything
  for (;;) {
    // Renewed before every batch: a node that stalls loses it in `lease`.
    ASSIGN_OR_RETURN(bool ours, TakeLease(pass.held_by));
    if (!ours) return pass;
    pass.held = true;
    if (stop && stop()) return pass;
    const int64_t cutoff = Secs(clock_.Now() - Days(options_.keep_days));
    const auto started = std::chrono::steady_clock::now();
    // Oldest first, by the primary key: old entries are the low ids, so
    // each batch reads only what it deletes. The batch size is ours,
    // written as a number.
    ASSIGN_OR_RETURN(int64_t deleted,
                     db_.Execute("DELETE FROM license_audit WHERE id IN (SELECT id FROM "
                                 "license_audit WHERE at < $1 ORDER BY id LIMIT " +
                                     std::to_string(options_.batch_rows) + ")",
                                 {cutoff}));
    pass.deleted += deleted;
    if (deleted == 0) return pass;
    ++pass.batches;
    if (deleted < options_.batch_rows) return pass;
    // At least as long as the batch took: the pass keeps to half a core
    // and leaves the store's write lock free half the time.
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    if (options_.pause.count() > 0) std::this_thread::sleep_for(std::max(options_.pause, took));
  }
}

}  // namespace openrms::licensing
