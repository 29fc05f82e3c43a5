// The server side of `openrms serve`: every cluster of a server directory
// behind one HTTPS listener, each under the path of its service URL, plus
// /metrics and the expiry monitor. Shared by `openrms serve` and the demo.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "accounts/accounts.h"
#include "accounts/directory.h"
#include "sites/admin/admin_site.h"
#include "cluster/cluster.h"
#include "cluster/monitor.h"
#include "enrollment/service.h"
#include "http/server.h"
#include "licensing/licensing.h"
#include "store/database.h"

namespace openrms::node {

// Files of a server directory.
struct ServerPaths {
  explicit ServerPaths(std::string dir);
  std::string dir, database, tls_ca, tls_ca_key, tls_server, tls_server_key;
};

// HTTPS to the issuer (enrollment service or root cluster).
class HttpsIssuerTransport final : public cluster::IssuerTransport {
 public:
  Result<std::string> PostSoap(const std::string& url, const std::string& soap_action,
                               const std::string& body, const std::string& tls_ca_pem) override;
};

// The store and services of one server directory.
class ServerContext final {
 public:
  // Creates the directory, its database and TLS credentials when missing.
  static Result<std::unique_ptr<ServerContext>> Open(const std::string& dir,
                                                     std::optional<std::string> password,
                                                     bool create);
  cluster::ClusterService& clusters() { return *service_; }
  accounts::AccountStore& accounts() { return *accounts_; }
  accounts::LogonService& logon() { return *logon_; }
  accounts::SessionStore& sessions() { return *sessions_; }
  accounts::SessionStore& bearer_tokens() { return *bearer_; }
  cluster::ClusterStore& store() { return *store_; }
  store::Database& database() { return *db_; }
  const ServerPaths& paths() const { return paths_; }
  const std::optional<std::string>& password() const { return password_; }
  // The only cluster, or the named one. kInvalidArgument listing the names
  // when there are several and none is named.
  Result<std::string> ResolveCluster(const std::string& requested);

 private:
  explicit ServerContext(std::string dir) : paths_(std::move(dir)) {}
  ServerPaths paths_;
  std::optional<std::string> password_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<cluster::ClusterStore> store_;
  HttpsIssuerTransport transport_;
  cluster::SyslogSink syslog_;
  std::unique_ptr<cluster::ClusterService> service_;
  std::unique_ptr<accounts::AccountStore> accounts_;
  std::unique_ptr<accounts::DirectoryAuthenticator> directory_;
  std::unique_ptr<accounts::LogonService> logon_;
  std::unique_ptr<accounts::SessionStore> sessions_;
  std::unique_ptr<accounts::SessionStore> bearer_;
};

// Who may read /metrics. Open to all when both are empty; otherwise a
// request needs "Authorization: Bearer <token>" or to come from one of the
// listed addresses.
struct MetricsAccess {
  std::string bearer_token;
  std::vector<std::string> addresses;  // "127.0.0.1", "::1", ...
};

class ClusterNode final {
 public:
  static Result<std::unique_ptr<ClusterNode>> Start(ServerContext& context,
                                                    const std::string& listen,
                                                    int monitor_interval_seconds,
                                                    sites::AdminOptions admin_options = {},
                                                    MetricsAccess metrics_access = {});
  ~ClusterNode();
  std::string url() const { return url_; }
  void Stop();

  http::Response Handle(const http::Request& request);
  std::string Metrics();
  bool MayReadMetrics(const http::Request& request) const;

 private:
  explicit ClusterNode(ServerContext& context) : context_(context) {}
  http::Response SubEnroll(const std::string& cluster, const http::Request& request);
  http::Response Licensing(const std::string& cluster, const std::string& base,
                           const std::string& operation, const http::Request& request);
  http::Response LicensingCall(const std::string& cluster, const std::string& base,
                               const std::string& operation, const http::Request& request,
                               const accounts::Identity& who);
  http::Response Token(const http::Request& request);
  std::optional<accounts::Session> BearerSession(const http::Request& request);
  http::Response BearerChallenge(const std::string& cluster) const;
  http::Response Certification(const std::string& cluster, const http::Request& request);
  Result<std::shared_ptr<enrollment::EnrollmentService>> Issuer(const std::string& cluster);
  void MonitorLoop(int interval_seconds);
  // (URL path, cluster name) of every cluster, re-read every few seconds.
  std::vector<std::pair<std::string, std::string>> Routes(bool fresh);

  ServerContext& context_;
  std::unique_ptr<sites::AdminSite> admin_;
  std::unique_ptr<licensing::LicensingService> licensing_;
  std::unique_ptr<http::Server> server_;
  std::string url_;
  MetricsAccess metrics_access_;
  std::mutex mu_;
  // Per root cluster: the issuer built from its active SLC, by SLC row id.
  std::map<std::string, std::pair<int64_t, std::shared_ptr<enrollment::EnrollmentService>>>
      issuers_;
  std::mutex routes_mu_;
  std::vector<std::pair<std::string, std::string>> routes_;
  std::chrono::steady_clock::time_point routes_read_;
  std::atomic<bool> stopping_{false};
  std::mutex monitor_mu_;
  std::condition_variable monitor_cv_;
  std::thread monitor_;
};

// Makes the server's TLS credentials on first use: a TLS root and a server
// certificate for the cluster URL's host and loopback.
Status EnsureServerTls(const ServerPaths& paths, std::string_view password,
                       const std::string& cluster_url);

// The path part of a URL ("https://h:1/root/_wmcs" -> "/root/_wmcs").
std::string UrlPath(const std::string& url);
// The host part of a URL, without brackets.
std::string UrlHost(const std::string& url);

}  // namespace openrms::node
