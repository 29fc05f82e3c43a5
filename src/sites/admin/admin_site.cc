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
using sites::E;
using sites::Hidden;
using sites::NoticeKind;

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

std::string StateBadge(const cluster::SlcSummary& s) {
  const char* cls = s.state == cluster::SlcState::kValid     ? "ok"
                    : s.state == cluster::SlcState::kExpired ? "err"
                                                             : "warn";
  return "<span class=\"badge " + std::string(cls) + "\">" +
         E(std::string(cluster::SlcStateName(s.state))) + "</span>";
}

std::string Row(const std::string& key, const std::string& value_html, const std::string& id = "") {
  return "<tr><th scope=\"row\">" + E(key) + "</th><td" + (id.empty() ? "" : " id=\"" + id + "\"") +
         ">" + value_html + "</td></tr>";
}

std::string SummaryTable(const cluster::SlcSummary& s) {
  return "<table>" + Row("Server name", E(s.server_name), "slc-server-name") +
         Row("GUID", "<span class=\"mono\">" + E(s.guid) + "</span>", "slc-guid") +
         Row("Issuer", E(s.issuer), "slc-issuer") +
         Row("Issued", E(FormatHuman(s.issued)), "slc-issued") +
         Row("Expiration date", "<strong>" + E(FormatHuman(s.expires)) + "</strong>",
             "slc-expires") +
         Row("Days left", E(std::to_string(s.days_left)), "slc-days-left") +
         Row("State", StateBadge(s), "slc-state") + "</table>";
}

}  // namespace

std::string AdminSite::Render(const Context* ctx, const std::string& title,
                              const std::string& body) {
  std::string right;
  std::string nav;
  if (ctx != nullptr) {
    right = gate_.HeaderHtml(*ctx);
    nav = "<nav class=\"crumbs\"><a href=\"/admin/\">Global Administration</a></nav>";
  }
  return sites::Render({kSite, title, nav + body, right});
}

Response AdminSite::Global(const Context& ctx) {
  auto names = clusters_.store().ListClusters();
  if (!names.ok()) return Response::Html(500, Render(&ctx, "Error", E(names.status().message())));
  std::string body =
      "<p>The RMS Web sites (clusters) on this server. Choose one to administer it.</p>"
      "<section class=\"card\"><table class=\"list\"><thead><tr><th>Web site</th><th>Type</th>"
      "<th>Service URL</th><th>Certificate</th><th>Expires</th><th></th></tr></thead><tbody>";
  for (const auto& name : *names) {
    auto s = clusters_.GetStatus(name);
    if (!s.ok()) continue;
    body += "<tr><td><strong>" + E(name) + "</strong></td><td>" +
            E(s->config.kind == cluster::ClusterKind::kRoot ? "Root certification cluster"
                                                            : "Licensing-only cluster") +
            "</td><td class=\"mono\">" + E(s->config.url) + "</td><td>" +
            (s->slc ? StateBadge(*s->slc) : "none yet") + "</td><td>" +
            (s->slc ? E(FormatHuman(s->slc->expires)) : "") + "</td><td><a href=\"" +
            ClusterPath(name) + "\">Administer RMS on this Web site</a></td></tr>";
  }
  if (names->empty()) body += "<tr><td colspan=\"6\">No cluster is provisioned yet.</td></tr>";
  body += "</tbody></table></section>";
  if (options_.licensing != nullptr) {
    body +=
        "<section class=\"card\"><h2>Rights policy templates</h2><p>Templates that users "
        "choose when they protect documents. <a href=\"/admin/templates\">Manage rights "
        "policy templates</a></p></section>";
  }
  return Response::Html(200, Render(&ctx, "Global Administration", body));
}

Response AdminSite::ClusterPage(const Context& ctx, const std::string& name, const Request& req) {
  auto s = clusters_.GetStatus(name);
  if (!s.ok()) {
    return Response::Html(404, Render(&ctx, "Not found",
                                      sites::Notice(NoticeKind::kError, "No such Web site",
                                                  "<p>" + E(s.status().message()) + "</p>")));
  }
  std::string body;
  if (req.query.count("renewed") && s->slc) {
    body += sites::Notice(NoticeKind::kSuccess, "The server licensor certificate was renewed",
                        "<p>New expiration date: <strong id=\"new-expiration\">" +
                            E(FormatHuman(s->slc->expires)) + "</strong></p>");
  }
  if (s->slc) {
    if (s->slc->state == cluster::SlcState::kExpired) {
      body += sites::Notice(NoticeKind::kError, "The server licensor certificate has expired",
                          "<p>It expired on " + E(FormatHuman(s->slc->expires)) +
                              ". This cluster issues no certificates or licenses until it is "
                              "renewed. Click <em>Renew</em>.</p>");
    } else if (s->slc->state != cluster::SlcState::kValid) {
      body += sites::Notice(NoticeKind::kWarning, "Renewal is due",
                          "<p>The server licensor certificate expires on " +
                              E(FormatHuman(s->slc->expires)) + " (" +
                              E(std::to_string(s->slc->days_left)) +
                              " days). Click <em>Renew</em> to renew it online or offline.</p>");
    }
  }
  body +=
      "<section class=\"card\" id=\"cluster-resources\"><h2>Cluster resources</h2>"
      "<h3>Server licensor certificate</h3>";
  body += s->slc ? SummaryTable(*s->slc) : "<p>This cluster has no certificate yet.</p>";
  if (s->pending) {
    body += "<p class=\"hint\">Renewal request " + E(s->pending->file_name) + " exported on " +
            E(FormatHuman(s->pending->created_at)) + " is waiting for its certificate.</p>";
  }
  body += "<div class=\"actions\"><a class=\"button\" id=\"renew\" href=\"" + ClusterPath(name) +
          "/renew\">Renew</a></div></section>";
  body += "<section class=\"card\"><h2>Web site</h2><table>" + Row("Name", E(name)) +
          Row("Type", E(std::string(cluster::ClusterKindName(s->config.kind)))) +
          Row("Service URL", "<span class=\"mono\">" + E(s->config.url) + "</span>") +
          Row("Issuer", "<span class=\"mono\">" + E(s->config.issuer_url) + "</span>") +
          Row("Automatic renewal", s->config.auto_renew ? "on" : "off") + "</table></section>";

  body +=
      "<section class=\"card\"><h2>Recent events</h2><table class=\"list\" id=\"events\">"
      "<thead><tr><th>Time</th><th>Level</th><th>Event</th></tr></thead><tbody>";
  auto events = clusters_.store().Events(name, 20);
  if (events.ok()) {
    for (const auto& e : *events) {
      body += "<tr class=\"" + E(e.level) + "\"><td>" + E(FormatHuman(e.at)) + "</td><td>" +
              E(e.level) + "</td><td>" + E(e.message) + "</td></tr>";
    }
    if (events->empty()) body += "<tr><td colspan=\"3\">No events.</td></tr>";
  }
  body +=
      "</tbody></table></section><section class=\"card\"><h2>Audit log</h2>"
      "<table class=\"list\" id=\"audit\"><thead><tr><th>Time</th><th>Who</th><th>Action</th>"
      "<th>Detail</th></tr></thead><tbody>";
  auto audit = clusters_.store().AuditLog(name, 20);
  if (audit.ok()) {
    for (const auto& a : *audit) {
      body += "<tr><td>" + E(FormatHuman(a.at)) + "</td><td>" + E(a.actor) + "</td><td>" +
              E(a.action) + "</td><td>" + E(a.detail) + "</td></tr>";
    }
  }
  body += "</tbody></table></section>";
  return Response::Html(200, Render(&ctx, "Administration: " + name, body));
}

Response AdminSite::RenewDialog(const Context& ctx, const std::string& name, int status,
                                const std::string& error) {
  auto s = clusters_.GetStatus(name);
  if (!s.ok()) return Response::Html(404, Render(&ctx, "Not found", E(s.status().message())));
  const std::string base = ClusterPath(name);
  std::string body;
  if (!error.empty()) {
    body += sites::Notice(
        NoticeKind::kError, "The certificate was not renewed",
        "<p id=\"error-detail\">" + E(error) + "</p><p>The active certificate is unchanged.</p>");
  }
  body +=
      "<div class=\"dialog\" role=\"dialog\" aria-labelledby=\"renew-title\"><h2 "
      "id=\"renew-title\">Renew</h2>";
  if (s->slc) {
    body += "<p>Current certificate of <strong>" + E(name) + "</strong>: expires " +
            E(FormatHuman(s->slc->expires)) + ".</p>";
  }
  body +=
      "<fieldset class=\"choice\"><legend>How does this server reach its issuer?</legend>"
      "<label class=\"radio\"><input type=\"radio\" name=\"mode\" value=\"online\" "
      "id=\"mode-online\" checked> Online <span class=\"hint\">(this server is connected "
      "to the issuer)</span></label><label class=\"radio\"><input type=\"radio\" "
      "name=\"mode\" value=\"offline\" id=\"mode-offline\"> Offline <span class=\"hint\">"
      "(carry a request file to the issuer's web site)</span></label></fieldset>";
  body += "<div id=\"online-part\" class=\"part\"><h3>Online</h3><p>Send a renewal request to " +
          E(s->config.issuer_url) +
          " and activate the certificate it returns.</p><form "
          "method=\"post\" action=\"" +
          base + "/renew\">" + Hidden("csrf", ctx.session.csrf_token) +
          "<button type=\"submit\" id=\"renew-online\">Renew</button></form></div>";
  body +=
      "<div id=\"offline-part\" class=\"part\"><h3>Offline</h3><ol class=\"steps\"><li><form "
      "method=\"post\" action=\"" +
      base + "/export\" class=\"inline\">" + Hidden("csrf", ctx.session.csrf_token) +
      "<button type=\"submit\" id=\"export\">Export</button></form> saves the renewal request "
      "as <code>" +
      E(cluster::RenewalRequestFileName(name)) +
      "</code>. Do not change it.</li>"
      "<li>Carry it to a computer that reaches the issuer's web site, submit it there, and "
      "download the certificate it issues.</li><li><form method=\"post\" action=\"" +
      base + "/import\" enctype=\"multipart/form-data\">" + Hidden("csrf", ctx.session.csrf_token) +
      "<label for=\"certificate\">Certificate file</label><input type=\"file\" "
      "id=\"certificate\" name=\"certificate\" accept=\".xml,text/xml\" required> "
      "<button type=\"submit\" id=\"import\">Import</button></form></li></ol></div>";
  body += "<div class=\"actions\"><a class=\"button secondary\" href=\"" + base +
          "\">Cancel</a></div></div><script src=\"/admin/static/admin.js\"></script>";
  return Response::Html(status, Render(&ctx, "Renew server licensor certificate: " + name, body));
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
    return Response::Html(403, Render(&ctx, "Refused",
                                      sites::Notice(NoticeKind::kError, "The form expired",
                                                  "<p>Reload the page and try again.</p>")));
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
  if (!staged.ok()) return RenewDialog(ctx, name, 500, staged.message());
  const std::string base = ClusterPath(name);
  std::string body =
      "<div class=\"dialog\" role=\"dialog\" aria-labelledby=\"confirm-title\">"
      "<h2 id=\"confirm-title\">Import this certificate?</h2>"
      "<p>Do you want to import this server licensor certificate and make it "
      "the active certificate of <strong>" +
      E(name) + "</strong>?</p>" + SummaryTable(preview->incoming);
  if (preview->current) {
    body += "<p>It replaces the certificate that expires " +
            E(FormatHuman(preview->current->expires)) + ".</p>";
  }
  body += "<div class=\"actions\"><form method=\"post\" action=\"" + base +
          "/import/confirm\" class=\"inline\">" + Hidden("csrf", ctx.session.csrf_token) +
          Hidden("staged", id) + Hidden("answer", "yes") +
          "<button type=\"submit\" id=\"yes\">Yes</button></form><form method=\"post\" action=\"" +
          base + "/import/confirm\" class=\"inline\">" + Hidden("csrf", ctx.session.csrf_token) +
          Hidden("staged", id) + Hidden("answer", "no") +
          "<button type=\"submit\" class=\"secondary\" id=\"no\">No</button></form></div></div>";
  return Response::Html(200, Render(&ctx, "Confirm import: " + name, body));
}

Response AdminSite::ConfirmImport(const Context& ctx, const std::string& name,
                                  const std::map<std::string, std::string>& form) {
  const std::string id = form.count("staged") ? form.at("staged") : "";
  auto file = clusters_.store().TakeStagedImport(id, ctx.session.user, name, clock_.Now());
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
  std::string body;
  if (!error.empty()) {
    body +=
        sites::Notice(NoticeKind::kError, "The template was not saved", "<p>" + E(error) + "</p>");
  }
  body +=
      "<section class=\"card\"><table class=\"list\" id=\"templates\"><thead><tr><th>Name</th>"
      "<th>Description</th><th>Rights</th><th>Content expires</th><th></th></tr></thead><tbody>";
  for (const auto& t : list.ok() ? *list : std::vector<licensing::Template>{}) {
    std::string rights;
    for (const auto& ur : t.user_rights) {
      std::string users, granted;
      for (const auto& u : ur.users) users += (users.empty() ? "" : ", ") + u;
      for (const auto& r : ur.rights) granted += (granted.empty() ? "" : ", ") + r;
      rights += "<div>" + E(users) + ": " + E(granted) + "</div>";
    }
    body += "<tr><td><strong>" + E(t.name) + "</strong></td><td>" + E(t.description) + "</td><td>" +
            rights + "</td><td>" +
            (t.valid_days ? E(std::to_string(*t.valid_days)) + " days after protection" : "never") +
            "</td><td><form method=\"post\" action=\"/admin/templates/delete\" class=\"inline\">" +
            Hidden("csrf", ctx.session.csrf_token) + Hidden("id", t.id) +
            "<button type=\"submit\" class=\"secondary\">Delete</button></form></td></tr>";
  }
  if (list.ok() && list->empty()) body += "<tr><td colspan=\"5\">No templates yet.</td></tr>";
  body +=
      "</tbody></table></section><section class=\"card\"><h2>Add a template</h2>"
      "<form method=\"post\" action=\"/admin/templates\">" +
      Hidden("csrf", ctx.session.csrf_token) +
      "<label for=\"name\">Name</label><input type=\"text\" id=\"name\" name=\"name\" required>"
      "<label for=\"description\">Description</label><input type=\"text\" id=\"description\" "
      "name=\"description\" required><label for=\"users\">Users and groups</label><input "
      "type=\"text\" id=\"users\" name=\"users\" placeholder=\"alice, Staff, ANYONE\" required>"
      "<p class=\"hint\">Comma-separated user names or group names; ANYONE means every "
      "signed-in user.</p><fieldset class=\"choice\"><legend>Rights</legend>";
  for (const char* r :
       {"VIEW", "EDIT", "PRINT", "EXTRACT", "EXPORT", "FORWARD", "REPLY", "OWNER"}) {
    body += "<label class=\"radio\"><input type=\"checkbox\" name=\"right_" + std::string(r) +
            "\" id=\"right-" + r + "\"> " + r + "</label>";
  }
  body +=
      "</fieldset><label for=\"valid_days\">Content expires after (days, empty for never)"
      "</label><input type=\"text\" id=\"valid_days\" name=\"valid_days\" inputmode=\"numeric\">"
      "<div class=\"actions\"><button type=\"submit\">Add template</button></div></form></section>";
  return Response::Html(status, Render(&ctx, "Rights policy templates", body));
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
    try {
      t.valid_days = std::stoi(form.at("valid_days"));
    } catch (...) {
    }
    if (!t.valid_days || *t.valid_days < 1) {
      return Templates(ctx, 400, "the expiry must be a whole number of days");
    }
  }
  auto added = options_.licensing->AddTemplate(t);
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
    if (!s.ok()) return Templates(ctx, 400, s.message());
    return Response::Redirect("/admin/templates");
  }

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
  }
  return Response::Html(
      404, Render(&ctx, "Not found",
                  sites::Notice(NoticeKind::kError, "This page does not exist",
                              "<p><a href=\"/admin/\">Global Administration</a></p>")));
}

}  // namespace openrms::sites
