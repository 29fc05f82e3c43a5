// The PROXY protocol header that a TCP load balancer (HAProxy's
// send-proxy-v2 or send-proxy) puts before the client's bytes, naming the
// client's address: the binary version 2 and the text version 1
// (haproxy.org/download/2.6/doc/proxy-protocol.txt). Pure functions of
// bytes; the server (http/server.h) reads a header only from a trusted
// proxy, and exactly as many bytes as the header takes, so that the TLS
// handshake that follows is left whole.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace openrms::http {

// The longest version 2 header read: 16 bytes and an address block of up to
// 512 (an IPv6 address pair takes 36; the rest would be TLVs, which are
// skipped). Version 1 headers are at most 107 bytes by definition.
inline constexpr size_t kMaxProxyHeaderV2Bytes = 16 + 512;
inline constexpr size_t kMaxProxyHeaderV1Bytes = 107;

// How many more bytes the header that starts with `prefix` needs at least
// (0: `prefix` is a whole header). Never more than the header still lacks:
// reading that many bytes never reads past the header. kMalformed when
// `prefix` cannot start a header ("the connection does not start with a
// PROXY protocol header") or the header is over its limit.
Result<size_t> ProxyHeaderMissing(std::string_view prefix);

struct ProxyHeader {
  // The client's address as text ("192.0.2.1", "2001:db8::1"). None for a
  // connection the proxy makes on its own behalf (a health check: version 2
  // LOCAL, version 1 UNKNOWN, or an address family other than IPv4/IPv6).
  std::optional<std::string> client;
};

// Parses a whole header (one for which ProxyHeaderMissing answers 0).
// kMalformed, naming what is wrong, for anything else.
Result<ProxyHeader> ParseProxyHeader(std::string_view header);

}  // namespace openrms::http
