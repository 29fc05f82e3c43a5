#include "cluster/monitor.h"

#include <syslog.h>

namespace openrms::cluster {

Status ExpiryMonitor::RunOnce() {
  ASSIGN_OR_RETURN(std::vector<CheckOutcome> outcomes, RunAll());
  for (const auto& o : outcomes) {
    if (!o.status.ok()) return o.status.WithContext("cluster " + o.cluster);
  }
  return Status::Ok();
}

Result<std::vector<CheckOutcome>> ExpiryMonitor::RunAll() {
  ASSIGN_OR_RETURN(auto names, service_.store().ListClusters());
  std::vector<CheckOutcome> out;
  for (const auto& name : names) out.push_back(CheckOne(name));
  return out;
}

Status ExpiryMonitor::Check(const std::string& name) { return CheckOne(name).status; }

Status ExpiryMonitor::Post(const std::string& name, const Event& event, const std::string& dedupe,
                           CheckOutcome& out) {
  ASSIGN_OR_RETURN(bool fresh, service_.PostEvent(name, event, dedupe));
  if (fresh) out.events.push_back(event);
  return Status::Ok();
}

Result<RenewalPlan> ExpiryMonitor::Plan(const std::string& name, const ClusterConfig& c,
                                        const SlcRecord& active, CheckOutcome& out) {
  const Environment& env = service_.environment();
  const Time now = env.clock.Now();
  RenewalPlanStore plans(service_.store().database());
  ASSIGN_OR_RETURN(std::optional<RenewalPlan> stored, plans.Find(name));
  if (stored && stored->certificate_id != active.certificate_id) stored.reset();

  RenewalPlan wanted;
  wanted.certificate_id = active.certificate_id;
  wanted.window = LocalRenewalWindow(active.valid_from, active.valid_until);
  if (stored) {
    // An issuer's window stays until the issuer says otherwise, even while
    // it cannot be reached.
    if (stored->source == WindowSource::kIssuer) {
      wanted.window = stored->window;
      wanted.source = WindowSource::kIssuer;
      wanted.explanation_url = stored->explanation_url;
    }
    wanted.fetched_at = stored->fetched_at;
    wanted.next_fetch = stored->next_fetch;
    wanted.fetch_error = stored->fetch_error;
  }
  // Only an enrollment service publishes renewal information; a root
  // cluster, the issuer of licensing-only clusters, does not (yet).
  const bool online = c.kind == ClusterKind::kRoot && !c.issuer_url.empty();
  if (online && (!wanted.next_fetch || now >= *wanted.next_fetch)) {
    auto answer =
        env.transport.GetRenewalInfo(c.issuer_url, active.certificate_id, c.issuer_tls_ca);
    if (answer.ok()) {
      const bool moved = stored && stored->source == WindowSource::kIssuer &&
                         !(stored->window == answer->info.window);
      wanted.window = answer->info.window;
      wanted.source = WindowSource::kIssuer;
      wanted.explanation_url = answer->info.explanation_url;
      wanted.fetched_at = now;
      wanted.next_fetch = now + answer->retry_after.value_or(options_.default_retry_after);
      wanted.fetch_error.clear();
      if (moved) {
        RETURN_IF_ERROR(
            Post(name,
                 {0, now, "warning", "renewal-window-moved",
                  "The issuer moved the renewal window of cluster " + name + "'s certificate to " +
                      FormatHuman(wanted.window.start) + " - " + FormatHuman(wanted.window.end) +
                      (wanted.explanation_url.empty() ? std::string(".")
                                                      : ": see " + wanted.explanation_url)},
                 active.certificate_id + "@" + FormatIso8601(wanted.window.start) + "/" +
                     FormatIso8601(wanted.window.end),
                 out));
      }
    } else {
      wanted.fetch_error = answer.status().message();
      wanted.next_fetch = now + options_.fetch_retry;
    }
  }
  return plans.Choose(name, wanted, env.random);
}

CheckOutcome ExpiryMonitor::CheckOne(const std::string& name) {
  CheckOutcome out;
  out.cluster = name;
  out.status = [&]() -> Status {
    ClusterStore& store = service_.store();
    const Time now = service_.environment().clock.Now();
    ASSIGN_OR_RETURN(StatusReport report, service_.GetStatus(name));
    if (report.pending && now - report.pending->created_at >= options_.pending_too_long) {
      RETURN_IF_ERROR(
          Post(name,
               {0, now, "warning", "renewal-pending-too-long",
                "The renewal request " + report.pending->file_name + " of cluster " + name +
                    " was exported on " + FormatHuman(report.pending->created_at) +
                    " and no certificate has been imported since. Submit it "
                    "to the issuer and import the answer, or renew online."},
               "request:" + std::to_string(report.pending->id), out));
    }
    if (!report.slc) return Status::Ok();
    const SlcSummary& slc = *report.slc;
    const std::string when = FormatHuman(slc.expires);
    const std::string key = slc.certificate_id;
    switch (slc.state) {
      case SlcState::kExpired:
        RETURN_IF_ERROR(
            Post(name,
                 {0, now, "error", "expired",
                  "The server licensor certificate of cluster " + name + " expired on " + when +
                      ". The cluster no longer issues certificates or licenses "
                      "(licenses issued before keep their own validity). Renew it "
                      "online or offline."},
                 key, out));
        [[fallthrough]];
      case SlcState::kExpiring:
        RETURN_IF_ERROR(
            Post(name,
                 {0, now, "warning", "expiring",
                  "The server licensor certificate of cluster " + name + " expires on " + when +
                      ". Renew it now: at expiry the cluster stops issuing "
                      "licenses."},
                 key, out));
        [[fallthrough]];
      case SlcState::kRenewalDue:
        RETURN_IF_ERROR(Post(name,
                             {0, now, "warning", "renewal-due",
                              "The server licensor certificate of cluster " + name +
                                  " expires on " + when + ": renewal is due."},
                             key, out));
        break;
      case SlcState::kValid:
        break;
    }

    ASSIGN_OR_RETURN(auto active, store.ActiveSlc(name));
    if (!active) return Status::Ok();
    ASSIGN_OR_RETURN(out.plan, Plan(name, report.config, *active, out));
    if (!report.config.auto_renew || !password_) return Status::Ok();
    if (now < out.plan->renew_at.value_or(active->valid_until)) return Status::Ok();
    if (report.config.next_renewal_attempt && now < *report.config.next_renewal_attempt) {
      return Status::Ok();
    }
    auto renewed = service_.RenewOnline(name, *password_, "automatic renewal", std::nullopt,
                                        active->certificate_id);
    // Another node's monitor renewed it first: the cluster is renewed once.
    if (!renewed.ok() && renewed.status().code() == Code::kAlreadyUsed) return Status::Ok();
    if (!renewed.ok()) return renewed.status();
    out.renewed = *renewed;
    return Status::Ok();
  }();
  return out;
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
