#include "licensing/lru_cache.h"

#include <gtest/gtest.h>

#include <thread>

namespace openrms::licensing {
namespace {

TEST(ShardedLruCache, EvictsTheLeastRecentlyUsedOfAShard) {
  ShardedLruCache<int> cache(2, 1);
  cache.Put("a", 1);
  cache.Put("b", 2);
  EXPECT_EQ(cache.Get("a"), 1);  // a is now the most recent
  cache.Put("c", 3);
  EXPECT_EQ(cache.Get("b"), std::nullopt);
  EXPECT_EQ(cache.Get("a"), 1);
  EXPECT_EQ(cache.Get("c"), 3);
  EXPECT_EQ(cache.size(), 2u);
  cache.Put("a", 10);  // replaces
  EXPECT_EQ(cache.Get("a"), 10);
  EXPECT_EQ(cache.size(), 2u);
  cache.Erase("a");
  EXPECT_EQ(cache.Get("a"), std::nullopt);
}

TEST(ShardedLruCache, NeverHoldsMoreThanItsCapacity) {
  ShardedLruCache<int> cache(64, 16);
  for (int i = 0; i < 10000; ++i) cache.Put(std::to_string(i), i);
  EXPECT_LE(cache.size(), 64u);
  ShardedLruCache<int> none(0);
  none.Put("a", 1);
  EXPECT_EQ(none.Get("a"), std::nullopt);
}

// Evicted values are destroyed once no caller holds them (where the
// licensing cache wipes its keys).
TEST(ShardedLruCache, EvictedValuesAreDestroyedWhenTheLastHolderDropsThem) {
  struct Counted {
    explicit Counted(int* d) : destroyed(d) {}
    ~Counted() { ++*destroyed; }
    int* destroyed;
  };
  int destroyed = 0;
  {
    ShardedLruCache<std::shared_ptr<Counted>> cache(1, 1);
    cache.Put("a", std::make_shared<Counted>(&destroyed));
    auto held = cache.Get("a");
    cache.Put("b", std::make_shared<Counted>(&destroyed));  // evicts a
    EXPECT_EQ(destroyed, 0);
    held.reset();
    EXPECT_EQ(destroyed, 1);
  }
  EXPECT_EQ(destroyed, 2);  // b, with the cache
}

TEST(ShardedLruCache, ManyThreads) {
  ShardedLruCache<int> cache(256, 16);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        const int n = (i * 7 + t) % 512;
        const std::string k = std::to_string(n);
        if (auto v = cache.Get(k)) {
          EXPECT_EQ(*v, n);
        } else {
          cache.Put(k, n);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(cache.size(), 256u);
}

}  // namespace
}  // namespace openrms::licensing
