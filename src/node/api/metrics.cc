#include "node/api/metrics.h"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "base/clock.h"
#include "crypto/password_hash.h"
#include "node/api/bearer.h"
#include "protocol/enrollment_messages.h"

namespace openrms::node::api {

namespace {

bool EndsWith(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

void Family(std::ostringstream& out, std::string_view name, std::string_view type,
            std::string_view help) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

// Seconds as Prometheus writes floats: shortest round-trip form.
std::string Seconds(double s) {
  char buf[64];
  const auto end = std::to_chars(buf, buf + sizeof buf, s, std::chars_format::general).ptr;
  return std::string(buf, end);
}

}  // namespace

std::string_view RouteName(Route route) {
  switch (route) {
    case Route::kEndUserLicenses:
      return "enduserlicenses";
    case Route::kPublishingLicenses:
      return "publishinglicenses";
    case Route::kTemplates:
      return "templates";
    case Route::kServiceDiscovery:
      return "servicediscovery";
    case Route::kClientLogs:
      return "clientlogs";
    case Route::kMyV2Other:
      return "my_v2_other";
    case Route::kCertification:
      return "certification";
    case Route::kSubEnroll:
      return "subenroll";
    case Route::kToken:
      return "oauth2_token";
    case Route::kAdmin:
      return "admin";
    case Route::kMetrics:
      return "metrics";
    case Route::kHealthz:
      return "healthz";
    case Route::kOther:
      break;
  }
  return "other";
}

Route RouteOf(std::string_view path) {
  if (path == "/metrics") return Route::kMetrics;
  if (path == "/healthz") return Route::kHealthz;
  if (path == "/oauth2/token") return Route::kToken;
  if (path == "/admin" || path.rfind("/admin/", 0) == 0) return Route::kAdmin;
  if (EndsWith(path, "/certification")) return Route::kCertification;
  if (EndsWith(path, protocol::kSubEnrollPath)) return Route::kSubEnroll;
  const size_t my_v2 = path.find("/my/v2/");
  if (my_v2 == std::string_view::npos) return Route::kOther;
  const std::string_view op = path.substr(my_v2 + 7);
  if (op == "enduserlicenses") return Route::kEndUserLicenses;
  if (op == "publishinglicenses") return Route::kPublishingLicenses;
  if (op == "templates") return Route::kTemplates;
  if (op == "servicediscovery") return Route::kServiceDiscovery;
  if (op == "clientdebuglogs" || op == "clientperformancelogs" || op == "clientlogs/debug" ||
      op == "clientlogs/performance") {
    return Route::kClientLogs;
  }
  return Route::kMyV2Other;
}

size_t RequestMetrics::StatusSlot(int status) {
  for (size_t i = 0; i < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) return i;
  }
  return kStatuses.size();
}

void RequestMetrics::Record(Route route, int status, std::chrono::nanoseconds latency) {
  PerRoute& r = routes_[static_cast<size_t>(route)];
  r.by_status[StatusSlot(status)].fetch_add(1, std::memory_order_relaxed);
  const double seconds = std::chrono::duration<double>(latency).count();
  size_t bucket = 0;
  while (bucket < kLatencyBuckets.size() && seconds > kLatencyBuckets[bucket]) ++bucket;
  r.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  r.sum_ns.fetch_add(static_cast<uint64_t>(latency.count()), std::memory_order_relaxed);
}

uint64_t RequestMetrics::Count(Route route, int status) const {
  return routes_[static_cast<size_t>(route)].by_status[StatusSlot(status)].load(
      std::memory_order_relaxed);
}

std::string RequestMetrics::Text() const {
  std::ostringstream out;
  Family(out, "openrms_http_requests_total", "counter",
         "Requests answered, by route and HTTP status.");
  for (size_t i = 0; i < kRouteCount; ++i) {
    const std::string_view route = RouteName(static_cast<Route>(i));
    for (size_t slot = 0; slot <= kStatuses.size(); ++slot) {
      const uint64_t n = routes_[i].by_status[slot].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out << "openrms_http_requests_total{route=\"" << route << "\",status=\""
          << (slot < kStatuses.size() ? std::to_string(kStatuses[slot]) : "other") << "\"} " << n
          << "\n";
    }
  }
  Family(out, "openrms_http_request_duration_seconds", "histogram",
         "Time in the node's handler per request, by route.");
  for (size_t i = 0; i < kRouteCount; ++i) {
    const PerRoute& r = routes_[i];
    // One snapshot of the buckets, so that +Inf and _count agree.
    std::array<uint64_t, kLatencyBuckets.size() + 1> b{};
    uint64_t total = 0;
    for (size_t k = 0; k < b.size(); ++k) {
      b[k] = r.buckets[k].load(std::memory_order_relaxed);
      total += b[k];
    }
    if (total == 0) continue;
    const std::string label = "route=\"" + std::string(RouteName(static_cast<Route>(i))) + "\"";
    uint64_t cumulative = 0;
    for (size_t k = 0; k < kLatencyBuckets.size(); ++k) {
      cumulative += b[k];
      out << "openrms_http_request_duration_seconds_bucket{" << label << ",le=\""
          << Seconds(kLatencyBuckets[k]) << "\"} " << cumulative << "\n";
    }
    out << "openrms_http_request_duration_seconds_bucket{" << label << ",le=\"+Inf\"} " << total
        << "\n";
    out << "openrms_http_request_duration_seconds_sum{" << label << "} "
        << Seconds(static_cast<double>(r.sum_ns.load(std::memory_order_relaxed)) / 1e9) << "\n";
    out << "openrms_http_request_duration_seconds_count{" << label << "} " << total << "\n";
  }
  return out.str();
}

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

std::string MetricsEndpoint::ServiceText() const {
  std::ostringstream out;
  if (sources_.requests != nullptr) out << sources_.requests->Text();
  if (const licensing::LicensingService* l = sources_.licensing) {
    const licensing::LicensingCounters& c = l->counters();
    Family(out, "openrms_licenses_issued_total", "counter",
           "Licenses issued, by kind: use (access granted), publish, rac, rac-temporary, clc.");
    const std::pair<const char*, const std::atomic<uint64_t>*> kinds[] = {
        {"use", &c.issued_use},
        {"publish", &c.issued_publish},
        {"rac", &c.issued_rac},
        {"rac-temporary", &c.issued_rac_temporary},
        {"clc", &c.issued_clc}};
    for (const auto& [kind, n] : kinds) {
      out << "openrms_licenses_issued_total{kind=\"" << kind << "\"} "
          << n->load(std::memory_order_relaxed) << "\n";
    }
    Family(out, "openrms_audit_queue_rows", "gauge",
           "License audit rows accepted and not yet written to the store.");
    out << "openrms_audit_queue_rows " << l->audit_trail().queued() << "\n";
  }
  std::vector<std::pair<const char*, const licensing::CacheCounters*>> caches;
  if (sources_.licensing != nullptr) {
    caches.emplace_back("publishing_license", &sources_.licensing->counters().publishing_licenses);
    caches.emplace_back("cluster_slc", &sources_.licensing->counters().clusters);
  }
  if (sources_.bearer != nullptr) {
    caches.emplace_back("bearer_token", &sources_.bearer->cache_counters());
  }
  if (sources_.license_requests != nullptr) {
    caches.emplace_back("enduserlicense_body", sources_.license_requests);
  }
  if (!caches.empty()) {
    Family(out, "openrms_cache_hits_total", "counter", "Lookups answered from memory, by cache.");
    for (const auto& [name, c] : caches) {
      out << "openrms_cache_hits_total{cache=\"" << name << "\"} "
          << c->hits.load(std::memory_order_relaxed) << "\n";
    }
    Family(out, "openrms_cache_misses_total", "counter",
           "Lookups that went to the store or did the work, by cache.");
    for (const auto& [name, c] : caches) {
      out << "openrms_cache_misses_total{cache=\"" << name << "\"} "
          << c->misses.load(std::memory_order_relaxed) << "\n";
    }
  }
  return out.str();
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
  return out.str() + left.str() + state.str() + result.str() + result_at.str() + ServiceText();
}

}  // namespace openrms::node::api
