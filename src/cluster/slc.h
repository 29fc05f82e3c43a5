// What an administrator sees of a server licensor certificate, and where it
// stands in its lifecycle (renewal due, expiring, expired).
#pragma once

#include <string>
#include <string_view>

#include "base/clock.h"
#include "xrml/document.h"

namespace openrms::cluster {

enum class SlcState { kValid, kRenewalDue, kExpiring, kExpired };

// "valid", "renewal due", "expiring", "expired".
std::string_view SlcStateName(SlcState state);

struct ExpiryPolicy {
  int renewal_due_days = 30;  // first warning
  int expiring_days = 7;      // second warning
};

SlcState StateAt(Time now, Time expires, const ExpiryPolicy& policy);

struct SlcSummary {
  std::string certificate_id;  // DESCRIPTOR ID: new for every issuance
  std::string guid;            // the server's GUID: kept across renewals
  std::string server_name;
  std::string server_url;
  std::string issuer;
  Time issued;
  Time expires;
  long days_left = 0;  // days begun before expiry (20 for a fresh 20-day SLC), never negative
  SlcState state = SlcState::kValid;
};

// Reads the summary of an SLC (first document of its chain) at `now`.
SlcSummary Summarize(const xrml::Document& slc, Time now, const ExpiryPolicy& policy);

}  // namespace openrms::cluster
