#include "enrollment/service.h"

#include "base/clock.h"
#include "base/text.h"
#include "crypto/encoding.h"
#include "xrml/chain.h"

namespace openrms::enrollment {

namespace {

using store::Row;
using store::Value;

std::string TokenHash(std::string_view token) { return HexEncode(crypto::Sha256(Trim(token))); }

IssuedRecord ToIssuedRecord(const Row& r) {
  IssuedRecord rec;
  rec.id = r.Int(0);
  rec.slc_guid = r.Text(1);
  rec.certificate_id = r.Text(2);
  rec.server_name = r.Text(3);
  rec.server_url = r.Text(4);
  rec.kind = r.Text(5);
  rec.channel = r.Text(6);
  rec.requester = r.Text(7);
  rec.issued_at = Time(Duration(r.Int(8)));
  rec.valid_from = Time(Duration(r.Int(9)));
  rec.valid_until = Time(Duration(r.Int(10)));
  // Rows issued before windows were stored got theirs in the migration;
  // a NULL here would be damage, and reads as the default.
  rec.renewal.window = r.IsNull(11) || r.IsNull(12)
                           ? DefaultRenewalWindow(rec.valid_from, rec.valid_until)
                           : RenewalWindow{Time(Duration(r.Int(11))), Time(Duration(r.Int(12)))};
  rec.renewal.explanation_url = r.Text(13);
  if (!r.IsNull(14)) rec.window_moved_at = Time(Duration(r.Int(14)));
  rec.window_moved_by = r.Text(15);
  return rec;
}

constexpr char kIssuedColumns[] =
    "id, slc_guid, certificate_id, server_name, server_url, kind, channel, requester, issued_at, "
    "valid_from, valid_until, window_start, window_end, window_explanation_url, window_moved_at, "
    "window_moved_by";

int64_t Secs(Time t) { return t.time_since_epoch().count(); }

}  // namespace

struct EnrollmentService::Checked {
  protocol::EnrollRequest request;
  std::string fingerprint;
  int validity_days = 0;
  // Set for a renewal: the latest SLC this service issued to this key.
  std::optional<IssuedRecord> previous;
  // Set for a rekey: the latest SLC issued for this GUID, to another key.
  std::optional<IssuedRecord> rekey_of;
};

EnrollmentService::EnrollmentService(Authority authority, store::Database& db, const Clock& clock,
                                     Random& random)
    : authority_(std::move(authority)), db_(db), clock_(clock), random_(random) {}

Status EnrollmentService::Migrate(store::Database& db) {
  return store::Migrate(
      db, "enrollment",
      {"CREATE TABLE enrollment_tokens (token_hash TEXT PRIMARY KEY, authority TEXT NOT NULL, "
       "created_at INTEGER NOT NULL, "
       "created_by TEXT NOT NULL, used_at INTEGER, used_by TEXT)",
       "CREATE TABLE enrollment_issued (id INTEGER PRIMARY KEY AUTOINCREMENT, authority TEXT NOT "
       "NULL, slc_guid TEXT NOT "
       "NULL, certificate_id TEXT NOT NULL UNIQUE, server_name TEXT NOT NULL, server_url TEXT NOT "
       "NULL, key_fingerprint TEXT NOT NULL, kind TEXT NOT NULL, channel TEXT NOT NULL, requester "
       "TEXT NOT NULL, issued_at INTEGER NOT NULL, valid_from INTEGER NOT NULL, valid_until "
       "INTEGER NOT NULL, certificate TEXT NOT NULL)",
       "CREATE INDEX enrollment_issued_key ON enrollment_issued (key_fingerprint)",
       "CREATE INDEX enrollment_issued_guid ON enrollment_issued (slc_guid)",
       "CREATE TABLE enrollment_pending (id INTEGER PRIMARY KEY AUTOINCREMENT, authority TEXT NOT "
       "NULL, reference TEXT NOT "
       "NULL UNIQUE, server_name TEXT "
       "NOT NULL, slc_guid TEXT NOT NULL, key_fingerprint TEXT NOT NULL, state TEXT NOT NULL, "
       "requester TEXT NOT NULL, submitted_at INTEGER NOT NULL, request TEXT NOT NULL, "
       "decided_by TEXT, decided_at INTEGER, issued_id INTEGER)",
       // Suggested renewal windows (renewal_info.h), stored per certificate;
       // certificates issued before get the default window.
       "ALTER TABLE enrollment_issued ADD COLUMN window_start INTEGER",
       "ALTER TABLE enrollment_issued ADD COLUMN window_end INTEGER",
       "ALTER TABLE enrollment_issued ADD COLUMN window_explanation_url TEXT",
       "ALTER TABLE enrollment_issued ADD COLUMN window_moved_at INTEGER",
       "ALTER TABLE enrollment_issued ADD COLUMN window_moved_by TEXT",
       "UPDATE enrollment_issued SET window_start = valid_from + (valid_until - valid_from) * 2 / "
       "3, window_end = valid_from + (valid_until - valid_from) * 5 / 6 WHERE window_start IS "
       "NULL"});
}

Result<EnrollmentService::Checked> EnrollmentService::Check(std::string_view request_text,
                                                            std::optional<std::string> token) {
  Checked c;
  ASSIGN_OR_RETURN(c.request, protocol::ParseEnrollRequest(request_text));
  if (token && !Trim(*token).empty()) c.request.parameters.token = std::string(Trim(*token));
  const protocol::EnrollParameters& p = c.request.parameters;
  if (p.public_key->bits() < 2048) {
    return Status(Code::kUnsupported,
                  "the cluster key has " + std::to_string(p.public_key->bits()) +
                      " bits; this service issues SLCs only for keys of 2048 bits or more "
                      "(cryptographic mode 2)");
  }
  RETURN_IF_ERROR(protocol::VerifyRequestSignature(c.request));
  if (p.revocation_type != "StandardRevocation" && p.revocation_type != "CustomRevocation") {
    return Status(Code::kUnsupported, "revocation type \"" + p.revocation_type +
                                          "\" is not supported (StandardRevocation or "
                                          "CustomRevocation)");
  }
  if (p.revocation_type == "CustomRevocation" && p.revocation_authority_keys.empty()) {
    return Status(Code::kInvalidArgument,
                  "CustomRevocation needs at least one revocation "
                  "authority public key");
  }
  if (!IsGuid(p.guid)) {
    return Status(Code::kInvalidArgument, "the GUID \"" + p.guid +
                                              "\" is not of the form {xxxxxxxx-xxxx-xxxx-xxxx-"
                                              "xxxxxxxxxxxx}");
  }
  if (p.version.empty())
    return Status(Code::kInvalidArgument, "EnrolleeInformation/Version is empty");
  if (p.name.empty() || p.name.size() > 256) {
    return Status(Code::kInvalidArgument, "the server name must be 1 to 256 characters");
  }
  if (p.url.rfind("https://", 0) != 0 && p.url.rfind("http://", 0) != 0) {
    return Status(Code::kInvalidArgument, "the server URL \"" + p.url + "\" is not an http(s) URL");
  }
  c.validity_days = p.requested_validity_days.value_or(authority_.max_validity_days);
  if (c.validity_days < 1 || c.validity_days > authority_.max_validity_days) {
    return Status(Code::kInvalidArgument,
                  "the request asks for " + std::to_string(c.validity_days) +
                      " days of validity; this service issues 1 to " +
                      std::to_string(authority_.max_validity_days) + " days");
  }
  c.fingerprint = p.public_key->Fingerprint();

  // A renewal? Look for what this service issued to this key, or this GUID.
  ASSIGN_OR_RETURN(auto by_key,
                   db_.Query(std::string("SELECT ") + kIssuedColumns +
                                 " FROM enrollment_issued WHERE key_fingerprint = $1 "
                                 "AND authority = $2 ORDER BY valid_until DESC LIMIT 1",
                             {c.fingerprint, authority_.id}));
  ASSIGN_OR_RETURN(auto by_guid, db_.Query(std::string("SELECT ") + kIssuedColumns +
                                               ", key_fingerprint FROM enrollment_issued WHERE "
                                               "slc_guid = $1 AND authority = $2 ORDER BY "
                                               "valid_until DESC LIMIT 1",
                                           {p.guid, authority_.id}));
  if (!by_key.empty()) {
    IssuedRecord prev = ToIssuedRecord(by_key[0]);
    if (!EqualsIgnoreCase(prev.slc_guid, p.guid)) {
      return Status(Code::kMismatch, "this key was enrolled as SLC " + prev.slc_guid + " (" +
                                         prev.server_name +
                                         "); a renewal must keep that GUID, "
                                         "not " +
                                         p.guid);
    }
    c.previous = prev;
  } else if (!by_guid.empty()) {
    // A new key for a known GUID (a rekey): authorised as a first
    // enrollment is (Issue), and it must keep the server's name.
    IssuedRecord prev = ToIssuedRecord(by_guid[0]);
    if (prev.server_name != p.name) {
      return Status(Code::kMismatch, "SLC " + p.guid + " was issued to server " + prev.server_name +
                                         ", not " + p.name +
                                         ": a new key for it must keep the server's name");
    }
    c.rekey_of = prev;
  }
  return c;
}

Result<Issued> EnrollmentService::Issue(const Checked& c, const Requester& requester, bool approved,
                                        std::optional<int64_t> pending_id) {
  const protocol::EnrollParameters& p = c.request.parameters;
  const Time now = RoundToMinute(clock_.Now());
  const auto& own = authority_.certificate().validity;
  if (own && !own->Contains(clock_.Now())) {
    return Status(Code::kExpired,
                  authority_.name + " cannot issue certificates: its own certificate " +
                      (own->until && clock_.Now() >= *own->until
                           ? "expired on " + FormatHuman(*own->until) + " and must be renewed first"
                           : std::string("is not valid yet")));
  }
  const bool renewal = c.previous && clock_.Now() < c.previous->valid_until;
  if (!renewal && !approved) {
    if (c.previous) {
      if (!p.token) {
        return Status(Code::kExpired,
                      "the SLC " + p.guid + " of " + c.previous->server_name + " expired on " +
                          FormatHuman(c.previous->valid_until) +
                          "; renewing it now needs a one-time enrollment token or an operator's "
                          "approval");
      }
    } else if (!p.token && c.rekey_of) {
      return Status(Code::kPermissionDenied,
                    "SLC " + p.guid + " of " + c.rekey_of->server_name +
                        " was issued for another key: a new key for it (a rekey) needs a "
                        "one-time enrollment token (ask the operator of this service for one) or "
                        "an operator's approval, as a first enrollment does");
    } else if (!p.token) {
      return Status(Code::kPermissionDenied,
                    "this service has issued no SLC for this key, so this is a first enrollment, "
                    "which needs a one-time enrollment token (ask the operator of this service "
                    "for one) or an operator's approval");
    }
  }

  xrml::IssuingCertificate spec;
  spec.descriptor_type = xrml::kTypeServerLicensorCertificate;
  spec.certificate_id = NewGuid(random_);
  spec.issued = now;
  Time until = now + Days(c.validity_days);
  const auto& service_validity = authority_.certificate().validity;
  if (service_validity && service_validity->until && until > *service_validity->until) {
    until = *service_validity->until;
  }
  spec.validity = {now, until};
  spec.issuer = *authority_.certificate().principal();
  spec.principal.object = {xrml::kObjectServer, "MS-GUID", p.guid, p.name, "URL", p.url};
  spec.principal.public_key = *p.public_key;
  spec.principal.security_levels = {{"Server-Version", p.version}, {"Server-SKU", p.sku}};
  ASSIGN_OR_RETURN(xrml::Document slc,
                   xrml::SignDocument(xrml::BuildIssuingCertificateBody(spec), *authority_.key));
  const std::string who = requester.channel + ":" + requester.address;

  Status s = db_.InTransaction([&](store::Database& tx) -> Status {
    if (!renewal && !approved) {
      const std::string hash = TokenHash(*p.token);
      ASSIGN_OR_RETURN(
          int64_t used,
          tx.Execute("UPDATE enrollment_tokens SET used_at = $1, used_by = $2 WHERE "
                     "token_hash = $3 AND authority = $4 AND used_at IS NULL",
                     {now.time_since_epoch().count(), p.name + " " + p.guid, hash, authority_.id}));
      if (used == 0) {
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT used_at, used_by FROM enrollment_tokens "
                                             "WHERE token_hash = $1 AND authority = $2",
                                             {hash, authority_.id}));
        if (rows.empty()) {
          return Status(Code::kNotFound,
                        "the enrollment token is not one this service issued; "
                        "check it, or ask the operator for a new one");
        }
        return Status(Code::kAlreadyUsed, "the enrollment token was already used on " +
                                              FormatHuman(Time(Duration(rows[0].Int(0)))) +
                                              " (by " + rows[0].Text(1) +
                                              "); ask the operator for a new one");
      }
    }
    const RenewalWindow window = DefaultRenewalWindow(now, until);
    ASSIGN_OR_RETURN(
        int64_t inserted,
        tx.Execute(
            "INSERT INTO enrollment_issued (slc_guid, certificate_id, "
            "server_name, server_url, key_fingerprint, kind, channel, "
            "requester, issued_at, valid_from, valid_until, certificate, "
            "authority, window_start, window_end) VALUES ($1, $2, $3, $4, $5, "
            "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            {p.guid, spec.certificate_id, p.name, p.url, c.fingerprint,
             std::string(renewal      ? "renewal"
                         : c.rekey_of ? "rekey"
                                      : "enrollment"),
             requester.channel, requester.address, clock_.Now().time_since_epoch().count(),
             now.time_since_epoch().count(), until.time_since_epoch().count(),
             xrml::WriteDocument(slc), authority_.id, Secs(window.start), Secs(window.end)}));
    (void)inserted;
    if (pending_id) {
      ASSIGN_OR_RETURN(
          int64_t n,
          tx.Execute("UPDATE enrollment_pending SET state = 'issued', decided_by = "
                     "$1, decided_at = $2, issued_id = (SELECT id FROM "
                     "enrollment_issued WHERE certificate_id = $3) WHERE id = $4 AND "
                     "state = 'pending'",
                     {who, now.time_since_epoch().count(), spec.certificate_id, *pending_id}));
      if (n != 1) {
        return Status(Code::kFailedPrecondition,
                      "request " + std::to_string(*pending_id) + " is no longer pending");
      }
    }
    return Status::Ok();
  });
  RETURN_IF_ERROR(s);

  Issued out;
  out.renewal = renewal;
  out.chain.push_back(std::move(slc));
  for (const auto& d : authority_.chain) out.chain.push_back(d);
  return out;
}

Result<Issued> EnrollmentService::Enroll(std::string_view request_text, const Requester& requester,
                                         std::optional<std::string> token) {
  ASSIGN_OR_RETURN(Checked c, Check(request_text, std::move(token)));
  return Issue(c, requester, /*approved=*/false, std::nullopt);
}

Result<EnrollmentService::Outcome> EnrollmentService::EnrollOrQueue(
    std::string_view request_text, const Requester& requester, std::optional<std::string> token) {
  ASSIGN_OR_RETURN(Checked c, Check(request_text, std::move(token)));
  Outcome out;
  if (!c.previous && !c.request.parameters.token) {
    ASSIGN_OR_RETURN(out.pending, SubmitForApproval(request_text, requester));
    return out;
  }
  ASSIGN_OR_RETURN(out.issued, Issue(c, requester, /*approved=*/false, std::nullopt));
  return out;
}

Result<std::vector<xrml::Document>> EnrollmentService::ChainForCertificate(
    std::string_view certificate_id) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT certificate FROM enrollment_issued WHERE "
                                        "certificate_id = $1 AND authority = $2",
                                        {std::string(certificate_id), authority_.id}));
  if (rows.empty()) {
    return Status(Code::kNotFound,
                  "this service issued no certificate " + std::string(certificate_id));
  }
  ASSIGN_OR_RETURN(xrml::Document slc, xrml::ParseDocument(rows[0].Text(0)));
  std::vector<xrml::Document> chain;
  chain.push_back(std::move(slc));
  for (const auto& d : authority_.chain) chain.push_back(d);
  return chain;
}

Result<PendingRequest> EnrollmentService::SubmitForApproval(std::string_view request_text,
                                                            const Requester& requester) {
  ASSIGN_OR_RETURN(Checked c, Check(request_text, std::nullopt));
  const std::string reference = ::openrms::NewToken(random_, 16);
  RETURN_IF_ERROR(db_.Execute("INSERT INTO enrollment_pending (reference, server_name, slc_guid, "
                              "key_fingerprint, state, requester, submitted_at, request, "
                              "authority) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8)",
                              {reference, c.request.parameters.name, c.request.parameters.guid,
                               c.fingerprint, requester.channel + ":" + requester.address,
                               clock_.Now().time_since_epoch().count(), std::string(request_text),
                               authority_.id})
                      .status());
  return FindPending(reference);
}

namespace {
constexpr char kPendingColumns[] =
    "p.id, p.reference, p.server_name, p.slc_guid, p.key_fingerprint, p.state, p.requester, "
    "p.submitted_at, p.request, i.certificate_id FROM enrollment_pending p LEFT JOIN "
    "enrollment_issued i ON i.id = p.issued_id";

PendingRequest ToPending(const Row& r) {
  return {r.Int(0),  r.Text(1), r.Text(2), r.Text(3),
          r.Text(4), r.Text(5), r.Text(6), Time(Duration(r.Int(7))),
          r.Text(8), r.Text(9)};
}
}  // namespace

Result<PendingRequest> EnrollmentService::FindPending(std::string_view reference) {
  ASSIGN_OR_RETURN(auto rows, db_.Query(std::string("SELECT ") + kPendingColumns +
                                            " WHERE p.reference = $1 AND p.authority = $2",
                                        {std::string(reference), authority_.id}));
  if (rows.empty())
    return Status(Code::kNotFound, "there is no enrollment request with that reference");
  return ToPending(rows[0]);
}

Result<Issued> EnrollmentService::Approve(int64_t pending_id, const Requester& approver) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT request, state FROM enrollment_pending WHERE "
                                        "id = $1 AND authority = $2",
                                        {pending_id, authority_.id}));
  if (rows.empty()) {
    return Status(Code::kNotFound, "there is no enrollment request " + std::to_string(pending_id));
  }
  if (rows[0].Text(1) != "pending") {
    return Status(Code::kFailedPrecondition, "request " + std::to_string(pending_id) + " is " +
                                                 rows[0].Text(1) + ", not pending");
  }
  ASSIGN_OR_RETURN(Checked c, Check(rows[0].Text(0), std::nullopt));
  return Issue(c, approver, /*approved=*/true, pending_id);
}

Status EnrollmentService::Reject(int64_t pending_id, const Requester& approver) {
  ASSIGN_OR_RETURN(
      int64_t n, db_.Execute("UPDATE enrollment_pending SET state = 'rejected', "
                             "decided_by = $1, decided_at = $2 WHERE id = $3 AND "
                             "state = 'pending' AND authority = $4",
                             {approver.channel + ":" + approver.address,
                              clock_.Now().time_since_epoch().count(), pending_id, authority_.id}));
  if (n == 0) {
    return Status(Code::kNotFound,
                  "there is no pending enrollment request " + std::to_string(pending_id));
  }
  return Status::Ok();
}

Result<std::vector<xrml::Document>> EnrollmentService::ChainForPending(int64_t pending_id) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT i.certificate_id FROM enrollment_pending p JOIN "
                                        "enrollment_issued i ON i.id = p.issued_id WHERE p.id = $1 "
                                        "AND p.authority = $2",
                                        {pending_id, authority_.id}));
  if (rows.empty()) {
    return Status(Code::kNotFound,
                  "request " + std::to_string(pending_id) + " has not been approved (yet)");
  }
  return ChainForCertificate(rows[0].Text(0));
}

Result<std::vector<PendingRequest>> EnrollmentService::ListPending() {
  ASSIGN_OR_RETURN(auto rows, db_.Query(std::string("SELECT ") + kPendingColumns +
                                            " WHERE p.authority = $1 ORDER BY p.id DESC LIMIT 200",
                                        {authority_.id}));
  std::vector<PendingRequest> out;
  for (const auto& r : rows) out.push_back(ToPending(r));
  return out;
}

Result<std::string> EnrollmentService::NewToken(const Requester& requester) {
  const std::string token = ::openrms::NewToken(random_, 20);
  RETURN_IF_ERROR(db_.Execute("INSERT INTO enrollment_tokens (token_hash, created_at, created_by, "
                              "authority) VALUES ($1, $2, $3, $4)",
                              {TokenHash(token), clock_.Now().time_since_epoch().count(),
                               requester.channel + ":" + requester.address, authority_.id})
                      .status());
  return token;
}

Result<std::vector<IssuedRecord>> EnrollmentService::ListIssued() {
  ASSIGN_OR_RETURN(auto rows, db_.Query(std::string("SELECT ") + kIssuedColumns +
                                            " FROM enrollment_issued WHERE authority = $1 ORDER BY "
                                            "id DESC LIMIT 500",
                                        {authority_.id}));
  std::vector<IssuedRecord> out;
  for (const auto& r : rows) out.push_back(ToIssuedRecord(r));
  return out;
}

Result<IssuedRecord> EnrollmentService::FindIssued(std::string_view certificate_id) {
  ASSIGN_OR_RETURN(auto rows, db_.Query(std::string("SELECT ") + kIssuedColumns +
                                            " FROM enrollment_issued WHERE certificate_id = $1 "
                                            "AND authority = $2",
                                        {std::string(certificate_id), authority_.id}));
  if (rows.empty()) {
    return Status(Code::kNotFound,
                  "this service issued no certificate " + std::string(certificate_id));
  }
  return ToIssuedRecord(rows[0]);
}

Result<int64_t> EnrollmentService::MoveRenewalWindow(const WindowChange& change,
                                                     const Requester& who) {
  const RenewalWindow& w = change.window;
  if (w.start >= w.end) {
    return Status(Code::kInvalidArgument, "the renewal window must start before it ends (start " +
                                              FormatIso8601(w.start) + ", end " +
                                              FormatIso8601(w.end) + ")");
  }
  if (!change.explanation_url.empty() && !IsExplanationUrl(change.explanation_url)) {
    return Status(Code::kInvalidArgument,
                  "the explanation URL must be an http:// or https:// URL without spaces or "
                  "quotes, not \"" +
                      change.explanation_url + "\"");
  }
  const Time now = clock_.Now();
  const std::vector<Value> set = {
      Secs(w.start),
      Secs(w.end),
      change.explanation_url.empty() ? Value(nullptr) : Value(change.explanation_url),
      Secs(now),
      who.channel + ":" + who.address,
      authority_.id};
  constexpr char kSet[] =
      "UPDATE enrollment_issued SET window_start = $1, window_end = $2, window_explanation_url = "
      "$3, window_moved_at = $4, window_moved_by = $5 WHERE authority = $6 AND ";
  if (change.certificate_id) {
    ASSIGN_OR_RETURN(IssuedRecord rec, FindIssued(*change.certificate_id));
    if (rec.valid_until <= now) {
      return Status(Code::kFailedPrecondition,
                    "certificate " + rec.certificate_id + " of " + rec.server_name +
                        " expired on " + FormatHuman(rec.valid_until) +
                        ": there is no renewal left to schedule (it needs a new enrollment)");
    }
    if (w.end > rec.valid_until) {
      return Status(Code::kInvalidArgument,
                    "the renewal window must end by the certificate's expiry (" +
                        FormatIso8601(rec.valid_until) + "), not " + FormatIso8601(w.end));
    }
    std::vector<Value> params = set;
    params.push_back(rec.certificate_id);
    return db_.Execute(std::string(kSet) + "certificate_id = $7", params);
  }
  std::vector<Value> params = set;
  params.push_back(Secs(now));
  return db_.Execute(std::string(kSet) +
                         "valid_until > $7 AND window_end > $2 AND id IN (SELECT MAX(id) FROM "
                         "enrollment_issued WHERE authority = $6 GROUP BY slc_guid)",
                     params);
}

}  // namespace openrms::enrollment
