// The HTTPS listener of a node and the TLS credentials it serves.
#pragma once

#include <functional>
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
// How the server spends its threads (http::ServerOptions).
struct HttpsThreads {
  int io_threads = 0;  // 0: one per core
  // Requests for which this answers true run on a pool of
  // `waiting_threads` threads of their own (http::ServerOptions::blocking).
  std::function<bool(const http::Request&)> may_wait;
  int waiting_threads = 4;
};
struct TlsFiles {
  std::string certificate;
  std::string root;
  std::string sealed_key;
};
Result<std::unique_ptr<http::Server>> StartHttps(const std::string& listen, const TlsFiles& tls,
                                                 std::string_view password, http::Handler handler,
                                                 std::string& url, HttpsThreads threads = {});

}  // namespace openrms::node
