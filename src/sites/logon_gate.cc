#include "sites/logon_gate.h"

#include <algorithm>

#include "crypto/password_hash.h"
#include "http/forms.h"
#include "sites/page.h"

namespace openrms::sites {

namespace {

constexpr char kLogonCsrfCookie[] = "openrms_logon_csrf";

std::string Cookie(const std::string& name, const std::string& value, const std::string& path,
                   int max_age) {
  return name + "=" + value + "; Path=" + path +
         "; Secure; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age);
}

}  // namespace

std::string Hidden(const std::string& name, const std::string& value) {
  return "<input type=\"hidden\" name=\"" + E(name) + "\" value=\"" + E(value) + "\">";
}

std::string LogonGate::SafeNext(const std::string& next) const {
  // Only a path of this site's own, never one a browser could read as
  // another host ("//evil", "/\\evil") or a header-splitting line break.
  const bool safe = next.rfind(Home(), 0) == 0 && next.find("//") == std::string::npos &&
                    next.find('\\') == std::string::npos &&
                    std::none_of(next.begin(), next.end(), [](char c) {
                      return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
                    });
  return safe ? next : Home();
}

http::Response LogonGate::LogonPage(const http::Request& req, int status,
                                    const std::string& error) {
  const std::string csrf = NewToken(random_, 16);
  const std::string next = SafeNext(req.query.count("next") ? req.query.at("next") : Home());
  std::string body;
  if (!error.empty()) body += Notice(NoticeKind::kError, "Logon failed", "<p>" + E(error) + "</p>");
  body +=
      "<section class=\"card narrow\"><p>Log on with an account that is a member of the <strong>" +
      E(options_.group) + "</strong> group.</p><form method=\"post\" action=\"" + options_.prefix +
      "/logon\">" + Hidden("csrf", csrf) + Hidden("next", next) +
      "<label for=\"user\">User name</label><input type=\"text\" id=\"user\" name=\"user\" "
      "autocomplete=\"username\" required autofocus>"
      "<label for=\"password\">Password</label><input type=\"password\" id=\"password\" "
      "name=\"password\" autocomplete=\"current-password\" required>"
      "<div class=\"actions\"><button type=\"submit\">Log on</button></div></form></section>";
  http::Response r = http::Response::Html(status, Render({options_.site, "Log on", body, ""}));
  r.SetHeader("Set-Cookie", Cookie(kLogonCsrfCookie, csrf, options_.prefix, 3600));
  return r;
}

http::Response LogonGate::AccessDenied(const std::string& user) const {
  return http::Response::Html(
      403,
      Render({options_.site, "Access denied",
              Notice(NoticeKind::kError, "Access denied",
                     "<p>" + E(user) + " is not a member of the " + E(options_.group) +
                         " group. Only " + E(options_.who) + " may use this site.</p>") +
                  "<p><a href=\"" + options_.prefix + "/logon\">Log on as another user</a></p>",
              ""}));
}

http::Response LogonGate::LogOn(const http::Request& req) {
  auto form = http::ParseUrlEncoded(req.body);
  if (!form.ok()) return LogonPage(req, 400, form.status().message());
  const std::string csrf = form->count("csrf") ? form->at("csrf") : "";
  const auto cookie = req.Cookie(kLogonCsrfCookie);
  if (!cookie || !crypto::SecretEquals(*cookie, csrf)) {
    return LogonPage(req, 400, "the logon form expired; please try again");
  }
  auto id = logon_.LogOn(form->count("user") ? form->at("user") : "",
                         form->count("password") ? form->at("password") : "", req.remote_address);
  if (!id.ok()) {
    const Code code = id.status().code();
    const int status = code == Code::kUnauthenticated    ? 401
                       : code == Code::kPermissionDenied ? 429  // throttled: try again later
                       : code == Code::kUnavailable      ? 503
                                                         : 403;
    return LogonPage(req, status, id.status().message());
  }
  if (!id->InGroup(options_.group)) return AccessDenied(id->user);
  auto token = sessions_.Create(*id);
  if (!token.ok()) return LogonPage(req, 500, token.status().message());
  http::Response r =
      http::Response::Redirect(SafeNext(form->count("next") ? form->at("next") : Home()));
  r.SetHeader("Set-Cookie", Cookie(options_.session_cookie, *token, options_.prefix, 8 * 3600));
  return r;
}

std::optional<http::Response> LogonGate::HandleLogon(const http::Request& req) {
  if (req.path == options_.prefix + "/logon") {
    return req.method == "POST" ? LogOn(req) : LogonPage(req, 200, "");
  }
  if (req.path == options_.prefix + "/logoff" && req.method == "POST") {
    auto visitor = Require(req);
    if (auto* v = std::get_if<Visitor>(&visitor)) {
      auto form = Form(*v, req);
      if (auto* refused = std::get_if<http::Response>(&form)) return *refused;
      (void)sessions_.Delete(v->token);
    }
    http::Response r = http::Response::Redirect(options_.prefix + "/logon");
    r.SetHeader("Set-Cookie", Cookie(options_.session_cookie, "", options_.prefix, 0));
    return r;
  }
  return std::nullopt;
}

std::variant<LogonGate::Visitor, http::Response> LogonGate::Require(const http::Request& req) {
  const auto cookie = req.Cookie(options_.session_cookie);
  std::optional<accounts::Session> session;
  if (cookie) {
    auto found = sessions_.Find(*cookie);
    if (found.ok()) session = *found;
  }
  if (!session) {
    if (req.method == "GET") {
      return http::Response::Redirect(options_.prefix +
                                      "/logon?next=" + http::PercentEncode(req.path));
    }
    return http::Response::Redirect(options_.prefix + "/logon");
  }
  const accounts::Identity identity{session->user, session->groups, ""};
  if (!identity.InGroup(options_.group)) return AccessDenied(session->user);
  return Visitor{*cookie, *session};
}

std::variant<std::map<std::string, std::string>, http::Response> LogonGate::Form(
    const Visitor& visitor, const http::Request& req) {
  auto parsed = http::ParseUrlEncoded(req.body);
  if (!parsed.ok()) return http::Response::Text(400, parsed.status().message() + "\n");
  if (!parsed->count("csrf") ||
      !crypto::SecretEquals(parsed->at("csrf"), visitor.session.csrf_token)) {
    return http::Response::Html(403, Render({options_.site, "Refused",
                                             Notice(NoticeKind::kError, "The form expired",
                                                    "<p>Reload the page and try again.</p>"),
                                             HeaderHtml(visitor)}));
  }
  return std::move(parsed).value();
}

std::string LogonGate::CsrfField(const Visitor& visitor) const {
  return Hidden("csrf", visitor.session.csrf_token);
}

std::string LogonGate::HeaderHtml(const Visitor& visitor) const {
  return "<form method=\"post\" action=\"" + options_.prefix + "/logoff\" class=\"inline\">" +
         CsrfField(visitor) + "Signed in as <strong id=\"signed-in-user\">" +
         E(visitor.session.user) +
         "</strong> <button type=\"submit\" class=\"link\">Log off</button></form>";
}

}  // namespace openrms::sites
