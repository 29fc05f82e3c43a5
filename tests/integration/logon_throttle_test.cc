// Failed logons from one address must not keep the administrator out from
// another: the real `openrms serve`, its anonymous /oauth2/token endpoint
// and its administration site, with clients bound to 127.0.0.1 and
// 127.0.0.2 (all of 127/8 is loopback on Linux).
#include <gtest/gtest.h>

#include <fstream>

#include "http/client.h"
#include "http/forms.h"
#include "support/process.h"
#include "support/web_logon.h"

namespace openrms::testing {
namespace {

const std::string kBin = OPENRMS_BINARY;
constexpr char kPassword[] = "admin-password-1";

TEST(LogonThrottleTest, GuessesFromOneAddressLeaveTheAdministratorInFromAnother) {
  TempDir tmp;
  const std::string srv = tmp.path() + "/server";
  const std::string pw = tmp.path() + "/key-password";
  std::ofstream(pw) << "throttle test key password\n";
  CommandResult add =
      RunCommand({kBin, "user", "add", "admin", "--dir", srv, "--group", "Administrators"},
                 {std::string("OPENRMS_USER_PASSWORD=") + kPassword});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  BackgroundProcess node(
      {kBin, "serve", "--dir", srv, "--listen", "127.0.0.1:0", "--password-file", pw});
  const std::string url = node.WaitForLine("server: ");
  ASSERT_FALSE(url.empty()) << node.output();
  const std::string ca = ReadAll(srv + "/tls-ca.pem");

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
  TempDir tmp;
  const std::string srv = tmp.path() + "/server";
  const std::string pw = tmp.path() + "/key-password";
  std::ofstream(pw) << "redirect test key password\n";
  ASSERT_EQ(RunCommand({kBin, "user", "add", "admin", "--dir", srv, "--group", "Administrators"},
                       {std::string("OPENRMS_USER_PASSWORD=") + kPassword})
                .exit_code,
            0);
  BackgroundProcess node(
      {kBin, "serve", "--dir", srv, "--listen", "127.0.0.1:0", "--password-file", pw});
  const std::string url = node.WaitForLine("server: ");
  ASSERT_FALSE(url.empty()) << node.output();
  const std::string ca = ReadAll(srv + "/tls-ca.pem");
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
