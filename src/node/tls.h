// The HTTPS listener of a node and the TLS credentials it serves.
#pragma once

#include <functional>
#include <future>
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
// How the server spends its threads and whom it lets in
// (http::ServerOptions).
struct HttpsSettings {
  int io_threads = 0;  // 0: one per core
  // Requests for which this answers true run on a pool of
  // `waiting_threads` threads of their own (http::ServerOptions::blocking).
  std::function<bool(const http::Request&)> may_wait;
  int waiting_threads = 4;
  // Load balancers that send a PROXY header (http::ServerOptions).
  std::vector<std::string> trusted_proxies;
  int max_connections_per_address = http::ServerOptions{}.max_connections_per_address;
};
// A TLS key being unsealed on a thread of its own (OpenTlsKey).
using OpeningTlsKey = std::shared_future<Result<std::shared_ptr<EVP_PKEY>>>;
struct TlsFiles {
  std::string certificate;
  std::string root;
  std::string sealed_key;
  // When valid(): `sealed_key` is being opened already, and StartHttps
  // waits for it instead of opening it.
  OpeningTlsKey opening;
};
// Starts reading and unsealing the key at `sealed_key` on a thread of its
// own. Unsealing (scrypt) is most of a node's start; what the caller does
// next (open its store, unseal its other keys) runs beside it.
OpeningTlsKey OpenTlsKey(const std::string& sealed_key, std::string_view password);
// The same for a server directory's TLS key, if EnsureServerTls has made it
// (else an OpeningTlsKey that is not valid()).
OpeningTlsKey OpenServerTlsKey(const ServerPaths& paths, std::string_view password);
Result<std::unique_ptr<http::Server>> StartHttps(const std::string& listen, const TlsFiles& tls,
                                                 std::string_view password, http::Handler handler,
                                                 std::string& url, HttpsSettings settings = {});

}  // namespace openrms::node
