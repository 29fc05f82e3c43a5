#include <gtest/gtest.h>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "base/text.h"

namespace openrms {
namespace {

TEST(Clock, FormatsAndParsesXrmlTimes) {
  auto t = ParseTime("2010-06-11T20:50");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatXrmlTime(*t), "2010-06-11T20:50");
  EXPECT_EQ(FormatIso8601(*t), "2010-06-11T20:50:00Z");
  EXPECT_EQ(FormatHuman(*t), "2010-06-11 20:50 UTC");
  EXPECT_EQ(ParseTime("2010-06-11T20:50:07Z"), *t + Duration(7));
  EXPECT_FALSE(ParseTime("2010-13-11T20:50"));
  EXPECT_FALSE(ParseTime("yesterday"));
}

TEST(Clock, FakeClockMovesOnlyWhenTold) {
  FakeClock clock(*ParseTime("2026-01-01T00:00"));
  clock.Advance(Days(30));
  EXPECT_EQ(FormatXrmlTime(clock.Now()), "2026-01-31T00:00");
}

TEST(Random, GuidsHaveTheMsGuidShape) {
  DeterministicRandom r(1);
  const std::string g = NewGuid(r);
  EXPECT_TRUE(IsGuid(g)) << g;
  EXPECT_EQ(g[15], '4');
  EXPECT_NE(NewGuid(r), g);
  EXPECT_FALSE(IsGuid("{not-a-guid}"));
}

TEST(Text, Utf16RoundTrip) {
  auto u16 = Utf8ToUtf16Le("A\xc3\xa9");
  ASSERT_TRUE(u16.ok());
  EXPECT_EQ(*u16, std::string("A\0\xe9\0", 4));
  EXPECT_EQ(*Utf16LeToUtf8("\xff\xfe" + *u16), "A\xc3\xa9");
  EXPECT_EQ(Utf8ToUtf16Le("\xff").status().code(), Code::kMalformed);
}

TEST(Status, ResultCarriesValueOrError) {
  Result<std::string> ok = std::string("three");
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(*ok, "three");
  Result<int> bad = Status(Code::kNotFound, "no such thing");
  EXPECT_EQ(bad.status().ToString(), "not-found: no such thing");
}

}  // namespace
}  // namespace openrms
