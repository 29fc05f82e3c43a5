// GET /metrics: in the Prometheus text format (HELP and TYPE lines,
// snake_case names, counters ending in _total, histograms in seconds with
// cumulative le buckets, _sum and _count):
// - the SLC state of every cluster (expiry, seconds left, state, the last
//   online renewal);
// - requests by route and status, and a latency histogram per route (the
//   time in the node's handler, from the parsed request to the answer);
// - licenses issued by kind, hits and misses of each cache, the audit
//   queue's depth.
// Counting is lock-free (relaxed atomics) so the hot path never waits on it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/cluster.h"
#include "http/server.h"
#include "licensing/licensing.h"

namespace openrms::node::api {

class BearerAuth;

// Who may read /metrics. Open to all when both are empty; otherwise a
// request needs "Authorization: Bearer <token>" or to come from one of the
// listed addresses.
struct MetricsAccess {
  std::string bearer_token;
  std::vector<std::string> addresses;  // "127.0.0.1", "::1", ...
};

// The fixed set of route names requests are counted under (never the raw
// path: its cluster prefix and operation come from clients).
enum class Route {
  kEndUserLicenses,
  kPublishingLicenses,
  kTemplates,
  kServiceDiscovery,
  kClientLogs,
  kMyV2Other,
  kCertification,
  kSubEnroll,
  kToken,
  kAdmin,
  kMetrics,
  kHealthz,
  kOther,
};
inline constexpr size_t kRouteCount = static_cast<size_t>(Route::kOther) + 1;
std::string_view RouteName(Route route);
// The route of a request path, by its shape.
Route RouteOf(std::string_view path);

// Upper bounds of the latency buckets, in seconds (+Inf follows).
inline constexpr std::array<double, 14> kLatencyBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// Requests by route and status, and latency per route. Thread-safe and
// lock-free.
class RequestMetrics final {
 public:
  void Record(Route route, int status, std::chrono::nanoseconds latency);
  // The metric families, in the text format.
  std::string Text() const;
  // Requests counted for `route` and `status` (tests).
  uint64_t Count(Route route, int status) const;

 private:
  // The statuses counted one by one; any other counts as "other".
  static constexpr std::array<int, 22> kStatuses = {200, 201, 204, 301, 302, 303, 304, 307,
                                                    400, 401, 403, 404, 405, 409, 413, 415,
                                                    429, 500, 501, 502, 503, 504};
  static size_t StatusSlot(int status);
  struct PerRoute {
    std::array<std::atomic<uint64_t>, kStatuses.size() + 1> by_status{};
    std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> buckets{};  // not cumulative
    std::atomic<uint64_t> sum_ns{0};
  };
  std::array<PerRoute, kRouteCount> routes_{};
};

// What /metrics reads besides the clusters. Any may be null.
struct MetricsSources {
  const RequestMetrics* requests = nullptr;
  const licensing::LicensingService* licensing = nullptr;
  const BearerAuth* bearer = nullptr;
  const licensing::CacheCounters* license_requests = nullptr;  // MyV2Api's bodies
};

class MetricsEndpoint final {
 public:
  MetricsEndpoint(cluster::ClusterService& clusters, MetricsAccess access,
                  MetricsSources sources = {})
      : clusters_(clusters), access_(std::move(access)), sources_(sources) {}
  http::Response Handle(const http::Request& request) const;
  bool MayRead(const http::Request& request) const;
  std::string Text() const;

 private:
  std::string ServiceText() const;

  cluster::ClusterService& clusters_;
  MetricsAccess access_;
  MetricsSources sources_;
};

}  // namespace openrms::node::api
