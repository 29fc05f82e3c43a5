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
  TemplateData data;
  if (!error.empty()) data.set("notice", Notice(NoticeKind::kError, "Logon failed", error));
  data.set("group", options_.group);
  data.set("prefix", options_.prefix);
  data.set("csrf", csrf);
  data.set("next", SafeNext(req.query.count("next") ? req.query.at("next") : Home()));
  http::Response r = http::Response::Html(
      status, Render({options_.site, "Log on", RenderTemplate("logon", data), ""}));
  r.SetHeader("Set-Cookie", Cookie(kLogonCsrfCookie, csrf, options_.prefix, 3600));
  return r;
}

http::Response LogonGate::AccessDenied(const std::string& user) const {
  TemplateData data;
  data.set("user", user);
  data.set("group", options_.group);
  data.set("who", options_.who);
  data.set("prefix", options_.prefix);
  return http::Response::Html(
      403, Render({options_.site, "Access denied", RenderTemplate("access_denied", data), ""}));
}

http::Response LogonGate::Outage(const Status& status, const std::string& header_html) const {
  http::Response r = http::Response::Html(
      503, Render({options_.site, "Unavailable",
                   RenderTemplate("notice",
                                  Notice(NoticeKind::kError, "The service is unavailable",
                                         "Its database or directory did not answer, and nothing "
                                         "was changed. Try again in a few seconds. (" +
                                             ForRemoteCaller(status).message() + ")")),
                   header_html}));
  r.SetHeader("Retry-After", std::to_string(http::kRetryAfterSeconds));
  return r;
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
    if (code == Code::kUnavailable) return Outage(id.status(), "");
    const int status = code == Code::kUnauthenticated    ? 401
                       : code == Code::kPermissionDenied ? 429  // throttled: try again later
                                                         : 403;
    return LogonPage(req, status, id.status().message());
  }
  if (!id->InGroup(options_.group)) return AccessDenied(id->user);
  auto token = sessions_.Create(*id);
  if (!token.ok()) {
    if (token.status().code() == Code::kUnavailable) return Outage(token.status(), "");
    return LogonPage(req, 500, ForRemoteCaller(token.status()).message());
  }
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
    // Not "log on again": the session may be good, and the store is away.
    if (!found.ok() && found.status().code() == Code::kUnavailable) {
      return Outage(found.status(), "");
    }
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
    return http::Response::Html(
        403, Render({options_.site, "Refused",
                     RenderTemplate("notice", Notice(NoticeKind::kError, "The form expired",
                                                     "Reload the page and try again.")),
                     HeaderHtml(visitor)}));
  }
  return std::move(parsed).value();
}

std::string LogonGate::HeaderHtml(const Visitor& visitor) const {
  TemplateData data;
  data.set("prefix", options_.prefix);
  data.set("csrf", visitor.session.csrf_token);
  data.set("user", visitor.session.user);
  return RenderTemplate("signed_in", data);
}

}  // namespace openrms::sites
