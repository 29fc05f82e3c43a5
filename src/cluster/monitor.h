// The expiry monitor, as in the original system: a warning when renewal is
// due, a second warning when expiry is near, an error at expiry; a warning
// when an offline renewal request has been pending too long; and automatic
// online renewal at about two thirds of the lifetime for clusters that opt
// in. Each event is posted once per certificate (or request).
#pragma once

#include <optional>
#include <string>

#include "cluster/cluster.h"

namespace openrms::cluster {

struct MonitorOptions {
  Duration pending_too_long = Days(7);
};

class ExpiryMonitor final {
 public:
  // Without a key password there is no automatic renewal.
  ExpiryMonitor(ClusterService& service, std::optional<std::string> key_password,
                MonitorOptions options = {})
      : service_(service), password_(std::move(key_password)), options_(options) {}

  // One pass over every cluster in the store.
  Status RunOnce();
  Status Check(const std::string& cluster);

  // When automatic renewal of an SLC valid over [from, until) is due: two
  // thirds of the way, moved by up to 1% of the lifetime (a jitter derived
  // from the certificate ID, so every node computes the same instant).
  static Time RenewalTime(Time from, Time until, std::string_view certificate_id);

 private:
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
