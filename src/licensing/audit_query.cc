#include "licensing/audit_query.h"

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/text.h"

namespace openrms::licensing {

namespace {

using store::Value;

constexpr char kEntryColumns[] =
    "id, cluster, at, user_name, kind, content_id, result, detail, node, address, owner";

// Conditions joined by AND, with their parameters numbered as they come.
class Where {
 public:
  void Add(const std::string& condition_with_dollar, Value value) {
    params_.push_back(std::move(value));
    std::string c = condition_with_dollar;
    const size_t at = c.find('$');
    c.replace(at, 1, "$" + std::to_string(params_.size()));
    sql_ += (sql_.empty() ? " WHERE " : " AND ") + c;
  }
  void AddFixed(const std::string& condition) {
    sql_ += (sql_.empty() ? " WHERE " : " AND ") + condition;
  }
  const std::string& sql() const { return sql_; }
  const std::vector<Value>& params() const { return params_; }

 private:
  std::string sql_;
  std::vector<Value> params_;
};

Status CheckLimit(size_t limit) {
  if (limit < 1 || limit > kMaxAuditPage) {
    return Status(Code::kInvalidArgument, "a page of the audit trail holds 1 to " +
                                              std::to_string(kMaxAuditPage) + " entries");
  }
  return Status::Ok();
}

int64_t Secs(Time t) { return t.time_since_epoch().count(); }
Time FromSecs(int64_t s) { return Time(Duration(s)); }

AuditEntry EntryOf(const store::Row& r) {
  AuditEntry e;
  e.id = r.Int(0);
  AuditRecord& a = e.record;
  a.cluster = r.Text(1);
  a.at = FromSecs(r.Int(2));
  a.user = r.Text(3);
  a.kind = r.Text(4);
  a.content_id = r.Text(5);
  a.result = r.Text(6);
  a.detail = r.Text(7);
  a.node = r.Text(8);
  a.address = r.Text(9);
  a.owner = r.Text(10);
  return e;
}

}  // namespace

Result<std::vector<AuditEntry>> QueryAudit(store::Database& db, const AuditFilter& f) {
  RETURN_IF_ERROR(CheckLimit(f.limit));
  Where where;
  if (f.since) where.Add("at >= $", Secs(*f.since));
  if (f.until) where.Add("at < $", Secs(*f.until));
  if (!f.user.empty()) where.Add("user_name = $", f.user);
  if (!f.content_id.empty()) where.Add("content_id = $", f.content_id);
  if (!f.cluster.empty()) where.Add("cluster = $", f.cluster);
  if (!f.operation.empty()) where.Add("kind = $", f.operation);
  if (f.after_id != 0) where.Add(f.newest_first ? "id < $" : "id > $", f.after_id);
  // The limit is ours (checked above), written as a number.
  const std::string sql = std::string("SELECT ") + kEntryColumns + " FROM license_audit" +
                          where.sql() + " ORDER BY id" + (f.newest_first ? " DESC" : "") +
                          " LIMIT " + std::to_string(f.limit);
  ASSIGN_OR_RETURN(auto rows, db.Query(sql, where.params()));
  std::vector<AuditEntry> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(EntryOf(r));
  return out;
}

std::string AuditEntryJson(const AuditEntry& e) {
  const AuditRecord& a = e.record;
  return WriteJson({{"id", e.id},
                    {"time", FormatIso8601(a.at)},
                    {"node", a.node},
                    {"cluster", a.cluster},
                    {"user", a.user},
                    {"address", a.address},
                    {"operation", a.kind},
                    {"content_id", a.content_id},
                    {"owner", a.owner},
                    {"result", a.result},
                    {"reason", a.detail}});
}

Result<int64_t> ExportAudit(store::Database& db, AuditFilter filter,
                            const std::function<Status(std::string_view line)>& out) {
  filter.newest_first = false;
  int64_t written = 0;
  for (;;) {
    ASSIGN_OR_RETURN(auto page, QueryAudit(db, filter));
    for (const auto& e : page) {
      RETURN_IF_ERROR(out(AuditEntryJson(e)));
      ++written;
    }
    if (page.size() < filter.limit) return written;
    filter.after_id = page.back().id;
  }
}

Result<std::vector<DocumentSummary>> FindDocuments(store::Database& db, const DocumentSearch& s) {
  RETURN_IF_ERROR(CheckLimit(s.limit));
  Where where;
  where.AddFixed("kind IN ('publish', 'use', 'revoke') AND content_id <> ''");
  if (!s.cluster.empty()) where.Add("cluster = $", s.cluster);
  if (!s.content_id.empty()) where.Add("content_id = $", s.content_id);
  // Each through its own index; the document's counts still take every
  // entry of it, those from before owners were recorded too.
  if (!s.owner.empty()) {
    where.Add("content_id IN (SELECT content_id FROM license_audit WHERE owner = $)", s.owner);
  }
  if (!s.user.empty()) {
    where.Add(
        "content_id IN (SELECT content_id FROM license_audit WHERE user_name = $ AND kind IN "
        "('publish', 'use'))",
        s.user);
  }
  const std::string sql =
      "SELECT d.cluster, d.content_id, d.owner, d.published, d.granted, d.refused, "
      "d.last_request, d.last_seen, r.revoked_by, r.revoked_at FROM (SELECT cluster, content_id, "
      "MAX(owner) AS owner, MIN(CASE WHEN kind = 'publish' THEN at END) AS published, "
      "SUM(CASE WHEN kind = 'use' AND result = 'AccessGranted' THEN 1 ELSE 0 END) AS granted, "
      "SUM(CASE WHEN kind = 'use' AND result <> 'AccessGranted' THEN 1 ELSE 0 END) AS refused, "
      "MAX(CASE WHEN kind = 'use' THEN at END) AS last_request, MAX(at) AS last_seen FROM "
      "license_audit" +
      where.sql() +
      " GROUP BY cluster, content_id) d LEFT JOIN revocations r ON r.cluster = d.cluster AND "
      "r.content_id = d.content_id ORDER BY d.last_seen DESC, d.content_id LIMIT " +
      std::to_string(s.limit);
  ASSIGN_OR_RETURN(auto rows, db.Query(sql, where.params()));
  std::vector<DocumentSummary> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    DocumentSummary d;
    d.cluster = r.Text(0);
    d.content_id = r.Text(1);
    d.owner = r.Text(2);
    if (!r.IsNull(3)) d.published = FromSecs(r.Int(3));
    d.granted = r.Int(4);
    d.refused = r.Int(5);
    if (!r.IsNull(6)) d.last_request = FromSecs(r.Int(6));
    d.last_seen = FromSecs(r.Int(7));
    d.revoked_by = r.Text(8);
    if (!r.IsNull(9)) d.revoked_at = FromSecs(r.Int(9));
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::optional<DocumentSummary>> FindDocument(store::Database& db, const std::string& cluster,
                                                    const std::string& content_id) {
  if (content_id.empty()) return std::optional<DocumentSummary>();
  ASSIGN_OR_RETURN(auto found, FindDocuments(db, {cluster, content_id, "", "", 1}));
  if (found.empty()) return std::optional<DocumentSummary>();
  return std::optional<DocumentSummary>(std::move(found.front()));
}

Result<DocumentSummary> DocumentFor(store::Database& db, const std::string& cluster,
                                    const std::string& content_id, const std::string& user,
                                    bool is_super, const std::string& super_users_group) {
  ASSIGN_OR_RETURN(auto found, FindDocument(db, cluster, content_id));
  if (!found) {
    return Status(Code::kNotFound, "cluster " + cluster + " has no license request for content " +
                                       content_id + " in its audit trail");
  }
  if (!is_super && !EqualsIgnoreCase(found->owner, user)) {
    return Status(Code::kPermissionDenied, "only the owner of content " + content_id +
                                               " or a member of " + super_users_group +
                                               " may track it");
  }
  return std::move(*found);
}

Result<Time> ParseAuditTime(std::string_view text, Time now, std::string_view flag) {
  auto bad = [&] {
    return Status(Code::kInvalidArgument,
                  std::string(flag) +
                      " takes a UTC date (2026-12-07), a time "
                      "(2026-12-07T10:00Z) or a span back from now (90m, 36h, "
                      "7d), not \"" +
                      std::string(text) + "\"");
  };
  if (text.size() >= 2 && text.size() <= 7) {
    const char unit = text.back();
    const auto n = ParseInt(text.substr(0, text.size() - 1));
    if (n && *n >= 0 && *n <= 100000 && (unit == 'm' || unit == 'h' || unit == 'd')) {
      const int64_t per = unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
      return now - Duration(*n * per);
    }
  }
  if (text.size() == 10) {
    if (auto t = ParseTime(std::string(text) + "T00:00Z")) return *t;
    return bad();
  }
  if (auto t = ParseTime(text)) return *t;
  return bad();
}

}  // namespace openrms::licensing
