// Reading the license audit trail (audit.h): entries by time, user and
// content, for `openrms audit` and SIEMs (JSON Lines, RFC 5424 syslog), and
// tracking: per protected document, who asked for a license, when, from
// where, through which node, and what came of it. Reads only; every call is
// one bounded query, so a page of the administration site or a request of
// an owner costs at most `limit` rows however large the trail grows.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "licensing/audit.h"
#include "store/database.h"

namespace openrms::licensing {

struct AuditEntry {
  int64_t id = 0;  // the store's, increasing in the order rows were written
  AuditRecord record;
};

// The most entries one query returns.
inline constexpr size_t kMaxAuditPage = 10000;

struct AuditFilter {
  std::optional<Time> since;  // at or after
  std::optional<Time> until;  // before
  std::string user;           // exact, "" for any
  std::string content_id;     // exact, "" for any
  std::string cluster;        // exact, "" for any
  std::string operation;      // exact ("use", "publish", ...), "" for any
  int64_t after_id = 0;       // entries with a larger id only (paging)
  size_t limit = 1000;        // 1 to kMaxAuditPage
  bool newest_first = false;  // else in the order written
};

// The entries that match, by id. kInvalidArgument for a limit out of range.
Result<std::vector<AuditEntry>> QueryAudit(store::Database& db, const AuditFilter& filter);

// One entry as a JSON object on one line (no newline):
// {"id","time","node","cluster","user","address","operation","content_id",
// "owner","result","reason"}; time in ISO 8601 UTC. Names and reasons came
// from users: written without throwing.
std::string AuditEntryJson(const AuditEntry& entry);

// Writes every entry that `filter` matches (its limit is the page size) to
// `out`, a line each, paging by id so memory stays bounded. Returns how
// many were written.
Result<int64_t> ExportAudit(store::Database& db, AuditFilter filter,
                            const std::function<Status(std::string_view line)>& out);

// A protected document as the trail knows it.
struct DocumentSummary {
  std::string cluster;
  std::string content_id;
  std::string owner;                 // "" when no entry named it
  std::optional<Time> published;     // its "publish" entry (online publishing)
  int64_t granted = 0;               // use licenses issued
  int64_t refused = 0;               // use licenses refused (denied, expired, revoked)
  std::optional<Time> last_request;  // of a use license
  Time last_seen{};                  // its newest entry
  std::string revoked_by;            // "" when not revoked
  std::optional<Time> revoked_at;
};

struct DocumentSearch {
  std::string cluster;     // "" for every cluster
  std::string content_id;  // exact, "" for any
  std::string owner;       // exact, as the license names it; "" for any
  std::string user;        // documents this user asked a license for, "" for any
  size_t limit = 100;      // 1 to kMaxAuditPage
};

// Documents with at least one publish, use or revoke entry, newest first.
Result<std::vector<DocumentSummary>> FindDocuments(store::Database& db,
                                                   const DocumentSearch& search);

// One document, nullopt when the trail has no entry of it.
Result<std::optional<DocumentSummary>> FindDocument(store::Database& db, const std::string& cluster,
                                                    const std::string& content_id);

// The document's owner, or a super user (`is_super`), may track it;
// kPermissionDenied otherwise, and kNotFound when the trail has no entry of
// it. Content published offline whose owner never opened it is known only
// by its use entries, which name the owner too.
Result<DocumentSummary> DocumentFor(store::Database& db, const std::string& cluster,
                                    const std::string& content_id, const std::string& user,
                                    bool is_super, const std::string& super_users_group);

// Reads "2026-12-07", "2026-12-07T10:00[:SS][Z]", or a span back from
// `now`: "90m", "36h", "7d". kInvalidArgument naming `flag` otherwise.
Result<Time> ParseAuditTime(std::string_view text, Time now, std::string_view flag);

}  // namespace openrms::licensing
