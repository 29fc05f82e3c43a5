#include "http/url.h"

#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/gen_delim_chars.hpp>
#include <boost/url/rfc/sub_delim_chars.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <charconv>

namespace openrms::http {

namespace urls = boost::urls;

namespace {

bool HasSpaceOrControl(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return true;
    }
  }
  return false;
}

// What RFC 3986 lets stand in a URL as it is; '%' too, since escapes
// already there stay (a '%' that starts none is refused by the parser).
constexpr urls::grammar::lut_chars kUrlChars = urls::unreserved_chars + urls::gen_delim_chars +
                                               urls::sub_delim_chars +
                                               urls::grammar::lut_chars("%");

}  // namespace

std::string ParsedUrl::HostPort() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string ParsedUrl::Origin() const { return (https ? "https://" : "http://") + HostPort(); }

std::string ParsedUrl::Target() const {
  return (path.empty() ? "/" : path) + (has_query ? "?" + query : "");
}

Result<ParsedUrl> ParseHttpUrl(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Status(Code::kInvalidArgument,
                  "\"" + std::string(text) + "\" is not a usable URL: " + why);
  };
  // Boost.URL refuses these too, but says only "syntax error"; name them.
  if (text.find("://") == std::string_view::npos) return bad("it does not start with https://");
  if (HasSpaceOrControl(text)) {
    return bad("it contains spaces or control characters (percent-encode them)");
  }
  // Printable characters RFC 3986 never allows ("{GUID}" in a path, '|')
  // are percent-encoded first, as browsers do.
  const std::string encoded = urls::encode(text, kUrlChars);
  const urls::result<urls::url_view> parsed = urls::parse_uri(encoded);
  if (!parsed) return bad("it is not a URL (RFC 3986): " + parsed.error().message());
  const urls::url_view& u = *parsed;

  ParsedUrl url;
  if (u.scheme_id() == urls::scheme::http) {
    url.https = false;
  } else if (u.scheme_id() != urls::scheme::https) {
    return bad("the scheme must be https");
  }
  if (u.has_userinfo()) return bad("user names are not supported");
  switch (u.host_type()) {
    case urls::host_type::ipv4:
    case urls::host_type::ipv6:
      url.is_ip = true;
      break;
    case urls::host_type::name:
      break;
    default:  // none, or [v1.future] addresses
      return bad("it has no host");
  }
  url.host = u.host_address();  // percent-escapes in a name decoded
  if (url.host.empty()) return bad("it has no host");
  if (HasSpaceOrControl(url.host)) {
    return bad("the host contains spaces or control characters");
  }
  url.port = url.https ? 443 : 80;
  if (u.has_port()) {
    const std::string_view digits = u.port();
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535) {
      return bad("the port must be a number from 1 to 65535");
    }
    url.port = static_cast<uint16_t>(port);
  }
  url.path = u.encoded_path();
  url.has_query = u.has_query();
  url.query = u.encoded_query();
  return url;
}

std::string UrlPath(const std::string& url) {
  Result<ParsedUrl> parsed = ParseHttpUrl(url);
  if (!parsed.ok()) return "";
  std::string path = std::move(parsed->path);
  while (!path.empty() && path.back() == '/') path.pop_back();
  return path;
}

std::string UrlHost(const std::string& url) {
  Result<ParsedUrl> parsed = ParseHttpUrl(url);
  return parsed.ok() ? parsed->host : "";
}

}  // namespace openrms::http
