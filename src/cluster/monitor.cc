#include "cluster/monitor.h"

#include <syslog.h>

#include <functional>

namespace openrms::cluster {

Time ExpiryMonitor::RenewalTime(Time from, Time until, std::string_view certificate_id) {
  const long life = (until - from).count();
  const long jitter_range = std::max(1L, life / 100);
  const long jitter =
      static_cast<long>(std::hash<std::string_view>{}(certificate_id) % (2 * jitter_range + 1)) -
      jitter_range;
  return from + Duration(life * 2 / 3 + jitter);
}

Status ExpiryMonitor::RunOnce() {
  ASSIGN_OR_RETURN(auto names, service_.store().ListClusters());
  Status first;
  for (const auto& name : names) {
    Status s = Check(name);
    if (!s.ok() && first.ok()) first = s.WithContext("cluster " + name);
  }
  return first;
}

Status ExpiryMonitor::Check(const std::string& name) {
  ClusterStore& store = service_.store();
  const Time now = service_.environment().clock.Now();
  ASSIGN_OR_RETURN(StatusReport report, service_.GetStatus(name));
  if (report.pending && now - report.pending->created_at >= options_.pending_too_long) {
    RETURN_IF_ERROR(
        service_
            .PostEvent(name,
                       {0, now, "warning", "renewal-pending-too-long",
                        "The renewal request " + report.pending->file_name + " of cluster " + name +
                            " was exported on " + FormatHuman(report.pending->created_at) +
                            " and no certificate has been imported since. Submit it "
                            "to the issuer and import the answer, or renew online."},
                       "request:" + std::to_string(report.pending->id))
            .status());
  }
  if (!report.slc) return Status::Ok();
  const SlcSummary& slc = *report.slc;
  const std::string when = FormatHuman(slc.expires);
  const std::string key = slc.certificate_id;
  switch (slc.state) {
    case SlcState::kExpired:
      RETURN_IF_ERROR(
          service_
              .PostEvent(
                  name,
                  {0, now, "error", "expired",
                   "The server licensor certificate of cluster " + name + " expired on " + when +
                       ". The cluster no longer issues certificates or licenses "
                       "(licenses issued before keep their own validity). Renew it online "
                       "or offline."},
                  key)
              .status());
      [[fallthrough]];
    case SlcState::kExpiring:
      RETURN_IF_ERROR(service_
                          .PostEvent(name,
                                     {0, now, "warning", "expiring",
                                      "The server licensor certificate of cluster " + name +
                                          " expires on " + when +
                                          ". Renew it now: at expiry the cluster stops issuing "
                                          "licenses."},
                                     key)
                          .status());
      [[fallthrough]];
    case SlcState::kRenewalDue:
      RETURN_IF_ERROR(service_
                          .PostEvent(name,
                                     {0, now, "warning", "renewal-due",
                                      "The server licensor certificate of cluster " + name +
                                          " expires on " + when + ": renewal is due."},
                                     key)
                          .status());
      break;
    case SlcState::kValid:
      break;
  }

  if (!report.config.auto_renew || !password_) return Status::Ok();
  ASSIGN_OR_RETURN(auto active, store.ActiveSlc(name));
  if (!active) return Status::Ok();
  if (now < RenewalTime(active->valid_from, active->valid_until, active->certificate_id)) {
    return Status::Ok();
  }
  if (report.config.next_renewal_attempt && now < *report.config.next_renewal_attempt) {
    return Status::Ok();
  }
  auto renewed = service_.RenewOnline(name, *password_, "automatic renewal");
  return renewed.ok() ? Status::Ok() : renewed.status();
}

SyslogSink::SyslogSink() { openlog("openrms", LOG_PID, LOG_DAEMON); }

void SyslogSink::Publish(const std::string& cluster, const Event& event) {
  const int priority = event.level == "error"     ? LOG_ERR
                       : event.level == "warning" ? LOG_WARNING
                                                  : LOG_INFO;
  syslog(priority, "cluster=%s event=%s %s", cluster.c_str(), event.kind.c_str(),
         event.message.c_str());
}

}  // namespace openrms::cluster
