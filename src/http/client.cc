#include "http/client.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <exception>
#include <optional>

#include "base/text.h"
#include "crypto/ssl_util.h"
#include "http/token_chars.h"
#include "http/url.h"

namespace openrms::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kMaxResponseHeaderBytes = 64 << 10;
// How long we wait for the server's close_notify after the response.
constexpr auto kShutdownWait = std::chrono::seconds(1);

std::string_view Sv(beast::string_view s) { return {s.data(), s.size()}; }

using Url = ParsedUrl;

// For messages: the URL without query (it may carry secrets).
std::string ForMessage(const Url& url) {
  return url.Origin() + (url.path.empty() ? "/" : url.path);
}

std::string HostHeader(const Url& url) {
  const bool v6 = url.host.find(':') != std::string::npos;
  const std::string h = v6 ? "[" + url.host + "]" : url.host;
  return url.port == (url.https ? 443 : 80) ? h : h + ":" + std::to_string(url.port);
}

// Runs `ioc` until its work is done; false when `deadline` passed first.
bool RunUntil(asio::io_context& ioc, Clock::time_point deadline) {
  ioc.restart();
  ioc.run_until(deadline);
  return ioc.stopped();
}

void RunAll(asio::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

Result<std::vector<tcp::endpoint>> Resolve(asio::io_context& ioc, const Url& url,
                                           Clock::time_point deadline, int timeout_seconds) {
  beast::error_code ec;
  const asio::ip::address address = asio::ip::make_address(url.host, ec);
  if (!ec) return std::vector<tcp::endpoint>{tcp::endpoint(address, url.port)};

  tcp::resolver resolver(ioc);
  std::vector<tcp::endpoint> endpoints;
  bool done = false;
  resolver.async_resolve(url.host, std::to_string(url.port),
                         [&](beast::error_code e, const tcp::resolver::results_type& results) {
                           done = true;
                           ec = e;
                           for (const auto& r : results) endpoints.push_back(r.endpoint());
                         });
  if (!RunUntil(ioc, deadline) || !done) {
    resolver.cancel();
    RunAll(ioc);
    return Status(Code::kUnavailable, "cannot connect to " + url.Origin() + ": the host name \"" +
                                          url.host + "\" was not resolved within " +
                                          std::to_string(timeout_seconds) + " seconds");
  }
  if (ec || endpoints.empty()) {
    return Status(Code::kUnavailable, "cannot connect to " + url.Origin() + ": the host name \"" +
                                          url.host + "\" cannot be resolved (" +
                                          (ec ? ec.message() : std::string("no addresses")) + ")");
  }
  return endpoints;
}

Status ConfigureTrust(asio::ssl::context& ctx, const std::string& ca_pem) {
  SSL_CTX* native = ctx.native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    return crypto::SslError(Code::kInternal, "cannot configure TLS");
  }
  ctx.set_verify_mode(asio::ssl::verify_peer);
  if (ca_pem.empty()) {
    beast::error_code ec;
    ctx.set_default_verify_paths(ec);
    if (ec) {
      ERR_clear_error();
      return Status(Code::kFailedPrecondition,
                    "the system's trusted certificate store cannot be loaded: " + ec.message());
    }
    return Status::Ok();
  }
  std::unique_ptr<X509_STORE, crypto::Deleter<X509_STORE_free>> store(X509_STORE_new());
  crypto::BioPtr bio(BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size())));
  if (!store || !bio) return crypto::SslError(Code::kInternal, "X509_STORE_new");
  int count = 0;
  while (true) {
    crypto::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    if (X509_STORE_add_cert(store.get(), cert.get()) != 1) {
      return crypto::SslError(Code::kInternal, "X509_STORE_add_cert");
    }
    ++count;
  }
  ERR_clear_error();  // the end of the PEM text
  if (count == 0) {
    return Status(Code::kInvalidArgument, "the trusted CA text contains no PEM certificate");
  }
  SSL_CTX_set_cert_store(native, store.release());
  return Status::Ok();
}

Status ConfigureHostCheck(SSL* ssl, const Url& url) {
  if (url.is_ip) {
    // RFC 6066: no SNI for IP literals; the certificate needs an IP SAN.
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str()) != 1) {
      return crypto::SslError(Code::kInternal, "cannot set the expected IP address");
    }
    return Status::Ok();
  }
  if (SSL_set_tlsext_host_name(ssl, url.host.c_str()) != 1 ||
      SSL_set1_host(ssl, url.host.c_str()) != 1) {
    return crypto::SslError(Code::kInternal, "cannot set the expected host name");
  }
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return Status::Ok();
}

std::string Seconds(int n) { return std::to_string(n) + (n == 1 ? " second" : " seconds"); }

// Sends the request and reads the response on a connected stream.
template <typename Stream>
Result<ClientResponse> Exchange(asio::io_context& ioc, Stream& stream, const Url& url,
                                const ClientRequest& request,
                                bhttp::request<bhttp::string_body>& req,
                                Clock::time_point deadline) {
  beast::error_code write_ec;
  beast::get_lowest_layer(stream).expires_at(deadline);
  bhttp::async_write(stream, req, [&](beast::error_code e, size_t) { write_ec = e; });
  RunAll(ioc);
  if (write_ec == beast::error::timeout) {
    return Status(Code::kUnavailable, "sending the request to " + ForMessage(url) +
                                          " took longer than " + Seconds(request.timeout_seconds));
  }
  // Even when the write failed (the server may have answered early, e.g.
  // 413, and closed), a response may be waiting.
  beast::flat_buffer buffer;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  beast::error_code read_ec;
  // Interim 1xx responses (100 Continue) come before the real one.
  for (int interim = 0; interim < 8; ++interim) {
    parser.emplace();
    parser->body_limit(request.max_response_bytes);
    parser->header_limit(kMaxResponseHeaderBytes);
    if (req.method() == bhttp::verb::head) parser->skip(true);
    beast::get_lowest_layer(stream).expires_at(deadline);
    bhttp::async_read(stream, buffer, *parser, [&](beast::error_code e, size_t) { read_ec = e; });
    RunAll(ioc);
    const unsigned status = parser->get().result_int();
    if (read_ec || status >= 200 || status == 101) break;
  }
  if (read_ec) {
    if (write_ec) {
      return Status(Code::kUnavailable,
                    "sending the request to " + ForMessage(url) + " failed: " + write_ec.message());
    }
    if (read_ec == bhttp::error::body_limit) {
      return Status(Code::kTooLarge, "the response from " + ForMessage(url) +
                                         " is larger than the limit of " +
                                         std::to_string(request.max_response_bytes) + " bytes");
    }
    if (read_ec == beast::error::timeout) {
      return Status(Code::kUnavailable, "no response from " + ForMessage(url) + " within " +
                                            Seconds(request.timeout_seconds));
    }
    return Status(Code::kUnavailable,
                  "reading the response from " + ForMessage(url) + " failed: " + read_ec.message());
  }
  ClientResponse out;
  auto& msg = parser->get();
  out.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg) {
    out.headers.emplace_back(ToLower(Sv(field.name_string())), std::string(Sv(field.value())));
  }
  out.body = std::move(msg.body());
  return out;
}

Result<ClientResponse> DoFetch(const ClientRequest& request) {
  ASSIGN_OR_RETURN(Url url, ParseHttpUrl(request.url));
  if (!url.https && !request.allow_plain_http) {
    return Status(Code::kInvalidArgument,
                  "plain http:// is refused (" + ForMessage(url) + "); use https://");
  }
  if (!IsToken(request.method)) {
    return Status(Code::kInvalidArgument, "\"" + request.method + "\" is not an HTTP method");
  }
  const int timeout_seconds = std::max(1, request.timeout_seconds);
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(timeout_seconds);

  bhttp::request<bhttp::string_body> req;
  req.version(11);
  const bhttp::verb verb = bhttp::string_to_verb(request.method);
  if (verb == bhttp::verb::unknown) {
    req.method_string(request.method);
  } else {
    req.method(verb);
  }
  req.target(url.Target());
  req.set(bhttp::field::host, HostHeader(url));
  req.set(bhttp::field::user_agent, "OpenRMS");
  for (const auto& [name, value] : request.headers) {
    if (!IsToken(name) || value.find_first_of("\r\n") != std::string::npos ||
        value.find('\0') != std::string::npos) {
      return Status(Code::kInvalidArgument,
                    "the request header \"" + name + "\" has a bad name or a line break");
    }
    req.set(name, value);
  }
  req.keep_alive(false);  // one request per connection
  req.body() = request.body;
  req.prepare_payload();

  asio::io_context ioc;
  ASSIGN_OR_RETURN(std::vector<tcp::endpoint> endpoints,
                   Resolve(ioc, url, deadline, timeout_seconds));

  std::optional<asio::ip::address> local;
  if (!request.local_address.empty()) {
    beast::error_code ec;
    local = asio::ip::make_address(request.local_address, ec);
    if (ec) {
      return Status(Code::kInvalidArgument,
                    "\"" + request.local_address + "\" is not an IP address to connect from");
    }
    // Only the endpoints of the local address's family can be reached from it.
    std::erase_if(endpoints,
                  [&](const tcp::endpoint& e) { return e.address().is_v4() != local->is_v4(); });
    if (endpoints.empty()) {
      return Status(Code::kUnavailable, "cannot connect to " + url.Origin() + " from " +
                                            request.local_address +
                                            ": the host has no address of that family");
    }
  }

  auto connect = [&](beast::tcp_stream& tcp_stream) -> Status {
    beast::error_code ec;
    tcp_stream.expires_at(deadline);
    if (local) {
      // The range connect would close (and so unbind) the socket between
      // tries: bind, then connect to the first endpoint only.
      tcp::socket& socket = tcp_stream.socket();
      socket.open(endpoints.front().protocol(), ec);
      if (!ec) socket.bind(tcp::endpoint(*local, 0), ec);
      if (ec) {
        return Status(Code::kUnavailable, "cannot connect to " + url.Origin() + " from " +
                                              request.local_address + ": " + ec.message());
      }
      tcp_stream.async_connect(endpoints.front(), [&](beast::error_code e) { ec = e; });
    } else {
      tcp_stream.async_connect(endpoints,
                               [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    }
    RunAll(ioc);
    if (ec == beast::error::timeout) {
      return Status(Code::kUnavailable, "cannot connect to " + url.Origin() +
                                            ": no answer within " + Seconds(timeout_seconds));
    }
    if (ec)
      return Status(Code::kUnavailable, "cannot connect to " + url.Origin() + ": " + ec.message());
    return Status::Ok();
  };

  if (!url.https) {
    beast::tcp_stream stream(ioc);
    RETURN_IF_ERROR(connect(stream));
    Result<ClientResponse> response = Exchange(ioc, stream, url, request, req, deadline);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return response;
  }

  asio::ssl::context ctx(asio::ssl::context::tls_client);
  RETURN_IF_ERROR(ConfigureTrust(ctx, request.ca_pem));
  asio::ssl::stream<beast::tcp_stream> stream(ioc, ctx);
  RETURN_IF_ERROR(ConfigureHostCheck(stream.native_handle(), url));
  RETURN_IF_ERROR(connect(beast::get_lowest_layer(stream)));

  beast::error_code ec;
  beast::get_lowest_layer(stream).expires_at(deadline);
  stream.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
  RunAll(ioc);
  if (ec) {
    const std::string what = "TLS handshake with " + url.Origin() + " failed: ";
    const long verify = SSL_get_verify_result(stream.native_handle());
    ERR_clear_error();
    if (verify != X509_V_OK) {
      return Status(Code::kUnavailable, what + "certificate verify failed (" +
                                            X509_verify_cert_error_string(verify) + ")");
    }
    if (ec == beast::error::timeout) {
      return Status(Code::kUnavailable, what + "no answer within " + Seconds(timeout_seconds));
    }
    return Status(Code::kUnavailable, what + ec.message());
  }

  Result<ClientResponse> response = Exchange(ioc, stream, url, request, req, deadline);
  if (response.ok()) {
    // Polite close_notify; the answer is already in hand.
    beast::get_lowest_layer(stream).expires_at(std::min(deadline, Clock::now() + kShutdownWait));
    stream.async_shutdown([](beast::error_code) {});
    RunAll(ioc);
  }
  ERR_clear_error();
  return response;
}

}  // namespace

std::optional<std::string> ClientResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

Result<ClientResponse> Fetch(const ClientRequest& request) {
  try {
    return DoFetch(request);
  } catch (const std::exception& e) {
    return Status(Code::kInternal,
                  "the HTTPS request failed unexpectedly: " + std::string(e.what()));
  }
}

}  // namespace openrms::http
