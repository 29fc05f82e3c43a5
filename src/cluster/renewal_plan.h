// When a cluster renews its SLC automatically: a window, from the issuer's
// renewal information (enrollment/renewal_info.h, RFC 9773) when the
// cluster can fetch it, else from the local rule (about two thirds of the
// lifetime); and one moment inside it, chosen at random once and stored,
// so that restarts and every node of the cluster agree on it. The moment
// is chosen again only when the window or the certificate changes.
// Thread-safe; nothing is kept in the process.
#pragma once

#include <optional>
#include <string>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "enrollment/renewal_info.h"
#include "store/database.h"

namespace openrms::cluster {

using enrollment::RenewalWindow;

enum class WindowSource { kIssuer, kLocalRule };
std::string_view WindowSourceName(WindowSource source);  // "issuer", "local rule"

// The local rule, for a certificate valid over [from, until): two thirds of
// the lifetime, give or take 1% of it.
RenewalWindow LocalRenewalWindow(Time from, Time until);

// A moment in [window.start, window.end), uniformly at random.
Time RandomMomentIn(const RenewalWindow& window, Random& random);

struct RenewalPlan {
  std::string certificate_id;  // the SLC the plan is for
  RenewalWindow window;
  WindowSource source = WindowSource::kLocalRule;
  std::string explanation_url;
  // Inside `window`; always set in a stored plan (GetStatus shows the
  // local rule without one before the monitor's first pass).
  std::optional<Time> renew_at;
  // Fetching the issuer's renewal information.
  std::optional<Time> fetched_at;  // the last answer
  std::optional<Time> next_fetch;  // not before (the issuer's Retry-After)
  std::string fetch_error;         // why the last fetch failed ("" when it did not)
};

class RenewalPlanStore final {
 public:
  explicit RenewalPlanStore(store::Database& db) : db_(db) {}
  static Status Migrate(store::Database& db);

  // The stored plan of cluster `name`, if any.
  Result<std::optional<RenewalPlan>> Find(const std::string& name);

  // Makes `window` (from `source`) the plan of `name` for
  // `certificate_id`. The stored moment is kept when the stored plan has
  // the same certificate, window and source; otherwise a new one is drawn
  // from `random`. When several nodes do this at once, all of them return
  // the one moment that was stored. The fetch fields are written as given.
  Result<RenewalPlan> Choose(const std::string& name, const RenewalPlan& wanted, Random& random);

 private:
  store::Database& db_;
};

}  // namespace openrms::cluster
