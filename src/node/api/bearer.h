// Bearer tokens of the REST protocols (/my/v2, /certification): who sent a
// request, and the challenge the RMS SDK expects when no one did.
#pragma once

#include <optional>
#include <string>

#include "accounts/accounts.h"
#include "http/server.h"

namespace openrms::node::api {

// The protocol's error body, {"Code","Message"}, with an HTTP status.
http::Response JsonError(int status, const std::string& code, const std::string& message);
// A refusal of the licensing service as the protocol's error
// (LicensingService::ToProtocolError).
http::Response ProtocolErrorResponse(const Status& status);

class BearerAuth final {
 public:
  // `node_url` ("https://host:port") names the token endpoint in challenges;
  // it is read per request, so it may be set after construction.
  BearerAuth(accounts::SessionStore& tokens, const std::string& node_url)
      : tokens_(tokens), node_url_(node_url) {}

  // The session of "Authorization: Bearer <token>", if the token is live.
  std::optional<accounts::Session> SessionOf(const http::Request& request) const;
  // 401 with the challenge the RMS SDK reads. It splits the header on ','
  // and '=', so no value may contain either.
  http::Response Challenge(const std::string& cluster) const;

 private:
  accounts::SessionStore& tokens_;
  const std::string& node_url_;
};

}  // namespace openrms::node::api
