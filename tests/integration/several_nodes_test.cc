// Several cluster nodes on one PostgreSQL store behind a real HAProxy, all
// on loopback: the test starts its own PostgreSQL (tests/support), an
// enrollment service, three `openrms serve` nodes run from deploy's
// configuration file (flags override its paths), and HAProxy with deploy's
// configuration (ports filled in). It drives licensing through HAProxy,
// kills a node with SIGKILL in the middle of the load, and counts what
// failed; then kills SLC imports at every crash point and at random
// instants, and checks that the cluster always has exactly one valid
// active SLC that every node serves.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "base/clock.h"
#include "crypto/encoding.h"
#include "formats/pfile.h"
#include "http/client.h"
#include "http/server.h"
#include "store/database.h"
#include "support/postgres_server.h"
#include "support/process.h"
#include "support/web_logon.h"

namespace openrms::testing {
namespace {

const std::string kBin = OPENRMS_BINARY;
const std::string kDeploy = OPENRMS_DEPLOY_DIR;
constexpr int kNodes = 3;
// Each node's limit on connections from one client address: low, so that a
// flood through the balancer reaches it (AnIdleFloodThroughTheBalancer...).
constexpr int kPerAddress = 50;

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "deploy file lacks: " << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// One line of HAProxy's "show stat" per server: its status and how many
// sessions it has had.
struct ServerStat {
  std::string status;
  long sessions = 0;
};

class SeveralNodesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    const std::string d = tmp_->path();
    auto pg = PostgresServer::Start();
    ASSERT_TRUE(pg.ok()) << pg.status().message();
    pg_ = pg->release();
    ASSERT_TRUE(pg_->CreateDatabase("rms").ok());
    store_ = pg_->url("rms");
    pw_ = d + "/key-password";
    std::ofstream(pw_) << "several nodes test password\n";
    metrics_token_ = d + "/metrics-token";
    std::ofstream(metrics_token_) << "0123456789abcdef0123456789abcdef\n";
    const std::string enr = d + "/enrollment";
    srv_ = d + "/server";
    ASSERT_EQ(Run({"enrollment", "init", "--dir", enr, "--password-file", pw_}).exit_code, 0);
    enrollment_ = new BackgroundProcess({kBin, "enrollment", "serve", "--dir", enr, "--listen",
                                         "127.0.0.1:0", "--password-file", pw_});
    enroll_url_ = enrollment_->WaitForLine("enrollment-site: ");
    ASSERT_FALSE(enroll_url_.empty());
    enr_ = enr;
    balancer_port_ = FreeLoopbackPort();
    root_ = "https://127.0.0.1:" + std::to_string(balancer_port_) + "/root/_wmcs";
    // The cluster lives in PostgreSQL; the directory remembers the store,
    // so the later commands given --dir reach it too.
    CommandResult p = Run({"cluster",         "provision",
                           "--dir",           srv_,
                           "--store",         store_,
                           "--name",          "ROOT",
                           "--url",           root_,
                           "--trust",         enr + "/trust-anchor.xml",
                           "--tls-ca",        enr + "/tls-ca.pem",
                           "--enroll",        enroll_url_,
                           "--token",         EnrollmentToken(),
                           "--password-file", pw_});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    ASSERT_EQ(
        Run({"user", "add", "alice", "--dir", srv_}, {"OPENRMS_USER_PASSWORD=alice-pw"}).exit_code,
        0);
    ca_ = ReadAll(srv_ + "/tls-ca.pem");
    for (int i = 0; i < kNodes; ++i) ports_.push_back(FreeLoopbackPort());
    for (int i = 0; i < kNodes; ++i) nodes_.push_back(nullptr);
    for (int i = 0; i < kNodes; ++i) StartNode(i);
    StartBalancer();
    WaitForServers(kNodes);
  }

  static void TearDownTestSuite() {
    delete balancer_;
    for (auto* n : nodes_) delete n;
    nodes_.clear();
    delete enrollment_;
    delete pg_;
    delete tmp_;
  }

  static CommandResult Run(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), kBin);
    return RunCommand(args, env);
  }

  static std::string EnrollmentToken() {
    return LastWord(Run({"enrollment", "token", "--dir", enr_, "--password-file", pw_}).out);
  }

  // Node i runs from deploy/openrms.toml; the flags give it this test's
  // directory, store, port and secrets.
  static void StartNode(int i, std::vector<std::string> env = {}) {
    delete nodes_[i];
    nodes_[i] = new BackgroundProcess({kBin,
                                       "serve",
                                       "--config",
                                       kDeploy + "/openrms.toml",
                                       "--dir",
                                       srv_,
                                       "--store",
                                       store_,
                                       "--listen",
                                       "127.0.0.1:" + std::to_string(ports_[i]),
                                       "--password-file",
                                       pw_,
                                       "--metrics-token-file",
                                       metrics_token_,
                                       "--monitor-interval",
                                       "0",
                                       "--threads",
                                       "2",
                                       "--max-connections-per-address",
                                       std::to_string(kPerAddress),
                                       "--metrics-allow",
                                       "127.0.0.3"},
                                      env);
    ASSERT_FALSE(nodes_[i]->WaitForLine("server: ").empty()) << nodes_[i]->output();
  }

  static void StartBalancer() {
    std::string cfg = ReadAll(kDeploy + "/haproxy.cfg");
    cfg = Replace(
        cfg, "    maxconn 4096\n",
        "    maxconn 4096\n    stats socket " + tmp_->path() + "/haproxy.sock level admin\n");
    cfg = Replace(cfg, "bind 127.0.0.1:8443", "bind 127.0.0.1:" + std::to_string(balancer_port_));
    cfg = Replace(cfg, "ca-file /var/lib/openrms/tls-ca.pem", "ca-file " + srv_ + "/tls-ca.pem");
    std::string servers;
    for (int i = 0; i < kNodes; ++i) {
      servers += "    server node" + std::to_string(i + 1) +
                 " 127.0.0.1:" + std::to_string(ports_[i]) + "\n";
    }
    cfg =
        Replace(cfg, "    server node1 127.0.0.1:8444\n    server node2 127.0.0.1:8445\n", servers);
    const std::string path = tmp_->path() + "/haproxy.cfg";
    std::ofstream(path) << cfg;
    CommandResult check = RunCommand({"/usr/sbin/haproxy", "-c", "-f", path});
    ASSERT_EQ(check.exit_code, 0) << check.out << check.err;
    balancer_ = new BackgroundProcess({"/usr/sbin/haproxy", "-db", "-f", path});
  }

  // HAProxy's view of each node, from its stats socket.
  static std::map<std::string, ServerStat> Stats() {
    std::map<std::string, ServerStat> out;
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = tmp_->path() + "/haproxy.sock";
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd);
      return out;
    }
    const std::string cmd = "show stat\n";
    (void)!write(fd, cmd.data(), cmd.size());
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) text.append(buf, static_cast<size_t>(n));
    close(fd);
    std::istringstream lines(text);
    std::string line;
    std::map<std::string, size_t> column;
    while (std::getline(lines, line)) {
      std::vector<std::string> fields;
      std::string field;
      std::istringstream cells(line.rfind("# ", 0) == 0 ? line.substr(2) : line);
      while (std::getline(cells, field, ',')) fields.push_back(field);
      if (line.rfind("# ", 0) == 0) {
        for (size_t i = 0; i < fields.size(); ++i) column[fields[i]] = i;
        continue;
      }
      if (fields.size() < 20 || fields[column["pxname"]] != "openrms_nodes") continue;
      const std::string& name = fields[column["svname"]];
      if (name.rfind("node", 0) != 0) continue;
      out[name] = {fields[column["status"]], std::stol(fields[column["stot"]])};
    }
    return out;
  }

  // Waits until HAProxy has `n` nodes UP (its health check reads /readyz).
  static void WaitForServers(int n) {
    int up = 0;
    for (int i = 0; i < 300 && up != n; ++i) {
      up = 0;
      for (const auto& [name, s] : Stats()) up += s.status == "UP" ? 1 : 0;
      if (up != n) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(up, n) << balancer_->output();
  }

  static http::ClientRequest Post(const std::string& url, std::string body,
                                  const std::string& content_type) {
    http::ClientRequest req;
    req.method = "POST";
    req.url = url;
    req.ca_pem = ca_;
    req.timeout_seconds = 10;
    req.headers = {{"Content-Type", content_type}};
    req.body = std::move(body);
    return req;
  }

  // A bearer token from the balancer (any node answers; the session is in
  // the shared store, so every other node accepts it).
  static std::string Token() {
    const std::string origin = "https://127.0.0.1:" + std::to_string(balancer_port_);
    auto r = http::Fetch(Post(origin + "/oauth2/token",
                              "grant_type=password&username=alice&password=alice-pw",
                              "application/x-www-form-urlencoded"));
    EXPECT_TRUE(r.ok() && r->status == 200);
    if (!r.ok()) return "";
    return nlohmann::json::parse(r->body, nullptr, false).value("access_token", "");
  }

  // The publishing license of a file alice protects through the balancer.
  static std::string PublishingLicense() {
    const std::string plain = tmp_->path() + "/plain.txt";
    const std::string prot = tmp_->path() + "/plain.ptxt";
    std::ofstream(plain) << "the numbers of the quarter\n";
    CommandResult r = Run({"protect", plain, prot, "--server", root_, "--user", "alice", "--tls-ca",
                           srv_ + "/tls-ca.pem", "--rights", "alice:VIEW"},
                          {"OPENRMS_PASSWORD=alice-pw"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto file = formats::ReadPfile(ReadAll(prot));
    EXPECT_TRUE(file.ok());
    return file.ok() ? crypto::Base64Encode(file->publishing_license) : "";
  }

  // enduserlicenses through `origin` (the balancer by default).
  static Result<http::ClientResponse> UseLicense(const std::string& token, const std::string& pl,
                                                 int port = 0) {
    const std::string base =
        port == 0 ? root_ : "https://127.0.0.1:" + std::to_string(port) + "/root/_wmcs";
    http::ClientRequest req =
        Post(base + "/my/v2/enduserlicenses",
             nlohmann::json{{"SerializedPublishingLicense", pl}}.dump(), "application/json");
    req.headers.push_back({"Authorization", "Bearer " + token});
    return http::Fetch(req);
  }

  static TempDir* tmp_;
  static PostgresServer* pg_;
  static BackgroundProcess* enrollment_;
  static BackgroundProcess* balancer_;
  static std::vector<BackgroundProcess*> nodes_;
  static std::vector<int> ports_;
  static int balancer_port_;
  static std::string store_, pw_, metrics_token_, enr_, enroll_url_, srv_, root_, ca_;
};

TempDir* SeveralNodesTest::tmp_ = nullptr;
PostgresServer* SeveralNodesTest::pg_ = nullptr;
BackgroundProcess* SeveralNodesTest::enrollment_ = nullptr;
BackgroundProcess* SeveralNodesTest::balancer_ = nullptr;
std::vector<BackgroundProcess*> SeveralNodesTest::nodes_;
std::vector<int> SeveralNodesTest::ports_;
int SeveralNodesTest::balancer_port_ = 0;
std::string SeveralNodesTest::store_, SeveralNodesTest::pw_, SeveralNodesTest::metrics_token_,
    SeveralNodesTest::enr_, SeveralNodesTest::enroll_url_, SeveralNodesTest::srv_,
    SeveralNodesTest::root_, SeveralNodesTest::ca_;

TEST_F(SeveralNodesTest, EveryNodeIsReadyAndServesTheSharedCluster) {
  const std::string token = Token();
  ASSERT_FALSE(token.empty());
  const std::string pl = PublishingLicense();
  ASSERT_FALSE(pl.empty());
  for (int i = 0; i < kNodes; ++i) {
    http::ClientRequest ready;
    ready.url = "https://127.0.0.1:" + std::to_string(ports_[i]) + "/readyz";
    ready.ca_pem = ca_;
    auto r = http::Fetch(ready);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << r->body;
    const auto body = nlohmann::json::parse(r->body, nullptr, false);
    EXPECT_EQ(body["ready"], true);
    EXPECT_EQ(body["clusters"]["ROOT"], "valid");
    // A token from one node and content published through another: any
    // node licenses it.
    auto eul = UseLicense(token, pl, ports_[i]);
    ASSERT_TRUE(eul.ok());
    EXPECT_EQ(eul->status, 200) << "node " << i + 1 << ": " << eul->body;
  }
}

// A TLS connection from `source` to the balancer that completes its
// handshake and then sends nothing: what a client (or an attacker) holding
// connections open looks like.
class IdleTlsConnection {
 public:
  IdleTlsConnection(SSL_CTX* ctx, const std::string& source, int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval limit{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
        ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
      return;
    }
    ssl_ = SSL_new(ctx);
    SSL_set_fd(ssl_, fd_);
    established_ = SSL_connect(ssl_) == 1;
  }
  ~IdleTlsConnection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
  }
  IdleTlsConnection(const IdleTlsConnection&) = delete;
  IdleTlsConnection& operator=(const IdleTlsConnection&) = delete;
  bool established() const { return established_; }

 private:
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  bool established_ = false;
};

// The break of issue 21: without the PROXY protocol every client was the
// balancer's address to a node, so one client's idle connections used up
// the per-address limit for everyone. Now each node counts the client that
// HAProxy's header names.
// A revocation through the balancer holds on every node once the cluster
// refresh (2 s) has passed, though each node has just granted the license
// and holds it in its caches.
TEST_F(SeveralNodesTest, ARevocationHoldsOnEveryNodeWithinTheRefresh) {
  const std::string token = Token();
  const std::string pl = PublishingLicense();
  for (int port : ports_) {
    auto r = UseLicense(token, pl, port);
    ASSERT_TRUE(r.ok());
    EXPECT_NE(r->body.find("\"AccessStatus\":\"AccessGranted\""), std::string::npos) << r->body;
  }
  CommandResult revoked = Run({"revoke", tmp_->path() + "/plain.ptxt", "--server", root_, "--user",
                               "alice", "--tls-ca", srv_ + "/tls-ca.pem"},
                              {"OPENRMS_PASSWORD=alice-pw"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  for (int port : ports_) {
    auto r = UseLicense(token, pl, port);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("\"AccessStatus\":\"AccessDenied\""), std::string::npos)
        << "node " << port << ": " << r->body;
    EXPECT_NE(r->body.find("\"Reason\":\"revoked by alice at "), std::string::npos) << r->body;
    EXPECT_EQ(r->body.find("\"Key\""), std::string::npos) << r->body;
  }
}

TEST_F(SeveralNodesTest, AnIdleFloodThroughTheBalancerLeavesOtherClientsServed) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_NE(ctx, nullptr);
  std::vector<std::unique_ptr<IdleTlsConnection>> flood;
  int held = 0;
  for (int i = 0; i < 300; ++i) {
    flood.push_back(std::make_unique<IdleTlsConnection>(ctx, "127.0.0.2", balancer_port_));
    held += flood.back()->established() ? 1 : 0;
  }
  // Each node holds no more than its limit of them.
  EXPECT_LE(held, kNodes * kPerAddress);
  EXPECT_GE(held, kPerAddress);
  // Another client, behind the same balancer, logs on and licenses.
  const std::string origin = "https://127.0.0.1:" + std::to_string(balancer_port_);
  const std::string pl = PublishingLicense();
  ASSERT_FALSE(pl.empty());
  for (int i = 0; i < 2 * kNodes; ++i) {  // through every node
    http::ClientRequest logon =
        Post(origin + "/oauth2/token", "grant_type=password&username=alice&password=alice-pw",
             "application/x-www-form-urlencoded");
    logon.local_address = "127.0.0.3";
    auto token = http::Fetch(logon);
    ASSERT_TRUE(token.ok()) << i << ": " << token.status().ToString();
    ASSERT_EQ(token->status, 200) << token->body;
    http::ClientRequest eul =
        Post(root_ + "/my/v2/enduserlicenses",
             nlohmann::json{{"SerializedPublishingLicense", pl}}.dump(), "application/json");
    eul.local_address = "127.0.0.3";
    eul.headers.push_back(
        {"Authorization",
         "Bearer " + nlohmann::json::parse(token->body, nullptr, false).value("access_token", "")});
    auto license = http::Fetch(eul);
    ASSERT_TRUE(license.ok()) << i << ": " << license.status().ToString();
    EXPECT_EQ(license->status, 200) << license->body;
  }
  // Every node sees each client by its own address, not HAProxy's: /metrics
  // is open to 127.0.0.3 alone (--metrics-allow), and others need the token.
  for (int i = 0; i < 2 * kNodes; ++i) {
    http::ClientRequest metrics;
    metrics.url = origin + "/metrics";
    metrics.ca_pem = ca_;
    metrics.local_address = i % 2 == 0 ? "127.0.0.3" : "127.0.0.4";
    auto r = http::Fetch(metrics);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, i % 2 == 0 ? 200 : 401) << metrics.local_address << ": " << r->body;
  }
  flood.clear();
  SSL_CTX_free(ctx);
}

// The break of issue 21: with PostgreSQL stopped, valid bearer tokens got
// 401 (clients threw them away and asked for passwords) and some requests
// 500. Now PostgreSQL is killed (pg_ctl stop -m immediate) during licensing
// on every node, for longer than the nodes keep a token in memory: every
// answer is 200, or 503 with Retry-After, never anything else; the token
// endpoint, the admin site and /readyz say 503 too; every license granted
// has its audit row, exactly; and each node licenses again once PostgreSQL
// is back.
TEST_F(SeveralNodesTest, AStoreOutageIsAnsweredAsOneAndLosesNoAuditRow) {
  using namespace std::chrono_literals;
  // Otherwise the kill could lose commits the nodes were told had happened.
  ASSERT_TRUE(pg_->CommitSynchronously().ok());
  const CommandResult added =
      Run({"user", "add", "ada", "--dir", srv_, "--group", "Administrators"},
          {"OPENRMS_USER_PASSWORD=ada-admin-pw"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  const std::string token = Token();
  const std::string pl = PublishingLicense();
  ASSERT_FALSE(token.empty());
  ASSERT_FALSE(pl.empty());
  const std::string node0 = "https://127.0.0.1:" + std::to_string(ports_[0]);
  auto admin = WebLogOn(node0 + "/admin", ca_, "ada", "ada-admin-pw");
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  ASSERT_EQ(admin->status, 303) << admin->body;
  const std::string cookie = CookiePair(*admin);
  auto db = store::OpenDatabase(store_);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto granted_rows = [&]() -> long {
    auto rows = (*db)->Query(
        "SELECT COUNT(*) FROM license_audit WHERE kind = 'use' AND result = 'AccessGranted'");
    return rows.ok() && !rows->empty() ? static_cast<long>(rows->at(0).Int(0)) : -1;
  };
  std::this_thread::sleep_for(1s);  // every session has read the reload
  const long rows_before = granted_rows();
  ASSERT_GE(rows_before, 0);

  constexpr int kClients = 4;
  std::atomic<bool> stop{false};
  std::mutex mu;
  long granted = 0, unavailable = 0;
  std::vector<std::string> wrong;  // anything but 200, or 503 with Retry-After
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; !stop; ++i) {
        auto r = UseLicense(token, pl, ports_[(c + i) % kNodes]);
        std::lock_guard lock(mu);
        if (r.ok() && r->status == 200) {
          ++granted;
        } else if (r.ok() && r->status == 503 &&
                   r->Header("retry-after") == std::to_string(http::kRetryAfterSeconds)) {
          ++unavailable;
        } else {
          wrong.push_back(r.ok() ? "HTTP " + std::to_string(r->status) + " " + r->body
                                 : r.status().message());
        }
      }
    });
  }
  std::this_thread::sleep_for(2s);
  ASSERT_TRUE(pg_->StopNow().ok());
  // Longer than a node keeps a token (kBearerCacheSeconds, 2 s): the
  // tokens are asked of the store that is not there.
  std::this_thread::sleep_for(6s);
  auto get = [&](const std::string& path, const std::string& cookie_pair) {
    http::ClientRequest req;
    req.url = node0 + path;
    req.ca_pem = ca_;
    if (!cookie_pair.empty()) req.headers.push_back({"Cookie", cookie_pair});
    return http::Fetch(req);
  };
  auto logon = http::Fetch(Post(node0 + "/oauth2/token",
                                "grant_type=password&username=alice&password=alice-pw",
                                "application/x-www-form-urlencoded"));
  auto admin_page = get("/admin/", cookie);
  auto ready = get("/readyz", "");
  ASSERT_TRUE(pg_->StartAgain().ok());
  // Every node licenses again, soon.
  for (int n = 0; n < kNodes; ++n) {
    int status = 0;
    for (int i = 0; i < 100 && status != 200; ++i) {
      auto r = UseLicense(token, pl, ports_[n]);
      status = r.ok() ? r->status : 0;
      if (status == 200) {
        std::lock_guard lock(mu);
        ++granted;
      } else {
        std::this_thread::sleep_for(100ms);
      }
    }
    EXPECT_EQ(status, 200) << "node " << n + 1 << " did not recover within 10 s";
  }
  std::this_thread::sleep_for(1s);
  stop = true;
  for (auto& t : clients) t.join();

  ASSERT_TRUE(logon.ok()) << logon.status().ToString();
  EXPECT_EQ(logon->status, 503) << logon->body;
  EXPECT_EQ(logon->Header("retry-after"), std::to_string(http::kRetryAfterSeconds));
  EXPECT_EQ(nlohmann::json::parse(logon->body, nullptr, false).value("error", ""),
            "temporarily_unavailable")
      << logon->body;
  ASSERT_TRUE(admin_page.ok()) << admin_page.status().ToString();
  EXPECT_EQ(admin_page->status, 503) << admin_page->body;
  EXPECT_EQ(admin_page->Header("retry-after"), std::to_string(http::kRetryAfterSeconds));
  EXPECT_NE(admin_page->body.find("The service is unavailable"), std::string::npos);
  ASSERT_TRUE(ready.ok()) << ready.status().ToString();
  EXPECT_EQ(ready->status, 503) << ready->body;

  for (const auto& w : wrong) ADD_FAILURE() << w;
  EXPECT_GT(unavailable, 0) << "no request met the outage";
  EXPECT_GT(granted, 0);
  // Every license answered has its row, and none more: rows that waited in
  // a node's memory while the store was away reach it now.
  long rows = -1;
  for (int i = 0; i < 100; ++i) {
    rows = granted_rows();
    if (rows - rows_before == granted) break;
    std::this_thread::sleep_for(100ms);
  }
  std::this_thread::sleep_for(500ms);  // and nothing else comes later
  EXPECT_EQ(granted_rows() - rows_before, granted);
  std::cout << "licenses: " << granted << " granted (each audited), " << unavailable
            << " answered 503 during the outage\n";
  WaitForServers(kNodes);  // the balancer has them all back, for the tests after
}

TEST_F(SeveralNodesTest, AKilledNodeLosesOnlyItsInFlightRequestsAndRejoins) {
  const std::string token = Token();
  const std::string pl = PublishingLicense();
  ASSERT_FALSE(token.empty());
  ASSERT_FALSE(pl.empty());
  constexpr int kClients = 6;
  using Clock = std::chrono::steady_clock;
  std::atomic<bool> stop{false};
  std::atomic<Clock::rep> killed_at{0};
  std::mutex mu;
  long ok = 0, ok_after_kill = 0;
  std::vector<std::string> failures;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      while (!stop) {
        const Clock::rep started = Clock::now().time_since_epoch().count();
        auto r = UseLicense(token, pl);
        const bool good = r.ok() && r->status == 200;
        std::lock_guard lock(mu);
        if (good) {
          ++ok;
          if (killed_at != 0 && started > killed_at) ++ok_after_kill;
        } else {
          failures.push_back((r.ok() ? "HTTP " + std::to_string(r->status) + " " + r->body
                                     : r.status().message()) +
                             (killed_at != 0 && started > killed_at + 2'000'000'000LL
                                  ? " [started 2 s after the kill]"
                                  : ""));
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const auto before = Stats();
  nodes_[2]->Kill();  // SIGKILL: no chance to finish anything
  killed_at = Clock::now().time_since_epoch().count();
  std::this_thread::sleep_for(std::chrono::seconds(5));
  // The node comes back and HAProxy sends it work again.
  StartNode(2);
  WaitForServers(kNodes);
  const long sessions_back = Stats()["node3"].sessions;
  std::this_thread::sleep_for(std::chrono::seconds(3));
  stop = true;
  for (auto& t : clients) t.join();
  const auto after = Stats();

  EXPECT_GT(before.at("node3").sessions, 0) << "node 3 took no work before the kill";
  // Each client has at most one request in flight, so at most one per
  // client can have been on the killed node; nothing that started later
  // fails (HAProxy retries refused connections on another node).
  EXPECT_LE(failures.size(), static_cast<size_t>(kClients));
  for (const auto& f : failures) {
    EXPECT_EQ(f.find("[started 2 s after the kill]"), std::string::npos) << f;
  }
  EXPECT_GT(ok_after_kill, 20);
  EXPECT_GT(after.at("node3").sessions, sessions_back) << "the restarted node got no work";
  std::cout << "licenses: " << ok << " issued, " << failures.size()
            << " failed (in flight on the killed node)\n";
}

// A node whose clusters cannot issue (the SLC has expired, on a clock moved
// 400 days on) is alive but not ready, so the balancer passes it by.
TEST_F(SeveralNodesTest, ANodeWhoseSlcExpiredIsAliveButNotReady) {
  const int port = FreeLoopbackPort();
  BackgroundProcess node(
      {kBin, "serve", "--dir", srv_, "--listen", "127.0.0.1:" + std::to_string(port),
       "--password-file", pw_, "--monitor-interval", "0"},
      {FakeNow(400)});
  ASSERT_FALSE(node.WaitForLine("server: ").empty()) << node.output();
  auto get = [&](const std::string& path) {
    http::ClientRequest req;
    req.url = "https://127.0.0.1:" + std::to_string(port) + path;
    req.ca_pem = ca_;
    return http::Fetch(req);
  };
  auto ready = get("/readyz");
  ASSERT_TRUE(ready.ok()) << ready.status().message();
  EXPECT_EQ(ready->status, 503);
  const auto body = nlohmann::json::parse(ready->body, nullptr, false);
  EXPECT_EQ(body["ready"], false);
  EXPECT_EQ(body["reason"], "cluster ROOT: expired");
  EXPECT_EQ(body["clusters"]["ROOT"], "expired");
  auto alive = get("/healthz");
  ASSERT_TRUE(alive.ok());
  EXPECT_EQ(alive->status, 200);
}

// A unix datagram socket standing in for systemd's notification socket.
class NotifySocket final {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval timeout{20, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~NotifySocket() { close(fd_); }
  // The next message, or "" after 20 s.
  std::string Receive() {
    char buf[512];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// The node tells its service manager (deploy/openrms-node.service is
// Type=notify) when it serves and when it stops; a configuration file that
// would hold a secret stops it with the reason.
TEST_F(SeveralNodesTest, ServeFromTheUnitsConfigurationTellsSystemdWhenItIsReady) {
  const std::string unit = ReadAll(kDeploy + "/openrms-node.service");
  EXPECT_NE(unit.find("Type=notify"), std::string::npos);
  EXPECT_NE(unit.find("ExecStart=/usr/local/bin/openrms serve --config /etc/openrms/openrms.toml"),
            std::string::npos);
  NotifySocket notify(tmp_->path() + "/notify.sock");
  const int port = FreeLoopbackPort();
  BackgroundProcess node(
      {kBin, "serve", "--config", kDeploy + "/openrms.toml", "--dir", srv_, "--store", store_,
       "--listen", "127.0.0.1:" + std::to_string(port), "--password-file", pw_,
       "--metrics-token-file", metrics_token_, "--monitor-interval", "0"},
      {"NOTIFY_SOCKET=" + tmp_->path() + "/notify.sock"});
  EXPECT_EQ(notify.Receive(), "READY=1");
  // Ready means serving: the listener answers at once.
  http::ClientRequest ready;
  ready.url = "https://127.0.0.1:" + std::to_string(port) + "/readyz";
  ready.ca_pem = ca_;
  auto r = http::Fetch(ready);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(node.Stop(), 0);
  EXPECT_EQ(notify.Receive(), "STOPPING=1");

  const std::string bad = tmp_->path() + "/bad.toml";
  std::ofstream(bad) << "[node]\ndir = \"" << srv_ << "\"\n[keys]\npassword = \"hunter2\"\n";
  CommandResult refused = Run({"serve", "--config", bad});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_EQ(refused.err, "error: " + bad +
                             ": keys.password would put a secret in the configuration file: name "
                             "a file that holds it with keys.password_file (or use the "
                             "environment)\n");
  CommandResult no_dir = Run({"serve", "--listen", "127.0.0.1:1"});
  EXPECT_EQ(no_dir.err,
            "error: no server directory: give --dir or node.dir in the --config file\n");
}

// The SLC each node certifies with: the RAC chain it hands out holds it.
std::string ChainOf(const std::string& rac) { return ReadAll(rac); }

TEST_F(SeveralNodesTest, AnImportKilledAtAnyPointLeavesExactlyOneValidActiveSlc) {
  auto db = store::OpenDatabase(store_);
  ASSERT_TRUE(db.ok()) << db.status().message();
  auto active = [&]() -> std::string {
    auto rows = (*db)->Query(
        "SELECT s.certificate_id, s.valid_until FROM clusters c JOIN cluster_slcs s ON s.id = "
        "c.active_slc WHERE c.name = 'ROOT'");
    EXPECT_TRUE(rows.ok());
    if (!rows.ok() || rows->size() != 1) return "";
    EXPECT_GT((*rows)[0].Int(1), std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
    return (*rows)[0].Text(0);
  };
  const std::string old_id = active();
  ASSERT_FALSE(old_id.empty());
  // Licensing goes on through the balancer during the whole test.
  const std::string token = Token();
  const std::string pl = PublishingLicense();
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::thread load([&] {
    while (!stop) {
      auto r = UseLicense(token, pl);
      (r.ok() && r->status == 200 ? ok : failed)++;
    }
  });

  const std::string request = tmp_->path() + "/renewal-request.xml";
  const std::string issued = tmp_->path() + "/renewal.xml";
  ASSERT_EQ(Run({"slc", "export-request", "--dir", srv_, "--out", request, "--password-file", pw_})
                .exit_code,
            0);
  CommandResult issue =
      Run({"enrollment", "issue", request, "--dir", enr_, "--out", issued, "--password-file", pw_});
  ASSERT_EQ(issue.exit_code, 0) << issue.err;
  // Killed at every crash point of the import (the test build's hook).
  int crashes = 0;
  std::string now_id;
  for (int point = 1; point < 30; ++point) {
    CommandResult r = Run({"slc", "import", issued, "--dir", srv_, "--yes"},
                          {"OPENRMS_CRASH_AT=" + std::to_string(point)});
    now_id = active();
    ASSERT_TRUE(now_id == old_id || !now_id.empty()) << "point " << point;
    ASSERT_FALSE(now_id.empty()) << "no valid active SLC after a kill at point " << point;
    if (r.exit_code != 137) {
      ASSERT_EQ(r.exit_code, 0) << r.err;
      break;
    }
    ++crashes;
    if (now_id != old_id) break;  // died after the commit
  }
  EXPECT_GE(crashes, 3);
  EXPECT_NE(now_id, old_id);
  // And real kills at random instants of an import of the same file again
  // (it is refused as already installed, or dies first): still one.
  std::mt19937 rng(11);
  for (int i = 0; i < 6; ++i) {
    BackgroundProcess p({kBin, "slc", "import", issued, "--dir", srv_, "--yes"});
    usleep(std::uniform_int_distribution<int>(0, 300000)(rng));
    p.Kill();
    EXPECT_EQ(active(), now_id) << "kill " << i;
  }
  auto count = (*db)->Query("SELECT COUNT(*) FROM clusters WHERE active_slc IS NOT NULL");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ((*count)[0].Int(0), 1);

  // Within a bound every node certifies with the new SLC.
  for (int i = 0; i < kNodes; ++i) {
    const std::string rac = tmp_->path() + "/rac" + std::to_string(i) + ".xml";
    bool current = false;
    for (int attempt = 0; attempt < 10 && !current; ++attempt) {
      CommandResult c =
          Run({"certify", "--server",
               "https://127.0.0.1:" + std::to_string(ports_[i]) + "/root/_wmcs", "--user", "alice",
               "--tls-ca", srv_ + "/tls-ca.pem", "--out", rac, "--key-out", rac + ".key"},
              {"OPENRMS_PASSWORD=alice-pw"});
      ASSERT_EQ(c.exit_code, 0) << c.err;
      current = ChainOf(rac).find(now_id) != std::string::npos;
      if (!current) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    EXPECT_TRUE(current) << "node " << i + 1 << " still certifies with the old SLC";
  }
  stop = true;
  load.join();
  EXPECT_GT(ok.load(), 10);
  EXPECT_EQ(failed.load(), 0);
}

// Three monitors find renewal due at the same moment (the issuer moved the
// window into the past): the cluster is renewed once, not once per node.
TEST_F(SeveralNodesTest, AutomaticRenewalHappensOncePerClusterNotOncePerNode) {
  auto db = store::OpenDatabase(store_);
  ASSERT_TRUE(db.ok());
  auto slcs = [&] {
    auto rows = (*db)->Query("SELECT COUNT(*) FROM cluster_slcs WHERE cluster = 'ROOT'");
    return rows.ok() ? (*rows)[0].Int(0) : -1;
  };
  const int64_t before = slcs();
  ASSERT_EQ(Run({"cluster", "auto-renew", "on", "--dir", srv_}).exit_code, 0);
  const Time now = SystemClock().Now();
  CommandResult moved = Run({"enrollment", "renewal-window", "--dir", enr_, "--all", "--start",
                             FormatIso8601(now - std::chrono::hours(2)), "--end",
                             FormatIso8601(now - std::chrono::hours(1)), "--password-file", pw_});
  ASSERT_EQ(moved.exit_code, 0) << moved.err;
  std::vector<std::unique_ptr<BackgroundProcess>> monitors;
  for (int i = 0; i < kNodes; ++i) {
    monitors.push_back(std::make_unique<BackgroundProcess>(
        std::vector<std::string>{kBin, "serve", "--dir", srv_, "--listen", "127.0.0.1:0",
                                 "--password-file", pw_, "--monitor-interval", "1"}));
  }
  for (auto& m : monitors) ASSERT_FALSE(m->WaitForLine("server: ").empty()) << m->output();
  for (int i = 0; i < 200 && slcs() == before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Every monitor has run a few more times since.
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_EQ(slcs(), before + 1);
  for (auto& m : monitors) m->Stop();
  ASSERT_EQ(Run({"cluster", "auto-renew", "off", "--dir", srv_}).exit_code, 0);
}

}  // namespace
}  // namespace openrms::testing
