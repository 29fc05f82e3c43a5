// Logs on to an OpenRMS web site over HTTPS as a browser would: fetch the
// logon form (its CSRF cookie and field), then post it.
#pragma once

#include <string>

#include "http/client.h"

namespace openrms::testing {

// `prefix` is e.g. "https://127.0.0.1:PORT/admin". Returns the POST's answer
// (303 with the session cookie on success). `local_address` is the client's
// own address ("127.0.0.2"), empty for the kernel's choice; `next` the
// form's "next" field (where to go after logging on), empty for none.
Result<http::ClientResponse> WebLogOn(const std::string& prefix, const std::string& ca_pem,
                                      const std::string& user, const std::string& password,
                                      const std::string& local_address = "",
                                      const std::string& next = "");

// "name=value" of a Set-Cookie header, for a later request's Cookie header.
std::string CookiePair(const http::ClientResponse& response);

// The value of the first hidden input named `name` in an HTML page.
std::string HiddenField(const std::string& html, const std::string& name);

}  // namespace openrms::testing
