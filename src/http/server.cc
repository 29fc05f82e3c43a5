#include "http/server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/text.h"
#include "crypto/sealing.h"
#include "crypto/ssl_util.h"
#include "http/forms.h"
#include "http/token_chars.h"

namespace openrms::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

// Request headers larger than this get 431.
constexpr uint32_t kMaxHeaderBytes = 16 << 10;
// After a 413, request bytes still arriving are read and dropped (up to
// this much, for up to kLingerTime) so that the client sees the response
// rather than a connection reset.
constexpr uint64_t kMaxLingerBytes = 64 << 20;
constexpr auto kLingerTime = std::chrono::seconds(5);
// How long the TLS close_notify exchange may take.
constexpr auto kShutdownTime = std::chrono::seconds(3);
// How long Stop() lets in-flight requests finish before it stops the pool.
constexpr auto kStopGrace = std::chrono::seconds(5);

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

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

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
      : options_(std::move(options)), handler_(std::move(handler)) {}
  ~Impl() { Stop(); }

  Status Init();
  void Run();
  void Stop();
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stopping_; });
  }
  uint16_t port() const { return port_; }

  // For sessions.
  bool Register(const std::shared_ptr<Session>& session);
  void Unregister(Session* session) {
    std::lock_guard lock(mu_);
    sessions_.erase(session);
    if (sessions_.empty()) cv_.notify_all();
  }
  const ServerOptions& options() const { return options_; }
  const Handler& handler() const { return handler_; }
  asio::ssl::context& ssl_context() { return ssl_ctx_; }

 private:
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);

  const ServerOptions options_;
  const Handler handler_;
  uint16_t port_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  std::mutex join_mu_;
  bool joined_ = false;

  // Declared in this order so that the io_context is destroyed (and with it
  // any handler still holding a session) while the members above and the
  // TLS context are alive.
  asio::ssl::context ssl_ctx_{asio::ssl::context::tls_server};
  asio::io_context ioc_;
  tcp::acceptor acceptor_{asio::make_strand(ioc_)};
  asio::steady_timer accept_retry_{acceptor_.get_executor()};
  std::vector<std::thread> threads_;
};

namespace {

// One TLS connection: handshake, then requests one at a time (keep-alive).
// All of its work runs on its own strand.
class Session final : public std::enable_shared_from_this<Session> {
 public:
  Session(Server::Impl* server, tcp::socket socket, std::string remote)
      : server_(server),
        stream_(std::move(socket), server->ssl_context()),
        remote_(std::move(remote)) {}
  ~Session() { server_->Unregister(this); }

  void Start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::DoHandshake, shared_from_this()));
  }

  // From Server::Stop: close idle connections now, busy ones after their
  // response.
  void RequestStop() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->OnStopRequested(); });
  }

 private:
  enum class State { kHandshake, kReading, kHandling, kWriting, kLingering, kClosing };

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  std::chrono::seconds timeout() const {
    return std::chrono::seconds(std::max(1, server_->options().request_timeout_seconds));
  }

  void OnStopRequested() {
    stop_requested_ = true;
    const bool idle =
        state_ == State::kHandshake || state_ == State::kLingering ||
        (state_ == State::kReading && buffer_.size() == 0 && (!parser_ || !parser_->got_some()));
    if (idle) lowest().cancel();
  }

  void DoHandshake() {
    if (stop_requested_) return;  // Stop() came before the first byte
    state_ = State::kHandshake;
    lowest().expires_after(timeout());
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
    parser_.emplace();
    parser_->body_limit(server_->options().max_body_bytes);
    parser_->header_limit(kMaxHeaderBytes);
    // One deadline for the whole request, idle keep-alive time included.
    lowest().expires_after(timeout());
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t) {
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
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
      return SendError(431, "The request headers are larger than the limit of " +
                                std::to_string(kMaxHeaderBytes) + " bytes.\n");
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
    // The start line is known even when the headers were refused.
    if (parser_ && !parser_->get().target().empty()) {
      method = std::string(Sv(parser_->get().method_string()));
      target = std::string(Sv(parser_->get().target()));
    }
    // After a 413 the rest of the body may still be on its way.
    Send(Response::Text(status, std::move(text)), method, target, /*keep_alive=*/false,
         /*linger=*/status == 413);
  }

  void Send(Response response, const std::string& method, const std::string& target,
            bool keep_alive, bool linger) {
    state_ = State::kWriting;
    if (stop_requested_) keep_alive = false;
    res_ = {};
    res_.version(11);
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
    res_.result(static_cast<unsigned>(status));
    for (const auto& [name, value] : response.headers) {
      // Framing headers are the server's business.
      if (EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding") ||
          EqualsIgnoreCase(name, "connection")) {
        continue;
      }
      res_.insert(name, value);
    }
    for (const auto& [name, value] : kSecurityHeaders) {
      if (!FindHeader(response.headers, name)) res_.insert(name, value);
    }
    res_.keep_alive(keep_alive);
    const bool no_body = status < 200 || status == 204 || status == 304;
    if (method == "HEAD") {
      if (!no_body) res_.content_length(response.body.size());
    } else if (!no_body) {
      res_.body() = std::move(response.body);
      res_.prepare_payload();
    }
    lowest().expires_after(timeout());
    bhttp::async_write(stream_, res_,
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
    LogLine(Printable(method, 32) + " " + Printable(RawPath(target)) + " " +
            std::to_string(status) + " " + std::to_string(ms) + "ms");
    res_ = {};
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
  const std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::empty_body>> continue_;
  bhttp::response<bhttp::string_body> res_;
  std::vector<char> linger_buffer_;
  uint64_t lingered_ = 0;
  State state_ = State::kHandshake;
  bool stop_requested_ = false;
  std::chrono::steady_clock::time_point started_;
};

std::string RemoteAddress(const tcp::socket& socket) {
  beast::error_code ec;
  const tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) return "";
  asio::ip::address address = ep.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address.to_string();
}

}  // namespace

bool Server::Impl::Register(const std::shared_ptr<Session>& session) {
  std::lock_guard lock(mu_);
  if (stopping_) return false;
  sessions_.emplace(session.get(), session);
  return true;
}

Status Server::Impl::Init() {
  SSL_CTX* ctx = ssl_ctx_.native_handle();
  ssl_ctx_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return crypto::SslError(Code::kInternal, "cannot configure TLS");
  }

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
  Result<crypto::PkeyPtr> key =
      crypto::UnsealPrivateKey(options_.sealed_key_pem, options_.key_password);
  if (!key.ok()) return key.status().WithContext("cannot open the HTTPS server's private key");
  if (SSL_CTX_use_PrivateKey(ctx, key->get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
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
      acceptor_.listen(asio::socket_base::max_listen_connections, ec)) {
    return Status(Code::kIo, "cannot listen on " + where + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint(ec).port();
  if (ec) return Status(Code::kIo, "cannot listen on " + where + ": " + ec.message());
  return Status::Ok();
}

void Server::Impl::Run() {
  DoAccept();
  unsigned n = options_.threads > 0 ? static_cast<unsigned>(options_.threads)
                                    : std::thread::hardware_concurrency();
  n = std::max(1u, n);
  threads_.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    threads_.emplace_back([this] {
      current_pool = this;
      while (true) {
        try {
          ioc_.run();
          return;
        } catch (const std::exception& e) {
          LogLine(std::string("unexpected exception in the HTTPS server: ") + e.what());
        }
      }
    });
  }
}

void Server::Impl::DoAccept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void Server::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // Out of file descriptors and the like: pause instead of spinning.
    LogLine("cannot accept a connection: " + ec.message());
    accept_retry_.expires_after(std::chrono::milliseconds(100));
    accept_retry_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && acceptor_.is_open()) DoAccept();
    });
    return;
  }
  std::string remote = RemoteAddress(socket);
  auto session = std::make_shared<Session>(this, std::move(socket), std::move(remote));
  if (Register(session)) session->Start();
  DoAccept();
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
    });
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
  ioc_.stop();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
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
void Server::Stop() { impl_->Stop(); }
void Server::Wait() { impl_->Wait(); }

}  // namespace openrms::http
