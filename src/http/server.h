// An HTTPS server on Boost.Beast/Asio: a pool of threads (one per core by
// default), each running an event loop of its own; connections are dealt to
// the loops in turn and each is served asynchronously on its loop. Handlers
// are plain functions from Request to Response and may block briefly
// (signing, a database write); they run on the pool's threads (a
// connection's handler on its loop's thread) and must be thread-safe.
// Handlers that may wait long run on a second pool (ServerOptions::blocking).
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace openrms::http {

struct Request {
  std::string method;                        // "GET", "POST", ...
  std::string target;                        // as sent: "/path?query"
  std::string path;                          // percent-decoded path without the query
  std::map<std::string, std::string> query;  // decoded query parameters
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // The client's address, "127.0.0.1" or "::1"; behind a trusted proxy,
  // the one its PROXY header names.
  std::string remote_address;

  // Case-insensitive; the first header of that name.
  std::optional<std::string> Header(std::string_view name) const;
  // The value of a cookie named `name` from the Cookie header.
  std::optional<std::string> Cookie(std::string_view name) const;
};

// The Retry-After (seconds) of a 503 given because the store or the key
// store did not answer: an outage, not a refusal. Clients keep their
// credentials and ask again; a failed-over store answers within it.
inline constexpr int kRetryAfterSeconds = 5;

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static Response Html(int status, std::string body);
  static Response Text(int status, std::string body);
  static Response Json(int status, std::string body);
  static Response Xml(int status, std::string body);
  // 303 See Other to `location`.
  static Response Redirect(std::string location);
  Response& SetHeader(std::string name, std::string value);
};

using Handler = std::function<Response(const Request&)>;

// Routes by method and exact path; a path ending in "/*" matches any path
// under that prefix. Unknown paths get 404, a known path with another
// method 405 (both plain text).
class Router final {
 public:
  void Add(std::string method, std::string path, Handler handler);
  Response Dispatch(const Request& request) const;

 private:
  struct Route {
    std::string method;
    std::string path;
    Handler handler;
  };
  std::vector<Route> routes_;
};

struct ServerOptions {
  std::string address = "127.0.0.1";  // "::1", "0.0.0.0", ...
  uint16_t port = 0;                  // 0: the kernel picks one; see Server::port()
  int threads = 0;                    // 0: std::thread::hardware_concurrency()
  std::string certificate_chain_pem;  // leaf first
  std::string sealed_key_pem;         // the leaf's key, sealed (crypto/keys.h format)
  std::string key_password;
  // Or the leaf's key, opened already (then the two above are not read).
  std::shared_ptr<EVP_PKEY> private_key;
  size_t max_body_bytes = 4 << 20;  // larger bodies get 413
  int request_timeout_seconds = 30;
  // From accepting a connection to the end of its TLS handshake.
  int handshake_timeout_seconds = 5;
  // Connections open at once. When the limit is reached, a new connection
  // closes the oldest one still in its TLS handshake (or, if none is, is
  // itself closed at once, before TLS). 0: the process's budget -- its limit
  // on open files less a reserve of min(256, limit / 4) for everything else
  // -- but at most 10,000 (see ServerStats::max_connections). Whatever this
  // is, all the servers of a process together stay within that budget.
  int max_connections = 0;
  // Connections open at once from one client address (an IPv6 client counts
  // by its /64 prefix); more are closed at once, before TLS. 0: no limit.
  // The default leaves room for a large office behind one NAT address
  // (browsers hold about 6 connections each, RMS clients one or two), and
  // still keeps one address to a tenth of the default total.
  int max_connections_per_address = 1024;
  // Load balancers whose connections start with a PROXY protocol header
  // (version 2 or 1, http/proxy_protocol.h) naming the client: addresses
  // ("10.0.0.5", "::1") or networks ("10.0.0.0/24"). From these the header
  // is required, and the client it names is the connection's address for
  // the per-address limit and for Request::remote_address. From anyone else
  // a header is not read, so it cannot claim an address (the TLS handshake
  // fails on it). An entry that is neither is an error at Start().
  std::vector<std::string> trusted_proxies;
  // Requests for which this answers true are handled on a pool of their own
  // (`blocking_threads` threads), not on the I/O threads: handlers that may
  // wait -- an outgoing HTTPS call, an LDAP bind, a memory-hard password
  // hash -- so that they never hold up requests that only compute. Unset:
  // every handler runs on the I/O threads. Called on an I/O thread; must be
  // cheap and thread-safe.
  std::function<bool(const Request&)> blocking;
  int blocking_threads = 4;
};

// Counts since the server started, and the current state.
struct ServerStats {
  int64_t connections = 0;      // open now (in a handshake or after it)
  int64_t idle = 0;             // of those, idle: in the handshake or between requests
  int64_t max_connections = 0;  // the effective limit (ServerOptions::max_connections)
  uint64_t accepted = 0;        // connections admitted
  // Closed at once, before TLS:
  uint64_t refused_per_address = 0;     // their address was at its limit
  uint64_t refused_total = 0;           // at max_connections, nothing to evict
  uint64_t refused_no_descriptors = 0;  // the process was out of file descriptors
  // Closed to make room for new connections: idle ones, the longest idle
  // first (in their TLS handshake, or between requests).
  uint64_t evicted_idle = 0;
  // From a trusted proxy without a well-formed PROXY header.
  uint64_t refused_proxy_header = 0;
};

// Every response gets Strict-Transport-Security, X-Content-Type-Options:
// nosniff, X-Frame-Options: DENY and Referrer-Policy: no-referrer unless the
// handler set them. Each request is logged to stderr as one line (method,
// path without query, status, duration) -- never bodies or headers.
//
// Against floods of connections: the first Start() in a process raises the
// soft limit on open files (RLIMIT_NOFILE) to the hard limit; connections
// are limited in total and per client address (refusals and evictions are
// logged at most once per 10 seconds, not one line each); at the total
// limit, the connections idle longest (in their handshake or between
// requests) are closed to make room, so a flood of idle connections never
// keeps a new client out; a TLS handshake (and a PROXY header before it)
// has a short deadline; when the process runs out of file descriptors, a
// descriptor held in reserve is released to accept and close the waiting
// connection, so the listening queue drains and the server recovers as soon
// as descriptors are free. After a spike, once most connections have closed,
// the server returns free heap memory to the system (glibc malloc_trim).
class Server final {
 public:
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, Handler handler);
  ~Server();  // stops and joins

  uint16_t port() const;
  ServerStats stats() const;
  // Stops accepting, closes connections, joins the threads. Idempotent.
  // Idle connections close at once; a request being handled gets up to 5
  // seconds to finish. Called from a handler it does not join (the
  // destructor does); the Server must not be destroyed from a handler.
  // Not async-signal-safe: from a signal, call it on a thread that waits
  // for the signal (sigwait) rather than in the signal handler itself.
  void Stop();
  // Blocks until Stop() is called (from another thread or a signal handler
  // installed by the caller) .
  void Wait();

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace openrms::http
