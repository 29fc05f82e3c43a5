// Runs `openrms enrollment serve` for real and enrolls over HTTPS, online
// and through the upload page, with requests made by OpenRMS's own code.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "base/file_system.h"
#include "crypto/keys.h"
#include "http/client.h"
#include "protocol/enrollment_messages.h"
#include "support/process.h"
#include "support/web_logon.h"
#include "xrml/chain.h"

namespace openrms::testing {
namespace {

const std::string kBin = OPENRMS_BINARY;
const std::string kGuid = "{0f1e2d3c-4b5a-4697-8879-6a5b4c3d2e1f}";

class EnrollmentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path() + "/service";
    password_file_ = tmp_.path() + "/password";
    std::ofstream(password_file_) << "integration test password\n";
    CommandResult init = RunCommand(Cmd({"enrollment", "init", "--dir", dir_}));
    ASSERT_EQ(init.exit_code, 0) << init.out << init.err;
    server_ = std::make_unique<BackgroundProcess>(
        Cmd({"enrollment", "serve", "--dir", dir_, "--listen", "127.0.0.1:0"}));
    site_ = server_->WaitForLine("enrollment-site: ");
    ASSERT_FALSE(site_.empty()) << "the service did not start: " << server_->output();
    ASSERT_EQ(site_.back(), '/');
    site_.pop_back();
    ca_ = ReadAll(dir_ + "/tls-ca.pem");
    auto anchor = xrml::ParseDocument(ReadAll(dir_ + "/trust-anchor.xml"));
    ASSERT_TRUE(anchor.ok());
    anchor_ = *xrml::TrustAnchorKey(*anchor);
    auto key = crypto::GenerateSealedRsaKey(2048, "cluster");
    ASSERT_TRUE(key.ok());
    key_ = std::move(key->key);
  }

  std::vector<std::string> Cmd(std::vector<std::string> args) {
    args.insert(args.begin(), kBin);
    if (args[1] == "enrollment") {
      args.push_back("--password-file");
      args.push_back(password_file_);
    }
    return args;
  }

  std::string NewToken() {
    CommandResult r = RunCommand(Cmd({"enrollment", "token", "--dir", dir_}));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out.substr(out.rfind(' ') + 1);
  }

  std::string Request(std::optional<std::string> token, std::optional<int> days = std::nullopt) {
    protocol::EnrollParameters p;
    p.public_key = key_->public_key();
    p.guid = kGuid;
    p.sku = "OpenRMS";
    p.version = "0.1.0.0";
    p.name = "FABRIKAM-RMS";
    p.url = "https://rms.fabrikam.test/_wmcs";
    p.token = std::move(token);
    p.requested_validity_days = days;
    return *protocol::WriteEnrollRequest(p, *key_);
  }

  Result<http::ClientResponse> Post(const std::string& path, std::string body,
                                    std::string content_type) {
    http::ClientRequest req;
    req.method = "POST";
    req.url = site_ + path;
    req.body = std::move(body);
    req.headers = {{"Content-Type", std::move(content_type)}};
    req.ca_pem = ca_;
    return http::Fetch(req);
  }

  Result<http::ClientResponse> Get(const std::string& path) {
    http::ClientRequest req;
    req.url = site_ + path;
    req.ca_pem = ca_;
    return http::Fetch(req);
  }

  Result<http::ClientResponse> Upload(const std::string& request_text, const std::string& token) {
    const std::string b = "----openrms-test-boundary";
    std::string body =
        "--" + b +
        "\r\nContent-Disposition: form-data; name=\"request\"; "
        "filename=\"FABRIKAM-RMSRenewalRequest.xml\"\r\nContent-Type: text/xml\r\n\r\n" +
        request_text + "\r\n--" + b + "\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n" +
        token + "\r\n--" + b + "--\r\n";
    return Post("/submit", body, "multipart/form-data; boundary=" + b);
  }

  TempDir tmp_;
  std::string dir_, password_file_, site_, ca_;
  std::unique_ptr<BackgroundProcess> server_;
  std::optional<crypto::PublicKey> anchor_;
  std::unique_ptr<crypto::PrivateKey> key_;
};

TEST_F(EnrollmentServiceTest, OnlineEnrollmentThenRenewalThroughTheUploadPage) {
  // 1. Online first enrollment with a token, over HTTPS (SOAP).
  auto online = Post("/EnrollmentService.asmx", Request(NewToken(), 20), "text/xml; charset=utf-8");
  ASSERT_TRUE(online.ok()) << online.status().ToString();
  ASSERT_EQ(online->status, 200) << online->body;
  auto chain = protocol::ParseEnrollResponse(online->body);
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  ASSERT_EQ(chain->size(), 4u);
  EXPECT_TRUE(xrml::VerifyChain(*chain, {anchor_, DefaultClock().Now()}).ok());
  const xrml::Document& first = chain->front();
  EXPECT_EQ(first.principal()->object.id, kGuid);
  const Time first_until = *first.validity->until;
  EXPECT_EQ(first_until - *first.validity->from, Days(20));

  // 2. Renewal through the web site: upload the request file, no token.
  auto page = Get("/");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<input type=\"file\" id=\"request\" name=\"request\""),
            std::string::npos);
  auto uploaded = Upload(Request(std::nullopt), "");
  ASSERT_TRUE(uploaded.ok()) << uploaded.status().ToString();
  ASSERT_EQ(uploaded->status, 200) << uploaded->body;
  EXPECT_NE(uploaded->body.find("Server licensor certificate renewed"), std::string::npos);
  const std::string marker = "href=\"/certificates/";
  const size_t at = uploaded->body.find(marker);
  ASSERT_NE(at, std::string::npos) << uploaded->body;
  const std::string link = uploaded->body.substr(at + 6, uploaded->body.find('"', at + 6) - at - 6);

  // 3. Download the certificate file.
  auto file = Get(link);
  ASSERT_TRUE(file.ok());
  ASSERT_EQ(file->status, 200);
  EXPECT_EQ(file->Header("content-disposition"),
            "attachment; filename=\"FABRIKAM-RMSServerLicensorCertificate.xml\"");
  auto renewed = protocol::ParseEnrollResponse(file->body);
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  EXPECT_TRUE(xrml::VerifyChain(*renewed, {anchor_, DefaultClock().Now()}).ok());
  const xrml::Document& slc = renewed->front();
  EXPECT_EQ(slc.principal()->object.id, kGuid);
  EXPECT_TRUE(*slc.principal()->public_key == key_->public_key());
  EXPECT_GT(*slc.validity->until, first_until + Days(300));

  // 4. The downloaded file verifies with the command line too.
  const std::string path = tmp_.path() + "/slc.xml";
  ASSERT_TRUE(RealFileSystem().WriteFileAtomic(path, file->body).ok());
  CommandResult verify =
      RunCommand({kBin, "xrml", "verify", path, "--trust", dir_ + "/trust-anchor.xml"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_EQ(verify.out, "valid\n");

  // 5. The record lists both.
  CommandResult list = RunCommand(Cmd({"enrollment", "list", "--dir", dir_}));
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("\trenewal\tFABRIKAM-RMS\t" + kGuid), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("\tenrollment\tFABRIKAM-RMS\t" + kGuid), std::string::npos) << list.out;
}

TEST_F(EnrollmentServiceTest, UploadPageExplainsRefusals) {
  std::string altered = Request(NewToken());
  altered.replace(altered.find("FABRIKAM-RMS"), 12, "FABRIKAM-XYZ");
  auto r = Upload(altered, "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("The request was refused"), std::string::npos);
  EXPECT_NE(r->body.find("the file was changed after the cluster made it"), std::string::npos)
      << r->body;

  auto junk = Upload("this is not XML", "");
  ASSERT_TRUE(junk.ok());
  EXPECT_EQ(junk->status, 400);
  EXPECT_NE(junk->body.find("not well-formed XML"), std::string::npos) << junk->body;

  // The token typed on the page works once; the second use is refused.
  const std::string token = NewToken();
  auto ok = Upload(Request(std::nullopt), token);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200) << ok->body;
  key_ = std::move(crypto::GenerateSealedRsaKey(2048, "x")->key);  // another cluster
  protocol::EnrollParameters p;
  p.public_key = key_->public_key();
  p.guid = "{00000000-1111-4222-8333-444444444444}";
  p.sku = "OpenRMS";
  p.version = "0.1.0.0";
  p.name = "OTHER-RMS";
  p.url = "https://other.test/_wmcs";
  auto again = Upload(*protocol::WriteEnrollRequest(p, *key_), token);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 400);
  EXPECT_NE(again->body.find("the enrollment token was already used on"), std::string::npos)
      << again->body;
}

TEST_F(EnrollmentServiceTest, OnlineRefusalsComeBackAsSoapFaults) {
  auto r = Post("/EnrollmentService.asmx", Request(std::nullopt), "text/xml");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 500);
  auto parsed = protocol::ParseEnrollResponse(r->body);
  EXPECT_EQ(parsed.status().code(), Code::kPermissionDenied);
  EXPECT_NE(parsed.status().message().find("first enrollment"), std::string::npos);
}

TEST_F(EnrollmentServiceTest, FirstEnrollmentWithoutTokenWaitsForApproval) {
  auto r = Upload(Request(std::nullopt), "");
  ASSERT_TRUE(r.ok());
  // The site redirects to the request's status page.
  ASSERT_EQ(r->status, 303) << r->body;
  const std::string location = *r->Header("location");
  auto waiting = Get(location);
  ASSERT_TRUE(waiting.ok());
  EXPECT_NE(waiting->body.find("Waiting for the operator"), std::string::npos);
  CommandResult pending = RunCommand(Cmd({"enrollment", "pending", "--dir", dir_}));
  ASSERT_EQ(pending.exit_code, 0);
  const std::string id = pending.out.substr(0, pending.out.find('\t'));

  // The operator approves it on the site.
  ASSERT_EQ(RunCommand(Cmd({"enrollment", "operator", "add", "olga", "--dir", dir_}),
                       {"OPENRMS_USER_PASSWORD=olga-operator-pw"})
                .exit_code,
            0);
  auto stranger = WebLogOn(site_ + "/operator", ca_, "olga", "wrong password");
  ASSERT_TRUE(stranger.ok());
  EXPECT_EQ(stranger->status, 401);
  auto logon = WebLogOn(site_ + "/operator", ca_, "olga", "olga-operator-pw");
  ASSERT_TRUE(logon.ok());
  ASSERT_EQ(logon->status, 303) << logon->body;
  http::ClientRequest home;
  home.url = site_ + "/operator/";
  home.ca_pem = ca_;
  home.headers = {{"Cookie", CookiePair(*logon)}};
  auto page = http::Fetch(home);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("FABRIKAM-RMS"), std::string::npos);
  http::ClientRequest approve = home;
  approve.method = "POST";
  approve.url = site_ + "/operator/approve";
  approve.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
  approve.body = "csrf=wrong&id=" + id;
  EXPECT_EQ(http::Fetch(approve)->status, 403);  // a forged form changes nothing
  approve.body = "csrf=" + HiddenField(page->body, "csrf") + "&id=" + id;
  auto approved = http::Fetch(approve);
  ASSERT_TRUE(approved.ok());
  EXPECT_NE(approved->body.find("was issued"), std::string::npos) << approved->body;
  auto issued = Get(location);
  ASSERT_TRUE(issued.ok());
  EXPECT_NE(issued->body.find("Server licensor certificate issued"), std::string::npos);
}

TEST_F(EnrollmentServiceTest, CommandLineIssue) {
  const std::string req = tmp_.path() + "/req.xml";
  const std::string out = tmp_.path() + "/chain.xml";
  ASSERT_TRUE(RealFileSystem().WriteFileAtomic(req, Request(std::nullopt)).ok());
  CommandResult refused =
      RunCommand(Cmd({"enrollment", "issue", req, "--dir", dir_, "--out", out}));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("first enrollment"), std::string::npos) << refused.err;
  EXPECT_FALSE(RealFileSystem().Exists(out));
  CommandResult issued = RunCommand(
      Cmd({"enrollment", "issue", req, "--dir", dir_, "--out", out, "--token", NewToken()}));
  EXPECT_EQ(issued.exit_code, 0) << issued.err;
  EXPECT_NE(issued.out.find("issued SLC for FABRIKAM-RMS " + kGuid), std::string::npos);
  CommandResult verify =
      RunCommand({kBin, "xrml", "verify", out, "--trust", dir_ + "/trust-anchor.xml"});
  EXPECT_EQ(verify.out, "valid\n");
}

TEST_F(EnrollmentServiceTest, HealthzAnswersGetAndHeadOnly) {
  auto get = Get("/healthz");
  ASSERT_TRUE(get.ok()) << get.status().ToString();
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "ok\n");
  http::ClientRequest head;
  head.method = "HEAD";
  head.url = site_ + "/healthz";
  head.ca_pem = ca_;
  auto headed = http::Fetch(head);
  ASSERT_TRUE(headed.ok()) << headed.status().ToString();
  EXPECT_EQ(headed->status, 200);
  EXPECT_EQ(headed->body, "");
  auto post = Post("/healthz", "x", "text/plain");
  ASSERT_TRUE(post.ok()) << post.status().ToString();
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->Header("Allow"), "GET, HEAD");
}

TEST_F(EnrollmentServiceTest, ClientRefusesAnUntrustedServer) {
  http::ClientRequest req;
  req.url = site_ + "/";
  auto other = RunCommand({kBin, "enrollment", "init", "--dir", tmp_.path() + "/other",
                           "--password-file", password_file_});
  ASSERT_EQ(other.exit_code, 0);
  req.ca_pem = ReadAll(tmp_.path() + "/other/tls-ca.pem");
  auto r = http::Fetch(req);
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace openrms::testing
