#include "node/tls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "base/file_system.h"
#include "http/client.h"

namespace openrms::node {
namespace {

using ::testing::HasSubstr;

constexpr char kPassword[] = "tls test password";

// A server directory with TLS credentials made by EnsureServerTls.
class NodeTlsTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "openrms-tls-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    paths_ = std::make_unique<ServerPaths>(pattern);
  }
  void TearDown() override { std::filesystem::remove_all(paths_->dir); }

  const ServerPaths& paths() const { return *paths_; }

  static Result<http::ClientResponse> Get(const http::Server& server, const std::string& ca) {
    http::ClientRequest request;
    request.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/x";
    request.ca_pem = ca;
    request.timeout_seconds = 10;
    return http::Fetch(request);
  }

  std::unique_ptr<ServerPaths> paths_;
};

http::Response Hello(const http::Request&) { return http::Response::Text(200, "hello"); }

TEST_F(NodeTlsTest, NothingToOpenBeforeTheCredentialsAreMade) {
  EXPECT_FALSE(OpenServerTlsKey(paths(), kPassword).valid());
}

TEST_F(NodeTlsTest, ServesWithAKeyOpenedAhead) {
  ASSERT_TRUE(EnsureServerTls(paths(), kPassword, "").ok());
  OpeningTlsKey opening = OpenServerTlsKey(paths(), kPassword);
  ASSERT_TRUE(opening.valid());
  std::string url;
  auto server = StartHttps("127.0.0.1:0",
                           {paths().tls_server, paths().tls_ca, paths().tls_server_key, opening},
                           "not the password: the key is open already", Hello, url);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto ca = RealFileSystem().ReadFile(paths().tls_ca, 1 << 20);
  ASSERT_TRUE(ca.ok());
  auto response = Get(**server, *ca);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello");
  // The same opened key serves a second listener (the demo's two nodes).
  auto second = StartHttps("127.0.0.1:0",
                           {paths().tls_server, paths().tls_ca, paths().tls_server_key, opening},
                           "", Hello, url);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  response = Get(**second, *ca);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
}

TEST_F(NodeTlsTest, AWrongPasswordIsReportedWhenTheServerStarts) {
  ASSERT_TRUE(EnsureServerTls(paths(), kPassword, "").ok());
  OpeningTlsKey opening = OpenServerTlsKey(paths(), "wrong");
  ASSERT_TRUE(opening.valid());
  std::string url;
  auto server = StartHttps("127.0.0.1:0",
                           {paths().tls_server, paths().tls_ca, paths().tls_server_key, opening},
                           kPassword, Hello, url);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("cannot open the HTTPS server's private key"));
}

TEST_F(NodeTlsTest, AMissingKeyFileIsNamed) {
  ASSERT_TRUE(EnsureServerTls(paths(), kPassword, "").ok());
  std::filesystem::remove(paths().tls_server_key);
  OpeningTlsKey opening = OpenServerTlsKey(paths(), kPassword);
  ASSERT_TRUE(opening.valid());
  const auto& key = opening.get();
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(key.status().ToString(), HasSubstr("cannot open the HTTPS server's private key"));
  EXPECT_THAT(key.status().ToString(), HasSubstr("tls-server.key"));
}

TEST_F(NodeTlsTest, AKeyOpenedAheadMustBelongToTheCertificate) {
  ASSERT_TRUE(EnsureServerTls(paths(), kPassword, "").ok());
  // The root's key is a good key, but not the server certificate's.
  OpeningTlsKey other = OpenTlsKey(paths().tls_ca_key, kPassword);
  std::string url;
  auto server =
      StartHttps("127.0.0.1:0", {paths().tls_server, paths().tls_ca, paths().tls_server_key, other},
                 kPassword, Hello, url);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), Code::kMismatch);
  EXPECT_THAT(server.status().message(),
              HasSubstr("the HTTPS server's private key does not belong to its certificate"));
}

}  // namespace
}  // namespace openrms::node
