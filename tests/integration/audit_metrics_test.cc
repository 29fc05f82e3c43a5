// The license audit trail across a clean stop and a kill -9, and the
// figures of /metrics, with the real program (`openrms demo`: an enrollment
// service and two clusters behind one node, SQLite store).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <charconv>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "http/client.h"
#include "store/database.h"
#include "support/process.h"

namespace openrms::testing {
namespace {

using ::testing::HasSubstr;

using Clock = std::chrono::steady_clock;

const std::string kBin = OPENRMS_BINARY;

class AuditMetricsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    dir_ = tmp_->path() + "/demo";
    // The first start makes the enrollment service, the clusters and the
    // users; every test then starts the node again on that directory.
    auto demo = Start();
    ASSERT_NE(demo, nullptr);
    EXPECT_EQ(demo->Stop(), 0);
  }
  static void TearDownTestSuite() { delete tmp_; }

  // `openrms demo` on a free port (and the next one, its enrollment node,
  // which another test may hold: then again on other ports).
  static std::unique_ptr<BackgroundProcess> Start() {
    std::unique_ptr<BackgroundProcess> demo;
    std::string user;
    for (int attempt = 0; attempt < 5 && user.empty(); ++attempt) {
      port_ = FreeLoopbackPort();
      demo = std::make_unique<BackgroundProcess>(
          std::vector<std::string>{kBin, "demo", "--dir", dir_, "--port", std::to_string(port_)});
      user = demo->WaitForLine("user: ", std::chrono::seconds(180));
    }
    if (user.empty()) return nullptr;
    user_ = user.substr(0, user.find(' '));
    password_ = user.substr(user.find(' ') + 1);
    ca_ = ReadAll(demo->WaitForLine("tls-ca: "));
    base_ = "https://127.0.0.1:" + std::to_string(port_);
    return demo;
  }

  static Result<http::ClientResponse> Fetch(const std::string& method, const std::string& path,
                                            const std::string& token, const std::string& body) {
    http::ClientRequest req;
    req.method = method;
    req.url = base_ + path;
    req.ca_pem = ca_;
    if (!token.empty()) req.headers.push_back({"Authorization", "Bearer " + token});
    if (!body.empty()) req.headers.push_back({"Content-Type", "application/json"});
    req.body = body;
    return http::Fetch(req);
  }

  static std::string Token() {
    http::ClientRequest req;
    req.method = "POST";
    req.url = base_ + "/oauth2/token";
    req.ca_pem = ca_;
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    req.body = "grant_type=password&username=" + user_ + "&password=" + password_;
    auto r = http::Fetch(req);
    if (!r.ok() || r->status != 200) return "";
    return nlohmann::json::parse(r->body)["access_token"].get<std::string>();
  }

  // A publishing license of the root cluster, as enduserlicenses wants it.
  static std::string EndUserLicenseBody(const std::string& token) {
    const nlohmann::json publish = {
        {"Policy", {{"UserRights", {{{"Users", {user_}}, {"Rights", {"VIEW"}}}}}}}};
    auto pl = Fetch("POST", "/contoso/_wmcs/my/v2/publishinglicenses", token, publish.dump());
    if (!pl.ok() || pl->status != 200) return "";
    const auto answer = nlohmann::json::parse(pl->body);
    return nlohmann::json{{"SerializedPublishingLicense", answer["SerializedPublishingLicense"]}}
        .dump();
  }

  static int64_t UseRows() {
    auto db = store::OpenSqlite(dir_ + "/server/openrms.db");
    if (!db.ok()) return -1;
    auto rows = (*db)->Query("SELECT COUNT(*) FROM license_audit WHERE kind = 'use'");
    return rows.ok() ? (*rows)[0].Int(0) : -1;
  }

  static TempDir* tmp_;
  static std::string dir_, user_, password_, ca_, base_;
  static int port_;
};

TempDir* AuditMetricsTest::tmp_ = nullptr;
std::string AuditMetricsTest::dir_, AuditMetricsTest::user_, AuditMetricsTest::password_,
    AuditMetricsTest::ca_, AuditMetricsTest::base_;
int AuditMetricsTest::port_ = 0;

constexpr char kEul[] = "/contoso/_wmcs/my/v2/enduserlicenses";

// The certificate a TLS server on loopback presents, as PEM ("" when the
// handshake fails). Not verified: the test compares it.
std::string PeerCertificatePem(int port) {
  std::string pem;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  BIO* bio = BIO_new_ssl_connect(ctx);
  BIO_set_conn_hostname(bio, ("127.0.0.1:" + std::to_string(port)).c_str());
  SSL* ssl = nullptr;
  BIO_get_ssl(bio, &ssl);
  if (ssl != nullptr && BIO_do_handshake(bio) == 1) {
    if (X509* cert = SSL_get1_peer_certificate(ssl)) {
      BIO* out = BIO_new(BIO_s_mem());
      PEM_write_bio_X509(out, cert);
      char* data = nullptr;
      const long size = BIO_get_mem_data(out, &data);
      pem.assign(data, static_cast<size_t>(size));
      BIO_free(out);
      X509_free(cert);
    }
  }
  BIO_free_all(bio);
  SSL_CTX_free(ctx);
  return pem;
}

// A later start opens one TLS key for both of the demo's listeners: the
// enrollment site (the next port) presents the cluster node's certificate
// and answers over the same root.
TEST_F(AuditMetricsTest, TheEnrollmentSiteAnswersAfterALaterStart) {
  auto demo = Start();
  ASSERT_NE(demo, nullptr);
  const std::string cluster_certificate = PeerCertificatePem(port_);
  ASSERT_NE(cluster_certificate.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_EQ(PeerCertificatePem(port_ + 1), cluster_certificate);
  http::ClientRequest req;
  req.url = "https://127.0.0.1:" + std::to_string(port_ + 1) + "/";
  req.ca_pem = ca_;
  auto r = http::Fetch(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("<title>Enrollment - OpenRMS Demo Enrollment Service</title>"));
  EXPECT_EQ(demo->Stop(), 0);
}

TEST_F(AuditMetricsTest, ACleanStopWritesEveryAuditRow) {
  auto demo = Start();
  ASSERT_NE(demo, nullptr);
  const std::string token = Token();
  const std::string body = EndUserLicenseBody(token);
  ASSERT_FALSE(body.empty());
  const int64_t before = UseRows();
  constexpr int kLicenses = 150;
  for (int i = 0; i < kLicenses; ++i) {
    auto r = Fetch("POST", kEul, token, body);
    ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
  }
  // SIGTERM at once: rows still queued are written before the exit.
  EXPECT_EQ(demo->Stop(), 0);
  EXPECT_EQ(UseRows() - before, kLicenses);
}

// After a kill -9 only the rows of the batch being gathered can be missing:
// a row waits at most 100 ms in memory before its batch is written. The
// assertion allows every answer of the last 500 ms before the kill (the
// interval, then the write and its fsync, on a loaded 2-core machine) and
// no earlier one; the test prints what it measured.
TEST_F(AuditMetricsTest, AKillLosesAtMostTheLastBatch) {
  auto demo = Start();
  ASSERT_NE(demo, nullptr);
  const std::string token = Token();
  const std::string body = EndUserLicenseBody(token);
  ASSERT_FALSE(body.empty());
  const int64_t before = UseRows();
  constexpr int kLicenses = 300;
  std::vector<Clock::time_point> answered;
  for (int i = 0; i < kLicenses; ++i) {
    auto r = Fetch("POST", kEul, token, body);
    ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
    answered.push_back(Clock::now());
  }
  const auto killed = Clock::now();
  demo->Kill();
  const int64_t missing = kLicenses - (UseRows() - before);
  auto within = [&](std::chrono::milliseconds window) {
    return std::count_if(answered.begin(), answered.end(),
                         [&](Clock::time_point t) { return killed - t < window; });
  };
  std::printf(
      "kill -9 after %d licenses: %lld audit rows missing; answered in the last 100 ms: "
      "%ld, in the last 500 ms: %ld\n",
      kLicenses, static_cast<long long>(missing), within(std::chrono::milliseconds(100)),
      within(std::chrono::milliseconds(500)));
  EXPECT_GE(missing, 0);
  EXPECT_LE(missing, within(std::chrono::milliseconds(500)));

  // Licenses answered a second before the kill are all in the store.
  demo = Start();
  ASSERT_NE(demo, nullptr);
  const std::string token2 = Token();
  const int64_t before2 = UseRows();
  for (int i = 0; i < 50; ++i) {
    auto r = Fetch("POST", kEul, token2, body);
    ASSERT_TRUE(r.ok() && r->status == 200);
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  demo->Kill();
  EXPECT_EQ(UseRows() - before2, 50);
}

// Each "name{labels} value" line of a Prometheus text answer.
std::map<std::string, std::string> Samples(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

TEST_F(AuditMetricsTest, MetricsCountRequestsLicensesCachesAndTheAuditQueue) {
  auto demo = Start();
  ASSERT_NE(demo, nullptr);
  const std::string token = Token();
  const std::string body = EndUserLicenseBody(token);
  ASSERT_FALSE(body.empty());
  for (int i = 0; i < 3; ++i) {
    auto r = Fetch("POST", kEul, token, body);
    ASSERT_TRUE(r.ok() && r->status == 200);
  }
  auto challenged = Fetch("POST", kEul, "", body);
  ASSERT_TRUE(challenged.ok());
  EXPECT_EQ(challenged->status, 401);
  auto missing = Fetch("GET", "/contoso/_wmcs/my/v2/nope", token, "");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);

  auto metrics = Fetch("GET", "/metrics", "", "");
  ASSERT_TRUE(metrics.ok() && metrics->status == 200);
  const std::string& text = metrics->body;
  const auto s = Samples(text);
  auto at = [&](const std::string& key) {
    auto it = s.find(key);
    return it == s.end() ? std::string("absent") : it->second;
  };
  for (const char* family :
       {"# TYPE openrms_http_requests_total counter",
        "# TYPE openrms_http_request_duration_seconds histogram",
        "# TYPE openrms_licenses_issued_total counter", "# TYPE openrms_cache_hits_total counter",
        "# TYPE openrms_cache_misses_total counter", "# TYPE openrms_audit_queue_rows gauge",
        "# HELP openrms_http_requests_total "}) {
    EXPECT_NE(text.find(family), std::string::npos) << family << " in\n" << text;
  }
  EXPECT_EQ(at("openrms_http_requests_total{route=\"oauth2_token\",status=\"200\"}"), "1");
  EXPECT_EQ(at("openrms_http_requests_total{route=\"publishinglicenses\",status=\"200\"}"), "1");
  EXPECT_EQ(at("openrms_http_requests_total{route=\"enduserlicenses\",status=\"200\"}"), "3");
  EXPECT_EQ(at("openrms_http_requests_total{route=\"enduserlicenses\",status=\"401\"}"), "1");
  EXPECT_EQ(at("openrms_http_requests_total{route=\"my_v2_other\",status=\"404\"}"), "1");
  // The histogram counts every request of its route, +Inf included.
  const std::string eul = "{route=\"enduserlicenses\"";
  EXPECT_EQ(at("openrms_http_request_duration_seconds_count" + eul + "}"), "4");
  EXPECT_EQ(at("openrms_http_request_duration_seconds_bucket" + eul + ",le=\"+Inf\"}"), "4");
  EXPECT_NE(at("openrms_http_request_duration_seconds_bucket" + eul + ",le=\"0.0005\"}"), "absent");
  EXPECT_NE(at("openrms_http_request_duration_seconds_sum" + eul + "}"), "absent");
  EXPECT_EQ(at("openrms_http_request_duration_seconds_count{route=\"oauth2_token\"}"), "1");

  EXPECT_EQ(at("openrms_licenses_issued_total{kind=\"use\"}"), "3");
  EXPECT_EQ(at("openrms_licenses_issued_total{kind=\"publish\"}"), "1");
  EXPECT_EQ(at("openrms_licenses_issued_total{kind=\"rac\"}"), "0");
  EXPECT_EQ(at("openrms_licenses_issued_total{kind=\"rac-temporary\"}"), "0");
  // One publishing license opened once, then from memory.
  EXPECT_EQ(at("openrms_cache_misses_total{cache=\"publishing_license\"}"), "1");
  EXPECT_EQ(at("openrms_cache_hits_total{cache=\"publishing_license\"}"), "2");
  // The same request body twice more: its JSON and base64 are not read again.
  EXPECT_EQ(at("openrms_cache_misses_total{cache=\"enduserlicense_body\"}"), "1");
  EXPECT_EQ(at("openrms_cache_hits_total{cache=\"enduserlicense_body\"}"), "2");
  // Five requests carried the token (one publish, three use licenses, the
  // unknown operation): the store is asked at least once.
  auto number = [&](const std::string& key) {
    const std::string v = at(key);
    int n = -1;
    std::from_chars(v.data(), v.data() + v.size(), n);
    return n;
  };
  const int bearer_hits = number("openrms_cache_hits_total{cache=\"bearer_token\"}");
  const int bearer_misses = number("openrms_cache_misses_total{cache=\"bearer_token\"}");
  EXPECT_EQ(bearer_hits + bearer_misses, 5);
  EXPECT_GE(bearer_misses, 1);
  EXPECT_NE(at("openrms_audit_queue_rows"), "absent");
  EXPECT_EQ(demo->Stop(), 0);
}

}  // namespace
}  // namespace openrms::testing
