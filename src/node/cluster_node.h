// A cluster node (`openrms serve`, and the demo's server): every cluster of
// a server directory behind one HTTPS listener, each under the path of its
// service URL. One route table (Handle) sends each request to the site or
// API that answers it; the expiry monitor runs beside it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "http/server.h"
#include "licensing/audit_retention.h"
#include "licensing/audit_syslog.h"
#include "licensing/licensing.h"
#include "node/api/bearer.h"
#include "node/api/certification.h"
#include "node/api/metrics.h"
#include "node/api/my_v2.h"
#include "node/api/oauth2.h"
#include "node/api/subenroll.h"
#include "node/server_context.h"
#include "node/store_cache.h"
#include "node/tls.h"
#include "sites/admin/admin_site.h"

namespace openrms::node {

using api::MetricsAccess;

struct ClusterNodeOptions {
  // The node's name in the audit trail; "": the host name and the port of
  // `listen` ("rms1:8443").
  std::string name;
  std::string listen = "127.0.0.1:8443";  // ADDR:PORT; port 0 picks a free one
  int monitor_interval_seconds = 60;      // 0: no expiry monitor
  sites::AdminOptions admin;
  MetricsAccess metrics;
  int io_threads = 0;  // threads that serve requests; 0: one per core
  // Threads for requests that may wait (MayWait): admin pages and logons.
  int waiting_threads = 4;
  // Load balancers that send a PROXY header naming each client, and the
  // connections one client address may hold (http::ServerOptions).
  std::vector<std::string> trusted_proxies;
  int max_connections_per_address = http::ServerOptions{}.max_connections_per_address;
  // Audit entries older than this many days are deleted (0: kept), by one
  // node of the store at a time, every `audit_retention_interval`.
  int audit_keep_days = 400;
  Duration audit_retention_interval = std::chrono::hours(1);
  // Where the audit trail is streamed too (RFC 5424 over UDP), "" for none.
  std::string audit_syslog;
  // The TLS key, if the caller started opening it (OpenServerTlsKey).
  OpeningTlsKey tls_key;
};

class ClusterNode final {
 public:
  static Result<std::unique_ptr<ClusterNode>> Start(ServerContext& context,
                                                    ClusterNodeOptions options);
  ~ClusterNode();
  std::string url() const { return url_; }
  void Stop();

  // The route table, counted in /metrics.
  http::Response Handle(const http::Request& request);
  // Whether a request may wait on something outside the process (the
  // network, a directory) or on a memory-hard hash: such requests run on
  // the server's pool for waiting handlers, so licensing keeps its threads.
  static bool MayWait(const http::Request& request);

 private:
  ClusterNode(ServerContext& context, MetricsAccess metrics_access, std::string name,
              std::unique_ptr<licensing::UdpSyslogForward> syslog);
  http::Response Dispatch(const http::Request& request);
  void MonitorLoop(int interval_seconds);
  void RetentionLoop(licensing::RetentionOptions options, Duration interval);
  // Where each cluster is served: the path of its service URL.
  // The paths are below the cluster's URL path ("/root/_wmcs"), made once.
  struct Route {
    std::string name;
    std::string subenroll;      // path + SubEnroll's path
    std::string certification;  // path + "/certification"
    std::string my_v2;          // path + "/my/v2/"
    // The service URL clients use (a load balancer's, with several nodes)
    // + "/my/v2".
    std::string my_v2_url;
  };
  using RouteList = std::vector<Route>;
  // Every cluster's route, from the store.
  Result<RouteList> ReadRoutes();

  ServerContext& context_;
  std::string url_;  // set once the listener is up
  const std::string name_;
  std::unique_ptr<licensing::UdpSyslogForward> syslog_;  // outlives audit_
  licensing::BatchedAuditTrail audit_;                   // written out by Stop
  licensing::LicensingService licensing_;
  api::BearerAuth bearer_;
  api::TokenEndpoint token_;
  api::MyV2Api my_v2_;
  api::CertificationApi certification_;
  api::SubEnrollApi subenroll_;
  api::RequestMetrics requests_;
  api::MetricsEndpoint metrics_;
  std::unique_ptr<sites::AdminSite> admin_;
  std::unique_ptr<http::Server> server_;

  // Clusters are few and change rarely: read from the store every few
  // seconds, and on a miss at most once a second (any client can send
  // paths under no cluster), or at once after this process made a cluster.
  StoreCache<RouteList> routes_;

  std::atomic<bool> stopping_{false};
  std::mutex monitor_mu_;
  std::condition_variable monitor_cv_;
  std::thread monitor_;
  std::thread retention_;
};

}  // namespace openrms::node
