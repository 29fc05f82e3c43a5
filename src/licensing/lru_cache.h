// A bounded least-recently-used map from string keys to small values
// (usually shared_ptr to an immutable entry), split into shards that each
// have their own mutex, so threads that look up different keys rarely wait
// on one another and no single lock sits on every request.
//
// Thread-safe. Get returns a copy of the value: with shared_ptr values an
// entry evicted while a caller still holds it lives until that caller
// drops it (so an entry's destructor is where secrets are wiped).
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace openrms::licensing {

template <typename V>
class ShardedLruCache final {
 public:
  // At most `capacity` entries in all (each shard holds capacity / shards,
  // at least one). A capacity of 0 keeps nothing.
  explicit ShardedLruCache(size_t capacity, size_t shards = 16)
      : shards_(capacity == 0 ? 1 : std::max<size_t>(1, std::min(shards, capacity))) {
    const size_t per = capacity == 0 ? 0 : std::max<size_t>(1, capacity / shards_.size());
    for (auto& s : shards_) s.capacity = per;
  }

  std::optional<V> Get(const std::string& key) {
    Shard& s = ShardOf(key);
    std::lock_guard lock(s.mu);
    auto it = s.index.find(key);
    if (it == s.index.end()) return std::nullopt;
    s.order.splice(s.order.begin(), s.order, it->second);
    return it->second->second;
  }

  // Inserts or replaces; evicts the least recently used entry of the shard
  // when it is full.
  void Put(const std::string& key, V value) {
    Shard& s = ShardOf(key);
    V evicted{};  // dropped after the lock is released
    std::lock_guard lock(s.mu);
    if (s.capacity == 0) return;
    auto it = s.index.find(key);
    if (it != s.index.end()) {
      std::swap(evicted, it->second->second);
      it->second->second = std::move(value);
      s.order.splice(s.order.begin(), s.order, it->second);
      return;
    }
    if (s.order.size() >= s.capacity) {
      auto& last = s.order.back();
      evicted = std::move(last.second);
      s.index.erase(last.first);
      s.order.pop_back();
    }
    s.order.emplace_front(key, std::move(value));
    s.index.emplace(key, s.order.begin());
  }

  void Erase(const std::string& key) {
    Shard& s = ShardOf(key);
    std::lock_guard lock(s.mu);
    auto it = s.index.find(key);
    if (it == s.index.end()) return;
    s.order.erase(it->second);
    s.index.erase(it);
  }

  void Clear() {
    for (auto& s : shards_) {
      std::lock_guard lock(s.mu);
      s.index.clear();
      s.order.clear();
    }
  }

  size_t size() const {
    size_t n = 0;
    for (auto& s : shards_) {
      std::lock_guard lock(s.mu);
      n += s.order.size();
    }
    return n;
  }

 private:
  struct Shard {
    mutable std::mutex mu;
    size_t capacity = 0;
    std::list<std::pair<std::string, V>> order;  // most recent first
    std::unordered_map<std::string, typename std::list<std::pair<std::string, V>>::iterator> index;
  };

  Shard& ShardOf(const std::string& key) {
    return shards_[std::hash<std::string>{}(key) % shards_.size()];
  }

  std::vector<Shard> shards_;
};

}  // namespace openrms::licensing
