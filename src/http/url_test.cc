#include "http/url.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>

namespace openrms::http {
namespace {

using testing::HasSubstr;

TEST(ParseHttpUrl, TakesAnHttpsUrlApart) {
  auto u = ParseHttpUrl("https://rms.example.org:8443/root/_wmcs/?a=1&b=%20#frag");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_TRUE(u->https);
  EXPECT_EQ(u->host, "rms.example.org");
  EXPECT_FALSE(u->is_ip);
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->path, "/root/_wmcs/");
  EXPECT_TRUE(u->has_query);
  EXPECT_EQ(u->query, "a=1&b=%20");
  EXPECT_EQ(u->Origin(), "https://rms.example.org:8443");
  EXPECT_EQ(u->Target(), "/root/_wmcs/?a=1&b=%20");
}

TEST(ParseHttpUrl, DefaultPortsAndNoPath) {
  auto u = ParseHttpUrl("https://h");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "");
  EXPECT_FALSE(u->has_query);
  EXPECT_EQ(u->Target(), "/");
  auto plain = ParseHttpUrl("HTTP://h?x=1");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_FALSE(plain->https);
  EXPECT_EQ(plain->port, 80);
  EXPECT_EQ(plain->Target(), "/?x=1");
}

TEST(ParseHttpUrl, EncodesPrintableCharactersUrlsMayNotHold) {
  auto u = ParseHttpUrl("https://h/certificates/{AB-12}?x=a|b&y=%41");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->path, "/certificates/%7BAB-12%7D");
  EXPECT_EQ(u->query, "x=a%7Cb&y=%41");
}

TEST(ParseHttpUrl, Ipv6AndIpv4Literals) {
  auto v6 = ParseHttpUrl("https://[::1]:9443/x");
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_TRUE(v6->is_ip);
  EXPECT_EQ(v6->port, 9443);
  EXPECT_EQ(v6->HostPort(), "[::1]:9443");
  auto v4 = ParseHttpUrl("https://127.0.0.1/");
  ASSERT_TRUE(v4.ok());
  EXPECT_TRUE(v4->is_ip);
  EXPECT_EQ(v4->HostPort(), "127.0.0.1:443");
}

TEST(ParseHttpUrl, RefusesWhatItCannotUseAndSaysWhy) {
  auto refused = ParseHttpUrl("rms.example.org/x");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(refused.status().message(),
            "\"rms.example.org/x\" is not a usable URL: it does not start with https://");
  const std::string kPort = "the port must be a number from 1 to 65535";
  const std::pair<std::string, std::string> cases[] = {
      {"", "it does not start with https://"},
      {"ftp://h/", "the scheme must be https"},
      {"https://user:pw@h/", "user names are not supported"},
      {"https:///path", "it has no host"},
      {"https://h:0/", kPort},
      {"https://h:65536/", kPort},
      {"https://h:/", kPort},
      {"https://h:x/", kPort},
      {"https://h/a b", "spaces or control characters"},
      {"https://[::1/", "RFC 3986"},
      {"https://[zz::1]/", "RFC 3986"},
      {"https://%00/", "the host contains spaces or control characters"},
      {"::://", "RFC 3986"},
  };
  for (const auto& [url, why] : cases) {
    auto u = ParseHttpUrl(url);
    ASSERT_FALSE(u.ok()) << url;
    EXPECT_EQ(u.status().code(), Code::kInvalidArgument) << url;
    EXPECT_THAT(u.status().message(), HasSubstr(why)) << url;
  }
}

TEST(UrlPathAndHost, PathWithoutQueryOrTrailingSlashHostWithoutBrackets) {
  struct Case {
    const char* url;
    const char* path;
    const char* host;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"https://h:1/root/_wmcs/?x", "/root/_wmcs", "h"},
           {"https://rms.example.org:8443/root/_wmcs#f", "/root/_wmcs", "rms.example.org"},
           {"https://h/a//", "/a", "h"},
           {"https://h", "", "h"},
           {"https://h/", "", "h"},
           {"https://[::1]:8443/_wmcs/licensing", "/_wmcs/licensing", "::1"},
           {"https://[2001:db8::5]", "", "2001:db8::5"},
           {"https://10.0.0.1?x", "", "10.0.0.1"},
           {"not a url/x", "", ""},
           {"garbage", "", ""},
           {"https://h:99999/x", "", ""},
       }) {
    EXPECT_EQ(UrlPath(c.url), c.path) << c.url;
    EXPECT_EQ(UrlHost(c.url), c.host) << c.url;
  }
}

}  // namespace
}  // namespace openrms::http
