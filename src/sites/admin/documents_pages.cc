// Tracking on the administration site: the Documents page, a page per
// document with its license requests, and the Revoke button. What is shown
// is the audit trail's (licensing/audit_query.h), read through the
// licensing service in bounded queries.
#include <algorithm>
#include <map>
#include <utility>

#include "base/random.h"
#include "base/text.h"
#include "http/forms.h"
#include "sites/admin/admin_site.h"
#include "sites/page.h"

namespace openrms::sites {

namespace {

using http::Request;
using http::Response;

constexpr char kDocumentsPath[] = "/admin/documents";
// The most documents the Documents page lists, and the most entries of one
// document its page shows.
constexpr size_t kDocumentsShown = 100;
constexpr size_t kRequestsShown = 500;

constexpr char kRevokedNotice[] =
    "No node issues a license for it from now on (within 2 s). Licenses already issued live until "
    "they expire.";

bool Away(const Status& s) { return s.code() == Code::kUnavailable; }

std::string DocumentPath(const std::string& cluster, const std::string& content_id) {
  return std::string(kDocumentsPath) + "/" + http::PercentEncode(cluster) + "/" +
         http::PercentEncode(content_id);
}

// A GUID, with or without its braces, is searched as a content ID; anything
// else as a user name. The braced form is what the trail holds.
std::optional<std::string> AsContentId(const std::string& query) {
  if (IsGuid(query)) return query;
  if (IsGuid("{" + query + "}")) return "{" + query + "}";
  return std::nullopt;
}

std::string Upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

// Fills what templates/admin/document_state.mustache and the summary show.
void SetSummary(TemplateData& data, const licensing::DocumentSummary& d) {
  data.set("cluster", d.cluster);
  data.set("content_id", d.content_id);
  data.set("path", DocumentPath(d.cluster, d.content_id));
  data.set("owner", d.owner.empty() ? std::string("unknown") : d.owner);
  data.set("published", d.published ? FormatHuman(*d.published) : std::string("offline"));
  data.set("granted", std::to_string(d.granted));
  data.set("refused", std::to_string(d.refused));
  data.set("last_request", d.last_request ? FormatHuman(*d.last_request) : std::string("never"));
  const bool revoked = !d.revoked_by.empty();
  data.set("revoked", revoked);
  if (revoked) {
    data.set("revoked_by", d.revoked_by);
    data.set("revoked_at",
             d.revoked_at ? FormatHuman(*d.revoked_at) : std::string("an unknown time"));
  }
}

// Newest first, as FindDocuments orders them; without duplicates.
std::vector<licensing::DocumentSummary> Merged(std::vector<licensing::DocumentSummary> a,
                                               std::vector<licensing::DocumentSummary> b,
                                               size_t limit) {
  std::map<std::pair<std::string, std::string>, licensing::DocumentSummary> unique;
  for (auto* list : {&a, &b}) {
    for (auto& d : *list) unique.emplace(std::make_pair(d.cluster, d.content_id), std::move(d));
  }
  std::vector<licensing::DocumentSummary> out;
  out.reserve(unique.size());
  for (auto& [key, d] : unique) out.push_back(std::move(d));
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    if (x.last_seen != y.last_seen) return x.last_seen > y.last_seen;
    if (x.content_id != y.content_id) return x.content_id < y.content_id;
    return x.cluster < y.cluster;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace

std::optional<Response> AdminSite::HandleDocuments(const Context& ctx, const Request& req) {
  const std::string& path = req.path;
  const std::string prefix = std::string(kDocumentsPath) + "/";
  if (path != kDocumentsPath && path.rfind(prefix, 0) != 0) return std::nullopt;
  if (options_.licensing == nullptr) return Response::Text(404, "licensing is not enabled\n");
  if (path == kDocumentsPath) {
    if (req.method == "GET") return Documents(ctx, req);
    return std::nullopt;
  }
  // The path is percent-decoded: the cluster (a name without '/') comes
  // first, and the content ID, which may hold '/', is all the rest.
  const std::string rest = path.substr(prefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == rest.size()) return std::nullopt;
  const std::string cluster = rest.substr(0, slash);
  std::string content_id = rest.substr(slash + 1);
  if (req.method == "GET") {
    return DocumentPage(ctx, cluster, content_id, req.query.count("revoked") > 0, 200, "");
  }
  constexpr std::string_view kRevoke = "/revoke";
  if (req.method == "POST" && content_id.size() > kRevoke.size() &&
      content_id.compare(content_id.size() - kRevoke.size(), kRevoke.size(), kRevoke) == 0) {
    content_id.resize(content_id.size() - kRevoke.size());
    return RevokeDocument(ctx, cluster, content_id, req);
  }
  return std::nullopt;
}

Response AdminSite::Documents(const Context& ctx, const Request& req) {
  auto param = [&](const char* key) {
    return req.query.count(key) ? std::string(Trim(req.query.at(key))) : std::string();
  };
  const std::string query = param("q");
  const std::string cluster = param("cluster");
  auto names = clusters_.store().ListClusters();
  if (!names.ok() && Away(names.status())) {
    return gate_.Outage(names.status(), gate_.HeaderHtml(ctx));
  }

  licensing::DocumentSearch search;
  search.cluster = cluster;
  search.limit = kDocumentsShown;
  Result<std::vector<licensing::DocumentSummary>> found = std::vector<licensing::DocumentSummary>{};
  std::string heading = "The most recent documents";
  if (query.empty()) {
    found = options_.licensing->SearchDocuments(search);
  } else if (auto id = AsContentId(query)) {
    heading = "Content ID " + *id;
    search.content_id = *id;
    found = options_.licensing->SearchDocuments(search);
    // Clients spell GUIDs in either case; the trail keeps theirs.
    for (const std::string& other : {ToLower(*id), Upper(*id)}) {
      if (!found.ok() || !found->empty() || other == search.content_id) continue;
      search.content_id = other;
      found = options_.licensing->SearchDocuments(search);
    }
  } else {
    heading = "Documents of " + query + ": owned, or asked for";
    search.owner = query;
    auto owned = options_.licensing->SearchDocuments(search);
    search.owner.clear();
    search.user = query;
    auto asked = owned.ok() ? options_.licensing->SearchDocuments(search) : owned;
    if (!owned.ok()) {
      found = owned.status();
    } else if (!asked.ok()) {
      found = asked.status();
    } else {
      found = Merged(std::move(*owned), std::move(*asked), kDocumentsShown);
    }
  }
  if (!found.ok() && Away(found.status())) {
    return gate_.Outage(found.status(), gate_.HeaderHtml(ctx));
  }

  TemplateData data;
  data.set("query", query);
  data.set("searched", !query.empty() || !cluster.empty());
  data.set("heading", heading + (cluster.empty() ? "" : " in cluster " + cluster));
  if (names.ok() && names->size() > 1) {
    TemplateList options;
    for (const auto& name : *names) {
      TemplateData option;
      option.set("name", name);
      option.set("selected", name == cluster);
      options.push_back(std::move(option));
    }
    data.set("clusters", options);
    data.set("cluster_choice", true);
  }
  if (!found.ok()) {
    data.set("none", "The documents cannot be listed: " + found.status().message());
    return Page(500, ctx, "Documents", RenderTemplate("admin/documents", data),
                {{"Documents", ""}});
  }
  TemplateList rows;
  for (const auto& d : *found) {
    TemplateData row;
    SetSummary(row, d);
    rows.push_back(std::move(row));
  }
  data.set("documents", rows);
  if (found->empty()) {
    data.set("none", query.empty()
                         ? std::string("No protected documents yet: the audit trail has no "
                                       "publishing, license or revocation of any content.")
                         : "No document matches \"" + query +
                               "\". Search by a content ID ({xxxxxxxx-xxxx-xxxx-xxxx-"
                               "xxxxxxxxxxxx}), by the user name of a document's owner, or by "
                               "the user name of someone who asked for a license.");
  }
  if (found->size() >= kDocumentsShown) data.set("truncated", std::to_string(kDocumentsShown));
  return Page(200, ctx, "Documents", RenderTemplate("admin/documents", data), {{"Documents", ""}});
}

Response AdminSite::DocumentPage(const Context& ctx, const std::string& cluster,
                                 const std::string& content_id, bool revoked_now, int status,
                                 const std::string& notice_error) {
  const std::vector<Crumb> trail = {{"Documents", kDocumentsPath}, {content_id, ""}};
  auto known = clusters_.store().Find(cluster);
  if (!known.ok() && Away(known.status())) {
    return gate_.Outage(known.status(), gate_.HeaderHtml(ctx));
  }
  auto tracking = known.ok() ? options_.licensing->TrackAny(cluster, content_id, kRequestsShown)
                             : Result<licensing::LicensingService::Tracking>(known.status());
  if (!tracking.ok() && Away(tracking.status())) {
    return gate_.Outage(tracking.status(), gate_.HeaderHtml(ctx));
  }
  if (!tracking.ok()) {
    const bool missing = tracking.status().code() == Code::kNotFound;
    const std::string text = !known.ok() && missing
                                 ? "This server has no cluster named " + cluster + "."
                                 : tracking.status().message();
    return Page(missing ? 404 : 500, ctx, "Not found",
                RenderTemplate("notice", Notice(NoticeKind::kError, "No such document", text)),
                trail);
  }
  const licensing::DocumentSummary& d = tracking->document;
  TemplateData data;
  SetSummary(data, d);
  if (!notice_error.empty()) {
    data.set("notice", Notice(NoticeKind::kError, "The document was not revoked", notice_error));
  } else if (revoked_now && !d.revoked_by.empty()) {
    data.set("notice", Notice(NoticeKind::kSuccess, "The document was revoked", kRevokedNotice));
  }
  data.set("revoke_path", DocumentPath(d.cluster, d.content_id) + "/revoke");
  data.set("csrf", ctx.session.csrf_token);
  TemplateList rows;
  for (const auto& e : tracking->requests) {
    const licensing::AuditRecord& r = e.record;
    TemplateData row;
    row.set("at", FormatHuman(r.at));
    row.set("user", r.user);
    row.set("address", r.address);
    row.set("node", r.node);
    row.set("operation", r.kind);
    row.set("result", r.result);
    row.set("reason", r.detail);
    row.set("refused", r.kind == "use" && r.result != "AccessGranted");
    rows.push_back(std::move(row));
  }
  data.set("requests", rows);
  data.set("no_requests", tracking->requests.empty());
  if (tracking->requests.size() >= kRequestsShown) {
    data.set("truncated", std::to_string(kRequestsShown));
  }
  return Page(status, ctx, "Document " + d.content_id, RenderTemplate("admin/document", data),
              trail);
}

Response AdminSite::RevokeDocument(const Context& ctx, const std::string& cluster,
                                   const std::string& content_id, const Request& req) {
  // Only what the trail knows is revoked here (the page it came from):
  // `openrms revoke --dir` names any content ID.
  auto known = clusters_.store().Find(cluster);
  if (!known.ok() && Away(known.status())) {
    return gate_.Outage(known.status(), gate_.HeaderHtml(ctx));
  }
  if (!known.ok()) return DocumentPage(ctx, cluster, content_id, false, 404, "");
  auto tracking = options_.licensing->TrackAny(cluster, content_id, 1);
  if (!tracking.ok() && Away(tracking.status())) {
    return gate_.Outage(tracking.status(), gate_.HeaderHtml(ctx));
  }
  if (!tracking.ok()) return DocumentPage(ctx, cluster, content_id, false, 404, "");
  const accounts::Identity by{"admin:" + ctx.session.user, ctx.session.groups, "admin",
                              req.remote_address};
  Status s = options_.licensing->Revoke(cluster, content_id, by, tracking->document.owner);
  if (!s.ok() && Away(s)) return gate_.Outage(s, gate_.HeaderHtml(ctx));
  if (!s.ok()) {
    return DocumentPage(ctx, cluster, content_id, false, s.code() == Code::kAlreadyUsed ? 409 : 400,
                        s.message());
  }
  return Response::Redirect(DocumentPath(cluster, content_id) + "?revoked=1");
}

}  // namespace openrms::sites
