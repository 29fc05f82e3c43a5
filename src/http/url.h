// Parts of an absolute URL ("https://host:port/path?query"), parsed by
// Boost.URL (RFC 3986). Every place that takes a URL apart uses these.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace openrms::http {

struct ParsedUrl {
  bool https = true;   // the scheme: https, or http (callers decide on that)
  std::string host;    // as written, without the brackets of an IPv6 literal
  bool is_ip = false;  // an IPv4 or IPv6 literal, not a name
  uint16_t port = 0;   // as given, else the scheme's (443 or 80)
  std::string path;    // as written (percent-escapes kept); "" when none
  bool has_query = false;
  std::string query;  // as written, without the '?'; the fragment is dropped

  // "host:port", "[::1]:port".
  std::string HostPort() const;
  // "https://host:port", always with the port.
  std::string Origin() const;
  // The request target: the path ("/" when none) and the query.
  std::string Target() const;
};

// Parses an absolute http:// or https:// URL. kInvalidArgument, with
// "\"<url>\" is not a usable URL: <why>", for anything else: no scheme,
// another scheme, user names, no host, a port outside 1-65535, spaces or
// control characters, or text that is not RFC 3986 (such as "%zz").
// Printable characters that RFC 3986 does not allow anywhere ("{}|^`<>\"\\")
// are percent-encoded, as browsers do, and so appear encoded in `path` and
// `query`.
Result<ParsedUrl> ParseHttpUrl(std::string_view url);

// The path without query, fragment or trailing slashes
// ("https://h:1/root/_wmcs/?x" -> "/root/_wmcs"; "https://h" -> ""); "" when
// `url` is not a usable URL.
std::string UrlPath(const std::string& url);
// The host, without the brackets of an IPv6 literal; "" when `url` is not
// a usable URL.
std::string UrlHost(const std::string& url);

}  // namespace openrms::http
