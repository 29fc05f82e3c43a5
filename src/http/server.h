// An HTTPS server on Boost.Beast/Asio: a pool of threads (one per core by
// default) runs one io_context; each connection is served asynchronously.
// Handlers are plain functions from Request to Response and may block
// briefly (signing, a database write); they run on the pool's threads and
// must be thread-safe.
#pragma once

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
  std::string remote_address;  // "127.0.0.1" or "::1"

  // Case-insensitive; the first header of that name.
  std::optional<std::string> Header(std::string_view name) const;
  // The value of a cookie named `name` from the Cookie header.
  std::optional<std::string> Cookie(std::string_view name) const;
};

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
  size_t max_body_bytes = 4 << 20;  // larger bodies get 413
  int request_timeout_seconds = 30;
};

// Every response gets Strict-Transport-Security, X-Content-Type-Options:
// nosniff, X-Frame-Options: DENY and Referrer-Policy: no-referrer unless the
// handler set them. Each request is logged to stderr as one line (method,
// path without query, status, duration) -- never bodies or headers.
class Server final {
 public:
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, Handler handler);
  ~Server();  // stops and joins

  uint16_t port() const;
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
