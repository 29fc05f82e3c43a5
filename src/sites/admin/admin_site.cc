#include "sites/admin/admin_site.h"

#include <map>

#include "base/text.h"
#include "crypto/keys.h"
#include "crypto/password_hash.h"
#include "http/forms.h"
#include "sites/page.h"
#include "xrml/chain.h"

namespace openrms::sites {

namespace {

using http::Request;
using http::Response;

constexpr char kSite[] = "Windows RMS Administration - OpenRMS";
constexpr size_t kMaxUpload = (8 << 20) + 16384;

constexpr char kScript[] = R"js(
// The Renew dialog: show the part of the chosen option.
document.addEventListener('DOMContentLoaded', function () {
  var radios = document.querySelectorAll('input[name="mode"]');
  function update() {
    radios.forEach(function (r) {
      var part = document.getElementById(r.value + '-part');
      if (part) part.hidden = !r.checked;
    });
  }
  radios.forEach(function (r) { r.addEventListener('change', update); });
  if (radios.length) update();
});
)js";

std::string ClusterPath(const std::string& name) {
  return std::string(kAdminPrefix) + "/clusters/" + http::PercentEncode(name);
}

// What templates/admin/slc_summary.mustache and state_badge.mustache show.
TemplateData SlcData(const cluster::SlcSummary& s) {
  TemplateData data;
  data.set("server_name", s.server_name);
  data.set("guid", s.guid);
  data.set("issuer", s.issuer);
  data.set("issued", FormatHuman(s.issued));
  data.set("expires", FormatHuman(s.expires));
  data.set("days_left", std::to_string(s.days_left));
  data.set("state", std::string(cluster::SlcStateName(s.state)));
  data.set("state_class", s.state == cluster::SlcState::kValid     ? "ok"
                          : s.state == cluster::SlcState::kExpired ? "err"
                                                                   : "warn");
  return data;
}

// ", "-separated, for the templates' list of rights.
std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// The store (or directory, or key store) did not answer: an outage page,
// not a refusal.
bool Away(const Status& s) { return s.code() == Code::kUnavailable; }

}  // namespace

Response AdminSite::Page(int status, const Context& ctx, const std::string& title,
                         const std::string& body_html, const std::vector<Crumb>& trail) {
  TemplateList steps;
  for (const Crumb& c : trail) {
    TemplateData step;
    step.set("name", c.name);
    if (!c.path.empty()) step.set("path", c.path);
    steps.push_back(std::move(step));
  }
  TemplateData crumbs;
  crumbs.set("trail", steps);
  return Response::Html(
      status, sites::Render({kSite, title, RenderTemplate("admin/crumbs", crumbs) + body_html,
                             gate_.HeaderHtml(ctx)}));
}

Response AdminSite::TextPage(int status, const Context& ctx, const std::string& title,
                             const std::string& text) {
  TemplateData data;
  data.set("text", text);
  return Page(status, ctx, title, RenderTemplate("text", data));
}

Response AdminSite::Global(const Context& ctx) {
  auto names = clusters_.store().ListClusters();
  if (!names.ok()) {
    if (Away(names.status())) return gate_.Outage(names.status(), gate_.HeaderHtml(ctx));
    return TextPage(500, ctx, "Error", names.status().message());
  }
  TemplateList rows;
  for (const auto& name : *names) {
    auto s = clusters_.GetStatus(name);
    if (!s.ok() && Away(s.status())) return gate_.Outage(s.status(), gate_.HeaderHtml(ctx));
    if (!s.ok()) continue;
    TemplateData row;
    row.set("name", name);
    row.set("type", s->config.kind == cluster::ClusterKind::kRoot ? "Root certification cluster"
                                                                  : "Licensing-only cluster");
    row.set("url", s->config.url);
    if (s->slc) row.set("slc", SlcData(*s->slc));
    row.set("path", ClusterPath(name));
    rows.push_back(std::move(row));
  }
  TemplateData data;
  data.set("clusters", rows);
  data.set("none", names->empty());
  data.set("licensing", options_.licensing != nullptr);
  return Page(200, ctx, "Global Administration", RenderTemplate("admin/global", data));
}

Response AdminSite::ClusterPage(const Context& ctx, const std::string& name, const Request& req) {
  auto s = clusters_.GetStatus(name);
  if (!s.ok() && Away(s.status())) return gate_.Outage(s.status(), gate_.HeaderHtml(ctx));
  if (!s.ok()) {
    return Page(404, ctx, "Not found",
                RenderTemplate("notice", Notice(NoticeKind::kError, "No such Web site",
                                                s.status().message())));
  }
  TemplateData data;
  if (s->slc) {
    data.set("slc", SlcData(*s->slc));
    data.set("renewed", req.query.count("renewed") > 0);
    data.set("expired", s->slc->state == cluster::SlcState::kExpired);
    data.set("due", s->slc->state != cluster::SlcState::kExpired &&
                        s->slc->state != cluster::SlcState::kValid);
  }
  if (s->renewal) {
    // Where the automatic renewal's window came from (monitor.h).
    TemplateData renewal;
    renewal.set("start", FormatHuman(s->renewal->window.start));
    renewal.set("end", FormatHuman(s->renewal->window.end));
    renewal.set("source", std::string(cluster::WindowSourceName(s->renewal->source)));
    renewal.set("from_issuer", s->renewal->source == cluster::WindowSource::kIssuer);
    if (s->renewal->renew_at) renewal.set("renew_at", FormatHuman(*s->renewal->renew_at));
    if (!s->renewal->explanation_url.empty()) {
      renewal.set("explanation_url", s->renewal->explanation_url);
    }
    if (!s->renewal->fetch_error.empty()) renewal.set("fetch_error", s->renewal->fetch_error);
    data.set("renewal", renewal);
  }
  if (s->pending) {
    TemplateData pending;
    pending.set("file_name", s->pending->file_name);
    pending.set("created_at", FormatHuman(s->pending->created_at));
    data.set("pending", pending);
  }
  data.set("path", ClusterPath(name));
  data.set("name", name);
  data.set("kind", std::string(cluster::ClusterKindName(s->config.kind)));
  data.set("url", s->config.url);
  data.set("issuer_url", s->config.issuer_url);
  data.set("auto_renew", s->config.auto_renew ? "on" : "off");
  auto events = clusters_.store().Events(name, 20);
  TemplateList event_rows;
  for (const auto& e : events.ok() ? *events : std::vector<cluster::Event>{}) {
    TemplateData row;
    row.set("level", e.level);
    row.set("at", FormatHuman(e.at));
    row.set("message", e.message);
    event_rows.push_back(std::move(row));
  }
  data.set("events", event_rows);
  data.set("no_events", events.ok() && events->empty());
  auto audit = clusters_.store().AuditLog(name, 20);
  TemplateList audit_rows;
  for (const auto& a : audit.ok() ? *audit : std::vector<cluster::AuditEntry>{}) {
    TemplateData row;
    row.set("at", FormatHuman(a.at));
    row.set("actor", a.actor);
    row.set("action", a.action);
    row.set("detail", a.detail);
    audit_rows.push_back(std::move(row));
  }
  data.set("audit", audit_rows);
  data.set("rekeyed", req.query.count("rekeyed") > 0);
  auto domains = clusters_.ListDomains(name);
  TemplateList domain_rows;
  for (const auto& d : domains.ok() ? *domains : std::vector<cluster::PublishingDomain>{}) {
    TemplateData row;
    row.set("issued", FormatHuman(d.issued));
    row.set("expires", FormatHuman(d.expires));
    row.set("fingerprint", d.fingerprint);
    row.set("state", d.state);
    row.set("source", d.source);
    row.set("state_class", d.state == "active" ? "ok" : "");
    domain_rows.push_back(std::move(row));
  }
  data.set("domains", domain_rows);
  if (!domains.ok() && Away(domains.status())) {
    return gate_.Outage(domains.status(), gate_.HeaderHtml(ctx));
  }
  if (!domains.ok()) data.set("domains_error", domains.status().message());
  return Page(200, ctx, "Administration: " + name, RenderTemplate("admin/cluster", data));
}

Response AdminSite::RenewDialog(const Context& ctx, const std::string& name, int status,
                                const std::string& error) {
  auto s = clusters_.GetStatus(name);
  if (!s.ok() && Away(s.status())) return gate_.Outage(s.status(), gate_.HeaderHtml(ctx));
  if (!s.ok()) return TextPage(404, ctx, "Not found", s.status().message());
  TemplateData data;
  if (!error.empty()) data.set("error", error);
  if (s->slc) data.set("expires", FormatHuman(s->slc->expires));
  data.set("name", name);
  data.set("path", ClusterPath(name));
  data.set("issuer_url", s->config.issuer_url);
  data.set("csrf", ctx.session.csrf_token);
  data.set("request_file", cluster::RenewalRequestFileName(name));
  return Page(status, ctx, "Renew server licensor certificate: " + name,
              RenderTemplate("admin/renew", data));
}

Response AdminSite::RekeyDialog(const Context& ctx, const std::string& name, int status,
                                const std::string& error) {
  auto s = clusters_.GetStatus(name);
  if (!s.ok() && Away(s.status())) return gate_.Outage(s.status(), gate_.HeaderHtml(ctx));
  if (!s.ok()) return TextPage(404, ctx, "Not found", s.status().message());
  TemplateData data;
  if (!error.empty()) data.set("error", error);
  data.set("name", name);
  data.set("path", ClusterPath(name));
  data.set("issuer_url", s->config.issuer_url);
  data.set("csrf", ctx.session.csrf_token);
  data.set("request_file", cluster::RekeyRequestFileName(name));
  data.set("in_token", !s->config.key_uri.empty());
  if (s->pending && s->pending->file_name == cluster::RekeyRequestFileName(name)) {
    data.set("pending", FormatHuman(s->pending->created_at));
  }
  return Page(status, ctx, "Rekey: " + name, RenderTemplate("admin/rekey", data));
}

Response AdminSite::Rekey(const Context& ctx, const std::string& name,
                          const std::map<std::string, std::string>& form, bool offline) {
  auto field = [&](const char* key) {
    return form.count(key) ? std::string(Trim(form.at(key))) : std::string();
  };
  cluster::RekeyRequest r;
  r.name = name;
  r.offline = offline;
  if (!field("token").empty()) r.token = field("token");
  r.key_uri = field("key_uri");
  r.actor = "admin:" + ctx.session.user;
  auto done = clusters_.Rekey(r, options_.key_password);
  if (!done.ok()) return RekeyDialog(ctx, name, 400, done.status().message());
  if (!offline) return Response::Redirect(ClusterPath(name) + "?rekeyed=1");
  Response resp = Response::Xml(200, done->request->request);
  resp.SetHeader("Content-Disposition",
                 "attachment; filename=\"" + done->request->file_name + "\"");
  return resp;
}

Response AdminSite::RenewOnline(const Context& ctx, const std::string& name) {
  auto r = clusters_.RenewOnline(name, options_.key_password, "admin:" + ctx.session.user);
  if (!r.ok()) return RenewDialog(ctx, name, 400, r.status().message());
  return Response::Redirect(ClusterPath(name) + "?renewed=1");
}

Response AdminSite::Export(const Context& ctx, const std::string& name) {
  auto rec = clusters_.ExportRequest(name, options_.key_password, "admin:" + ctx.session.user);
  if (!rec.ok()) return RenewDialog(ctx, name, 400, rec.status().message());
  Response r = Response::Xml(200, rec->request);
  r.SetHeader("Content-Disposition", "attachment; filename=\"" + rec->file_name + "\"");
  return r;
}

Response AdminSite::Import(const Context& ctx, const std::string& name, const Request& req) {
  if (req.body.size() > kMaxUpload) {
    return RenewDialog(ctx, name, 413, "the file is too large to be a certificate chain");
  }
  auto parts = http::ParseMultipart(req.Header("content-type").value_or(""), req.body);
  if (!parts.ok()) return RenewDialog(ctx, name, 400, parts.status().message());
  std::string csrf, file;
  bool has_file = false;
  for (const auto& p : *parts) {
    if (p.name == "csrf") csrf = p.data;
    if (p.name == "certificate") {
      file = p.data;
      has_file = !p.filename.empty() || !p.data.empty();
    }
  }
  if (!crypto::SecretEquals(csrf, ctx.session.csrf_token)) {
    return Page(403, ctx, "Refused",
                RenderTemplate("notice", Notice(NoticeKind::kError, "The form expired",
                                                "Reload the page and try again.")));
  }
  if (!has_file || file.empty()) {
    return RenewDialog(ctx, name, 400, "no certificate file was chosen: click Browse first");
  }
  auto preview = clusters_.PreviewImport(name, file);
  if (!preview.ok()) {
    (void)clusters_.store().Audit(name, clock_.Now(), "admin:" + ctx.session.user, "import-refused",
                                  preview.status().message());
    return RenewDialog(ctx, name, 400, preview.status().message());
  }
  const std::string id = NewToken(random_, 16);
  Status staged = clusters_.store().StageImport(id, ctx.session.user, name, file, clock_.Now());
  if (!staged.ok() && Away(staged)) return gate_.Outage(staged, gate_.HeaderHtml(ctx));
  if (!staged.ok()) return RenewDialog(ctx, name, 500, staged.message());
  TemplateData data;
  data.set("name", name);
  data.set("path", ClusterPath(name));
  data.set("incoming", SlcData(preview->incoming));
  if (preview->current) data.set("current_expires", FormatHuman(preview->current->expires));
  if (preview->new_key_fingerprint) data.set("new_key", *preview->new_key_fingerprint);
  data.set("csrf", ctx.session.csrf_token);
  data.set("staged", id);
  return Page(200, ctx, "Confirm import: " + name, RenderTemplate("admin/confirm_import", data));
}

Response AdminSite::ConfirmImport(const Context& ctx, const std::string& name,
                                  const std::map<std::string, std::string>& form) {
  const std::string id = form.count("staged") ? form.at("staged") : "";
  auto file = clusters_.store().TakeStagedImport(id, ctx.session.user, name, clock_.Now());
  if (!file.ok() && Away(file.status())) return gate_.Outage(file.status(), gate_.HeaderHtml(ctx));
  if (!file.ok()) {
    const int status = file.status().code() == Code::kNotFound ? 400 : 500;
    return RenewDialog(ctx, name, status, file.status().message());
  }
  if (!form.count("answer") || form.at("answer") != "yes") {
    return Response::Redirect(ClusterPath(name));
  }
  auto done = clusters_.Import(name, *file, "admin:" + ctx.session.user);
  if (!done.ok()) return RenewDialog(ctx, name, 400, done.status().message());
  return Response::Redirect(ClusterPath(name) + "?renewed=1");
}

Response AdminSite::Templates(const Context& ctx, int status, const std::string& error) {
  if (options_.licensing == nullptr) return Response::Text(404, "licensing is not enabled\n");
  auto list = options_.licensing->ListTemplates();
  if (!list.ok() && Away(list.status())) return gate_.Outage(list.status(), gate_.HeaderHtml(ctx));
  TemplateData data;
  if (!error.empty()) {
    data.set("notice", Notice(NoticeKind::kError, "The template was not saved", error));
  }
  TemplateList rows;
  for (const auto& t : list.ok() ? *list : std::vector<licensing::Template>{}) {
    TemplateData row;
    row.set("id", t.id);
    row.set("name", t.name);
    row.set("description", t.description);
    TemplateList user_rights;
    for (const auto& ur : t.user_rights) {
      TemplateData entry;
      entry.set("users", Joined(ur.users));
      entry.set("rights", Joined(ur.rights));
      user_rights.push_back(std::move(entry));
    }
    row.set("user_rights", user_rights);
    if (t.valid_days) row.set("valid_days", std::to_string(*t.valid_days));
    rows.push_back(std::move(row));
  }
  data.set("templates", rows);
  data.set("none", list.ok() && list->empty());
  data.set("csrf", ctx.session.csrf_token);
  return Page(status, ctx, "Rights policy templates", RenderTemplate("admin/templates", data));
}

Response AdminSite::AddTemplate(const Context& ctx,
                                const std::map<std::string, std::string>& form) {
  licensing::Template t;
  t.name = form.count("name") ? form.at("name") : "";
  t.description = form.count("description") ? form.at("description") : "";
  licensing::UserRights ur;
  std::string users = form.count("users") ? form.at("users") : "";
  for (size_t start = 0; start <= users.size();) {
    size_t comma = users.find(',', start);
    if (comma == std::string::npos) comma = users.size();
    std::string u(Trim(std::string_view(users).substr(start, comma - start)));
    if (!u.empty()) ur.users.push_back(u);
    start = comma + 1;
  }
  for (const auto& [k, v] : form) {
    if (k.rfind("right_", 0) == 0) ur.rights.push_back(k.substr(6));
  }
  if (ur.rights.empty()) return Templates(ctx, 400, "choose at least one right");
  t.user_rights.push_back(ur);
  if (form.count("valid_days") && !Trim(form.at("valid_days")).empty()) {
    const auto days = ParseInt(Trim(form.at("valid_days")));
    if (days && *days >= 1 && *days <= licensing::kMaxIntervalDays) t.valid_days = int(*days);
    if (!t.valid_days) {
      return Templates(ctx, 400, "the expiry must be a whole number of days");
    }
  }
  auto added = options_.licensing->AddTemplate(t);
  if (!added.ok() && Away(added.status())) {
    return gate_.Outage(added.status(), gate_.HeaderHtml(ctx));
  }
  if (!added.ok()) return Templates(ctx, 400, added.status().message());
  return Response::Redirect("/admin/templates");
}

Response AdminSite::Handle(const Request& req) {
  const std::string& path = req.path;
  if (path == kAdminPrefix) return Response::Redirect("/admin/");
  if (path == "/admin/static/admin.js") {
    Response r = Response::Text(200, kScript);
    r.SetHeader("Content-Type", "text/javascript; charset=utf-8");
    return r;
  }
  if (auto logon = gate_.HandleLogon(req)) return *logon;
  // Everything else needs an administrator's session.
  auto visitor = gate_.Require(req);
  if (auto* refused = std::get_if<Response>(&visitor)) return *refused;
  const Context& ctx = std::get<Context>(visitor);
  std::map<std::string, std::string> form;
  const bool multipart =
      req.Header("content-type").value_or("").rfind("multipart/form-data", 0) == 0;
  if (req.method == "POST" && !multipart) {
    auto parsed = gate_.Form(ctx, req);
    if (auto* refused = std::get_if<Response>(&parsed)) return *refused;
    form = std::move(std::get<std::map<std::string, std::string>>(parsed));
  }
  if (path == "/admin/" && req.method == "GET") return Global(ctx);

  if (path == "/admin/templates" && req.method == "GET") return Templates(ctx, 200, "");
  if (path == "/admin/templates" && req.method == "POST" && options_.licensing != nullptr) {
    return AddTemplate(ctx, form);
  }
  if (path == "/admin/templates/delete" && req.method == "POST" && options_.licensing != nullptr) {
    Status s = options_.licensing->DeleteTemplate(form.count("id") ? form.at("id") : "");
    if (!s.ok() && Away(s)) return gate_.Outage(s, gate_.HeaderHtml(ctx));
    if (!s.ok()) return Templates(ctx, 400, s.message());
    return Response::Redirect("/admin/templates");
  }

  if (auto documents = HandleDocuments(ctx, req)) return *documents;

  const std::string clusters_prefix = "/admin/clusters/";
  if (path.rfind(clusters_prefix, 0) == 0) {
    std::string rest = path.substr(clusters_prefix.size());
    const size_t slash = rest.find('/');
    const std::string name = rest.substr(0, slash);
    const std::string action = slash == std::string::npos ? "" : rest.substr(slash);
    if (action.empty() && req.method == "GET") return ClusterPage(ctx, name, req);
    if (action == "/renew" && req.method == "GET") return RenewDialog(ctx, name, 200, "");
    if (action == "/renew" && req.method == "POST") return RenewOnline(ctx, name);
    if (action == "/export" && req.method == "POST") return Export(ctx, name);
    if (action == "/import" && req.method == "POST") return Import(ctx, name, req);
    if (action == "/import/confirm" && req.method == "POST") return ConfirmImport(ctx, name, form);
    if (action == "/rekey" && req.method == "GET") return RekeyDialog(ctx, name, 200, "");
    if (action == "/rekey" && req.method == "POST") return Rekey(ctx, name, form, false);
    if (action == "/rekey/export" && req.method == "POST") return Rekey(ctx, name, form, true);
  }
  return Page(404, ctx, "Not found", RenderTemplate("admin/not_found", {}));
}

}  // namespace openrms::sites
