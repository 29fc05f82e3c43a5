// The HTTPS listener of a node and the TLS credentials it serves.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "http/server.h"
#include "node/server_context.h"

namespace openrms::node {

// Makes the server's TLS credentials on first use: a TLS root and a server
// certificate for the cluster URL's host (if any) and loopback, sealed
// under the key password.
Status EnsureServerTls(const ServerPaths& paths, std::string_view password,
                       const std::string& cluster_url);

// Parses "ADDR:PORT" / "[v6]:PORT".
Result<std::pair<std::string, uint16_t>> ParseListen(const std::string& listen);

// Starts an HTTPS server on `listen` with the TLS files of a service
// directory (its certificate, the root it chains to, the sealed key), and
// sets `url` to "https://ADDR:PORT".
struct TlsFiles {
  std::string certificate;
  std::string root;
  std::string sealed_key;
};
Result<std::unique_ptr<http::Server>> StartHttps(const std::string& listen, const TlsFiles& tls,
                                                 std::string_view password, http::Handler handler,
                                                 std::string& url);

}  // namespace openrms::node
