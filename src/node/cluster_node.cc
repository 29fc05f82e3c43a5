#include "node/cluster_node.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>

#include "accounts/directory.h"
#include "base/clock.h"
#include "cluster/monitor.h"
#include "crypto/encoding.h"
#include "http/url.h"
#include "node/readiness.h"
#include "node/tls.h"
#include "protocol/enrollment_messages.h"

namespace openrms::node {

namespace {

licensing::LicensingOptions LicensingOptionsFor(ServerContext& context,
                                                licensing::AuditTrail& audit,
                                                const std::string& name) {
  licensing::LicensingOptions o;
  o.audit = &audit;
  o.node = name;
  // A holder of a client licensor certificate is gone once no local
  // account has the name and no directory is configured. A directory's
  // accounts cannot be looked up without a bind: while a directory is
  // configured, what its users published offline keeps opening.
  o.account_exists = [&context](const std::string& user) -> Result<bool> {
    ASSIGN_OR_RETURN(bool local, context.accounts().Exists(user));
    if (local) return true;
    ASSIGN_OR_RETURN(auto directory, accounts::LoadDirectoryConfig(context.database()));
    return directory.has_value();
  };
  return o;
}

std::string HostName() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "localhost";
  return host;
}

// "rms1:8443": the host and the port of `listen` (ADDR:PORT, [V6]:PORT).
std::string DefaultNodeName(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  const std::string port = colon == std::string::npos ? "" : listen.substr(colon + 1);
  return HostName() + (port.empty() || port == "0" ? "" : ":" + port);
}

licensing::AuditBatching BatchingWith(licensing::AuditForward* forward) {
  licensing::AuditBatching b;
  b.forward = forward;
  return b;
}

}  // namespace

ClusterNode::ClusterNode(ServerContext& context, MetricsAccess metrics_access, std::string name,
                         std::unique_ptr<licensing::UdpSyslogForward> syslog)
    : context_(context),
      name_(std::move(name)),
      syslog_(std::move(syslog)),
      audit_(context.database(), BatchingWith(syslog_.get())),
      licensing_(context.clusters(), context.database(), DefaultClock(), crypto::SystemRandom(),
                 *context.password(), LicensingOptionsFor(context, audit_, name_)),
      bearer_(context.bearer_tokens(), url_, context.oidc()),
      token_(context.logon(), context.bearer_tokens()),
      my_v2_(licensing_, bearer_),
      certification_(licensing_, bearer_),
      subenroll_(context.clusters(), context.database(), *context.password()),
      metrics_(context.clusters(), std::move(metrics_access),
               {&requests_, &licensing_, &bearer_, &my_v2_.body_cache_counters()}),
      routes_([this] { return ReadRoutes(); },
              [&store = context.store()] { return store.clusters_created(); }, {}) {}

bool ClusterNode::MayWait(const http::Request& req) {
  // The admin site renews online (an HTTPS call to the issuer, up to 30 s)
  // and logs on (scrypt, maybe an LDAP bind); the token endpoint logs on.
  // Readiness asks the store, which may be across the network. A client
  // licensor certificate may mean making an RSA key (some 100 ms).
  // Licensing, certification and SubEnroll only compute.
  static constexpr std::string_view kClc = "/my/v2/clientlicensorcertificates";
  const std::string_view path = req.path;
  return path == "/oauth2/token" || path == "/readyz" || path == sites::kAdminPrefix ||
         path.rfind(std::string(sites::kAdminPrefix) + "/", 0) == 0 ||
         (path.size() > kClc.size() && path.substr(path.size() - kClc.size()) == kClc);
}

Result<std::unique_ptr<ClusterNode>> ClusterNode::Start(ServerContext& context,
                                                        ClusterNodeOptions options) {
  if (!context.password()) {
    return Status(Code::kInvalidArgument, "serving needs the key password");
  }
  std::string name = options.name.empty() ? DefaultNodeName(options.listen) : options.name;
  std::unique_ptr<licensing::UdpSyslogForward> syslog;
  if (!options.audit_syslog.empty()) {
    ASSIGN_OR_RETURN(syslog, licensing::UdpSyslogForward::Open(
                                 options.audit_syslog, {HostName(), static_cast<int>(getpid())}));
  }
  if (options.audit_keep_days < 0 || options.audit_keep_days > licensing::kMaxKeepDays) {
    return Status(Code::kInvalidArgument, "audit keep_days must be between 0 and " +
                                              std::to_string(licensing::kMaxKeepDays));
  }
  auto node = std::unique_ptr<ClusterNode>(
      new ClusterNode(context, std::move(options.metrics), std::move(name), std::move(syslog)));
  sites::AdminOptions& admin_options = options.admin;
  admin_options.key_password = *context.password();
  admin_options.licensing = &node->licensing_;
  admin_options.sign_on = context.oidc_sign_on();
  node->admin_ =
      std::make_unique<sites::AdminSite>(context.clusters(), context.logon(), context.sessions(),
                                         DefaultClock(), crypto::SystemRandom(), admin_options);
  const ServerPaths& p = context.paths();
  RETURN_IF_ERROR(EnsureServerTls(p, *context.password(), ""));
  ClusterNode* self = node.get();
  ASSIGN_OR_RETURN(
      node->server_,
      StartHttps(options.listen, {p.tls_server, p.tls_ca, p.tls_server_key, options.tls_key},
                 *context.password(), [self](const http::Request& r) { return self->Handle(r); },
                 node->url_,
                 {options.io_threads, MayWait, options.waiting_threads,
                  std::move(options.trusted_proxies), options.max_connections_per_address}));
  if (const int interval = options.monitor_interval_seconds; interval > 0) {
    node->monitor_ = std::thread([self, interval] { self->MonitorLoop(interval); });
  }
  if (options.audit_keep_days > 0) {
    licensing::RetentionOptions retention;
    retention.keep_days = options.audit_keep_days;
    const Duration every = options.audit_retention_interval;
    node->retention_ =
        std::thread([self, retention, every] { self->RetentionLoop(retention, every); });
  }
  // Keys were unsealed with scrypt (32 MiB a time), and glibc keeps such
  // freed blocks in its heap (its mmap threshold grows to their size): half
  // the idle RSS. From here on big blocks are mapped on their own, and the
  // heap is trimmed once.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 20);
  malloc_trim(0);
  return node;
}

ClusterNode::~ClusterNode() { Stop(); }

void ClusterNode::Stop() {
  if (stopping_.exchange(true)) return;
  monitor_cv_.notify_all();
  if (monitor_.joinable()) monitor_.join();
  if (retention_.joinable()) retention_.join();
  if (server_) server_->Stop();
  audit_.Stop();  // every queued audit row reaches the store
}

void ClusterNode::MonitorLoop(int interval_seconds) {
  cluster::ExpiryMonitor monitor(context_.clusters(), context_.password());
  while (!stopping_) {
    Status s = monitor.RunOnce();
    if (!s.ok()) std::fprintf(stderr, "monitor: %s\n", s.ToString().c_str());
    std::unique_lock lock(monitor_mu_);
    monitor_cv_.wait_for(lock, std::chrono::seconds(interval_seconds),
                         [this] { return stopping_.load(); });
  }
}

void ClusterNode::RetentionLoop(licensing::RetentionOptions options, Duration interval) {
  // The lease names this process: two nodes on one host stay two holders.
  licensing::AuditRetention retention(context_.database(), DefaultClock(),
                                      name_ + "/" + std::to_string(getpid()), options);
  // A first pass a minute after the start, so a node that restarts in a
  // loop does not delete in a loop; then every `interval`.
  Duration wait = std::min<Duration>(interval, std::chrono::minutes(1));
  for (;;) {
    {
      std::unique_lock lock(monitor_mu_);
      if (monitor_cv_.wait_for(lock, wait, [this] { return stopping_.load(); })) return;
    }
    wait = interval;
    auto pass = retention.RunPass([this] { return stopping_.load(); });
    if (!pass.ok()) {
      std::fprintf(stderr, "audit retention: %s\n", pass.status().ToString().c_str());
    } else if (pass->deleted > 0) {
      std::fprintf(stderr, "audit retention: deleted %lld entries older than %d days\n",
                   static_cast<long long>(pass->deleted), options.keep_days);
    }
  }
}

Result<ClusterNode::RouteList> ClusterNode::ReadRoutes() {
  ASSIGN_OR_RETURN(auto names, context_.store().ListClusters());
  RouteList routes;
  for (const auto& name : names) {
    auto config = context_.store().Find(name);
    if (!config.ok()) continue;
    const std::string path = http::UrlPath(config->url);
    routes.push_back({name, path + protocol::kSubEnrollPath, path + "/certification",
                      path + "/my/v2/", config->url + "/my/v2"});
  }
  return routes;
}

http::Response ClusterNode::Handle(const http::Request& req) {
  const auto start = std::chrono::steady_clock::now();
  http::Response r = Dispatch(req);
  requests_.Record(api::RouteOf(req.path), r.status, std::chrono::steady_clock::now() - start);
  return r;
}

http::Response ClusterNode::Dispatch(const http::Request& req) {
  if (req.path == "/metrics" && req.method == "GET") return metrics_.Handle(req);
  if (req.path == "/healthz") {
    if (req.method != "GET" && req.method != "HEAD") {
      return http::Response::Text(405, "use GET or HEAD\n").SetHeader("Allow", "GET, HEAD");
    }
    return http::Response::Text(200, "ok\n");
  }
  if (req.path == "/readyz") return Readiness(context_, req);
  if (req.path == "/") return http::Response::Redirect("/admin/");
  if (req.path == "/oauth2/token") return token_.Handle(req);
  if (req.path == sites::kAdminPrefix ||
      req.path.rfind(std::string(sites::kAdminPrefix) + "/", 0) == 0) {
    return admin_->Handle(req);
  }
  // Below each cluster's URL path. A miss reads the clusters again: one may
  // have been provisioned just now (routes_ limits how often).
  for (const bool fresh : {false, true}) {
    const std::shared_ptr<const RouteList> routes = routes_.Get(fresh);
    for (const Route& route : *routes) {
      if (req.path == route.subenroll) return subenroll_.Handle(route.name, req);
      if (req.path == route.certification) return certification_.Handle(route.name, req);
      if (req.path.starts_with(route.my_v2)) {
        // Licenses name the cluster's service URL, not this node's: behind a
        // load balancer the content must stay licensable when a node is gone.
        return my_v2_.Handle(route.name, route.my_v2_url, req.path.substr(route.my_v2.size()), req);
      }
    }
  }
  return http::Response::Text(404, "not found\n");
}

}  // namespace openrms::node
