// The logon flow shared by OpenRMS's web sites: a logon form ("User name",
// "Password", "Log on") protected by a double-submit CSRF cookie, the group
// check, the session cookie (Secure, HttpOnly, SameSite=Strict), log off,
// and the per-session CSRF token that every form carries. With an
// OidcSignOn, the logon page also offers "Sign on with PROVIDER" for each
// identity provider that has a client: <prefix>/oidc/start sends the
// browser there, and <prefix>/oidc/callback takes it back. Thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>

#include "accounts/accounts.h"
#include "accounts/oidc_sign_on.h"
#include "http/server.h"

namespace openrms::sites {

struct GateOptions {
  std::string site;            // shown in the page header
  std::string prefix;          // "/admin": the gate serves <prefix>/logon and <prefix>/logoff
  std::string group;           // members only
  std::string session_cookie;  // cookie name
  std::string who;             // "administrators", "operators": for the texts
};

class LogonGate final {
 public:
  LogonGate(accounts::LogonService& logon, accounts::SessionStore& sessions, Random& random,
            GateOptions options)
      : logon_(logon), sessions_(sessions), random_(random), options_(std::move(options)) {}

  struct Visitor {
    std::string token;
    accounts::Session session;
  };

  // Offers sign-on through `sign_on`'s providers; null: none. Before use.
  void set_sign_on(accounts::OidcSignOn* sign_on) { sign_on_ = sign_on; }

  // Answers <prefix>/logon, <prefix>/logoff and <prefix>/oidc/*; nullopt
  // for other paths.
  std::optional<http::Response> HandleLogon(const http::Request& request);

  // The visitor's session, or the response to send instead: a redirect to
  // the logon page, "access denied" for someone outside the group, or
  // Outage when the store cannot say whose the session cookie is.
  std::variant<Visitor, http::Response> Require(const http::Request& request);

  // For urlencoded POSTs: the parsed form, or a 400/403 response when it is
  // malformed or its CSRF token is not the session's.
  std::variant<std::map<std::string, std::string>, http::Response> Form(
      const Visitor& visitor, const http::Request& request);

  http::Response AccessDenied(const std::string& user) const;
  // 503 with Retry-After (http::kRetryAfterSeconds): the store or the
  // directory did not answer (`status` is kUnavailable). Says that nothing
  // was changed and to try again; the details go to the log
  // (ForRemoteCaller). `header_html` as HeaderHtml gives it, or empty.
  http::Response Outage(const Status& status, const std::string& header_html) const;
  // "Signed in as NAME [Log off]", for the page header.
  std::string HeaderHtml(const Visitor& visitor) const;

 private:
  http::Response LogonPage(const http::Request& request, int status, const std::string& error);
  http::Response LogOn(const http::Request& request);
  http::Response StartSignOn(const http::Request& request);
  http::Response FinishSignOn(const http::Request& request);
  // A session for `identity` (of the site's group, else access denied),
  // its cookie, and a redirect to `next`.
  http::Response SignedOn(const http::Request& request, const accounts::Identity& identity,
                          const std::string& next);
  // https://HOST<prefix>/oidc/callback, HOST from the request; nullopt when
  // its Host header is not a host name or address with an optional port.
  std::optional<std::string> RedirectUri(const http::Request& request) const;
  std::string Home() const { return options_.prefix + "/"; }
  // `next` when it is a path under Home(), else Home(): no open redirect.
  std::string SafeNext(const std::string& next) const;

  accounts::LogonService& logon_;
  accounts::SessionStore& sessions_;
  Random& random_;
  GateOptions options_;
  accounts::OidcSignOn* sign_on_ = nullptr;
};

}  // namespace openrms::sites
