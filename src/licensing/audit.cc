#include "licensing/audit.h"

#include <algorithm>
#include <cstdio>

#include "base/text.h"

namespace openrms::licensing {

namespace {

constexpr char kInsert[] =
    "INSERT INTO license_audit (cluster, at, user_name, kind, content_id, result, detail, node, "
    "address, owner) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

// Names, reasons and IDs came from users and the network: stored as valid
// UTF-8 (PostgreSQL refuses anything else, which would stop licensing).
std::vector<store::Value> Params(const AuditRecord& r) {
  return {ValidUtf8(r.cluster),    static_cast<int64_t>(r.at.time_since_epoch().count()),
          ValidUtf8(r.user),       ValidUtf8(r.kind),
          ValidUtf8(r.content_id), ValidUtf8(r.result),
          ValidUtf8(r.detail),     ValidUtf8(r.node),
          ValidUtf8(r.address),    ValidUtf8(r.owner)};
}

}  // namespace

Status DirectAuditTrail::Append(AuditRecord record) {
  return db_.Execute(kInsert, Params(record)).status();
}

BatchedAuditTrail::BatchedAuditTrail(store::Database& db, AuditBatching batching)
    : db_(db), batching_(batching) {
  writer_ = std::thread([this] { WriterLoop(); });
}

BatchedAuditTrail::~BatchedAuditTrail() { Stop(); }

Status BatchedAuditTrail::Append(AuditRecord record) {
  std::unique_lock lock(mu_);
  auto refusal = [&]() -> Status {
    if (stopping_) return Status(Code::kFailedPrecondition, "the license audit trail is stopped");
    if (!last_error_.ok()) {
      // The write's own code: an outage (kUnavailable) is told as one, a
      // broken store (kIo) as an internal error.
      return Status(last_error_.code(), "the license audit trail cannot be written (" +
                                            last_error_.message() +
                                            "): licensing is refused until it can");
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(refusal());
  if (queue_.size() >= batching_.max_queued) {
    // Back-pressure: a full queue holds the request, it never drops a row.
    const bool room = wake_appenders_.wait_for(lock, batching_.max_wait, [&] {
      return stopping_ || !last_error_.ok() || queue_.size() < batching_.max_queued;
    });
    RETURN_IF_ERROR(refusal());
    if (!room) {
      return Status(Code::kUnavailable,
                    "the license audit trail is full and the store writes too slowly: "
                    "licensing is refused until it catches up");
    }
  }
  if (queue_.empty()) oldest_ = std::chrono::steady_clock::now();
  queue_.push_back(std::move(record));
  ++appended_;
  queued_.fetch_add(1, std::memory_order_relaxed);
  // The writer sleeps until the first row's deadline; wake it for the first
  // row and for a full batch only.
  if (queue_.size() == 1 || queue_.size() == batching_.batch_rows) wake_writer_.notify_one();
  return Status::Ok();
}

Status BatchedAuditTrail::Flush() {
  std::unique_lock lock(mu_);
  const uint64_t target = appended_;
  wake_appenders_.wait(lock,
                       [&] { return written_ >= target || !last_error_.ok() || writer_done_; });
  if (written_ >= target) return Status::Ok();
  return last_error_.ok() ? Status(Code::kFailedPrecondition, "the license audit trail is stopped")
                          : last_error_;
}

void BatchedAuditTrail::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_writer_.notify_all();
  wake_appenders_.notify_all();
  std::lock_guard join(join_mu_);
  if (writer_.joinable()) writer_.join();
}

Status BatchedAuditTrail::Write(const std::deque<AuditRecord>& rows) {
  // Re-runnable: the body inserts these fixed rows and nothing else.
  return db_.InTransaction([&rows](store::Database& tx) -> Status {
    for (const AuditRecord& r : rows) RETURN_IF_ERROR(tx.Execute(kInsert, Params(r)).status());
    return Status::Ok();
  });
}

void BatchedAuditTrail::WriterLoop() {
  using std::chrono::milliseconds;
  std::unique_lock lock(mu_);
  milliseconds backoff(100);
  std::chrono::steady_clock::time_point give_up{};
  while (true) {
    wake_writer_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, and every row is written
    if (!stopping_ && last_error_.ok()) {
      wake_writer_.wait_until(lock, oldest_ + batching_.interval,
                              [&] { return stopping_ || queue_.size() >= batching_.batch_rows; });
    }
    std::deque<AuditRecord> batch;
    batch.swap(queue_);
    wake_appenders_.notify_all();
    lock.unlock();
    const Status written = Write(batch);
    if (written.ok() && batching_.forward != nullptr) batching_.forward->Forward(batch);
    lock.lock();
    if (written.ok()) {
      written_ += batch.size();
      queued_.fetch_sub(batch.size(), std::memory_order_relaxed);
      last_error_ = Status::Ok();
      backoff = milliseconds(100);
      give_up = {};
      wake_appenders_.notify_all();
      continue;
    }
    // Keep the rows, oldest first, and try again.
    std::fprintf(stderr, "license audit: %zu rows not written yet: %s\n", batch.size(),
                 written.ToString().c_str());
    last_error_ = written;
    wake_appenders_.notify_all();
    const auto now = std::chrono::steady_clock::now();
    if (stopping_) {
      if (give_up == std::chrono::steady_clock::time_point{})
        give_up = now + std::chrono::seconds(5);
      if (now >= give_up) {
        std::fprintf(stderr, "license audit: stopping with %zu rows the store refused: %s\n",
                     batch.size() + queue_.size(), written.ToString().c_str());
        queued_.fetch_sub(batch.size() + queue_.size(), std::memory_order_relaxed);
        queue_.clear();
        break;
      }
    }
    batch.insert(batch.end(), std::make_move_iterator(queue_.begin()),
                 std::make_move_iterator(queue_.end()));
    queue_.swap(batch);
    oldest_ = now;
    // Sleep out the backoff; Stop does not cut it short (its rows still
    // get their retries).
    lock.unlock();
    std::this_thread::sleep_for(backoff);
    lock.lock();
    backoff = std::min(backoff * 2, milliseconds(1000));
  }
  // Let Flush see that no more writes come.
  writer_done_ = true;
  lock.unlock();
  wake_appenders_.notify_all();
}

}  // namespace openrms::licensing
