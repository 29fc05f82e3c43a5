#include "http/server.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "base/text.h"
#include "crypto/password_hash.h"
#include "crypto/sealing.h"
#include "crypto/ssl_util.h"
#include "http/forms.h"
#include "http/proxy_protocol.h"
#include "http/token_chars.h"

namespace openrms::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

// Request headers larger than this get 431, and a request target (the URL's
// path and query) longer than kMaxTargetBytes, or a request line that does
// not end within kMaxHeaderBytes, gets 414.
constexpr uint32_t kMaxHeaderBytes = 16 << 10;
constexpr size_t kMaxTargetBytes = 8 << 10;
// After a 413, request bytes still arriving are read and dropped (up to
// this much, for up to kLingerTime) so that the client sees the response
// rather than a connection reset.
constexpr uint64_t kMaxLingerBytes = 64 << 20;
constexpr auto kLingerTime = std::chrono::seconds(5);
// How long the TLS close_notify exchange may take.
constexpr auto kShutdownTime = std::chrono::seconds(3);
// How long Stop() lets in-flight requests finish before it stops the pool.
constexpr auto kStopGrace = std::chrono::seconds(5);

// Connection limits (see ServerOptions). The default max_connections is at
// most this; each idle TLS connection costs some tens of kilobytes.
constexpr int64_t kDefaultMaxConnections = 10000;
// Evicted handshakes whose descriptors are not closed yet: while this many
// are in flight, a server at its limit refuses instead of evicting more, so
// it never holds more than max_connections + this many connections.
constexpr size_t kMaxEvictionsInFlight = 64;
// How many idle connections a full server closes at once: a 64th of its
// limit, between 1 and this.
constexpr size_t kEvictBatch = 16;
// Refusals, evictions and accept errors are logged at most this often.
constexpr auto kLimitLogInterval = std::chrono::seconds(10);
// How long to wait before accepting again after an error that the spare
// descriptor did not resolve.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
// malloc_trim after a spike: when the connections open have fallen to a
// quarter of the peak since the last trim, and by at least this many; at
// most once per kTrimInterval, kTrimDelay after the fall (to let the rest
// of the spike close).
constexpr int64_t kTrimMinDrop = 128;
constexpr auto kTrimInterval = std::chrono::seconds(10);
constexpr auto kTrimDelay = std::chrono::seconds(1);

// TLS 1.2 suites with forward secrecy and AEAD (TLS 1.3 suites are all fine).
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

constexpr std::array<std::pair<const char*, const char*>, 5> kSecurityHeaders = {{
    {"Strict-Transport-Security", "max-age=31536000"},
    {"Content-Security-Policy",
     "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
     "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
}};

std::string_view Sv(beast::string_view s) { return {s.data(), s.size()}; }

// For log lines: printable ASCII only, bounded length.
std::string Printable(std::string_view s, size_t max = 256) {
  std::string out;
  for (char c : s.substr(0, max)) {
    out += (c > 0x20 && c < 0x7f) ? c : '?';
  }
  if (s.size() > max) out += "...";
  return out.empty() ? "-" : out;
}

void LogLine(const std::string& line) {
  const std::string with_newline = "http: " + line + "\n";
  std::fwrite(with_newline.data(), 1, with_newline.size(), stderr);  // one write, one line
}

// The access-log lines of one event loop, written to stderr together: a
// write() per request was a few per cent of a small answer's CPU. Lines
// wait at most kFlushAfter (so a kill -9 loses at most that long of them)
// or until kFlushAt bytes; a stopping server writes what is left. Used by
// its loop's thread only, and after that thread has ended.
class AccessLog {
 public:
  static constexpr auto kFlushAfter = std::chrono::milliseconds(20);
  static constexpr size_t kFlushAt = 32 * 1024;

  explicit AccessLog(asio::io_context& loop) : timer_(loop) {}
  ~AccessLog() { Flush(); }

  void Add(std::string_view line) {
    if (pending_.empty()) {
      timer_.expires_after(kFlushAfter);
      timer_.async_wait([this](beast::error_code) { Flush(); });
    }
    pending_.append("http: ").append(line).push_back('\n');
    if (pending_.size() >= kFlushAt) Flush();  // the timer, when it fires, finds nothing
  }

  void Flush() {
    if (pending_.empty()) return;
    std::fwrite(pending_.data(), 1, pending_.size(), stderr);
    pending_.clear();
  }

 private:
  asio::steady_timer timer_;
  std::string pending_;
};

// The access log of the event loop this thread runs, if it runs one.
thread_local AccessLog* current_access_log = nullptr;

bool IsFieldValue(std::string_view s) {
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

bool HasBadEscape(std::string_view s) {
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size() || !hex(s[i + 1]) || !hex(s[i + 2])) return true;
    i += 2;
  }
  return false;
}

const std::string* FindHeader(const std::vector<std::pair<std::string, std::string>>& headers,
                              std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return &v;
  }
  return nullptr;
}

// The path part of a request target, for logs.
std::string_view RawPath(std::string_view target) { return target.substr(0, target.find('?')); }

bool IsSslError(const beast::error_code& ec, int reason) {
  return ec.category() == asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == reason;
}

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == beast::error_code(bhttp::error::bad_target).category();
}

thread_local const Server::Impl* current_pool = nullptr;

// Descriptors a process keeps for everything but incoming connections:
// files, the database, outgoing connections, the spare descriptor.
int64_t DescriptorReserve(int64_t limit) { return std::min<int64_t>(256, limit / 4); }

struct ProcessLimits {
  int64_t open_files = 0;         // RLIMIT_NOFILE (soft) after raising it
  int64_t connection_budget = 0;  // for all the servers of the process
};

// Raises the soft RLIMIT_NOFILE to the hard limit, once per process.
const ProcessLimits& RaiseOpenFileLimit() {
  static const ProcessLimits limits = [] {
    ProcessLimits out;
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
      LogLine(std::string("cannot read the limit on open files: ") + std::strerror(errno));
      rl.rlim_cur = rl.rlim_max = 1024;
    } else if (rl.rlim_cur < rl.rlim_max && rl.rlim_max != RLIM_INFINITY) {
      rlimit raised = rl;
      raised.rlim_cur = rl.rlim_max;
      if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
        rl = raised;
      } else {
        LogLine("cannot raise the limit on open files from " + std::to_string(rl.rlim_cur) +
                " to " + std::to_string(rl.rlim_max) + ": " + std::strerror(errno));
      }
    }
    constexpr rlim_t kMax = rlim_t{1} << 30;
    out.open_files =
        static_cast<int64_t>(rl.rlim_cur == RLIM_INFINITY ? kMax : std::min(rl.rlim_cur, kMax));
    out.connection_budget =
        std::max<int64_t>(1, out.open_files - DescriptorReserve(out.open_files));
    return out;
  }();
  return limits;
}

// Connections open in this process, against ProcessLimits::connection_budget.
std::atomic<int64_t> process_connections{0};

bool IsOutOfDescriptors(const beast::error_code& ec) {
  return ec == boost::system::errc::too_many_files_open ||
         ec == boost::system::errc::too_many_files_open_in_system;
}

// Closes a socket with a reset rather than a FIN: nothing of it lingers in
// the kernel (no TIME_WAIT).
void CloseAtOnce(tcp::socket& socket) {
  beast::error_code ignored;
  socket.set_option(asio::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
}

asio::ip::address Unmapped(asio::ip::address address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

// What the per-address limit counts by: the IPv4 address, or the /64 of an
// IPv6 address (one client usually has a whole /64).
std::string AddressKey(const asio::ip::address& address) {
  if (!address.is_v6()) return address.to_string();
  asio::ip::address_v6::bytes_type bytes = address.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return asio::ip::address_v6(bytes).to_string() + "/64";
}

// An address or network of ServerOptions::trusted_proxies.
struct Network {
  asio::ip::address address;
  int prefix = 0;  // bits
};

Result<Network> ParseNetwork(std::string_view text) {
  const size_t slash = text.find('/');
  beast::error_code ec;
  Network net;
  net.address = Unmapped(asio::ip::make_address(std::string(text.substr(0, slash)), ec));
  const int bits = net.address.is_v6() ? 128 : 32;
  net.prefix = bits;
  bool ok = !ec;
  if (ok && slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    ok = !digits.empty() && digits.size() <= 3 &&
         digits.find_first_not_of("0123456789") == std::string_view::npos &&
         std::stoi(std::string(digits)) <= bits;
    if (ok) net.prefix = std::stoi(std::string(digits));
  }
  if (!ok) {
    return Status(Code::kInvalidArgument,
                  "\"" + std::string(text) +
                      "\" is not an IP address or network (ADDRESS/BITS, e.g. 10.0.0.0/24)");
  }
  return net;
}

bool InNetwork(const asio::ip::address& address, const Network& net) {
  if (address.is_v6() != net.address.is_v6()) return false;
  auto same_prefix = [&](const auto& a, const auto& b) {
    int bits = net.prefix;
    for (size_t i = 0; i < a.size() && bits > 0; ++i, bits -= 8) {
      const unsigned mask = bits >= 8 ? 0xffu : (0xffu << (8 - bits)) & 0xffu;
      if ((a[i] & mask) != (b[i] & mask)) return false;
    }
    return true;
  };
  if (address.is_v6())
    return same_prefix(address.to_v6().to_bytes(), net.address.to_v6().to_bytes());
  return same_prefix(address.to_v4().to_bytes(), net.address.to_v4().to_bytes());
}

std::string Plural(uint64_t n, const std::string& what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

class Session;

}  // namespace

// ---------------------------------------------------------------------------
// Request, Response, Router

std::optional<std::string> Request::Header(std::string_view name) const {
  if (const std::string* v = FindHeader(headers, name)) return *v;
  return std::nullopt;
}

std::optional<std::string> Request::Cookie(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (!EqualsIgnoreCase(k, "cookie")) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      const size_t semi = rest.find(';');
      const std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      const size_t eq = pair.find('=');
      if (eq == std::string_view::npos || Trim(pair.substr(0, eq)) != name) continue;
      std::string_view value = Trim(pair.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return std::string(value);
    }
  }
  return std::nullopt;
}

Response Response::Html(int status, std::string body) {
  return Response{status, {{"Content-Type", "text/html; charset=utf-8"}}, std::move(body)};
}
Response Response::Text(int status, std::string body) {
  return Response{status, {{"Content-Type", "text/plain; charset=utf-8"}}, std::move(body)};
}
Response Response::Json(int status, std::string body) {
  return Response{status, {{"Content-Type", "application/json"}}, std::move(body)};
}
Response Response::Xml(int status, std::string body) {
  return Response{status, {{"Content-Type", "text/xml; charset=utf-8"}}, std::move(body)};
}
Response Response::Redirect(std::string location) {
  return Response{303, {{"Location", std::move(location)}}, ""};
}

Response& Response::SetHeader(std::string name, std::string value) {
  for (auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) {
      v = std::move(value);
      return *this;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

void Router::Add(std::string method, std::string path, Handler handler) {
  routes_.push_back(Route{std::move(method), std::move(path), std::move(handler)});
}

Response Router::Dispatch(const Request& request) const {
  // Candidates: exact routes first, then prefix routes, longest first.
  std::vector<const Route*> matches;
  for (const Route& r : routes_) {
    if (r.path == request.path) matches.push_back(&r);
  }
  std::vector<const Route*> prefixes;
  for (const Route& r : routes_) {
    if (r.path.size() >= 2 && r.path.ends_with("/*") &&
        request.path.starts_with(std::string_view(r.path).substr(0, r.path.size() - 1))) {
      prefixes.push_back(&r);
    }
  }
  std::stable_sort(prefixes.begin(), prefixes.end(),
                   [](const Route* a, const Route* b) { return a->path.size() > b->path.size(); });
  matches.insert(matches.end(), prefixes.begin(), prefixes.end());
  if (matches.empty()) return Response::Text(404, "Not found: there is no page at this address.\n");
  for (const Route* r : matches) {
    if (r->method == request.method) return r->handler(request);
  }
  // HEAD is GET without the body (the server drops it).
  if (request.method == "HEAD") {
    for (const Route* r : matches) {
      if (r->method == "GET") return r->handler(request);
    }
  }
  std::vector<std::string_view> methods;
  std::string allow;
  for (const Route* r : matches) {
    if (std::find(methods.begin(), methods.end(), r->method) != methods.end()) continue;
    methods.push_back(r->method);
    allow += (allow.empty() ? "" : ", ") + r->method;
  }
  return Response::Text(405, "Method not allowed: this address accepts " + allow + ".\n")
      .SetHeader("Allow", allow);
}

// ---------------------------------------------------------------------------
// Server

class Server::Impl {
 public:
  Impl(ServerOptions options, Handler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        loops_(MakeLoops(options_.threads)),
        acceptor_(*loops_[0]),
        accept_retry_(*loops_[0]),
        limit_log_timer_(*loops_[0]),
        trim_timer_(*loops_[0]) {
    for (const auto& loop : loops_) access_logs_.push_back(std::make_unique<AccessLog>(*loop));
  }
  ~Impl() {
    Stop();
    if (spare_fd_ >= 0) ::close(spare_fd_);
    if (null_fd_ >= 0) ::close(null_fd_);
  }

  Status Init();
  void Run();
  void Stop();
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stopping_; });
  }
  uint16_t port() const { return port_; }
  ServerStats stats() const;

  // For sessions. A session's slot was reserved by Admit() (in OnAccept);
  // Register() lists it, Release() frees the slot (from ~Session).
  bool Register(const std::shared_ptr<Session>& session, uint64_t id);
  void Release(Session* session, const std::string& address_key, uint64_t id);
  // A connection from a trusted proxy named its client: the slot counted
  // for the proxy's address counts for the client's from now on. False
  // (and nothing changed) when the client's address is at its limit.
  bool Readmit(const std::string& proxy_key, const std::string& client_key);
  // For the log summary (from any loop): a connection refused for its
  // client's per-address limit once its PROXY header named the client, or
  // for a missing or malformed PROXY header.
  void NoteRefusedClient(std::string client_key);
  void NoteBadProxyHeader(std::string error);
  void CountEviction() { ++evicted_; }
  // An eviction came too late: the connection was busy again.
  void EvictionMissed(uint64_t id) {
    std::lock_guard lock(mu_);
    evicting_.erase(id);
  }
  const ServerOptions& options() const { return options_; }
  const Handler& handler() const { return handler_; }
  // The pool for handlers that may wait (ServerOptions::blocking), if any.
  bool IsTrustedProxy(const asio::ip::address& address) const {
    return std::any_of(trusted_.begin(), trusted_.end(),
                       [&](const Network& net) { return InNetwork(address, net); });
  }
  bool IsBlocking(const Request& request) const {
    return blocking_pool_ && options_.blocking(request);
  }
  template <typename F>
  void PostBlocking(F&& work) {
    asio::post(*blocking_pool_, [this, work = std::forward<F>(work)]() mutable {
      current_pool = this;  // a handler that calls Stop() must not join its own thread
      work();
    });
  }
  asio::ssl::context& ssl_context() { return ssl_ctx_; }

 private:
  enum class Admission { kAdmitted, kAdmittedByEviction, kStopping, kPerAddress, kTotal };
  // Connections refused or evicted since the last log line (first loop).
  struct LimitEvents {
    uint64_t per_address = 0;
    uint64_t total = 0;
    uint64_t no_descriptors = 0;
    uint64_t evicted = 0;
    uint64_t bad_proxy_header = 0;
    std::string latest_per_address;
    std::string latest_proxy_error;
    bool any() const {
      return per_address + total + no_descriptors + evicted + bad_proxy_header > 0;
    }
  };

  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void OnAcceptError(const beast::error_code& ec);
  // Out of descriptors: closes the spare one to accept and close a waiting
  // connection, then opens it again. False if that did not work.
  bool DropWaitingConnection();
  // Opens the spare descriptor if it is not open (out of descriptors, it
  // may not be).
  void EnsureSpare();
  void RetryAcceptLater();
  // Reserves a slot for a connection from `address_key` (its per-address
  // limit not applied when `exempt`: a trusted proxy's). At the total limit,
  // fills `evict` with the connections idle longest, to be closed.
  Admission Admit(const std::string& address_key, bool exempt, uint64_t& id,
                  std::vector<std::shared_ptr<Session>>& evict);
  void NoteLimitEvent();
  void LogLimitEvents();
  void ScheduleTrim();

  ServerOptions options_;  // not changed after Init() (which wipes the key password)
  const Handler handler_;
  uint16_t port_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  // Admission, under mu_.
  int64_t max_connections_ = 0;
  int64_t connections_ = 0;  // slots reserved, sessions_ or about to be
  std::unordered_map<std::string, int64_t> per_address_;
  uint64_t next_id_ = 0;
  std::unordered_set<uint64_t> evicting_;  // evicted, not released yet
  int64_t peak_since_trim_ = 0;
  bool trim_scheduled_ = false;
  std::mutex join_mu_;
  bool joined_ = false;

  // Counters for stats().
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> refused_per_address_{0};
  std::atomic<uint64_t> refused_total_{0};
  std::atomic<uint64_t> refused_no_descriptors_{0};
  std::atomic<uint64_t> evicted_{0};
  std::atomic<uint64_t> refused_proxy_header_{0};
  std::vector<Network> trusted_;  // options_.trusted_proxies, parsed

  // On the first loop only (the acceptor and its timers).
  // Out of descriptors, the spare is closed so that accept() can take its
  // number, and the connection accepted is then closed by dup3() of
  // /dev/null onto it: that number is the spare again, with no moment when
  // another thread could take it. -1 when not open.
  int null_fd_ = -1;
  int spare_fd_ = -1;
  LimitEvents limit_events_;
  std::optional<std::chrono::steady_clock::time_point> limit_logged_at_;
  bool limit_log_pending_ = false;
  std::optional<std::chrono::steady_clock::time_point> accept_error_logged_at_;
  // On the first event loop only.
  std::optional<std::chrono::steady_clock::time_point> trimmed_at_;

  // One event loop (io_context) per I/O thread, each run by that thread
  // alone: a connection lives on one loop, so its handlers never run at
  // once and need no strand, and the threads never wake each other or share
  // a queue (a shared io_context cost a futex call or two per request).
  // Connections are dealt to the loops in turn.
  static std::vector<std::unique_ptr<asio::io_context>> MakeLoops(int threads) {
    unsigned n = threads > 0 ? static_cast<unsigned>(threads) : std::thread::hardware_concurrency();
    std::vector<std::unique_ptr<asio::io_context>> loops(std::max(1u, n));
    for (auto& loop : loops) {
      loop = std::make_unique<asio::io_context>(1);
      // A loop makes its epoll descriptors when its first socket is made: so
      // now, not at an accept when the process may be out of descriptors.
      tcp::socket socket(*loop);
    }
    return loops;
  }

  // Declared in this order so that the io_contexts are destroyed (and with
  // them any handler still holding a session) while the members above and
  // the TLS context are alive.
  asio::ssl::context ssl_ctx_{asio::ssl::context::tls_server};
  std::vector<std::unique_ptr<asio::io_context>> loops_;
  // Keep the loops running until Stop() is done with them: without them, a
  // loop could run out of work (and its thread return) while Stop() still
  // posts to sessions.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  size_t next_loop_ = 0;  // the loop for the next connection (acceptor only)
  // The acceptor and the timers run on the first loop.
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  asio::steady_timer limit_log_timer_;
  asio::steady_timer trim_timer_;
  std::vector<std::thread> threads_;
  std::optional<asio::thread_pool> blocking_pool_;
  std::vector<std::unique_ptr<AccessLog>> access_logs_;  // one per loop, in loops_' order
};

namespace {

// One TLS connection: handshake, then requests one at a time (keep-alive).
// All of its work runs on its own event loop, one thread.
class Session final : public std::enable_shared_from_this<Session> {
 public:
  Session(Server::Impl* server, tcp::socket socket, std::string remote, std::string address_key,
          uint64_t id, bool via_proxy)
      : server_(server),
        stream_(std::move(socket), server->ssl_context()),
        remote_(std::move(remote)),
        address_key_(std::move(address_key)),
        id_(id),
        via_proxy_(via_proxy) {
    MarkIdle();
  }
  ~Session() {
    beast::error_code ignored;
    lowest().socket().close(ignored);  // the descriptor is free before the slot is
    server_->Release(this, address_key_, id_);
  }

  void Start() {
    asio::dispatch(
        stream_.get_executor(),
        beast::bind_front_handler(via_proxy_ ? &Session::DoReadProxyHeader : &Session::DoHandshake,
                                  shared_from_this()));
  }

  uint64_t id() const { return id_; }
  // Since when the connection has waited for its client (steady clock
  // ticks): in its PROXY header or TLS handshake, or between requests. 0
  // while it is busy with a request. Read by the acceptor under the server's
  // lock, written on the connection's loop.
  int64_t idle_since() const { return idle_since_.load(std::memory_order_relaxed); }

  // From Server::Stop: close idle connections now, busy ones after their
  // response.
  void RequestStop() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->OnStopRequested(); });
  }

  // From the acceptor, at the connection limit: close this connection if it
  // still waits for its client.
  void Evict() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->Idle()) return self->server_->EvictionMissed(self->id_);
      self->server_->CountEviction();
      self->Abort();
    });
  }

 private:
  enum class State {
    kProxyHeader,
    kHandshake,
    kReading,
    kHandling,
    kWriting,
    kLingering,
    kClosing
  };

  void MarkIdle() {
    idle_since_.store(
        std::max<int64_t>(1, std::chrono::steady_clock::now().time_since_epoch().count()),
        std::memory_order_relaxed);
  }
  void MarkBusy() { idle_since_.store(0, std::memory_order_relaxed); }
  // Waiting for the client, with no part of a request read.
  bool Idle() const {
    return state_ == State::kProxyHeader || state_ == State::kHandshake ||
           state_ == State::kLingering ||
           (state_ == State::kReading && buffer_.size() == 0 && (!parser_ || !parser_->got_some()));
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  std::chrono::seconds timeout() const {
    return std::chrono::seconds(std::max(1, server_->options().request_timeout_seconds));
  }
  std::chrono::seconds handshake_timeout() const {
    return std::chrono::seconds(std::max(1, server_->options().handshake_timeout_seconds));
  }

  void OnStopRequested() {
    stop_requested_ = true;
    if (Idle()) lowest().cancel();
  }

  // From a trusted proxy: its PROXY header, read exactly (never a byte of
  // the TLS handshake after it), within the handshake's deadline.
  void DoReadProxyHeader() {
    if (stop_requested_) return;
    if (!lowest().socket().is_open()) return;  // evicted already
    if (state_ != State::kProxyHeader) {
      state_ = State::kProxyHeader;
      lowest().expires_after(handshake_timeout());
    }
    Result<size_t> missing = ProxyHeaderMissing(proxy_header_);
    if (!missing.ok()) return RefuseProxyHeader(missing.status().message());
    if (*missing == 0) return OnProxyHeader();
    const size_t have = proxy_header_.size();
    proxy_header_.resize(have + *missing);
    asio::async_read(lowest(), asio::buffer(proxy_header_.data() + have, *missing),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return;  // closed, timed out or evicted: nothing to answer
                       self->DoReadProxyHeader();
                     });
  }

  void OnProxyHeader() {
    Result<ProxyHeader> header = ParseProxyHeader(proxy_header_);
    std::string().swap(proxy_header_);
    if (!header.ok()) return RefuseProxyHeader(header.status().message());
    if (header->client) {
      beast::error_code ec;
      const asio::ip::address client = Unmapped(asio::ip::make_address(*header->client, ec));
      if (ec) return RefuseProxyHeader("the PROXY protocol header's address cannot be read");
      std::string key = AddressKey(client);
      if (!server_->Readmit(address_key_, key)) {
        server_->NoteRefusedClient(key);
        return Abort();
      }
      address_key_ = std::move(key);
      remote_ = client.to_string();
    }
    DoHandshake();
  }

  void RefuseProxyHeader(const std::string& error) {
    server_->NoteBadProxyHeader(remote_ + ": " + error);
    Abort();
  }

  void DoHandshake() {
    if (stop_requested_) return;               // Stop() came before the first byte
    if (!lowest().socket().is_open()) return;  // evicted already
    state_ = State::kHandshake;
    lowest().expires_after(handshake_timeout());
    stream_.async_handshake(asio::ssl::stream_base::server,
                            beast::bind_front_handler(&Session::OnHandshake, shared_from_this()));
  }

  void OnHandshake(beast::error_code ec) {
    if (!ec) return DoReadHeader();
    if (IsSslError(ec, SSL_R_HTTP_REQUEST)) return RefusePlainHttp();
    if (ec != asio::error::operation_aborted && ec != beast::error::timeout &&
        ec != asio::error::eof && ec != asio::ssl::error::stream_truncated &&
        ec != asio::error::connection_reset) {
      LogLine("TLS handshake failed: " + ec.message());
    }
  }

  // A browser sent plain HTTP to the HTTPS port: say so in plain text.
  void RefusePlainHttp() {
    static const std::string kResponse = [] {
      const std::string body = "This server speaks only HTTPS: use https:// in the address.\n";
      return "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Content-Length: " +
             std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    }();
    LogLine("- - 400 0ms (plain HTTP on the HTTPS port)");
    lowest().expires_after(timeout());
    asio::async_write(lowest(), asio::buffer(kResponse.data(), kResponse.size()),
                      [self = shared_from_this()](beast::error_code, size_t) {
                        beast::error_code ignored;
                        self->lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
                        self->lowest().close();
                      });
  }

  void DoReadHeader() {
    if (stop_requested_) return DoClose();
    state_ = State::kReading;
    // An idle keep-alive connection holds no more memory than it needs.
    buffer_.shrink_to_fit();
    parser_.emplace();
    parser_->body_limit(server_->options().max_body_bytes);
    parser_->header_limit(kMaxHeaderBytes);
    // One deadline for the whole request, idle keep-alive time included.
    lowest().expires_after(timeout());
    if (buffer_.size() > 0) return DoReadRestOfHeader();  // pipelined
    // The first bytes are read apart, so that the connection counts as idle
    // (and may be evicted) exactly until a request begins.
    MarkIdle();
    stream_.async_read_some(buffer_.prepare(beast::read_size(buffer_, 65536)),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec == asio::error::eof) return self->DoClose();
                              if (ec) return self->OnReadError(ec);
                              self->buffer_.commit(n);
                              self->DoReadRestOfHeader();
                            });
  }

  void DoReadRestOfHeader() {
    MarkBusy();
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  static std::string TargetTooLong() {
    return "The request's URL is longer than the limit of " + std::to_string(kMaxTargetBytes) +
           " bytes: shorten its path or query.\n";
  }

  void OnHeader(beast::error_code ec, size_t) {
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    if (req.target().size() > kMaxTargetBytes) return SendError(414, TargetTooLong());
    if (!parser_->is_done() && req.version() >= 11 &&
        EqualsIgnoreCase(Sv(req[bhttp::field::expect]), "100-continue")) {
      continue_.emplace(bhttp::status::continue_, 11);
      bhttp::async_write(stream_, *continue_,
                         [self = shared_from_this()](beast::error_code ec, size_t) {
                           if (ec) return self->Abort();
                           self->DoReadBody();
                         });
      return;
    }
    DoReadBody();
  }

  void DoReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream) return DoClose();  // the client closed
    if (ec == bhttp::error::body_limit) {
      return SendError(413, "The request body is larger than the limit of " +
                                std::to_string(server_->options().max_body_bytes) + " bytes.\n");
    }
    if (ec == bhttp::error::header_limit) {
      // With no target yet, the request line itself did not fit.
      if (!parser_->get().target().empty()) {
        return SendError(431, "The request headers are larger than the limit of " +
                                  std::to_string(kMaxHeaderBytes) + " bytes.\n");
      }
      return SendError(414, TargetTooLong());
    }
    if (IsHttpParseError(ec)) {
      return SendError(400, "This is not a well-formed HTTP/1.1 request (" + ec.message() + ").\n");
    }
    // Timeouts, resets, cancellation by Stop(): nothing to answer.
    Abort();
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) return OnReadError(ec);
    state_ = State::kHandling;
    lowest().expires_never();  // handlers may take their time
    started_ = std::chrono::steady_clock::now();
    auto& msg = parser_->get();
    const bool keep_alive = msg.keep_alive();
    Request request;
    request.method = std::string(Sv(msg.method_string()));
    request.target = std::string(Sv(msg.target()));
    request.remote_address = remote_;
    std::optional<std::string> error = Fill(msg, request);
    parser_.reset();
    continue_.reset();
    if (!error && server_->IsBlocking(request)) {
      // Off the I/O threads; the answer comes back to this connection's loop.
      server_->PostBlocking(
          [self = shared_from_this(), request = std::move(request), keep_alive]() mutable {
            Response response = self->CallHandler(request);
            asio::post(self->stream_.get_executor(),
                       [self, response = std::move(response), method = std::move(request.method),
                        target = std::move(request.target), keep_alive]() mutable {
                         self->Send(std::move(response), method, target, keep_alive, false);
                       });
          });
      return;
    }
    Response response;
    if (error) {
      response = Response::Text(400, *error);
    } else {
      response = CallHandler(request);
    }
    Send(std::move(response), request.method, request.target, keep_alive, /*linger=*/false);
  }

  // Completes `request` from the parsed message; an error text for a 400.
  static std::optional<std::string> Fill(bhttp::request<bhttp::string_body>& msg,
                                         Request& request) {
    const std::string& target = request.target;
    if (target.empty() || target.front() != '/') {
      return "The request target must be a path starting with '/'.\n";
    }
    const size_t q = target.find('?');
    const std::string_view raw_path = std::string_view(target).substr(0, q);
    if (HasBadEscape(raw_path)) return "The path contains a bad percent-escape.\n";
    request.path = PercentDecode(raw_path, false);
    if (request.path.find('\0') != std::string::npos) return "The path contains a NUL byte.\n";
    if (q != std::string::npos) {
      std::string_view query = std::string_view(target).substr(q + 1);
      query = query.substr(0, query.find('#'));
      Result<std::map<std::string, std::string>> parsed = ParseUrlEncoded(query);
      if (!parsed.ok())
        return "The query string cannot be read: " + parsed.status().message() + "\n";
      request.query = std::move(*parsed);
    }
    for (const auto& field : msg) {
      request.headers.emplace_back(ToLower(Sv(field.name_string())),
                                   std::string(Sv(field.value())));
    }
    request.body = std::move(msg.body());
    return std::nullopt;
  }

  Response CallHandler(const Request& request) {
    try {
      return server_->handler()(request);
    } catch (const std::exception& e) {
      LogLine("handler for " + Printable(RawPath(request.target)) +
              " threw an exception: " + Printable(e.what(), 200));
    } catch (...) {
      LogLine("handler for " + Printable(RawPath(request.target)) + " threw an exception");
    }
    return Response::Text(500, "Internal server error.\n");
  }

  void SendError(int status, std::string text) {
    started_ = std::chrono::steady_clock::now();
    std::string method = "-";
    std::string target = "-";
    // The start line is known even when the headers were refused (and is
    // logged cut short; RawPath keeps no query).
    if (parser_ && !parser_->get().target().empty()) {
      method = std::string(Sv(parser_->get().method_string()));
      target = std::string(Sv(parser_->get().target()).substr(0, 512));
    }
    // After a 413, 414 or 431 the rest of the request may still be on its
    // way: closing on it would reset the connection, and the client would
    // see that instead of the answer.
    Send(Response::Text(status, std::move(text)), method, target, /*keep_alive=*/false,
         /*linger=*/status == 413 || status == 414 || status == 431);
  }

  void Send(Response response, const std::string& method, const std::string& target,
            bool keep_alive, bool linger) {
    state_ = State::kWriting;
    if (stop_requested_) keep_alive = false;
    int status = response.status;
    bool headers_ok = true;
    for (const auto& [name, value] : response.headers) {
      if (!IsToken(name) || !IsFieldValue(value)) headers_ok = false;
    }
    if (status < 100 || status > 599 || status == 101 || !headers_ok) {
      LogLine("handler for " + Printable(RawPath(target)) +
              " returned an invalid response (status " + std::to_string(status) +
              (headers_ok ? ")" : ", or a header with a bad name or a line break)"));
      response = Response::Text(500, "Internal server error.\n");
      status = 500;
    }
    // The whole answer in one buffer, written with one TLS write: the
    // fields of a Beast message are a buffer each, and a TLS stream writes
    // one buffer a record (and a system call), some fifteen per answer.
    out_.clear();
    const bool no_body = status < 200 || status == 204 || status == 304;
    const bool head = method == "HEAD";
    out_.reserve(512 + (head || no_body ? 0 : response.body.size()));
    out_ += "HTTP/1.1 ";
    out_ += std::to_string(status);
    out_ += ' ';
    const beast::string_view reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
    out_.append(reason.data(), reason.size());
    out_ += "\r\n";
    auto field = [this](std::string_view name, std::string_view value) {
      out_ += name;
      out_ += ": ";
      out_ += value;
      out_ += "\r\n";
    };
    for (const auto& [name, value] : response.headers) {
      // Framing headers are the server's business.
      if (EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding") ||
          EqualsIgnoreCase(name, "connection")) {
        continue;
      }
      field(name, value);
    }
    for (const auto& [name, value] : kSecurityHeaders) {
      if (!FindHeader(response.headers, name)) field(name, value);
    }
    if (!keep_alive) field("Connection", "close");
    if (!no_body) field("Content-Length", std::to_string(response.body.size()));
    out_ += "\r\n";
    if (!head && !no_body) out_ += response.body;
    lowest().expires_after(timeout());
    asio::async_write(stream_, asio::buffer(out_),
                      [self = shared_from_this(), method, target, status, keep_alive, linger](
                          beast::error_code ec, size_t) {
                        self->OnWrite(ec, method, target, status, keep_alive, linger);
                      });
  }

  void OnWrite(beast::error_code ec, const std::string& method, const std::string& target,
               int status, bool keep_alive, bool linger) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started_)
                        .count();
    const std::string line = Printable(method, 32) + " " + Printable(RawPath(target)) + " " +
                             std::to_string(status) + " " + std::to_string(ms) + "ms";
    if (current_access_log != nullptr) {
      current_access_log->Add(line);
    } else {
      LogLine(line);
    }
    std::string().swap(out_);  // an idle keep-alive connection keeps no answer's memory
    if (ec) return Abort();
    if (linger) return DoLinger();
    if (!keep_alive || stop_requested_) return DoClose();
    DoReadHeader();
  }

  void DoLinger() {
    state_ = State::kLingering;
    buffer_.consume(buffer_.size());
    lowest().expires_after(kLingerTime);
    linger_buffer_.resize(16 << 10);
    DoLingerRead();
  }

  void DoLingerRead() {
    stream_.async_read_some(asio::buffer(linger_buffer_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->lingered_ += n;
                              if (ec == asio::error::eof) return self->DoClose();
                              if (ec || self->lingered_ > kMaxLingerBytes) return self->Abort();
                              self->DoLingerRead();
                            });
  }

  // TLS close_notify, then the socket closes when the session goes away.
  void DoClose() {
    state_ = State::kClosing;
    lowest().expires_after(kShutdownTime);
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->Abort(); });
  }

  void Abort() {
    state_ = State::kClosing;
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  Server::Impl* const server_;
  asio::ssl::stream<beast::tcp_stream> stream_;
  std::string remote_;       // the peer, or the client a trusted proxy named
  std::string address_key_;  // what the per-address limit counts it under
  const uint64_t id_;
  const bool via_proxy_;      // from a trusted proxy: a PROXY header comes first
  std::string proxy_header_;  // the PROXY header so far
  std::atomic<int64_t> idle_since_{0};
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::empty_body>> continue_;
  std::string out_;  // the answer being written: status line, headers, body
  std::vector<char> linger_buffer_;
  uint64_t lingered_ = 0;
  State state_ = State::kHandshake;
  bool stop_requested_ = false;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace

bool Server::Impl::Register(const std::shared_ptr<Session>& session, uint64_t id) {
  std::lock_guard lock(mu_);
  if (stopping_) return false;
  sessions_.emplace(session.get(), session);
  return true;
}

void Server::Impl::Release(Session* session, const std::string& address_key, uint64_t id) {
  bool trim = false;
  {
    std::lock_guard lock(mu_);
    if (session) sessions_.erase(session);
    evicting_.erase(id);
    --connections_;
    process_connections.fetch_sub(1, std::memory_order_relaxed);
    if (auto it = per_address_.find(address_key); it != per_address_.end() && --it->second <= 0) {
      per_address_.erase(it);
    }
    if (sessions_.empty()) cv_.notify_all();
    // After a spike, give the memory of the closed connections back.
    if (!stopping_ && !trim_scheduled_ && peak_since_trim_ - connections_ >= kTrimMinDrop &&
        connections_ <= peak_since_trim_ / 4) {
      trim_scheduled_ = true;
      trim = true;
    }
  }
  if (trim) ScheduleTrim();
}

void Server::Impl::ScheduleTrim() {
  asio::post(trim_timer_.get_executor(), [this] {
    const auto now = std::chrono::steady_clock::now();
    auto at = now + kTrimDelay;
    if (trimmed_at_) at = std::max(at, *trimmed_at_ + kTrimInterval);
    trim_timer_.expires_at(at);
    trim_timer_.async_wait([this](beast::error_code ec) {
      if (!ec) {
#if defined(__GLIBC__)
        ::malloc_trim(0);
#endif
        trimmed_at_ = std::chrono::steady_clock::now();
      }
      std::lock_guard lock(mu_);
      trim_scheduled_ = false;
      peak_since_trim_ = connections_;
    });
  });
}

ServerStats Server::Impl::stats() const {
  ServerStats out;
  {
    std::lock_guard lock(mu_);
    out.connections = connections_;
    out.max_connections = max_connections_;
    // Under mu_, a listed session is alive (see Admit).
    for (const auto& [ptr, weak] : sessions_) {
      if (ptr->idle_since() != 0) ++out.idle;
    }
  }
  out.accepted = accepted_.load();
  out.refused_per_address = refused_per_address_.load();
  out.refused_total = refused_total_.load();
  out.refused_no_descriptors = refused_no_descriptors_.load();
  out.evicted_idle = evicted_.load();
  out.refused_proxy_header = refused_proxy_header_.load();
  return out;
}

Server::Impl::Admission Server::Impl::Admit(const std::string& address_key, bool exempt,
                                            uint64_t& id,
                                            std::vector<std::shared_ptr<Session>>& evict) {
  std::lock_guard lock(mu_);
  if (stopping_) return Admission::kStopping;
  const int per_address_limit = options_.max_connections_per_address;
  if (per_address_limit > 0 && !exempt) {
    const auto it = per_address_.find(address_key);
    if (it != per_address_.end() && it->second >= per_address_limit) return Admission::kPerAddress;
  }
  // Connections being evicted still hold their slots until they close, but
  // their room is spoken for already.
  const auto evicting = static_cast<int64_t>(evicting_.size());
  const bool full = connections_ - evicting >= max_connections_ ||
                    process_connections.load(std::memory_order_relaxed) - evicting >=
                        RaiseOpenFileLimit().connection_budget;
  if (full) {
    // The connections idle longest make room: an idle flood holds its
    // connections in the handshake or between requests, and is the oldest
    // there. A few at a time, so that a full server does not look through
    // every connection at every accept; not more than kMaxEvictionsInFlight
    // still closing.
    if (evicting_.size() >= kMaxEvictionsInFlight) return Admission::kTotal;
    const size_t batch =
        std::clamp<size_t>(static_cast<size_t>(max_connections_ / 64), 1, kEvictBatch);
    const size_t room = std::min(batch, kMaxEvictionsInFlight - evicting_.size());
    std::vector<std::pair<int64_t, Session*>> idle;
    for (const auto& [ptr, weak] : sessions_) {
      // Under mu_, a listed session is alive: its destructor unlists it
      // under mu_ first.
      const int64_t since = ptr->idle_since();
      if (since != 0 && !evicting_.contains(ptr->id())) idle.emplace_back(since, ptr);
    }
    if (idle.empty()) return Admission::kTotal;
    const size_t n = std::min(room, idle.size());
    std::partial_sort(idle.begin(), idle.begin() + static_cast<ptrdiff_t>(n), idle.end());
    for (size_t i = 0; i < n; ++i) {
      Session* victim = idle[i].second;
      evicting_.insert(victim->id());
      if (auto alive = sessions_[victim].lock()) evict.push_back(std::move(alive));
    }
  }
  ++connections_;
  process_connections.fetch_add(1, std::memory_order_relaxed);
  ++per_address_[address_key];
  peak_since_trim_ = std::max(peak_since_trim_, connections_);
  id = next_id_++;
  return full ? Admission::kAdmittedByEviction : Admission::kAdmitted;
}

bool Server::Impl::Readmit(const std::string& proxy_key, const std::string& client_key) {
  std::lock_guard lock(mu_);
  const int limit = options_.max_connections_per_address;
  if (limit > 0) {
    const auto it = per_address_.find(client_key);
    if (it != per_address_.end() && it->second >= limit) return false;
  }
  if (auto it = per_address_.find(proxy_key); it != per_address_.end() && --it->second <= 0) {
    per_address_.erase(it);
  }
  ++per_address_[client_key];
  return true;
}

void Server::Impl::NoteRefusedClient(std::string client_key) {
  // Counted before the connection closes, as at accept.
  ++refused_per_address_;
  asio::post(acceptor_.get_executor(), [this, key = std::move(client_key)]() mutable {
    ++limit_events_.per_address;
    limit_events_.latest_per_address = std::move(key);
    NoteLimitEvent();
  });
}

void Server::Impl::NoteBadProxyHeader(std::string error) {
  ++refused_proxy_header_;
  asio::post(acceptor_.get_executor(), [this, error = std::move(error)]() mutable {
    ++limit_events_.bad_proxy_header;
    limit_events_.latest_proxy_error = std::move(error);
    NoteLimitEvent();
  });
}

Status Server::Impl::Init() {
  SSL_CTX* ctx = ssl_ctx_.native_handle();
  ssl_ctx_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Idle connections give their TLS record buffers back (some 34 KB each).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return crypto::SslError(Code::kInternal, "cannot configure TLS");
  }

  for (const std::string& entry : options_.trusted_proxies) {
    Result<Network> net = ParseNetwork(entry);
    if (!net.ok()) return net.status().WithContext("a trusted proxy");
    trusted_.push_back(*net);
  }
  if (options_.max_connections < 0 || options_.max_connections_per_address < 0 ||
      options_.handshake_timeout_seconds < 0) {
    return Status(Code::kInvalidArgument,
                  "the HTTPS server's max_connections, max_connections_per_address and "
                  "handshake_timeout_seconds must not be negative");
  }
  const ProcessLimits& limits = RaiseOpenFileLimit();
  max_connections_ = options_.max_connections > 0
                         ? options_.max_connections
                         : std::min(limits.connection_budget, kDefaultMaxConnections);
  EnsureSpare();

  if (options_.certificate_chain_pem.empty()) {
    return Status(Code::kInvalidArgument, "no TLS certificate chain was given to the HTTPS server");
  }
  beast::error_code ec;
  ssl_ctx_.use_certificate_chain(
      asio::buffer(options_.certificate_chain_pem.data(), options_.certificate_chain_pem.size()),
      ec);
  if (ec) {
    ERR_clear_error();
    return Status(
        Code::kMalformed,
        "the HTTPS server's certificate chain is not PEM certificates (" + ec.message() + ")");
  }
  std::shared_ptr<EVP_PKEY> key = std::move(options_.private_key);
  if (!key) {
    Result<crypto::PkeyPtr> opened =
        crypto::UnsealPrivateKey(options_.sealed_key_pem, options_.key_password);
    if (!opened.ok()) {
      crypto::Wipe(options_.key_password);
      return opened.status().WithContext("cannot open the HTTPS server's private key");
    }
    key = std::move(opened).value();
  }
  // The key now lives in OpenSSL; its password is not needed again.
  crypto::Wipe(options_.key_password);
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Status(Code::kMismatch,
                  "the HTTPS server's private key does not belong to its certificate (the first "
                  "certificate of the chain)");
  }

  std::string host = options_.address;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) {
    return Status(Code::kInvalidArgument,
                  "\"" + options_.address + "\" is not an IP address to listen on");
  }
  const tcp::endpoint endpoint(address, options_.port);
  const std::string where =
      (address.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(options_.port);
  if (acceptor_.open(endpoint.protocol(), ec) ||
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec) ||
      acceptor_.bind(endpoint, ec) ||
      acceptor_.listen(asio::socket_base::max_listen_connections, ec) ||
      acceptor_.non_blocking(true, ec)) {
    return Status(Code::kIo, "cannot listen on " + where + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint(ec).port();
  if (ec) return Status(Code::kIo, "cannot listen on " + where + ": " + ec.message());
  return Status::Ok();
}

void Server::Impl::Run() {
  if (options_.blocking) {
    blocking_pool_.emplace(static_cast<size_t>(std::max(1, options_.blocking_threads)));
  }
  for (const auto& loop : loops_) work_.push_back(asio::make_work_guard(*loop));
  DoAccept();
  threads_.reserve(loops_.size());
  for (size_t i = 0; i < loops_.size(); ++i) {
    threads_.emplace_back([this, ioc = loops_[i].get(), log = access_logs_[i].get()] {
      current_pool = this;
      current_access_log = log;
      while (true) {
        try {
          ioc->run();
          return;
        } catch (const std::exception& e) {
          LogLine(std::string("unexpected exception in the HTTPS server: ") + e.what());
        }
      }
    });
  }
}

void Server::Impl::DoAccept() {
  asio::io_context& loop = *loops_[next_loop_++ % loops_.size()];
  try {
    acceptor_.async_accept(loop, [this](beast::error_code ec, tcp::socket socket) {
      OnAccept(ec, std::move(socket));
    });
  } catch (const std::exception& e) {  // out of memory: accepting must not stop for good
    LogLine(std::string("cannot wait for connections: ") + e.what() + " (trying again)");
    RetryAcceptLater();
  }
}

void Server::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) return OnAcceptError(ec);
  EnsureSpare();
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) {  // gone already
    CloseAtOnce(socket);
    return DoAccept();
  }
  // Answers go out as soon as they are written: with Nagle's algorithm a
  // small answer after a TLS record waits for the peer's delayed ACK
  // (about 40 ms a request on keep-alive connections).
  socket.set_option(tcp::no_delay(true), ec);
  const asio::ip::address address = Unmapped(peer.address());
  // A trusted proxy's connections count for the client its PROXY header
  // names (Readmit); until then, under the proxy's own address, unlimited.
  const bool via_proxy = IsTrustedProxy(address);
  std::string key = (via_proxy ? "proxy " : "") + AddressKey(address);
  uint64_t id = 0;
  std::vector<std::shared_ptr<Session>> evict;
  const Admission admission = Admit(key, via_proxy, id, evict);
  const size_t evicted = evict.size();
  for (const auto& victim : evict) victim->Evict();
  evict.clear();
  switch (admission) {
    case Admission::kAdmitted:
      break;
    case Admission::kAdmittedByEviction:
      limit_events_.evicted += evicted;
      NoteLimitEvent();
      break;
    case Admission::kStopping:
      CloseAtOnce(socket);
      return;
    // Counted before the socket closes: a client that sees it closed sees
    // it counted (tests rely on it).
    case Admission::kPerAddress:
      ++refused_per_address_;
      ++limit_events_.per_address;
      limit_events_.latest_per_address = key;
      CloseAtOnce(socket);
      NoteLimitEvent();
      return DoAccept();
    case Admission::kTotal:
      ++refused_total_;
      ++limit_events_.total;
      CloseAtOnce(socket);
      NoteLimitEvent();
      return DoAccept();
  }
  ++accepted_;
  std::shared_ptr<Session> session;
  try {
    session =
        std::make_shared<Session>(this, std::move(socket), address.to_string(), key, id, via_proxy);
  } catch (const std::exception& e) {
    LogLine(std::string("cannot set up a connection: ") + e.what());
    Release(nullptr, key, id);
    return DoAccept();
  }
  if (Register(session, id)) session->Start();
  DoAccept();
}

void Server::Impl::OnAcceptError(const beast::error_code& ec) {
  if (IsOutOfDescriptors(ec) && DropWaitingConnection()) return DoAccept();
  const auto now = std::chrono::steady_clock::now();
  if (!accept_error_logged_at_ || now - *accept_error_logged_at_ >= kLimitLogInterval) {
    accept_error_logged_at_ = now;
    LogLine("cannot accept a connection: " + ec.message() +
            " (trying again every 100 ms; logged at most once per 10 s)");
  }
  RetryAcceptLater();
}

void Server::Impl::EnsureSpare() {
  if (null_fd_ < 0) null_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (spare_fd_ < 0 && null_fd_ >= 0) spare_fd_ = ::fcntl(null_fd_, F_DUPFD_CLOEXEC, 0);
}

bool Server::Impl::DropWaitingConnection() {
  if (null_fd_ < 0 || spare_fd_ < 0) return false;
  // Only when a connection is waiting: the spare's number must not be left
  // free for nothing.
  pollfd waiting{acceptor_.native_handle(), POLLIN, 0};
  if (::poll(&waiting, 1, 0) <= 0 || (waiting.revents & POLLIN) == 0) return false;
  ::close(spare_fd_);
  spare_fd_ = -1;
  const int fd =
      ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    const int accept_errno = errno;
    EnsureSpare();
    // ECONNABORTED: the waiting connection went away, which is as good.
    return accept_errno == ECONNABORTED;
  }
  ++refused_no_descriptors_;
  ++limit_events_.no_descriptors;
  const linger reset{1, 0};  // no TIME_WAIT
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  if (::dup3(null_fd_, fd, O_CLOEXEC) >= 0) {  // closes the connection
    spare_fd_ = fd;
  } else {
    ::close(fd);
    EnsureSpare();
  }
  NoteLimitEvent();
  return true;
}

void Server::Impl::RetryAcceptLater() {
  accept_retry_.expires_after(kAcceptRetry);
  accept_retry_.async_wait([this](beast::error_code wait_ec) {
    if (wait_ec || !acceptor_.is_open()) return;
    EnsureSpare();
    DoAccept();
  });
}

// The first event is logged at once, later ones as one summary line at most
// every kLimitLogInterval.
void Server::Impl::NoteLimitEvent() {
  if (limit_log_pending_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!limit_logged_at_ || now - *limit_logged_at_ >= kLimitLogInterval) return LogLimitEvents();
  limit_log_pending_ = true;
  limit_log_timer_.expires_at(*limit_logged_at_ + kLimitLogInterval);
  limit_log_timer_.async_wait([this](beast::error_code) {
    limit_log_pending_ = false;
    LogLimitEvents();
  });
}

void Server::Impl::LogLimitEvents() {
  if (!limit_events_.any()) return;
  const LimitEvents& e = limit_events_;
  std::string line = "connection limits (this line comes at most once per 10 s):";
  std::string sep = " ";
  if (e.per_address > 0) {
    line += sep + "refused " + Plural(e.per_address, "connection") +
            " from an address at its limit of " +
            std::to_string(options_.max_connections_per_address) + " (latest " +
            e.latest_per_address + ")";
    sep = "; ";
  }
  if (e.evicted > 0) {
    line += sep + "closed " + Plural(e.evicted, "idle connection") +
            " (the longest idle) to make room for new connections";
    sep = "; ";
  }
  if (e.bad_proxy_header > 0) {
    line += sep + "refused " + Plural(e.bad_proxy_header, "connection") +
            " from a trusted proxy without a well-formed PROXY header (latest " +
            e.latest_proxy_error + ")";
    sep = "; ";
  }
  if (e.total > 0) {
    line += sep + "refused " + Plural(e.total, "connection") + " at the limit of " +
            std::to_string(max_connections_) + " connections";
    sep = "; ";
  }
  if (e.no_descriptors > 0) {
    line += sep + "refused " + Plural(e.no_descriptors, "connection") +
            " because the process is out of file descriptors";
  }
  LogLine(line);
  limit_events_ = {};
  limit_logged_at_ = std::chrono::steady_clock::now();
}

void Server::Impl::Stop() {
  std::vector<std::shared_ptr<Session>> live;
  bool first = false;
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      first = true;
      for (const auto& [ptr, weak] : sessions_) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
  }
  cv_.notify_all();
  if (first) {
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
      accept_retry_.cancel();
      limit_log_timer_.cancel();  // logs what it had
    });
    asio::post(trim_timer_.get_executor(), [this] { trim_timer_.cancel(); });
    for (const auto& s : live) s->RequestStop();
    live.clear();
  }
  // A handler that calls Stop() cannot join its own thread; the destructor
  // (or a Stop() from outside the pool) does.
  if (current_pool == this) return;
  std::lock_guard join_lock(join_mu_);
  if (joined_) return;
  {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kStopGrace, [&] { return sessions_.empty(); });
  }
  // A handler still running on the blocking pool is waited for (it ends
  // within its own timeouts); its response goes nowhere.
  if (blocking_pool_) {
    blocking_pool_->stop();
    blocking_pool_->join();
  }
  work_.clear();
  for (const auto& loop : loops_) loop->stop();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  for (const auto& log : access_logs_) log->Flush();  // their threads have ended
  joined_ = true;
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;  // ~Impl stops and joins

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options, Handler handler) {
  if (!handler) return Status(Code::kInvalidArgument, "the HTTPS server needs a handler");
  try {
    auto impl = std::make_unique<Impl>(options, std::move(handler));
    RETURN_IF_ERROR(impl->Init());
    impl->Run();
    return std::unique_ptr<Server>(new Server(std::move(impl)));
  } catch (const std::exception& e) {
    return Status(Code::kInternal, std::string("cannot start the HTTPS server: ") + e.what());
  }
}

uint16_t Server::port() const { return impl_->port(); }
ServerStats Server::stats() const { return impl_->stats(); }
void Server::Stop() { impl_->Stop(); }
void Server::Wait() { impl_->Wait(); }

}  // namespace openrms::http
