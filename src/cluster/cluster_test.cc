#include <gtest/gtest.h>

#include "cluster/monitor.h"
#include "cluster/slc.h"

namespace openrms::cluster {
namespace {

TEST(SlcState, ThresholdsOfTheOriginalSystem) {
  const Time expires = *ParseTime("2027-01-31T00:00");
  const ExpiryPolicy policy;  // 30 and 7 days
  EXPECT_EQ(StateAt(expires - Days(31), expires, policy), SlcState::kValid);
  EXPECT_EQ(StateAt(expires - Days(30), expires, policy), SlcState::kRenewalDue);
  EXPECT_EQ(StateAt(expires - Days(8), expires, policy), SlcState::kRenewalDue);
  EXPECT_EQ(StateAt(expires - Days(7), expires, policy), SlcState::kExpiring);
  EXPECT_EQ(StateAt(expires - Duration(1), expires, policy), SlcState::kExpiring);
  EXPECT_EQ(StateAt(expires, expires, policy), SlcState::kExpired);
  EXPECT_EQ(SlcStateName(SlcState::kRenewalDue), "renewal due");
}

TEST(ExpiryMonitor, RenewalTimeIsTwoThirdsWithSmallStableJitter) {
  const Time from = *ParseTime("2026-01-01T00:00");
  const Time until = from + Days(300);
  const Time at = ExpiryMonitor::RenewalTime(from, until, "{a}");
  EXPECT_EQ(at, ExpiryMonitor::RenewalTime(from, until, "{a}"));  // every node agrees
  EXPECT_GE(at, from + Days(200) - Days(3));
  EXPECT_LE(at, from + Days(200) + Days(3));
  bool differs = false;
  for (const char* id : {"{b}", "{c}", "{d}", "{e}"}) {
    differs |= ExpiryMonitor::RenewalTime(from, until, id) != at;
  }
  EXPECT_TRUE(differs) << "no jitter";
}

}  // namespace
}  // namespace openrms::cluster
