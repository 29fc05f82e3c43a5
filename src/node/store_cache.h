// A value read from the store and shared by the request threads: read again
// once it is `max_age` old, or sooner when asked (a miss: "is there
// something new?"), but then at most once per `min_interval`, so that
// requests nobody can answer (any client can send them) do not turn into
// store reads. A change made in this process (`changes` moves) is read at
// once. The store is read outside the lock: a slow store holds up only the
// requests that read it, not those answered from the cache.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "base/status.h"

namespace openrms::node {

template <typename T>
class StoreCache final {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Options {
    std::chrono::steady_clock::duration max_age = std::chrono::seconds(3);
    std::chrono::steady_clock::duration min_interval = std::chrono::seconds(1);
    std::function<TimePoint()> now = [] { return std::chrono::steady_clock::now(); };
  };

  StoreCache(std::function<Result<T>()> read, std::function<uint64_t()> changes, Options options)
      : read_(std::move(read)),
        changes_(std::move(changes)),
        options_(std::move(options)),
        value_(std::make_shared<const T>()) {}

  // The value; with `fresh`, read again unless it was read less than
  // min_interval ago and nothing changed here since. When the store cannot
  // be read, the last value (at first an empty T), tried again after
  // min_interval.
  std::shared_ptr<const T> Get(bool fresh) {
    const TimePoint now = options_.now();
    const uint64_t changes = changes_();
    {
      std::lock_guard lock(mu_);
      if (read_at_ && changes == changes_seen_) {
        const auto age = now - *read_at_;
        if (age < options_.min_interval || (!fresh && age < options_.max_age)) return value_;
      }
    }
    Result<T> read = read_();
    std::lock_guard lock(mu_);
    if (read.ok() && (!read_at_ || now >= *read_at_)) {
      value_ = std::make_shared<const T>(std::move(read).value());
    }
    if (!read_at_ || now >= *read_at_) {
      read_at_ = now;
      changes_seen_ = changes;
    }
    return value_;
  }

 private:
  const std::function<Result<T>()> read_;
  const std::function<uint64_t()> changes_;
  const Options options_;
  std::mutex mu_;
  std::shared_ptr<const T> value_;
  std::optional<TimePoint> read_at_;  // when value_ was last read (or tried)
  uint64_t changes_seen_ = 0;
};

}  // namespace openrms::node
