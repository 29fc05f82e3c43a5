#include "cluster/slc.h"

namespace openrms::cluster {

std::string_view SlcStateName(SlcState state) {
  switch (state) {
    case SlcState::kValid:
      return "valid";
    case SlcState::kRenewalDue:
      return "renewal due";
    case SlcState::kExpiring:
      return "expiring";
    case SlcState::kExpired:
      return "expired";
  }
  return "unknown";
}

SlcState StateAt(Time now, Time expires, const ExpiryPolicy& policy) {
  if (now >= expires) return SlcState::kExpired;
  if (now >= expires - Days(policy.expiring_days)) return SlcState::kExpiring;
  if (now >= expires - Days(policy.renewal_due_days)) return SlcState::kRenewalDue;
  return SlcState::kValid;
}

SlcSummary Summarize(const xrml::Document& slc, Time now, const ExpiryPolicy& policy) {
  SlcSummary s;
  s.certificate_id = slc.descriptor.id;
  if (const xrml::Party* p = slc.principal()) {
    s.guid = p->object.id;
    s.server_name = p->object.name;
    s.server_url = p->object.address;
  }
  s.issuer = slc.issuer.object.name;
  s.issued = slc.issued_time.value_or(Time{});
  s.expires = slc.validity && slc.validity->until ? *slc.validity->until : Time{};
  const auto left = s.expires - now;
  // Started days count: an SLC issued for 20 days shows 20 days left.
  s.days_left = left.count() > 0 ? static_cast<long>((left.count() + 86399) / 86400) : 0;
  s.state = StateAt(now, s.expires, policy);
  return s;
}

}  // namespace openrms::cluster
