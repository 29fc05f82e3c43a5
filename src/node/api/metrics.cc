#include "node/api/metrics.h"

#include <algorithm>
#include <sstream>

#include "base/clock.h"
#include "crypto/password_hash.h"

namespace openrms::node::api {

http::Response MetricsEndpoint::Handle(const http::Request& req) const {
  if (req.method != "GET") return http::Response::Text(405, "use GET\n").SetHeader("Allow", "GET");
  if (!MayRead(req)) {
    return http::Response::Text(401, "/metrics needs its bearer token or an allowed address\n")
        .SetHeader("WWW-Authenticate", "Bearer realm=\"OpenRMS metrics\"");
  }
  http::Response r = http::Response::Text(200, Text());
  r.SetHeader("Content-Type", "text/plain; version=0.0.4");
  return r;
}

bool MetricsEndpoint::MayRead(const http::Request& req) const {
  const MetricsAccess& a = access_;
  if (a.bearer_token.empty() && a.addresses.empty()) return true;
  for (const auto& address : a.addresses) {
    if (address == req.remote_address) return true;
  }
  const auto auth = req.Header("authorization");
  return !a.bearer_token.empty() && auth && auth->rfind("Bearer ", 0) == 0 &&
         crypto::SecretEquals(auth->substr(7), a.bearer_token);
}

std::string MetricsEndpoint::Text() const {
  std::ostringstream out;
  out << "# HELP openrms_slc_expiry_timestamp_seconds When the cluster's server licensor "
         "certificate expires.\n# TYPE openrms_slc_expiry_timestamp_seconds gauge\n";
  std::ostringstream left, state, result, result_at;
  left << "# HELP openrms_slc_seconds_left Seconds until the SLC expires (negative: expired).\n"
          "# TYPE openrms_slc_seconds_left gauge\n";
  state << "# HELP openrms_slc_state 1 for the SLC's current state.\n# TYPE openrms_slc_state "
           "gauge\n";
  result << "# HELP openrms_slc_last_renewal_success 1 if the last online renewal succeeded, 0 "
            "if it failed.\n# TYPE openrms_slc_last_renewal_success gauge\n";
  result_at << "# HELP openrms_slc_last_renewal_timestamp_seconds When the last online renewal "
               "was tried.\n# TYPE openrms_slc_last_renewal_timestamp_seconds gauge\n";
  auto names = clusters_.store().ListClusters();
  const Time now = DefaultClock().Now();
  for (const auto& name : names.ok() ? *names : std::vector<std::string>{}) {
    auto report = clusters_.GetStatus(name);
    if (!report.ok() || !report->slc) continue;
    const std::string label = "{cluster=\"" + name + "\"}";
    out << "openrms_slc_expiry_timestamp_seconds" << label << " "
        << report->slc->expires.time_since_epoch().count() << "\n";
    left << "openrms_slc_seconds_left" << label << " " << (report->slc->expires - now).count()
         << "\n";
    for (auto s : {cluster::SlcState::kValid, cluster::SlcState::kRenewalDue,
                   cluster::SlcState::kExpiring, cluster::SlcState::kExpired}) {
      std::string sname(cluster::SlcStateName(s));
      std::replace(sname.begin(), sname.end(), ' ', '_');
      state << "openrms_slc_state{cluster=\"" << name << "\",state=\"" << sname << "\"} "
            << (report->slc->state == s ? 1 : 0) << "\n";
    }
    if (report->config.last_renewal_ok) {
      result << "openrms_slc_last_renewal_success" << label << " "
             << (*report->config.last_renewal_ok ? 1 : 0) << "\n";
      result_at << "openrms_slc_last_renewal_timestamp_seconds" << label << " "
                << report->config.last_renewal_at->time_since_epoch().count() << "\n";
    }
  }
  return out.str() + left.str() + state.str() + result.str() + result_at.str();
}

}  // namespace openrms::node::api
