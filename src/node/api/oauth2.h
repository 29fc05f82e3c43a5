// POST /oauth2/token: the OAuth 2.0 resource-owner password grant
// (RFC 6749 4.3), which gives a bearer token for the licensing protocol.
#pragma once

#include "accounts/accounts.h"
#include "http/server.h"

namespace openrms::node::api {

class TokenEndpoint final {
 public:
  TokenEndpoint(accounts::LogonService& logon, accounts::SessionStore& tokens)
      : logon_(logon), tokens_(tokens) {}
  http::Response Handle(const http::Request& request) const;

 private:
  accounts::LogonService& logon_;
  accounts::SessionStore& tokens_;
};

}  // namespace openrms::node::api
