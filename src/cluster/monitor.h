// The expiry monitor, as in the original system: a warning when renewal is
// due, a second warning when expiry is near, an error at expiry; a warning
// when an offline renewal request has been pending too long; and automatic
// online renewal at about two thirds of the lifetime for clusters that opt
// in. Each event is posted once per certificate (or request).
//
// When to renew (renewal_plan.h): a root cluster with an issuer URL fetches
// its issuer's renewal window for the active SLC (honouring the issuer's
// Retry-After; after a failure, again in 5 minutes) and renews at a random
// moment inside it, chosen once and stored. Clusters that cannot fetch it
// (offline, licensing-only, the issuer unreachable before any answer) use
// the local rule: two thirds of the lifetime, give or take 1%.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster.h"

namespace openrms::cluster {

struct MonitorOptions {
  Duration pending_too_long = Days(7);
  // When the issuer's answer has no Retry-After.
  Duration default_retry_after = std::chrono::hours(6);
  // After a failed fetch of the issuer's renewal information.
  Duration fetch_retry = std::chrono::minutes(5);
};

// What one pass found for one cluster.
struct CheckOutcome {
  std::string cluster;
  Status status;                      // OK, or why the check failed
  std::vector<Event> events;          // events this pass posted (not earlier ones)
  std::optional<RenewalPlan> plan;    // the renewal plan of the active SLC
  std::optional<SlcSummary> renewed;  // the new SLC when this pass renewed
};

class ExpiryMonitor final {
 public:
  // Without a key password there is no automatic renewal.
  ExpiryMonitor(ClusterService& service, std::optional<std::string> key_password,
                MonitorOptions options = {})
      : service_(service), password_(std::move(key_password)), options_(options) {}

  // One pass over every cluster in the store: the first failure, after
  // every cluster was checked.
  Status RunOnce();
  // The same, one outcome per cluster in the store's order.
  Result<std::vector<CheckOutcome>> RunAll();
  Status Check(const std::string& cluster);
  CheckOutcome CheckOne(const std::string& cluster);

 private:
  Result<RenewalPlan> Plan(const std::string& name, const ClusterConfig& config,
                           const SlcRecord& active, CheckOutcome& out);
  Status Post(const std::string& name, const Event& event, const std::string& dedupe,
              CheckOutcome& out);

  ClusterService& service_;
  std::optional<std::string> password_;
  MonitorOptions options_;
};

// Publishes events to syslog(3) under the identity "openrms".
class SyslogSink final : public EventSink {
 public:
  SyslogSink();
  void Publish(const std::string& cluster, const Event& event) override;
};

}  // namespace openrms::cluster
