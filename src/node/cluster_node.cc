#include "node/cluster_node.h"

#include <condition_variable>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/file_system.h"
#include "base/json.h"
#include "node/enrollment_node.h"
#include "crypto/encoding.h"
#include "crypto/password_hash.h"
#include "crypto/tls_certificates.h"
#include "protocol/enrollment_messages.h"
#include "http/client.h"
#include "http/forms.h"
#include "xrml/chain.h"

namespace openrms::node {

ServerPaths::ServerPaths(std::string d) : dir(std::move(d)) {
  database = dir + "/openrms.db";
  tls_ca = dir + "/tls-ca.pem";
  tls_ca_key = dir + "/keys/tls-ca.key";
  tls_server = dir + "/tls-server.pem";
  tls_server_key = dir + "/keys/tls-server.key";
}

std::string UrlPath(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return "";
  std::string path = url.substr(slash);
  const size_t q = path.find_first_of("?#");
  if (q != std::string::npos) path.resize(q);
  while (!path.empty() && path.back() == '/') path.pop_back();
  return path;
}

std::string UrlHost(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t end = url.find('/', start);
  std::string authority =
      url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (!authority.empty() && authority.front() == '[') {
    return authority.substr(1, authority.find(']') - 1);
  }
  return authority.substr(
      0, authority.rfind(':') == std::string::npos ? authority.size() : authority.rfind(':'));
}

Result<std::string> HttpsIssuerTransport::PostSoap(const std::string& url,
                                                   const std::string& soap_action,
                                                   const std::string& body,
                                                   const std::string& tls_ca_pem) {
  http::ClientRequest req;
  req.method = "POST";
  req.url = url;
  req.body = body;
  req.ca_pem = tls_ca_pem;
  req.headers = {{"Content-Type", "text/xml; charset=utf-8"},
                 {"SOAPAction", "\"" + soap_action + "\""}};
  ASSIGN_OR_RETURN(http::ClientResponse resp, http::Fetch(req));
  // SOAP 1.1 faults come with status 500 and are read by the caller.
  if (resp.status == 200 || (resp.status == 500 && resp.body.find("Fault") != std::string::npos)) {
    return resp.body;
  }
  return Status(Code::kUnavailable, "the issuer at " + url + " answered HTTP " +
                                        std::to_string(resp.status) + "; check the issuer URL");
}

Result<std::unique_ptr<ServerContext>> ServerContext::Open(const std::string& dir,
                                                           std::optional<std::string> password,
                                                           bool create) {
  FileSystem& fs = RealFileSystem();
  auto ctx = std::unique_ptr<ServerContext>(new ServerContext(dir));
  ctx->password_ = std::move(password);
  const ServerPaths& p = ctx->paths_;
  if (!fs.Exists(p.database) && !create) {
    return Status(Code::kNotFound, dir +
                                       " holds no OpenRMS server; provision a cluster with "
                                       "`openrms cluster provision --dir " +
                                       dir + " ...`");
  }
  RETURN_IF_ERROR(fs.CreateDirectories(dir, 0700));
  ASSIGN_OR_RETURN(ctx->db_, store::OpenSqlite(p.database));
  RETURN_IF_ERROR(cluster::ClusterStore::Migrate(*ctx->db_));
  RETURN_IF_ERROR(enrollment::EnrollmentService::Migrate(*ctx->db_));
  RETURN_IF_ERROR(accounts::AccountStore::Migrate(*ctx->db_));
  RETURN_IF_ERROR(accounts::MigrateSettings(*ctx->db_));
  ctx->accounts_ = std::make_unique<accounts::AccountStore>(*ctx->db_, DefaultClock());
  // Local accounts first, then the directory when one is configured.
  std::vector<accounts::Authenticator*> sources = {ctx->accounts_.get()};
  ASSIGN_OR_RETURN(auto directory, accounts::LoadDirectoryConfig(*ctx->db_));
  if (directory) {
    ctx->directory_ = std::make_unique<accounts::DirectoryAuthenticator>(*directory);
    sources.push_back(ctx->directory_.get());
  }
  ctx->logon_ = std::make_unique<accounts::LogonService>(*ctx->db_, DefaultClock(), sources);
  RETURN_IF_ERROR(licensing::LicensingService::Migrate(*ctx->db_));
  ctx->sessions_ =
      std::make_unique<accounts::SessionStore>(*ctx->db_, DefaultClock(), crypto::SystemRandom());
  ctx->bearer_ = std::make_unique<accounts::SessionStore>(*ctx->db_, DefaultClock(),
                                                          crypto::SystemRandom(), "bearer");
  ctx->store_ = std::make_unique<cluster::ClusterStore>(*ctx->db_);
  ctx->service_ = std::make_unique<cluster::ClusterService>(
      *ctx->store_, cluster::Environment{DefaultClock(), crypto::SystemRandom(), ctx->transport_});
  ctx->service_->set_event_sink(&ctx->syslog_);
  return ctx;
}

Result<std::string> ServerContext::ResolveCluster(const std::string& requested) {
  if (!requested.empty()) {
    ASSIGN_OR_RETURN(auto c, store_->Find(requested));
    return c.name;
  }
  ASSIGN_OR_RETURN(auto names, store_->ListClusters());
  if (names.size() == 1) return names[0];
  if (names.empty()) {
    return Status(Code::kNotFound, paths_.dir + " holds no cluster; provision one first");
  }
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return Status(Code::kInvalidArgument,
                paths_.dir + " holds several clusters (" + list + "); name one with --cluster");
}

namespace {

// The server's TLS credentials: made on first use for the names given
// (plus loopback), kept sealed under the key password.
Status EnsureTls(const ServerPaths& p, std::string_view password,
                 const std::vector<std::string>& names) {
  FileSystem& fs = RealFileSystem();
  if (fs.Exists(p.tls_server)) return Status::Ok();
  RETURN_IF_ERROR(fs.CreateDirectories(p.dir + "/keys", 0700));
  ASSIGN_OR_RETURN(
      crypto::TlsCredential ca,
      crypto::CreateTlsCa("OpenRMS Server TLS Root", DefaultClock().Now(), Days(3650), password));
  ASSIGN_OR_RETURN(crypto::TlsCredential server,
                   crypto::IssueTlsServerCertificate(ca, password, names, DefaultClock().Now(),
                                                     Days(825), password));
  RETURN_IF_ERROR(fs.WriteFileAtomic(p.tls_ca_key, ca.sealed_key_pem, 0600));
  RETURN_IF_ERROR(fs.WriteFileAtomic(p.tls_server_key, server.sealed_key_pem, 0600));
  RETURN_IF_ERROR(fs.WriteFileAtomic(p.tls_ca, ca.certificate_pem));
  return fs.WriteFileAtomic(p.tls_server, server.certificate_pem);
}

}  // namespace

Status EnsureServerTls(const ServerPaths& paths, std::string_view password,
                       const std::string& cluster_url) {
  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  const std::string host = UrlHost(cluster_url);
  if (!host.empty() && std::find(names.begin(), names.end(), host) == names.end()) {
    names.insert(names.begin(), host);
  }
  return EnsureTls(paths, password, names);
}

Result<std::unique_ptr<ClusterNode>> ClusterNode::Start(ServerContext& context,
                                                        const std::string& listen,
                                                        int monitor_interval_seconds,
                                                        sites::AdminOptions admin_options,
                                                        MetricsAccess metrics_access) {
  if (!context.password()) {
    return Status(Code::kInvalidArgument, "serving needs the key password");
  }
  auto host = std::unique_ptr<ClusterNode>(new ClusterNode(context));
  host->metrics_access_ = std::move(metrics_access);
  admin_options.key_password = *context.password();
  host->licensing_ = std::make_unique<licensing::LicensingService>(
      context.clusters(), context.database(), DefaultClock(), crypto::SystemRandom(),
      *context.password());
  admin_options.licensing = host->licensing_.get();
  host->admin_ =
      std::make_unique<sites::AdminSite>(context.clusters(), context.logon(), context.sessions(),
                                         DefaultClock(), crypto::SystemRandom(), admin_options);
  const ServerPaths& p = context.paths();
  RETURN_IF_ERROR(EnsureTls(p, *context.password(), {"localhost", "127.0.0.1", "::1"}));
  ClusterNode* self = host.get();
  ASSIGN_OR_RETURN(host->server_,
                   StartHttps(
                       listen, {p.tls_server, p.tls_ca, p.tls_server_key}, *context.password(),
                       [self](const http::Request& r) { return self->Handle(r); }, host->url_));
  if (monitor_interval_seconds > 0) {
    host->monitor_ = std::thread(
        [self, monitor_interval_seconds] { self->MonitorLoop(monitor_interval_seconds); });
  }
  return host;
}

ClusterNode::~ClusterNode() { Stop(); }

void ClusterNode::Stop() {
  if (stopping_.exchange(true)) return;
  monitor_cv_.notify_all();
  if (monitor_.joinable()) monitor_.join();
  if (server_) server_->Stop();
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

Result<std::shared_ptr<enrollment::EnrollmentService>> ClusterNode::Issuer(
    const std::string& name) {
  ASSIGN_OR_RETURN(auto active, context_.store().ActiveSlc(name));
  const int64_t active_id = active ? active->id : 0;
  {
    std::lock_guard lock(mu_);
    auto it = issuers_.find(name);
    if (it != issuers_.end() && it->second.first == active_id) return it->second.second;
  }
  ASSIGN_OR_RETURN(enrollment::Authority authority,
                   context_.clusters().SubordinateIssuer(name, *context_.password()));
  auto issuer = std::make_shared<enrollment::EnrollmentService>(
      std::move(authority), context_.database(), DefaultClock(), crypto::SystemRandom());
  std::lock_guard lock(mu_);
  issuers_[name] = {active_id, issuer};
  return issuer;
}

http::Response ClusterNode::SubEnroll(const std::string& name, const http::Request& req) {
  using protocol::RequestKind;
  auto fault = [](const Status& s) {
    return http::Response::Xml(500, protocol::WriteSoapFault(ForRemoteCaller(s)));
  };
  if (req.body.size() > protocol::kMaxRequestBytes) {
    return fault(Status(Code::kTooLarge, "the request is too large"));
  }
  auto issuer = Issuer(name);
  if (!issuer.ok()) return fault(issuer.status());
  auto issued = (*issuer)->Enroll(req.body, {"online", req.remote_address});
  if (!issued.ok()) return fault(issued.status());
  return http::Response::Xml(
      200, protocol::WriteEnrollResponse(issued->chain, RequestKind::kSubEnroll));
}

std::vector<std::pair<std::string, std::string>> ClusterNode::Routes(bool fresh) {
  // Clusters are few and change rarely; reading them from the store once a
  // few seconds keeps the database off every request and still lets a node
  // see a cluster provisioned by another.
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(routes_mu_);
  if (!fresh && now - routes_read_ < std::chrono::seconds(3) && !routes_.empty()) return routes_;
  auto names = context_.store().ListClusters();
  if (!names.ok()) return routes_;
  std::vector<std::pair<std::string, std::string>> routes;
  for (const auto& name : *names) {
    auto config = context_.store().Find(name);
    if (config.ok()) routes.emplace_back(UrlPath(config->url), name);
  }
  routes_ = std::move(routes);
  routes_read_ = now;
  return routes_;
}

http::Response ClusterNode::Handle(const http::Request& req) {
  if (req.path == "/metrics" && req.method == "GET") {
    if (!MayReadMetrics(req)) {
      return http::Response::Text(401, "/metrics needs its bearer token or an allowed address\n")
          .SetHeader("WWW-Authenticate", "Bearer realm=\"OpenRMS metrics\"");
    }
    http::Response r = http::Response::Text(200, Metrics());
    r.SetHeader("Content-Type", "text/plain; version=0.0.4");
    return r;
  }
  if (req.path == "/healthz") {
    if (req.method != "GET" && req.method != "HEAD") {
      return http::Response::Text(405, "use GET or HEAD\n").SetHeader("Allow", "GET, HEAD");
    }
    return http::Response::Text(200, "ok\n");
  }
  if (req.path == "/") return http::Response::Redirect("/admin/");
  if (req.path == "/oauth2/token") {
    if (req.method != "POST") return http::Response::Text(405, "use POST\n");
    return Token(req);
  }
  if (req.path == sites::kAdminPrefix || req.path.rfind(std::string(sites::kAdminPrefix) + "/", 0) == 0) {
    return admin_->Handle(req);
  }
  // A miss reads the clusters again: one may have been provisioned just now.
  for (const bool fresh : {false, true}) {
    for (const auto& [prefix, name] : Routes(fresh)) {
      if (req.path == prefix + protocol::kSubEnrollPath) {
        if (req.method != "POST") return http::Response::Text(405, "use POST\n");
        return SubEnroll(name, req);
      }
      if (req.path == prefix + "/certification") {
        if (req.method != "POST") return http::Response::Text(405, "use POST\n");
        return Certification(name, req);
      }
      const std::string rest = prefix + "/my/v2/";
      if (req.path.rfind(rest, 0) == 0) {
        return Licensing(name, url_ + prefix + "/my/v2", req.path.substr(rest.size()), req);
      }
    }
  }
  return http::Response::Text(404, "not found\n");
}

namespace {

http::Response JsonError(int status, const std::string& code, const std::string& message) {
  return http::Response::Json(status, nlohmann::json{{"Code", code}, {"Message", message}}.dump());
}

}  // namespace

std::optional<accounts::Session> ClusterNode::BearerSession(const http::Request& req) {
  const auto auth = req.Header("authorization");
  if (!auth || auth->rfind("Bearer ", 0) != 0) return std::nullopt;
  auto found = context_.bearer_tokens().Find(auth->substr(7));
  return found.ok() ? *found : std::nullopt;
}

// The challenge the RMS SDK expects. It splits the header on ',' and '=',
// so no value may contain either.
http::Response ClusterNode::BearerChallenge(const std::string& cluster) const {
  http::Response r = JsonError(401, "Unauthorized",
                               "a bearer token is needed: get one from " + url_ + "/oauth2/token");
  r.SetHeader("WWW-Authenticate", "Bearer authorization=\"" + url_ +
                                      "/oauth2/token\", realm=\"OpenRMS " + cluster + "\"");
  return r;
}

// OAuth 2.0 resource-owner password grant: a bearer token for the licensing
// protocol.
http::Response ClusterNode::Token(const http::Request& req) {
  auto form = http::ParseUrlEncoded(req.body);
  auto error = [](const std::string& code, const std::string& text) {
    return http::Response::Json(
        400, nlohmann::json{{"error", code}, {"error_description", text}}.dump());
  };
  if (!form.ok()) return error("invalid_request", form.status().message());
  if (form->count("grant_type") == 0 || form->at("grant_type") != "password") {
    return error("unsupported_grant_type", "use grant_type=password");
  }
  auto id = context_.logon().LogOn(form->count("username") ? form->at("username") : "",
                                   form->count("password") ? form->at("password") : "",
                                   req.remote_address);
  if (!id.ok()) return error("invalid_grant", id.status().message());
  auto token = context_.bearer_tokens().Create(*id);
  if (!token.ok()) {
    return JsonError(500, "InternalError", ForRemoteCaller(token.status()).message());
  }
  http::Response r = http::Response::Json(
      200, nlohmann::json{{"access_token", *token}, {"token_type", "Bearer"}, {"expires_in", 1800}}
               .dump());
  r.SetHeader("Cache-Control", "no-store");
  return r;
}

// The REST licensing protocol (/my/v2) as Microsoft's RMS SDK for portable
// devices speaks it. Every call first comes without Authorization and must
// get a Bearer challenge whose values hold no ',' or '='.
http::Response ClusterNode::Licensing(const std::string& cluster, const std::string& base,
                                      const std::string& operation, const http::Request& req) {
  const auto session = BearerSession(req);
  if (!session) return BearerChallenge(cluster);
  return LicensingCall(cluster, base, operation, req, {session->user, session->groups, ""});
}

namespace {

// The client's JSON body, depth-limited; nullopt after setting `error`.
std::optional<nlohmann::json> JsonBody(const http::Request& req, http::Response& error) {
  auto j = ParseJson(req.body);
  if (!j.ok()) {
    error = JsonError(400, "InvalidRequest", j.status().message());
    return std::nullopt;
  }
  return std::move(*j);
}

}  // namespace

http::Response ClusterNode::LicensingCall(const std::string& cluster, const std::string& base,
                                          const std::string& operation, const http::Request& req,
                                          const accounts::Identity& who) {
  auto answer = [](const Result<nlohmann::json>& r) {
    if (r.ok()) return http::Response::Json(200, r->dump());
    const licensing::ProtocolError e = licensing::LicensingService::ToProtocolError(r.status());
    return JsonError(e.http_status, e.code, e.message);
  };
  if (operation == "servicediscovery" && req.method == "GET") {
    nlohmann::json services = nlohmann::json::array();
    for (const char* name : {"enduserlicenses", "publishinglicenses", "templates",
                             "clientdebuglogs", "clientperformancelogs"}) {
      services.push_back({{"Name", name}, {"Uri", base + "/" + name}});
    }
    return http::Response::Json(200, services.dump());
  }
  if (operation == "templates" && req.method == "GET") {
    auto list = licensing_->ListTemplates();
    if (!list.ok()) return answer(list.status());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : *list)
      out.push_back({{"Id", t.id}, {"Name", t.name}, {"Description", t.description}});
    return http::Response::Json(200, out.dump());
  }
  if (operation == "publishinglicenses" && req.method == "POST") {
    http::Response error;
    const auto j = JsonBody(req, error);
    if (!j) return error;
    return answer(licensing_->Publish(cluster, who, *j, base));
  }
  if (operation == "enduserlicenses" && req.method == "POST") {
    http::Response error;
    const auto j = JsonBody(req, error);
    if (!j) return error;
    return answer(licensing_->EndUserLicense(cluster, who, *j));
  }
  // With service discovery off the SDK posts to clientlogs/debug and
  // clientlogs/performance; discovery names the other two.
  if ((operation == "clientdebuglogs" || operation == "clientperformancelogs" ||
       operation == "clientlogs/debug" || operation == "clientlogs/performance") &&
      req.method == "POST") {
    return http::Response::Json(200, "{}");  // accepted and not kept
  }
  return JsonError(404, "NotFound", "no such operation: " + operation);
}

// Rights account certificates for logged-on users: {"PublicKey": base64
// PKCS#1 DER, "Temporary": bool} -> {"Certificate": chain file text}.
http::Response ClusterNode::Certification(const std::string& cluster, const http::Request& req) {
  const auto session = BearerSession(req);
  if (!session) return BearerChallenge(cluster);
  http::Response error;
  const auto body = JsonBody(req, error);
  if (!body) return error;
  auto public_key = StringField(*body, "PublicKey", "", 16 << 10);
  if (!public_key.ok() || public_key->empty()) {
    return JsonError(400, "InvalidRequest", "the body needs PublicKey (base64 DER PKCS#1)");
  }
  auto temporary = BoolField(*body, "Temporary", false);
  if (!temporary.ok()) return JsonError(400, "InvalidRequest", temporary.status().message());
  auto der = crypto::Base64Decode(*public_key);
  auto key = der ? crypto::PublicKey::FromPkcs1Der(*der)
                 : Result<crypto::PublicKey>(Status(Code::kMalformed, "PublicKey is not base64"));
  if (!key.ok()) return JsonError(400, "InvalidRequest", key.status().message());
  auto chain = licensing_->Certify(cluster, {session->user, session->groups, ""}, *key, *temporary);
  if (!chain.ok()) {
    const licensing::ProtocolError e = licensing::LicensingService::ToProtocolError(chain.status());
    return JsonError(chain.status().code() == Code::kPermissionDenied ? 403 : e.http_status, e.code,
                     e.message);
  }
  return http::Response::Json(200,
                              nlohmann::json{{"Certificate", xrml::WriteChainFile(*chain)}}.dump());
}

bool ClusterNode::MayReadMetrics(const http::Request& req) const {
  const MetricsAccess& a = metrics_access_;
  if (a.bearer_token.empty() && a.addresses.empty()) return true;
  for (const auto& address : a.addresses) {
    if (address == req.remote_address) return true;
  }
  const auto auth = req.Header("authorization");
  return !a.bearer_token.empty() && auth && auth->rfind("Bearer ", 0) == 0 &&
         crypto::SecretEquals(auth->substr(7), a.bearer_token);
}

std::string ClusterNode::Metrics() {
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
  auto names = context_.store().ListClusters();
  const Time now = DefaultClock().Now();
  for (const auto& name : names.ok() ? *names : std::vector<std::string>{}) {
    auto report = context_.clusters().GetStatus(name);
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

}  // namespace openrms::node
