// GET /metrics: the SLC state of every cluster in the Prometheus text
// format (expiry, seconds left, state, the last online renewal).
#pragma once

#include <string>
#include <vector>

#include "cluster/cluster.h"
#include "http/server.h"

namespace openrms::node::api {

// Who may read /metrics. Open to all when both are empty; otherwise a
// request needs "Authorization: Bearer <token>" or to come from one of the
// listed addresses.
struct MetricsAccess {
  std::string bearer_token;
  std::vector<std::string> addresses;  // "127.0.0.1", "::1", ...
};

class MetricsEndpoint final {
 public:
  MetricsEndpoint(cluster::ClusterService& clusters, MetricsAccess access)
      : clusters_(clusters), access_(std::move(access)) {}
  http::Response Handle(const http::Request& request) const;
  bool MayRead(const http::Request& request) const;
  std::string Text() const;

 private:
  cluster::ClusterService& clusters_;
  MetricsAccess access_;
};

}  // namespace openrms::node::api
