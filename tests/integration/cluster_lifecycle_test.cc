// The SLC lifecycle of real clusters: a real enrollment service and real
// cluster nodes (`openrms enrollment serve`, `openrms serve`) on loopback,
// driven through the `openrms` program as an administrator would.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "base/file_system.h"
#include "cluster/cluster_store.h"
#include "crypto/encoding.h"
#include "enrollment/authority.h"
#include "http/client.h"
#include "http/forms.h"
#include "protocol/enrollment_messages.h"
#include "support/process.h"
#include "support/stalled_server.h"
#include "support/web_logon.h"
#include "xrml/chain.h"

namespace openrms::testing {
namespace {

const std::string kBin = OPENRMS_BINARY;
constexpr char kPassword[] = "lifecycle test password";

class ClusterLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pw_ = tmp_.path() + "/password";
    std::ofstream(pw_) << kPassword << "\n";
    enr_ = tmp_.path() + "/enrollment";
    srv_ = tmp_.path() + "/server";
    ASSERT_EQ(Cmd({"enrollment", "init", "--dir", enr_}).exit_code, 0);
    enrollment_ = std::make_unique<BackgroundProcess>(
        WithPassword({kBin, "enrollment", "serve", "--dir", enr_, "--listen", "127.0.0.1:0"}));
    enroll_url_ = enrollment_->WaitForLine("enrollment-site: ");
    ASSERT_FALSE(enroll_url_.empty()) << enrollment_->output();
    // A root cluster whose first SLC lasts 20 days: renewal is due at once.
    port_ = FreePort();
    root_url_ = "https://127.0.0.1:" + std::to_string(port_) + "/root/_wmcs";
    CommandResult p =
        Cmd({"cluster", "provision", "--dir", srv_, "--name", "ROOT", "--url", root_url_, "--trust",
             enr_ + "/trust-anchor.xml", "--tls-ca", enr_ + "/tls-ca.pem", "--enroll", enroll_url_,
             "--token", EnrollmentToken(), "--validity-days", "20"});
    ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  }

  static int FreePort() { return FreeLoopbackPort(); }

  std::vector<std::string> WithPassword(std::vector<std::string> argv) {
    argv.push_back("--password-file");
    argv.push_back(pw_);
    return argv;
  }

  // Runs openrms; commands that take a password get it.
  CommandResult Cmd(std::vector<std::string> args, std::vector<std::string> env = {}) {
    static const std::set<std::string> with_password = {
        "init",           "serve",  "issue",           "token",     "provision", "renew",
        "export-request", "verify", "subenroll-token", "subenroll", "approve"};
    args.insert(args.begin(), kBin);
    bool needs = with_password.count(args[2]) > 0;
    if (args[1] == "xrml") needs = false;
    return RunCommand(needs ? WithPassword(args) : args, env);
  }

  std::string EnrollmentToken(std::vector<std::string> env = {}) {
    return LastWord(Cmd({"enrollment", "token", "--dir", enr_}, env).out);
  }

  nlohmann::json Status(const std::string& cluster = "ROOT", std::vector<std::string> env = {}) {
    CommandResult r = Cmd({"slc", "status", "--dir", srv_, "--cluster", cluster, "--json"}, env);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  void StartNode(std::vector<std::string> env = {}) {
    node_ = std::make_unique<BackgroundProcess>(
        WithPassword({kBin, "serve", "--dir", srv_, "--listen",
                      "127.0.0.1:" + std::to_string(port_), "--monitor-interval", "0"}),
        env);
    ASSERT_FALSE(node_->WaitForLine("server: ").empty()) << node_->output();
  }

  void ProvisionLicensingOnly() {
    StartNode();
    const std::string token =
        LastWord(Cmd({"cluster", "subenroll-token", "--dir", srv_, "--cluster", "ROOT"}).out);
    CommandResult p = Cmd({"cluster", "provision", "--dir", srv_, "--name", "LIC", "--url",
                           "https://127.0.0.1:" + std::to_string(port_) + "/lic/_wmcs", "--trust",
                           enr_ + "/trust-anchor.xml", "--tls-ca", srv_ + "/tls-ca.pem",
                           "--licensing-only", "--root", root_url_, "--token", token});
    ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  }

  // Export, issue on the enrollment service, and return the chain file.
  std::string OfflineCertificate(const std::string& out_name) {
    const std::string req = tmp_.path() + "/" + out_name + "-request.xml";
    const std::string out = tmp_.path() + "/" + out_name + ".xml";
    EXPECT_EQ(Cmd({"slc", "export-request", "--dir", srv_, "--out", req}).exit_code, 0);
    CommandResult issued = Cmd({"enrollment", "issue", req, "--dir", enr_, "--out", out});
    EXPECT_EQ(issued.exit_code, 0) << issued.err;
    return out;
  }

  // An SLC made by hand with the enrollment service's key, for the
  // refusals no honest issuer would produce.
  std::string CraftedCertificate(const std::string& name, const std::string& guid, Time from,
                                 Time until, bool with_issue_right) {
    auto authority = enrollment::LoadAuthority(RealFileSystem(), enr_, kPassword);
    EXPECT_TRUE(authority.ok()) << authority.status().ToString();
    auto db = store::OpenSqlite(srv_ + "/openrms.db");
    cluster::ClusterStore store(**db);
    auto config = store.Find("ROOT");
    auto key = crypto::PublicKey::FromPkcs1Der(*crypto::Base64Decode(config->public_key));
    xrml::IssuingCertificate spec;
    spec.descriptor_type = xrml::kTypeServerLicensorCertificate;
    spec.certificate_id =
        "{7e57c0de-0000-4000-8000-" + std::to_string(100000000000 + rand_()) + "}";
    spec.issued = from;
    spec.validity = {from, until};
    spec.issuer = *authority->certificate().principal();
    spec.principal.object = {xrml::kObjectServer, "MS-GUID", guid, name, "URL", root_url_};
    spec.principal.public_key = *key;
    xrml::Element body = xrml::BuildIssuingCertificateBody(spec);
    if (!with_issue_right) {
      std::erase_if(body.children, [](const xrml::Element& e) { return e.name == "WORK"; });
    }
    auto slc = xrml::SignDocument(std::move(body), *authority->key);
    std::vector<xrml::Document> chain = {*slc};
    for (const auto& d : authority->chain) chain.push_back(d);
    const std::string path = tmp_.path() + "/crafted-" + std::to_string(++crafted_) + ".xml";
    EXPECT_TRUE(RealFileSystem().WriteFileAtomic(path, protocol::WriteEnrollResponse(chain)).ok());
    return path;
  }

  void ExpectImportRefused(const std::string& file, const std::string& message_part) {
    const std::string before = Status()["certificate_id"];
    CommandResult r = Cmd({"slc", "import", file, "--dir", srv_, "--cluster", "ROOT", "--yes"});
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_NE(r.err.find(message_part), std::string::npos)
        << "expected \"" << message_part << "\" in: " << r.err;
    EXPECT_EQ(Status()["certificate_id"], before) << "the active SLC changed";
  }

  TempDir tmp_;
  std::string pw_, enr_, srv_, enroll_url_, root_url_;
  int port_ = 0;
  int crafted_ = 0;
  std::mt19937_64 rand_{42};
  std::unique_ptr<BackgroundProcess> enrollment_, node_;
};

TEST_F(ClusterLifecycleTest, ProvisionedWithTwentyDaysRenewalIsDue) {
  nlohmann::json s = Status();
  EXPECT_EQ(s["state"], "renewal due");
  EXPECT_EQ(s["days_left"], 20);
  EXPECT_EQ(s["server_name"], "ROOT");
  EXPECT_EQ(s["issuer"], "OpenRMS Enrollment Service");
  ASSERT_TRUE(s.contains("guid"));
  EXPECT_EQ(s["pending_request"], nullptr);
  CommandResult text = Cmd({"slc", "status", "--dir", srv_});
  EXPECT_NE(text.out.find("state:        renewal due\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("warning:      renewal is due"), std::string::npos);
}

TEST_F(ClusterLifecycleTest, RefusedProvisioningLeavesNothingBehind) {
  const std::vector<std::string> provision = {"cluster",  "provision",
                                              "--dir",    srv_,
                                              "--name",   "SECOND",
                                              "--url",    "https://127.0.0.1:1/second",
                                              "--trust",  enr_ + "/trust-anchor.xml",
                                              "--tls-ca", enr_ + "/tls-ca.pem",
                                              "--enroll", enroll_url_,
                                              "--token"};
  std::vector<std::string> bad = provision;
  bad.push_back("not-a-token");
  CommandResult refused = Cmd(bad);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("the enrollment token is not one this service issued"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(Cmd({"cluster", "list", "--dir", srv_}).out.find("SECOND"), std::string::npos);
  // Cluster URLs that are not absolute https:// URLs with a host.
  for (const char* url : {"http://127.0.0.1:1/second", "127.0.0.1:1", "https://127.0.0.1:99999/",
                          "https://a b/", "https:///second"}) {
    std::vector<std::string> bad_url = provision;
    bad_url[7] = url;
    bad_url.push_back("not-a-token");
    CommandResult r = Cmd(bad_url);
    EXPECT_NE(r.exit_code, 0) << url;
    EXPECT_NE(r.err.find("the cluster URL"), std::string::npos) << url << ": " << r.err;
  }
  std::vector<std::string> good = provision;
  good.push_back(EnrollmentToken());
  CommandResult ok = Cmd(good);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(Status("SECOND")["state"], "valid");
}

TEST_F(ClusterLifecycleTest, OnlineRenewalKeepsGuidAndExtendsExpiry) {
  const nlohmann::json before = Status();
  CommandResult r = Cmd({"slc", "renew", "--online", "--dir", srv_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json after = Status();
  EXPECT_EQ(after["guid"], before["guid"]);
  EXPECT_NE(after["certificate_id"], before["certificate_id"]);
  EXPECT_EQ(after["state"], "valid");
  EXPECT_EQ(after["days_left"], 365);
  EXPECT_GT(after["expires"].get<std::string>(), before["expires"].get<std::string>());
  EXPECT_EQ(Cmd({"cluster", "verify", "--dir", srv_}).exit_code, 0);
  CommandResult history = Cmd({"slc", "history", "--dir", srv_});
  EXPECT_NE(history.out.find("\tprovision\t"), std::string::npos);
  EXPECT_NE(history.out.find("\tonline\t"), std::string::npos);
}

TEST_F(ClusterLifecycleTest, OfflineRenewalExportIssueImport) {
  const nlohmann::json before = Status();
  // The request is named after the server by default and recorded as pending.
  CommandResult exported = RunCommand(WithPassword(
      {"/bin/sh", "-c",
       "cd " + tmp_.path() + " && exec " + kBin + " slc export-request --dir " + srv_ + " \"$@\"",
       "sh"}));
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const std::string req = tmp_.path() + "/ROOTRenewalRequest.xml";
  ASSERT_TRUE(RealFileSystem().Exists(req)) << exported.out;
  EXPECT_EQ(Status()["pending_request"]["file_name"], "ROOTRenewalRequest.xml");

  const std::string out = tmp_.path() + "/issued.xml";
  ASSERT_EQ(Cmd({"enrollment", "issue", req, "--dir", enr_, "--out", out}).exit_code, 0);
  // Without --yes and without a terminal, nothing is activated.
  CommandResult unconfirmed = Cmd({"slc", "import", out, "--dir", srv_});
  EXPECT_EQ(unconfirmed.exit_code, 1);
  EXPECT_NE(unconfirmed.out.find("not activated: nothing changed"), std::string::npos);
  EXPECT_EQ(Status()["certificate_id"], before["certificate_id"]);

  CommandResult imported = Cmd({"slc", "import", out, "--dir", srv_, "--yes"});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  const nlohmann::json after = Status();
  EXPECT_EQ(after["guid"], before["guid"]);
  EXPECT_EQ(after["days_left"], 365);
  EXPECT_EQ(after["pending_request"], nullptr);
  EXPECT_NE(imported.out.find("activated: the SLC of ROOT now expires " +
                              after["expires"].get<std::string>().substr(0, 10)),
            std::string::npos)
      << imported.out;
}

TEST_F(ClusterLifecycleTest, LicensingOnlyClusterRenewsWithItsRoot) {
  ASSERT_EQ(Cmd({"slc", "renew", "--online", "--dir", srv_, "--cluster", "ROOT"}).exit_code, 0);
  ProvisionLicensingOnly();
  nlohmann::json lic = Status("LIC");
  EXPECT_EQ(lic["issuer"], "ROOT");
  EXPECT_EQ(lic["kind"], "licensing-only");
  // Online, through the running root cluster (SubEnroll over HTTPS).
  CommandResult online = Cmd({"slc", "renew", "--online", "--dir", srv_, "--cluster", "LIC"});
  ASSERT_EQ(online.exit_code, 0) << online.err;
  nlohmann::json renewed = Status("LIC");
  EXPECT_EQ(renewed["guid"], lic["guid"]);
  EXPECT_NE(renewed["certificate_id"], lic["certificate_id"]);
  // Offline: the root cluster answers the request file.
  const std::string req = tmp_.path() + "/lic-request.xml";
  const std::string out = tmp_.path() + "/lic-slc.xml";
  ASSERT_EQ(
      Cmd({"slc", "export-request", "--dir", srv_, "--cluster", "LIC", "--out", req}).exit_code, 0);
  CommandResult sub =
      Cmd({"cluster", "subenroll", req, "--dir", srv_, "--cluster", "ROOT", "--out", out});
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  ASSERT_EQ(Cmd({"slc", "import", out, "--dir", srv_, "--cluster", "LIC", "--yes"}).exit_code, 0);
  nlohmann::json offline = Status("LIC");
  EXPECT_NE(offline["certificate_id"], renewed["certificate_id"]);
  EXPECT_EQ(offline["issuer"], "ROOT");
  // The chain goes LIC's SLC -> ROOT's SLC -> enrollment chain -> trust anchor.
  CommandResult verify = Cmd({"xrml", "verify", out, "--trust", enr_ + "/trust-anchor.xml"});
  EXPECT_EQ(verify.out, "valid\n");
  // A root cluster will not take a licensing-only cluster's certificate.
  ExpectImportRefused(out, "the certificate was issued for another key");
}

// An issuer that accepts TCP connections and never answers: a renewal to
// it hangs until the client's timeout. Counts the connections it accepted.
using StalledIssuer = StalledServer;

TEST_F(ClusterLifecycleTest, OneRenewalAtATimeAndTheSecondAsksTheIssuerNothing) {
  StalledIssuer issuer;
  {
    auto db = store::OpenSqlite(srv_ + "/openrms.db");
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Execute("UPDATE clusters SET issuer_url = $1 WHERE name = 'ROOT'",
                              {"https://127.0.0.1:" + std::to_string(issuer.port())})
                    .ok());
  }
  BackgroundProcess first(
      WithPassword({kBin, "slc", "renew", "--online", "--dir", srv_, "--cluster", "ROOT"}));
  for (int i = 0; i < 200 && issuer.accepted() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(issuer.accepted(), 1) << "the first renewal never reached the issuer";
  // While the first hangs, every other renewal is refused at once.
  std::vector<std::thread> others;
  std::vector<CommandResult> results(5);
  for (size_t i = 0; i < results.size(); ++i) {
    others.emplace_back([&, i] {
      results[i] = Cmd({"slc", "renew", "--online", "--dir", srv_, "--cluster", "ROOT"});
    });
  }
  for (auto& t : others) t.join();
  for (const auto& r : results) {
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("a renewal of cluster ROOT is already in progress"), std::string::npos)
        << r.err;
  }
  EXPECT_EQ(issuer.accepted(), 1);
  // A renewal whose process died leaves a lease that runs out (2 minutes):
  // a day later the next renewal reaches the issuer again.
  first.Kill();
  BackgroundProcess later(
      WithPassword({kBin, "slc", "renew", "--online", "--dir", srv_, "--cluster", "ROOT"}),
      {FakeNow(1)});
  for (int i = 0; i < 200 && issuer.accepted() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(issuer.accepted(), 2);
  later.Kill();
}

TEST_F(ClusterLifecycleTest, MetricsCanBeKeptToATokenOrAddresses) {
  const std::string token_file = tmp_.path() + "/metrics-token";
  const std::string token = "0123456789abcdef0123456789abcdef";
  std::ofstream(token_file) << token << "\n";
  node_ = std::make_unique<BackgroundProcess>(
      WithPassword({kBin, "serve", "--dir", srv_, "--listen", "127.0.0.1:" + std::to_string(port_),
                    "--monitor-interval", "0", "--metrics-token-file", token_file,
                    "--metrics-allow", "127.0.0.2"}));
  ASSERT_FALSE(node_->WaitForLine("server: ").empty()) << node_->output();
  auto get = [&](const std::string& auth, const std::string& from) {
    http::ClientRequest r;
    r.url = "https://127.0.0.1:" + std::to_string(port_) + "/metrics";
    r.ca_pem = ReadAll(srv_ + "/tls-ca.pem");
    r.local_address = from;
    if (!auth.empty()) r.headers = {{"Authorization", auth}};
    auto resp = http::Fetch(r);
    EXPECT_TRUE(resp.ok()) << resp.status().ToString();
    return resp.ok() ? resp->status : -1;
  };
  EXPECT_EQ(get("", "127.0.0.1"), 401);
  EXPECT_EQ(get("Bearer wrong", "127.0.0.1"), 401);
  EXPECT_EQ(get("Bearer " + token.substr(0, 31), "127.0.0.1"), 401);
  EXPECT_EQ(get("Bearer " + token, "127.0.0.1"), 200);
  EXPECT_EQ(get("", "127.0.0.2"), 200);
  // A token too short to be a secret is refused at start.
  std::ofstream(token_file) << "short\n";
  CommandResult r = RunCommand(WithPassword({kBin, "serve", "--dir", srv_, "--listen",
                                             "127.0.0.1:0", "--metrics-token-file", token_file}));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("is shorter than 16 characters"), std::string::npos) << r.err;
}

TEST_F(ClusterLifecycleTest, ImportRefusesWrongCertificatesAndKeepsTheActiveOne) {
  ASSERT_EQ(Cmd({"slc", "renew", "--online", "--dir", srv_}).exit_code, 0);
  const nlohmann::json active = Status();
  const std::string guid = active["guid"];
  const Time now = SystemClock().Now();

  // Another key: a certificate issued to another cluster.
  const std::string other_srv = tmp_.path() + "/other";
  ASSERT_EQ(Cmd({"cluster", "provision", "--dir", other_srv, "--name", "OTHER", "--url",
                 "https://127.0.0.1:1/other", "--trust", enr_ + "/trust-anchor.xml", "--tls-ca",
                 enr_ + "/tls-ca.pem", "--enroll", enroll_url_, "--token", EnrollmentToken()})
                .exit_code,
            0);
  const std::string other_req = tmp_.path() + "/other-req.xml";
  const std::string other_slc = tmp_.path() + "/other-slc.xml";
  ASSERT_EQ(Cmd({"slc", "export-request", "--dir", other_srv, "--out", other_req}).exit_code, 0);
  ASSERT_EQ(Cmd({"enrollment", "issue", other_req, "--dir", enr_, "--out", other_slc}).exit_code,
            0);
  ExpectImportRefused(other_slc, "the certificate was issued for another key: it certifies OTHER");

  // Another GUID, or another server name, for this very key.
  ExpectImportRefused(CraftedCertificate("ROOT", "{00000000-0000-4000-8000-000000000000}", now,
                                         now + Days(400), true),
                      "the certificate was issued for server ROOT "
                      "{00000000-0000-4000-8000-000000000000}; this cluster is ROOT " +
                          guid);
  ExpectImportRefused(CraftedCertificate("EVIL", guid, now, now + Days(400), true),
                      "the certificate was issued for server EVIL");

  // An untrusted chain: a second enrollment service.
  const std::string enr2 = tmp_.path() + "/enrollment2";
  ASSERT_EQ(Cmd({"enrollment", "init", "--dir", enr2}).exit_code, 0);
  const std::string req = tmp_.path() + "/req.xml";
  ASSERT_EQ(Cmd({"slc", "export-request", "--dir", srv_, "--out", req}).exit_code, 0);
  const std::string foreign = tmp_.path() + "/foreign.xml";
  const std::string token2 = LastWord(Cmd({"enrollment", "token", "--dir", enr2}).out);
  ASSERT_EQ(Cmd({"enrollment", "issue", req, "--dir", enr2, "--out", foreign, "--token", token2})
                .exit_code,
            0);
  ExpectImportRefused(foreign,
                      "the certificate chain is not trusted: the chain does not end at "
                      "the trusted root");

  // A broken chain: one character changed in the enrollment service
  // certificate (its ISSUER names the enrollment CA).
  std::string genuine = ReadAll(OfflineCertificate("genuine"));
  const size_t at = genuine.find("Enrollment CA&lt;/NAME&gt;");
  ASSERT_NE(at, std::string::npos);
  genuine.replace(at, 10, "Enro11ment");
  const std::string broken = tmp_.path() + "/broken.xml";
  ASSERT_TRUE(RealFileSystem().WriteFileAtomic(broken, genuine).ok());
  ExpectImportRefused(broken,
                      "the certificate chain is not trusted: certificate 2 of 4 "
                      "(Enrollment-Service-Certificate): the BODY does not match its "
                      "digest");

  // A validity that ends before the current one.
  ExpectImportRefused(CraftedCertificate("ROOT", guid, now, now + Days(100), true),
                      "before the active one's");
  // An expired certificate.
  ExpectImportRefused(CraftedCertificate("ROOT", guid, now - Days(30), now - Days(1), true),
                      "the certificate expired on " + FormatHuman(now - Days(1)).substr(0, 10));
  // A certificate whose validity has not started.
  ExpectImportRefused(
      CraftedCertificate("ROOT", guid, now + Days(2), now + Days(500), true),
      "the certificate is not valid before " + FormatHuman(now + Days(2)).substr(0, 10));
  // A certificate without the right to issue.
  ExpectImportRefused(CraftedCertificate("ROOT", guid, now, now + Days(400), false),
                      "the certificate does not grant the right to issue");
  // A file that is not a certificate chain: the request itself, and junk.
  ExpectImportRefused(req, "the file is not a certificate chain");
  const std::string junk = tmp_.path() + "/junk.txt";
  ASSERT_TRUE(RealFileSystem().WriteFileAtomic(junk, "hello").ok());
  ExpectImportRefused(junk, "the file is not a certificate chain: not well-formed XML");
  // The rightful one still imports.
  EXPECT_EQ(
      Cmd({"slc", "import", OfflineCertificate("rightful"), "--dir", srv_, "--yes"}).exit_code, 0);
}

TEST_F(ClusterLifecycleTest, ExpiryEventsMetricsAndRenewalAfterExpiry) {
  // The 20-day SLC: renewal due now, expiring from day 13, expired at day 20.
  auto events = [&](std::vector<std::string> env = {}) {
    return Cmd({"cluster", "events", "--dir", srv_}, env).out;
  };
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
  };
  ASSERT_EQ(Cmd({"cluster", "check", "--dir", srv_}).exit_code, 0);
  ASSERT_EQ(Cmd({"cluster", "check", "--dir", srv_}).exit_code, 0);
  std::string e = events();
  EXPECT_EQ(count(e, "\twarning\trenewal-due\t"), 1u) << e;
  EXPECT_EQ(count(e, "\twarning\texpiring\t"), 0u) << e;

  ASSERT_EQ(Cmd({"cluster", "check", "--dir", srv_}, {FakeNow(14)}).exit_code, 0);
  e = events();
  EXPECT_EQ(count(e, "\twarning\texpiring\t"), 1u) << e;
  EXPECT_EQ(count(e, "\terror\texpired\t"), 0u) << e;

  ASSERT_EQ(Cmd({"cluster", "check", "--dir", srv_}, {FakeNow(21)}).exit_code, 0);
  ASSERT_EQ(Cmd({"cluster", "check", "--dir", srv_}, {FakeNow(22)}).exit_code, 0);
  e = events();
  EXPECT_EQ(count(e, "\terror\texpired\t"), 1u) << e;
  EXPECT_NE(e.find("The cluster no longer issues certificates or licenses"), std::string::npos);
  EXPECT_EQ(Status("ROOT", {FakeNow(21)})["state"], "expired");

  // Metrics of a node living 21 days from now.
  StartNode({FakeNow(21)});
  http::ClientRequest get;
  get.url = "https://127.0.0.1:" + std::to_string(port_) + "/metrics";
  get.ca_pem = ReadAll(srv_ + "/tls-ca.pem");
  auto metrics = http::Fetch(get);
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  EXPECT_NE(metrics->body.find("openrms_slc_state{cluster=\"ROOT\",state=\"expired\"} 1"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("openrms_slc_seconds_left{cluster=\"ROOT\"} -"), std::string::npos);
  EXPECT_NE(metrics->body.find("openrms_slc_expiry_timestamp_seconds{cluster=\"ROOT\"} "),
            std::string::npos);
  // Health checks: GET and HEAD only.
  get.url = "https://127.0.0.1:" + std::to_string(port_) + "/healthz";
  for (const char* method : {"GET", "HEAD", "POST", "DELETE"}) {
    get.method = method;
    auto health = http::Fetch(get);
    ASSERT_TRUE(health.ok()) << method << ": " << health.status().ToString();
    const bool allowed = get.method == "GET" || get.method == "HEAD";
    EXPECT_EQ(health->status, allowed ? 200 : 405) << method;
    EXPECT_EQ(health->body, get.method == "GET" ? "ok\n"
                            : allowed           ? ""
                                                : "use GET or HEAD\n")
        << method;
  }
  node_.reset();

  // Expired: the cluster issues nothing, and says why.
  const std::string some_req = tmp_.path() + "/some-request.xml";
  ASSERT_EQ(Cmd({"slc", "export-request", "--dir", srv_, "--out", some_req}).exit_code, 0);
  CommandResult refused = Cmd({"cluster", "subenroll", some_req, "--dir", srv_, "--cluster", "ROOT",
                               "--out", tmp_.path() + "/nothing.xml", "--approve"},
                              {FakeNow(21)});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("cannot issue certificates: its own certificate expired on"),
            std::string::npos)
      << refused.err;

  // A failed online renewal is an event and a metric; the enrollment service
  // (at its own, real, time) still sees a valid SLC, so let it be unreachable.
  enrollment_->Stop();
  CommandResult failed = Cmd({"slc", "renew", "--online", "--dir", srv_});
  EXPECT_NE(failed.exit_code, 0);
  EXPECT_NE(failed.err.find("cannot connect"), std::string::npos) << failed.err;
  EXPECT_EQ(count(events(), "\terror\trenewal-failed\t"), 1u);
  EXPECT_EQ(Status()["last_renewal"]["ok"], false);

  // Renewal after expiry: the issuer wants a token again (offline here,
  // every party 21 days from now).
  const std::string req = tmp_.path() + "/late.xml";
  const std::string out = tmp_.path() + "/late-slc.xml";
  ASSERT_EQ(Cmd({"slc", "export-request", "--dir", srv_, "--out", req}, {FakeNow(21)}).exit_code,
            0);
  CommandResult no_token =
      Cmd({"enrollment", "issue", req, "--dir", enr_, "--out", out}, {FakeNow(21)});
  EXPECT_NE(no_token.err.find("expired on"), std::string::npos) << no_token.err;
  ASSERT_EQ(Cmd({"enrollment", "issue", req, "--dir", enr_, "--out", out, "--token",
                 EnrollmentToken({FakeNow(21)})},
                {FakeNow(21)})
                .exit_code,
            0);
  ASSERT_EQ(Cmd({"slc", "import", out, "--dir", srv_, "--yes"}, {FakeNow(21)}).exit_code, 0);
  EXPECT_EQ(Status("ROOT", {FakeNow(21)})["state"], "valid");
  EXPECT_GE(count(events(), "\tinfo\trenewed\t"), 2u);
}

TEST_F(ClusterLifecycleTest, PendingRequestTooLongIsAnEvent) {
  ASSERT_EQ(
      Cmd({"slc", "export-request", "--dir", srv_, "--out", tmp_.path() + "/r.xml"}).exit_code, 0);
  ASSERT_EQ(Cmd({"cluster", "check", "--dir", srv_}, {FakeNow(8)}).exit_code, 0);
  const std::string e = Cmd({"cluster", "events", "--dir", srv_}).out;
  EXPECT_NE(
      e.find("\twarning\trenewal-pending-too-long\tThe renewal request ROOTRenewalRequest.xml"),
      std::string::npos)
      << e;
}

TEST_F(ClusterLifecycleTest, AutomaticRenewalAtTwoThirdsOfTheLifetime) {
  ASSERT_EQ(Cmd({"cluster", "auto-renew", "on", "--dir", srv_}).exit_code, 0);
  const std::string before = Status()["certificate_id"];
  // Day 10 of 20: not yet (the issuer's window is days 13.3 to 16.7).
  ASSERT_EQ(
      Cmd({"cluster", "check", "--renew", "--dir", srv_, "--password-file", pw_}, {FakeNow(10)})
          .exit_code,
      0);
  EXPECT_EQ(Status()["certificate_id"], before);
  EXPECT_EQ(Status()["renewal_window"]["source"], "issuer");
  // Day 17, after the window: renewed online. (The enrollment service runs
  // at real time, for which the SLC is still valid.)
  CommandResult due =
      Cmd({"cluster", "check", "--renew", "--dir", srv_, "--password-file", pw_}, {FakeNow(17)});
  ASSERT_EQ(due.exit_code, 0) << due.err;
  EXPECT_NE(Status()["certificate_id"], before);
  EXPECT_EQ(Status()["last_renewal"]["ok"], true);
}

// Kill the program at every crash point of an import and of an online
// renewal: it restarts with the old or the new SLC, and the key intact.
TEST_F(ClusterLifecycleTest, CrashAtAnyPointLeavesOldOrNewSlcAndTheKey) {
  for (const std::string mode : {"import", "online"}) {
    const std::string old_id = Status()["certificate_id"];
    const std::string file = mode == "import" ? OfflineCertificate("crash") : "";
    std::string new_id;
    int crashes = 0;
    for (int point = 1; point < 50; ++point) {
      std::vector<std::string> args =
          mode == "import" ? std::vector<std::string>{"slc", "import", file, "--dir", srv_, "--yes"}
                           : std::vector<std::string>{"slc", "renew", "--online", "--dir", srv_};
      CommandResult r = Cmd(args, {"OPENRMS_CRASH_AT=" + std::to_string(point)});
      const std::string now_id = Status()["certificate_id"];
      CommandResult key = Cmd({"cluster", "verify", "--dir", srv_});
      EXPECT_EQ(key.exit_code, 0) << mode << " point " << point << ": " << key.err;
      if (r.exit_code == 137) {
        ++crashes;
        // The dead renewal's lease would run out in minutes; do not wait.
        auto db = store::OpenSqlite(srv_ + "/openrms.db");
        ASSERT_TRUE((*db)->Execute("DELETE FROM cluster_renewal_leases").ok());
        if (now_id != old_id) {
          // Died after the commit: the new SLC is active. Done with this mode.
          new_id = now_id;
          break;
        }
        continue;
      }
      ASSERT_EQ(r.exit_code, 0) << mode << " point " << point << ": " << r.err;
      new_id = now_id;
      break;
    }
    EXPECT_GE(crashes, 4) << mode;
    EXPECT_NE(new_id, old_id) << mode;
  }
  // And real kills at random instants of an online renewal.
  std::mt19937 rng(7);
  for (int i = 0; i < 8; ++i) {
    BackgroundProcess p(WithPassword({kBin, "slc", "renew", "--online", "--dir", srv_}));
    usleep(std::uniform_int_distribution<int>(0, 400000)(rng));
    p.Kill();
    const std::string after = Status()["certificate_id"];
    EXPECT_FALSE(after.empty()) << "no SLC active after a kill";
    CommandResult key = Cmd({"cluster", "verify", "--dir", srv_});
    EXPECT_EQ(key.exit_code, 0) << "kill " << i << ": " << key.err;
  }
}

// The issuer's renewal window (RFC 9773 style): the endpoint, the
// operator's command, and a cluster that renews within one monitor period
// once its window is moved into the past.
TEST_F(ClusterLifecycleTest, OperatorMovesTheWindowIntoThePastAndTheClusterRenewsAtOnce) {
  // The enrollment service again, telling clusters to ask every second.
  std::string listen = enroll_url_.substr(std::string("https://").size());
  while (!listen.empty() && listen.back() == '/') listen.pop_back();
  enrollment_->Stop();
  enrollment_ = std::make_unique<BackgroundProcess>(
      WithPassword({kBin, "enrollment", "serve", "--dir", enr_, "--listen", listen,
                    "--renewal-info-retry-after", "1"}));
  ASSERT_FALSE(enrollment_->WaitForLine("enrollment-site: ").empty()) << enrollment_->output();

  const nlohmann::json before = Status();
  const std::string id = before["certificate_id"];
  const Time from = *ParseTime(before["issued"].get<std::string>());
  const std::string ca = ReadAll(enr_ + "/tls-ca.pem");
  auto get = [&](const std::string& path, const std::string& method = "GET") {
    http::ClientRequest r;
    r.method = method;
    r.url = "https://" + listen + path;
    r.ca_pem = ca;
    auto resp = http::Fetch(r);
    EXPECT_TRUE(resp.ok()) << resp.status().ToString();
    return resp.ok() ? *resp : http::ClientResponse{};
  };
  // The endpoint: the default window (2/3 to 5/6 of the 20 days), then its errors.
  http::ClientResponse info = get("/renewal-info/" + http::PercentEncode(id));
  EXPECT_EQ(info.status, 200);
  EXPECT_EQ(info.Header("retry-after"), "1");
  EXPECT_EQ(info.Header("content-type").value_or("").rfind("application/json", 0), 0u);
  EXPECT_EQ(info.body, R"({"suggested_window":{"end":")" +
                           FormatIso8601(from + std::chrono::hours(16 * 24 + 16)) +
                           R"(","start":")" +
                           FormatIso8601(from + std::chrono::hours(13 * 24 + 8)) + R"("}})");
  // Without braces, in upper case: the same certificate.
  std::string bare = id.substr(1, 36);
  for (char& c : bare) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(get("/renewal-info/" + bare).body, info.body);
  http::ClientResponse unknown = get("/renewal-info/%7B00000000-0000-4000-8000-000000000000%7D");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, R"({"error":"not_found","message":"this service issued no certificate )"
                          R"({00000000-0000-4000-8000-000000000000}"})");
  http::ClientResponse malformed = get("/renewal-info/not-a-certificate");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(malformed.body,
            R"({"error":"malformed","message":"\"not-a-certificate\" is not a certificate ID: )"
            R"(give the SLC's ID, a GUID such as {01234567-89ab-4cde-8f01-23456789abcd}"})");
  EXPECT_EQ(get("/renewal-info/", "GET").status, 400);
  EXPECT_EQ(get("/renewal-info/" + http::PercentEncode(id), "POST").status, 405);

  // The operator's command refuses what makes no sense, and changes nothing.
  auto window = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"enrollment", "renewal-window", "--dir", enr_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(WithPassword([&] {
      argv.insert(argv.begin(), kBin);
      return argv;
    }()));
  };
  const Time now = SystemClock().Now();
  const std::string past_start = FormatIso8601(now - std::chrono::hours(2));
  const std::string past_end = FormatIso8601(now - std::chrono::hours(1));
  CommandResult r = window({"--certificate", id, "--start", past_end, "--end", past_start});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "error: the renewal window must start before it ends (start " + past_end +
                       ", end " + past_start + ")\n");
  r = window({"--certificate", id, "--start", "yesterday", "--end", past_end});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "error: --start takes a UTC time like 2026-05-01T00:00 (or with :SS and Z), not "
            "\"yesterday\"\n");
  r = window({"--start", past_start, "--end", past_end});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "error: give --certificate ID or --all\n");
  r = window({"--certificate", "{00000000-0000-4000-8000-000000000000}", "--start", past_start,
              "--end", past_end});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "error: this service issued no certificate {00000000-0000-4000-8000-000000000000}\n");
  r = window({"--certificate", id, "--start", past_start, "--end", FormatIso8601(from + Days(21)),
              "--explanation-url", "https://x.test/"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("the renewal window must end by the certificate's expiry"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(get("/renewal-info/" + http::PercentEncode(id)).body, info.body);

  // A node with automatic renewal and a 2-second monitor: it takes the
  // issuer's window and picks its moment inside it.
  constexpr int kMonitorSeconds = 2;
  ASSERT_EQ(Cmd({"cluster", "auto-renew", "on", "--dir", srv_}).exit_code, 0);
  const std::string admin_pw = tmp_.path() + "/admin-password";
  std::ofstream(admin_pw) << "admin web password\n";
  ASSERT_EQ(RunCommand({kBin, "user", "add", "ada", "--dir", srv_, "--group", "Administrators",
                        "--password-file", admin_pw})
                .exit_code,
            0);
  node_ = std::make_unique<BackgroundProcess>(
      WithPassword({kBin, "serve", "--dir", srv_, "--listen", "127.0.0.1:" + std::to_string(port_),
                    "--monitor-interval", std::to_string(kMonitorSeconds)}));
  ASSERT_FALSE(node_->WaitForLine("server: ").empty()) << node_->output();
  nlohmann::json planned;
  for (int i = 0; i < 100; ++i) {
    planned = Status()["renewal_window"];
    if (planned["source"] == "issuer" && planned["renew_at"].is_string()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(planned["source"], "issuer") << planned;
  EXPECT_EQ(planned["start"], FormatIso8601(from + std::chrono::hours(13 * 24 + 8)));
  EXPECT_EQ(planned["end"], FormatIso8601(from + std::chrono::hours(16 * 24 + 16)));
  EXPECT_GE(planned["renew_at"].get<std::string>(), planned["start"].get<std::string>());
  EXPECT_LT(planned["renew_at"].get<std::string>(), planned["end"].get<std::string>());
  EXPECT_EQ(planned["fetch_error"], nullptr);
  EXPECT_EQ(Status()["certificate_id"], id) << "renewed before its window";

  // The administration site shows where the window came from.
  const std::string admin = "https://127.0.0.1:" + std::to_string(port_) + "/admin";
  const std::string node_ca = ReadAll(srv_ + "/tls-ca.pem");
  auto logon = WebLogOn(admin, node_ca, "ada", "admin web password");
  ASSERT_TRUE(logon.ok()) << logon.status().ToString();
  http::ClientRequest page;
  page.url = admin + "/clusters/ROOT";
  page.ca_pem = node_ca;
  page.headers = {{"Cookie", CookiePair(*logon)}};
  auto html = http::Fetch(page);
  ASSERT_TRUE(html.ok()) << html.status().ToString();
  EXPECT_NE(html->body.find(R"(<td id="renewal-window-source">issuer</td>)"), std::string::npos)
      << html->body;

  // After an incident: renew now.
  const auto moved_at = std::chrono::steady_clock::now();
  r = window({"--certificate", id, "--start", past_start, "--end", past_end, "--explanation-url",
              "https://status.example.test/incident-7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), "the renewal window of " + id + " is now " +
                                                   FormatHuman(*ParseTime(past_start)) + " - " +
                                                   FormatHuman(*ParseTime(past_end)));
  std::string renewed_id = id;
  double seconds = 0;
  while (renewed_id == id && seconds < 30) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    renewed_id = Status()["certificate_id"];
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - moved_at).count();
  }
  ASSERT_NE(renewed_id, id) << "not renewed after 30 s";
  // One monitor period, plus the time the renewal itself and our polling take.
  EXPECT_LE(seconds, kMonitorSeconds + 3.0) << "renewed only after " << seconds << " s";
  std::cout << "renewed " << seconds << " s after the window moved (monitor: " << kMonitorSeconds
            << " s)\n";
  const nlohmann::json events = nlohmann::json::parse(
      Cmd({"cluster", "events", "--dir", srv_, "--json"}).out, nullptr, false);
  bool told = false;
  for (const auto& e : events) {
    if (e["kind"] == "renewal-window-moved") {
      told = true;
      EXPECT_EQ(e["level"], "warning");
      EXPECT_NE(e["message"].get<std::string>().find("see https://status.example.test/incident-7"),
                std::string::npos)
          << e;
    }
  }
  EXPECT_TRUE(told) << events;
  // The new certificate has a fresh default window from the issuer.
  nlohmann::json after;
  for (int i = 0; i < 50; ++i) {
    after = Status()["renewal_window"];
    if (after["source"] == "issuer") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(after["source"], "issuer");
  EXPECT_GT(after["start"].get<std::string>(), FormatIso8601(now + Days(200)));
}

// Without its issuer, a cluster keeps the local rule (two thirds, give or
// take 1%) and says why.
TEST_F(ClusterLifecycleTest, WithoutTheIssuerTheLocalRuleApplies) {
  enrollment_->Stop();
  const nlohmann::json before = Status();
  CommandResult r = Cmd({"cluster", "check", "--dir", srv_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json check = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_EQ(check.size(), 1u) << r.out;
  const nlohmann::json& w = check[0]["renewal_window"];
  const Time from = *ParseTime(before["issued"].get<std::string>());
  const long life = 20L * 86400;
  EXPECT_EQ(w["source"], "local rule");
  EXPECT_EQ(w["start"], FormatIso8601(from + Duration(life * 2 / 3 - life / 100)));
  EXPECT_EQ(w["end"], FormatIso8601(from + Duration(life * 2 / 3 + life / 100)));
  EXPECT_NE(w["fetch_error"].get<std::string>().find("cannot connect"), std::string::npos) << w;
  EXPECT_EQ(Status()["renewal_window"], w);
  CommandResult text = Cmd({"slc", "status", "--dir", srv_});
  EXPECT_NE(text.out.find("(local rule), automatic renewal at "), std::string::npos) << text.out;
}

}  // namespace
}  // namespace openrms::testing
