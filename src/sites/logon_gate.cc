#include "sites/logon_gate.h"

#include <algorithm>

#include "crypto/password_hash.h"
#include "http/forms.h"
#include "sites/page.h"

namespace openrms::sites {

namespace {

constexpr char kLogonCsrfCookie[] = "openrms_logon_csrf";
// A sign-on under way at an identity provider: "ISSUER.STATE.NONCE.
// VERIFIER.NEXT" (NEXT percent-encoded). It must be sent on the provider's
// redirect back, a cross-site navigation: SameSite=Lax, not Strict.
constexpr char kSignOnCookie[] = "openrms_oidc";
constexpr int kSignOnSeconds = 600;

std::string Cookie(const std::string& name, const std::string& value, const std::string& path,
                   int max_age, const char* same_site = "Strict") {
  return name + "=" + value + "; Path=" + path + "; Secure; HttpOnly; SameSite=" + same_site +
         "; Max-Age=" + std::to_string(max_age);
}

struct SignOnCookie {
  accounts::OidcSignOn::Pending pending;
  std::string next;
};

std::optional<SignOnCookie> ReadSignOnCookie(const std::string& value) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    const size_t dot = value.find('.', start);
    if (dot == std::string::npos) return std::nullopt;
    parts.push_back(value.substr(start, dot - start));
    start = dot + 1;
  }
  const auto issuer = ParseInt(parts[0]);
  if (!issuer || *issuer < 0 || *issuer > 1000) return std::nullopt;
  SignOnCookie c;
  c.pending.issuer = static_cast<size_t>(*issuer);
  c.pending.state = parts[1];
  c.pending.nonce = parts[2];
  c.pending.verifier = parts[3];
  c.next = http::PercentDecode(value.substr(start), /*plus_is_space=*/false);
  return c;
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
  const std::string next = SafeNext(req.query.count("next") ? req.query.at("next") : Home());
  data.set("next", next);
  if (sign_on_ != nullptr) {
    TemplateData providers{TemplateData::type::list};
    for (const auto& p : sign_on_->Providers()) {
      TemplateData provider;
      provider.set("name", p.name);
      provider.set("href", options_.prefix + "/oidc/start?provider=" + std::to_string(p.issuer) +
                               "&next=" + http::PercentEncode(next));
      providers.push_back(std::move(provider));
    }
    if (!providers.is_empty_list()) {
      data.set("providers", std::move(providers));
      data.set("has_providers", true);
    }
  }
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
  return SignedOn(req, *id, form->count("next") ? form->at("next") : Home());
}

http::Response LogonGate::SignedOn(const http::Request& req, const accounts::Identity& identity,
                                   const std::string& next) {
  if (!identity.InGroup(options_.group)) return AccessDenied(identity.user);
  auto token = sessions_.Create(identity);
  if (!token.ok()) {
    if (token.status().code() == Code::kUnavailable) return Outage(token.status(), "");
    return LogonPage(req, 500, ForRemoteCaller(token.status()).message());
  }
  http::Response r = http::Response::Redirect(SafeNext(next));
  r.SetHeader("Set-Cookie", Cookie(options_.session_cookie, *token, options_.prefix, 8 * 3600));
  return r;
}

std::optional<std::string> LogonGate::RedirectUri(const http::Request& req) const {
  const std::string host = req.Header("host").value_or("");
  const bool plain =
      !host.empty() && host.size() <= 255 && std::all_of(host.begin(), host.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
      });
  if (!plain) return std::nullopt;
  return "https://" + host + options_.prefix + "/oidc/callback";
}

http::Response LogonGate::StartSignOn(const http::Request& req) {
  const auto provider = ParseInt(req.query.count("provider") ? req.query.at("provider") : "");
  const auto redirect_uri = RedirectUri(req);
  if (!redirect_uri) return LogonPage(req, 400, "the request names no usable host (Host header)");
  if (!provider || *provider < 0) {
    return LogonPage(req, 400, "choose an identity provider from the list");
  }
  auto pending = sign_on_->Begin(static_cast<size_t>(*provider), *redirect_uri);
  if (!pending.ok()) {
    if (pending.status().code() == Code::kUnavailable) return Outage(pending.status(), "");
    return LogonPage(req, 400, pending.status().message());
  }
  const std::string next = SafeNext(req.query.count("next") ? req.query.at("next") : Home());
  http::Response r = http::Response::Redirect(pending->url);
  r.SetHeader("Set-Cookie",
              Cookie(kSignOnCookie,
                     std::to_string(pending->issuer) + "." + pending->state + "." + pending->nonce +
                         "." + pending->verifier + "." + http::PercentEncode(next),
                     options_.prefix + "/oidc", kSignOnSeconds, "Lax"));
  return r;
}

http::Response LogonGate::FinishSignOn(const http::Request& req) {
  const auto query = [&](const char* name) {
    return req.query.count(name) ? req.query.at(name) : std::string();
  };
  const auto cookie = req.Cookie(kSignOnCookie);
  const auto started = cookie ? ReadSignOnCookie(*cookie) : std::nullopt;
  const auto redirect_uri = RedirectUri(req);
  http::Response r = [&]() -> http::Response {
    if (!started || !redirect_uri) {
      return LogonPage(req, 400,
                       "the sign-on expired or was started in another browser; please try again");
    }
    if (!crypto::SecretEquals(query("state"), started->pending.state)) {
      return LogonPage(req, 400,
                       "the identity provider's answer is not for the sign-on this browser "
                       "started (its state differs); please try again");
    }
    if (!query("error").empty()) {
      // RFC 6749 4.1.2.1: the provider refused, or the person cancelled.
      const std::string why =
          query("error").substr(0, 100) + (query("error_description").empty()
                                               ? ""
                                               : ": " + query("error_description").substr(0, 300));
      return LogonPage(req, 401, "the identity provider did not sign you on (" + why + ")");
    }
    auto identity = sign_on_->Finish(started->pending, query("code"), *redirect_uri);
    if (!identity.ok()) {
      if (identity.status().code() == Code::kUnavailable) return Outage(identity.status(), "");
      return LogonPage(req, 401, identity.status().message());
    }
    identity->address = req.remote_address;
    return SignedOn(req, *identity, started->next);
  }();
  // Used once, whatever came of it.
  r.headers.emplace_back("Set-Cookie",
                         Cookie(kSignOnCookie, "", options_.prefix + "/oidc", 0, "Lax"));
  return r;
}

std::optional<http::Response> LogonGate::HandleLogon(const http::Request& req) {
  if (req.path == options_.prefix + "/logon") {
    return req.method == "POST" ? LogOn(req) : LogonPage(req, 200, "");
  }
  if (sign_on_ != nullptr && req.method == "GET" && req.path == options_.prefix + "/oidc/start") {
    return StartSignOn(req);
  }
  if (sign_on_ != nullptr && req.method == "GET" &&
      req.path == options_.prefix + "/oidc/callback") {
    return FinishSignOn(req);
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
