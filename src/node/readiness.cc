#include "node/readiness.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace openrms::node {

http::Response Readiness(ServerContext& context, const http::Request& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    return http::Response::Text(405, "use GET or HEAD\n").SetHeader("Allow", "GET, HEAD");
  }
  nlohmann::json body = {{"ready", false}};
  auto answer = [&](int status) {
    http::Response r = http::Response::Json(status, body.dump() + "\n");
    r.SetHeader("Cache-Control", "no-store");
    return r;
  };
  auto store = context.database().Query("SELECT 1");
  if (!store.ok()) {
    // Anyone may ask: the reason names no host or database (the node's
    // log has it).
    std::fprintf(stderr, "readyz: the store does not answer: %s\n",
                 store.status().message().c_str());
    body["reason"] = "the store does not answer";
    return answer(503);
  }
  auto names = context.store().ListClusters();
  if (!names.ok()) {
    std::fprintf(stderr, "readyz: the clusters cannot be read: %s\n",
                 names.status().message().c_str());
    body["reason"] = "the clusters cannot be read";
    return answer(503);
  }
  if (names->empty()) {
    body["reason"] = "this node serves no cluster yet";
    return answer(503);
  }
  std::string not_ready;
  nlohmann::json clusters = nlohmann::json::object();
  for (const auto& name : *names) {
    auto status = context.clusters().GetStatus(name);
    std::string state;
    if (!status.ok()) {
      state = "unreadable";
    } else if (!status->slc) {
      state = "no certificate";
    } else {
      state = std::string(cluster::SlcStateName(status->slc->state));
    }
    const bool ready =
        status.ok() && status->slc && status->slc->state != cluster::SlcState::kExpired;
    if (!ready && not_ready.empty()) not_ready = "cluster " + name + ": " + state;
    clusters[name] = state;
  }
  body["clusters"] = std::move(clusters);
  if (!not_ready.empty()) {
    body["reason"] = not_ready;
    return answer(503);
  }
  body["ready"] = true;
  return answer(200);
}

}  // namespace openrms::node
