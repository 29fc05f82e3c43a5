#include "node/store_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace openrms::node {
namespace {

using std::chrono::milliseconds;

// A store that counts its reads and answers what `next` holds, on a clock
// the test moves.
struct Fixture {
  StoreCache<std::vector<std::string>>::TimePoint now{};
  int reads = 0;
  uint64_t changes = 0;
  Result<std::vector<std::string>> next = std::vector<std::string>{"a"};

  StoreCache<std::vector<std::string>> Cache() {
    return StoreCache<std::vector<std::string>>(
        [this] {
          ++reads;
          return next;
        },
        [this] { return changes; },
        {.max_age = std::chrono::seconds(3),
         .min_interval = std::chrono::seconds(1),
         .now = [this] { return now; }});
  }
};

TEST(StoreCacheTest, ReadsOnceThenAgainWhenOld) {
  Fixture f;
  auto cache = f.Cache();
  EXPECT_EQ(*cache.Get(false), std::vector<std::string>{"a"});
  f.next = std::vector<std::string>{"a", "b"};
  f.now += milliseconds(2999);
  EXPECT_EQ(cache.Get(false)->size(), 1u);
  EXPECT_EQ(f.reads, 1);
  f.now += milliseconds(1);
  EXPECT_EQ(cache.Get(false)->size(), 2u);
  EXPECT_EQ(f.reads, 2);
}

TEST(StoreCacheTest, MissesReadAgainAtMostOnceAnInterval) {
  Fixture f;
  auto cache = f.Cache();
  cache.Get(false);
  // A flood of requests for paths under no cluster.
  for (int i = 0; i < 1000; ++i) cache.Get(true);
  EXPECT_EQ(f.reads, 1);
  f.now += milliseconds(999);
  cache.Get(true);
  EXPECT_EQ(f.reads, 1);
  f.now += milliseconds(1);
  f.next = std::vector<std::string>{"a", "new"};
  EXPECT_EQ(cache.Get(true)->size(), 2u);  // a cluster another node made
  EXPECT_EQ(f.reads, 2);
  for (int i = 0; i < 1000; ++i) cache.Get(true);
  EXPECT_EQ(f.reads, 2);
}

TEST(StoreCacheTest, AChangeMadeHereIsReadAtOnce) {
  Fixture f;
  auto cache = f.Cache();
  cache.Get(false);
  f.next = std::vector<std::string>{"a", "provisioned"};
  ++f.changes;  // this process created a cluster just now
  EXPECT_EQ(cache.Get(false)->size(), 2u);
  EXPECT_EQ(f.reads, 2);
  EXPECT_EQ(cache.Get(true)->size(), 2u);
  EXPECT_EQ(f.reads, 2);
}

TEST(StoreCacheTest, AStoreThatFailsKeepsTheLastValueAndIsNotHammered) {
  Fixture f;
  auto cache = f.Cache();
  cache.Get(false);
  f.next = Status(Code::kUnavailable, "the database is down");
  f.now += std::chrono::seconds(3);
  EXPECT_EQ(*cache.Get(false), std::vector<std::string>{"a"});
  EXPECT_EQ(f.reads, 2);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(cache.Get(true)->size(), 1u);
  EXPECT_EQ(f.reads, 2);
  f.now += std::chrono::seconds(1);
  f.next = std::vector<std::string>{"a", "b"};
  EXPECT_EQ(cache.Get(true)->size(), 2u);
  EXPECT_EQ(f.reads, 3);
}

TEST(StoreCacheTest, EmptyUntilTheFirstReadSucceeds) {
  Fixture f;
  f.next = Status(Code::kUnavailable, "down");
  auto cache = f.Cache();
  EXPECT_TRUE(cache.Get(false)->empty());
  EXPECT_TRUE(cache.Get(true)->empty());
  EXPECT_EQ(f.reads, 1);
  f.next = std::vector<std::string>{};  // no cluster yet: an empty list is a value too
  f.now += std::chrono::seconds(1);
  EXPECT_TRUE(cache.Get(true)->empty());
  EXPECT_EQ(f.reads, 2);
  EXPECT_TRUE(cache.Get(true)->empty());
  EXPECT_EQ(f.reads, 2);
}

}  // namespace
}  // namespace openrms::node
