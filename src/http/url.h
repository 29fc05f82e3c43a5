// Parts of an absolute URL ("https://host:port/path?query").
#pragma once

#include <string>

namespace openrms::http {

// The path without query, fragment or trailing slashes
// ("https://h:1/root/_wmcs/?x" -> "/root/_wmcs"; "https://h" -> "").
std::string UrlPath(const std::string& url);
// The host, without the brackets of an IPv6 literal.
std::string UrlHost(const std::string& url);

}  // namespace openrms::http
