// A small synchronous HTTPS client (Boost.Beast) for server-to-server calls
// (enrollment, SubEnroll) and tests. It verifies the server's certificate
// against the given CA and the host name. Plain http:// is refused unless
// `allow_plain_http` is set (tests of refusal paths only).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace openrms::http {

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // https://host:port/path?query ; host may be [::1]
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string ca_pem;  // trusted roots; empty: the system's default store
  int timeout_seconds = 30;
  size_t max_response_bytes = 16 << 20;
  bool allow_plain_http = false;  // http:// URLs; only for tests of refusal paths
  // The client socket's own address ("127.0.0.2": tests of per-address
  // limits); empty: the kernel's choice.
  std::string local_address;
};

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::optional<std::string> Header(std::string_view name) const;
};

// kUnavailable when the server cannot be reached or the TLS handshake
// fails (the message says which, e.g. "certificate verify failed").
Result<ClientResponse> Fetch(const ClientRequest& request);

}  // namespace openrms::http
