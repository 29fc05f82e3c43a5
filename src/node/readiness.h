// GET /readyz: whether a load balancer should send this node requests. It
// is ready when its store answers and every cluster it serves holds an SLC
// that has not expired (a cluster without one can issue nothing). /healthz,
// beside it, says only that the process is up.
#pragma once

#include "http/server.h"
#include "node/server_context.h"

namespace openrms::node {

// 200 with {"ready": true, "clusters": {...}} or 503 with "ready": false
// and the reason; 405 for methods other than GET and HEAD.
http::Response Readiness(ServerContext& context, const http::Request& request);

}  // namespace openrms::node
