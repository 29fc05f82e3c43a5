// Tracking: the documents the audit trail knows, for their owners
// (/my/v2/documents) and for administrators (the Documents pages, `openrms
// track`).
#include "licensing/licensing.h"

namespace openrms::licensing {

namespace {

Result<std::vector<AuditEntry>> RequestsOf(store::Database& db, const std::string& cluster,
                                           const std::string& content_id, size_t limit) {
  AuditFilter f;
  f.cluster = cluster;
  f.content_id = content_id;
  f.limit = limit;
  f.newest_first = true;
  return QueryAudit(db, f);
}

}  // namespace

Result<LicensingService::Tracking> LicensingService::Track(const std::string& cluster,
                                                           const accounts::Identity& who,
                                                           const std::string& content_id,
                                                           size_t limit) {
  ASSIGN_OR_RETURN(DocumentSummary d, DocumentFor(db_, cluster, content_id, who.user,
                                                  who.InGroup(options_.super_users_group),
                                                  options_.super_users_group));
  ASSIGN_OR_RETURN(auto requests, RequestsOf(db_, cluster, content_id, limit));
  return Tracking{std::move(d), std::move(requests)};
}

Result<LicensingService::Tracking> LicensingService::TrackAny(const std::string& cluster,
                                                              const std::string& content_id,
                                                              size_t limit) {
  ASSIGN_OR_RETURN(DocumentSummary d,
                   DocumentFor(db_, cluster, content_id, "", true, options_.super_users_group));
  ASSIGN_OR_RETURN(auto requests, RequestsOf(db_, cluster, content_id, limit));
  return Tracking{std::move(d), std::move(requests)};
}

Result<std::vector<DocumentSummary>> LicensingService::DocumentsOf(const std::string& cluster,
                                                                   const accounts::Identity& who,
                                                                   size_t limit) {
  DocumentSearch s;
  s.cluster = cluster;
  s.owner = who.user;
  s.limit = limit;
  return FindDocuments(db_, s);
}

Result<std::vector<DocumentSummary>> LicensingService::SearchDocuments(const DocumentSearch& s) {
  return FindDocuments(db_, s);
}

}  // namespace openrms::licensing
