// Failed logons from one address must not keep the administrator out from
// another: the real `openrms serve`, its anonymous /oauth2/token endpoint
// and its administration site, with clients bound to 127.0.0.1 and
// 127.0.0.2 (all of 127/8 is loopback on Linux).
#include <gtest/gtest.h>

#include <fstream>
#include <memory>

#include "http/client.h"
#include "http/forms.h"
#include "support/process.h"
#include "support/web_logon.h"

namespace openrms::testing {
namespace {

const std::string kBin = OPENRMS_BINARY;
constexpr char kPassword[] = "admin-password-1";

// A node with one local administrator, "admin", serving on a free port.
class AdminNode {
 public:
  AdminNode() {
    srv_ = tmp_.path() + "/server";
    const std::string pw = tmp_.path() + "/key-password";
    std::ofstream(pw) << "logon test key password\n";
    CommandResult add =
        RunCommand({kBin, "user", "add", "admin", "--dir", srv_, "--group", "Administrators"},
                   {std::string("OPENRMS_USER_PASSWORD=") + kPassword});
    EXPECT_EQ(add.exit_code, 0) << add.err;
    node_ = std::make_unique<BackgroundProcess>(std::vector<std::string>{
        kBin, "serve", "--dir", srv_, "--listen", "127.0.0.1:0", "--password-file", pw});
    url_ = node_->WaitForLine("server: ");
    EXPECT_FALSE(url_.empty()) << node_->output();
    ca_ = ReadAll(srv_ + "/tls-ca.pem");
  }
  const std::string& srv() const { return srv_; }
  const std::string& url() const { return url_; }
  const std::string& ca() const { return ca_; }

 private:
  TempDir tmp_;
  std::string srv_, url_, ca_;
  std::unique_ptr<BackgroundProcess> node_;
};

TEST(LogonThrottleTest, GuessesFromOneAddressLeaveTheAdministratorInFromAnother) {
  AdminNode node;
  ASSERT_FALSE(node.url().empty());
  const std::string& srv = node.srv();
  const std::string& url = node.url();
  const std::string& ca = node.ca();

  auto token = [&](const std::string& user, const std::string& password, const std::string& from) {
    http::ClientRequest req;
    req.method = "POST";
    req.url = url + "/oauth2/token";
    req.ca_pem = ca;
    req.local_address = from;
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    req.body = "grant_type=password&username=" + http::PercentEncode(user) +
               "&password=" + http::PercentEncode(password);
    return http::Fetch(req);
  };

  // The attacker: five wrong passwords for admin from 127.0.0.1.
  for (int i = 0; i < 5; ++i) {
    auto r = token("admin", "guess " + std::to_string(i), "127.0.0.1");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("the user name or password is wrong"), std::string::npos) << r->body;
  }
  // 127.0.0.1 now waits, even with the right password, on both endpoints.
  auto held = token("admin", kPassword, "127.0.0.1");
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held->status, 400);
  EXPECT_NE(held->body.find("too many failed logons with this user name from 127.0.0.1: try again "
                            "after "),
            std::string::npos)
      << held->body;
  EXPECT_NE(held->body.find("Logons from other addresses are not affected."), std::string::npos);
  auto web_held = WebLogOn(url + "/admin", ca, "admin", kPassword, "127.0.0.1");
  ASSERT_TRUE(web_held.ok());
  EXPECT_EQ(web_held->status, 429);
  EXPECT_EQ(web_held->Header("set-cookie").value_or("").find("openrms_session="),
            std::string::npos);  // only the logon form's CSRF cookie
  EXPECT_NE(web_held->body.find("Logons from other addresses are not affected."),
            std::string::npos);

  // The administrator, from 127.0.0.2, logs on to the administration site
  // and gets a bearer token -- with the name in another case, too.
  auto web = WebLogOn(url + "/admin", ca, "admin", kPassword, "127.0.0.2");
  ASSERT_TRUE(web.ok()) << web.status().ToString();
  EXPECT_EQ(web->status, 303) << web->body;
  EXPECT_NE(web->Header("set-cookie").value_or("").find("openrms_session="), std::string::npos);
  auto bearer = token("ADMIN", kPassword, "127.0.0.2");
  ASSERT_TRUE(bearer.ok());
  EXPECT_EQ(bearer->status, 200) << bearer->body;
  EXPECT_NE(bearer->body.find("access_token"), std::string::npos);

  // "ADMIN" cannot be created beside "admin".
  CommandResult twin =
      RunCommand({kBin, "user", "add", "ADMIN", "--dir", srv, "--group", "Administrators"},
                 {"OPENRMS_USER_PASSWORD=another-password"});
  EXPECT_NE(twin.exit_code, 0);
  EXPECT_NE(twin.err.find("a user named \"admin\" already exists (user names are not "
                          "case-sensitive)"),
            std::string::npos)
      << twin.err;
}

// After logging on, the site goes only to a page of its own: never to
// another host, however the "next" field is dressed.
TEST(LogonThrottleTest, LogOnRedirectsOnlyWithinTheSite) {
  AdminNode node;
  ASSERT_FALSE(node.url().empty());
  const std::string& url = node.url();
  const std::string& ca = node.ca();
  auto location = [&](const std::string& next) {
    auto r = WebLogOn(url + "/admin", ca, "admin", kPassword, "127.0.0.3", next);
    EXPECT_TRUE(r.ok() && r->status == 303) << next;
    return r.ok() ? r->Header("location").value_or("") : "";
  };
  EXPECT_EQ(location("/admin/templates"), "/admin/templates");
  for (const std::string bad :
       {"https://evil.example/", "//evil.example/", "/admin//evil.example", "/admin/\\evil.example",
        "/\\evil.example", "/admin/\r\nX: y", "/other/"}) {
    EXPECT_EQ(location(bad), "/admin/") << bad;
  }
}

}  // namespace
}  // namespace openrms::testing
