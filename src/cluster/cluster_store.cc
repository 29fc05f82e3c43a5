#include "cluster/cluster_store.h"

#include "base/fault.h"
#include "cluster/renewal_plan.h"

namespace openrms::cluster {

namespace {

using store::Row;
using store::Value;

int64_t Secs(Time t) { return t.time_since_epoch().count(); }
Time At(int64_t s) { return Time(Duration(s)); }
Value OptSecs(const std::optional<Time>& t) { return t ? Value(Secs(*t)) : Value(nullptr); }

constexpr char kClusterColumns[] =
    "name, kind, url, guid, issuer_url, issuer_tls_ca, trust_anchor, public_key, sealed_key, "
    "auto_renew, renewal_due_days, expiring_days, subordinate_validity_days, created_at, "
    "active_slc, last_renewal_at, last_renewal_ok, next_renewal_attempt, renewal_failures, "
    "rac_standard_days, rac_temporary_minutes, key_uri, clc_days";

ClusterConfig ToConfig(const Row& r) {
  ClusterConfig c;
  c.name = r.Text(0);
  c.kind = r.Text(1) == "root" ? ClusterKind::kRoot : ClusterKind::kLicensingOnly;
  c.url = r.Text(2);
  c.guid = r.Text(3);
  c.issuer_url = r.Text(4);
  c.issuer_tls_ca = r.Text(5);
  c.trust_anchor = r.Text(6);
  c.public_key = r.Text(7);
  c.sealed_key = r.Text(8);
  c.auto_renew = r.Int(9) != 0;
  c.renewal_due_days = static_cast<int>(r.Int(10));
  c.expiring_days = static_cast<int>(r.Int(11));
  c.subordinate_validity_days = static_cast<int>(r.Int(12));
  c.created_at = At(r.Int(13));
  if (!r.IsNull(14)) c.active_slc = r.Int(14);
  if (!r.IsNull(15)) c.last_renewal_at = At(r.Int(15));
  if (!r.IsNull(16)) c.last_renewal_ok = r.Int(16) != 0;
  if (!r.IsNull(17)) c.next_renewal_attempt = At(r.Int(17));
  c.renewal_failures = static_cast<int>(r.Int(18));
  c.rac_standard_days = static_cast<int>(r.Int(19));
  c.rac_temporary_minutes = static_cast<int>(r.Int(20));
  c.key_uri = r.Text(21);
  c.clc_days = static_cast<int>(r.Int(22));
  return c;
}

constexpr char kSlcColumns[] =
    "id, certificate_id, chain, issued_at, valid_from, valid_until, issuer, source, "
    "installed_at, installed_by";

SlcRecord ToSlc(const Row& r) {
  return {r.Int(0),     r.Text(1), r.Text(2), At(r.Int(3)), At(r.Int(4)),
          At(r.Int(5)), r.Text(6), r.Text(7), At(r.Int(8)), r.Text(9)};
}

}  // namespace

std::string_view ClusterKindName(ClusterKind kind) {
  return kind == ClusterKind::kRoot ? "root" : "licensing-only";
}

Status ClusterStore::Migrate(store::Database& db) {
  Status s = store::Migrate(
      db, "cluster",
      {"CREATE TABLE clusters (name TEXT PRIMARY KEY, kind TEXT NOT NULL, url TEXT NOT NULL, guid "
       "TEXT NOT NULL, issuer_url TEXT NOT NULL, issuer_tls_ca TEXT NOT NULL, trust_anchor TEXT "
       "NOT NULL, public_key TEXT NOT NULL, sealed_key TEXT NOT NULL, auto_renew INTEGER NOT NULL "
       "DEFAULT 0, renewal_due_days INTEGER NOT NULL DEFAULT 30, expiring_days INTEGER NOT NULL "
       "DEFAULT 7, subordinate_validity_days INTEGER NOT NULL DEFAULT 365, created_at INTEGER NOT "
       "NULL, active_slc INTEGER, last_renewal_at INTEGER, last_renewal_ok INTEGER, "
       "next_renewal_attempt INTEGER, renewal_failures INTEGER NOT NULL DEFAULT 0)",
       "CREATE TABLE cluster_slcs (id INTEGER PRIMARY KEY AUTOINCREMENT, cluster TEXT NOT NULL, "
       "certificate_id TEXT NOT NULL, chain TEXT NOT NULL, issued_at INTEGER NOT NULL, valid_from "
       "INTEGER NOT NULL, valid_until INTEGER NOT NULL, issuer TEXT NOT NULL, source TEXT NOT "
       "NULL, installed_at INTEGER NOT NULL, installed_by TEXT NOT NULL, UNIQUE (cluster, "
       "certificate_id))",
       "CREATE TABLE cluster_requests (id INTEGER PRIMARY KEY AUTOINCREMENT, cluster TEXT NOT "
       "NULL, created_at INTEGER NOT NULL, created_by TEXT NOT NULL, file_name TEXT NOT NULL, "
       "request TEXT NOT NULL, state TEXT NOT NULL)",
       "CREATE TABLE cluster_events (id INTEGER PRIMARY KEY AUTOINCREMENT, cluster TEXT NOT NULL, "
       "at INTEGER NOT NULL, level TEXT NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL, "
       "dedupe TEXT, UNIQUE (cluster, kind, dedupe))",
       "CREATE TABLE cluster_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, cluster TEXT NOT NULL, "
       "at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)",
       "ALTER TABLE clusters ADD COLUMN rac_standard_days INTEGER NOT NULL DEFAULT 365",
       "ALTER TABLE clusters ADD COLUMN rac_temporary_minutes INTEGER NOT NULL DEFAULT 15",
       "CREATE TABLE cluster_renewal_leases (cluster TEXT PRIMARY KEY, holder TEXT NOT NULL, "
       "expires_at INTEGER NOT NULL)",
       // A key in a PKCS#11 token, by URI; sealed_key is then "".
       "ALTER TABLE clusters ADD COLUMN key_uri TEXT NOT NULL DEFAULT ''",
       // Trusted publishing domains (tpd.h): retired keys and their last SLC.
       "CREATE TABLE cluster_tpds (id INTEGER PRIMARY KEY AUTOINCREMENT, cluster TEXT NOT NULL, "
       "fingerprint TEXT NOT NULL, public_key TEXT NOT NULL, sealed_key TEXT NOT NULL, key_uri "
       "TEXT NOT NULL, chain TEXT NOT NULL, issued_at INTEGER NOT NULL, valid_until INTEGER NOT "
       "NULL, state TEXT NOT NULL, source TEXT NOT NULL, added_at INTEGER NOT NULL, added_by TEXT "
       "NOT NULL, UNIQUE (cluster, fingerprint))",
       // A rekey's request carries the new key until its SLC is imported.
       "ALTER TABLE cluster_requests ADD COLUMN new_public_key TEXT NOT NULL DEFAULT ''",
       "ALTER TABLE cluster_requests ADD COLUMN new_sealed_key TEXT NOT NULL DEFAULT ''",
       "ALTER TABLE cluster_requests ADD COLUMN new_key_uri TEXT NOT NULL DEFAULT ''",
       // How long client licensor certificates last (offline publishing).
       "ALTER TABLE clusters ADD COLUMN clc_days INTEGER NOT NULL DEFAULT 30"});
  if (!s.ok()) return s;
  RETURN_IF_ERROR(RenewalPlanStore::Migrate(db));
  // Staged imports: the administration site created this table under the
  // component "admin" before the cluster store owned it; the same name and
  // step keep existing databases from running it again.
  return store::Migrate(db, "admin",
                        {"CREATE TABLE admin_staged_imports (id TEXT PRIMARY KEY, user_name TEXT "
                         "NOT NULL, cluster TEXT NOT NULL, file TEXT NOT NULL, created_at INTEGER "
                         "NOT NULL)"});
}

Status ClusterStore::TakeRenewalLease(const std::string& name, const std::string& holder, Time now,
                                      Time until) {
  return db_.InTransaction([&](store::Database& tx) -> Status {
    ASSIGN_OR_RETURN(auto rows,
                     tx.Query("SELECT holder, expires_at FROM cluster_renewal_leases WHERE "
                              "cluster = $1",
                              {name}));
    if (!rows.empty() && rows[0].Text(0) != holder && rows[0].Int(1) > Secs(now)) {
      return Status(Code::kFailedPrecondition,
                    "a renewal of cluster " + name +
                        " is already in progress: wait for it to finish and look at the "
                        "cluster's status again");
    }
    RETURN_IF_ERROR(
        tx.Execute("DELETE FROM cluster_renewal_leases WHERE cluster = $1", {name}).status());
    return tx
        .Execute(
            "INSERT INTO cluster_renewal_leases (cluster, holder, expires_at) VALUES ($1, "
            "$2, $3)",
            {name, holder, Secs(until)})
        .status();
  });
}

Status ClusterStore::ReleaseRenewalLease(const std::string& name, const std::string& holder) {
  auto r = db_.Execute("DELETE FROM cluster_renewal_leases WHERE cluster = $1 AND holder = $2",
                       {name, holder});
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::vector<std::string>> ClusterStore::ListClusters() {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT name FROM clusters ORDER BY created_at, name"));
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.Text(0));
  return out;
}

Result<ClusterConfig> ClusterStore::Find(const std::string& name) {
  ASSIGN_OR_RETURN(auto rows, db_.Query(std::string("SELECT ") + kClusterColumns +
                                            " FROM clusters WHERE name = $1",
                                        {name}));
  if (rows.empty()) {
    ASSIGN_OR_RETURN(auto names, ListClusters());
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    return Status(Code::kNotFound, "there is no cluster named \"" + name + "\" here" +
                                       (known.empty() ? std::string(" (none is provisioned)")
                                                      : " (clusters: " + known + ")"));
  }
  return ToConfig(rows[0]);
}

Status ClusterStore::Create(const ClusterConfig& c) {
  RETURN_IF_ERROR(Insert(db_, c));
  created_.fetch_add(1, std::memory_order_release);
  return Status::Ok();
}

Status ClusterStore::Insert(store::Database& db, const ClusterConfig& c) {
  auto r = db.Execute(
      "INSERT INTO clusters (name, kind, url, guid, issuer_url, issuer_tls_ca, trust_anchor, "
      "public_key, sealed_key, auto_renew, renewal_due_days, expiring_days, "
      "subordinate_validity_days, created_at, key_uri) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
      "$9, $10, $11, $12, $13, $14, $15)",
      {c.name, std::string(ClusterKindName(c.kind)), c.url, c.guid, c.issuer_url, c.issuer_tls_ca,
       c.trust_anchor, c.public_key, c.sealed_key, int64_t{c.auto_renew ? 1 : 0},
       int64_t{c.renewal_due_days}, int64_t{c.expiring_days}, int64_t{c.subordinate_validity_days},
       Secs(c.created_at), c.key_uri});
  if (!r.ok() && r.status().code() == Code::kAlreadyUsed) {
    return Status(Code::kAlreadyUsed, "a cluster named \"" + c.name + "\" already exists here");
  }
  return r.status();
}

Status ClusterStore::SetRacValidity(const std::string& name, int standard_days,
                                    int temporary_minutes) {
  if (standard_days < 1 || standard_days > 3650 || temporary_minutes < 1 ||
      temporary_minutes > 24 * 60) {
    return Status(Code::kInvalidArgument,
                  "a standard RAC lasts 1 to 3650 days, a temporary one 1 to 1440 minutes");
  }
  return db_
      .Execute(
          "UPDATE clusters SET rac_standard_days = $1, rac_temporary_minutes = $2 WHERE name = $3",
          {int64_t{standard_days}, int64_t{temporary_minutes}, name})
      .status();
}

Status ClusterStore::SetClcValidity(const std::string& name, int days) {
  if (days < 1 || days > 3650) {
    return Status(Code::kInvalidArgument, "a client licensor certificate lasts 1 to 3650 days");
  }
  ASSIGN_OR_RETURN(int64_t n, db_.Execute("UPDATE clusters SET clc_days = $1 WHERE name = $2",
                                          {int64_t{days}, name}));
  if (n == 0) return Status(Code::kNotFound, "there is no cluster " + name);
  return Status::Ok();
}

Status ClusterStore::SetAutoRenew(const std::string& name, bool on) {
  return db_
      .Execute("UPDATE clusters SET auto_renew = $1 WHERE name = $2", {int64_t{on ? 1 : 0}, name})
      .status();
}

Status ClusterStore::RecordRenewalAttempt(const std::string& name, Time at, bool ok,
                                          std::optional<Time> next_attempt, int failures) {
  return db_
      .Execute(
          "UPDATE clusters SET last_renewal_at = $1, last_renewal_ok = $2, next_renewal_attempt = "
          "$3, renewal_failures = $4 WHERE name = $5",
          {Secs(at), int64_t{ok ? 1 : 0}, OptSecs(next_attempt), int64_t{failures}, name})
      .status();
}

Status ClusterStore::MoveKeyToToken(const std::string& name, const std::string& public_key,
                                    const std::string& key_uri, Time at, const std::string& actor) {
  return db_.InTransaction([&](store::Database& tx) -> Status {
    ASSIGN_OR_RETURN(int64_t moved,
                     tx.Execute("UPDATE clusters SET key_uri = $1, sealed_key = '' WHERE name = $2 "
                                "AND public_key = $3 AND key_uri = '' AND sealed_key <> ''",
                                {key_uri, name, public_key}));
    if (moved != 1) {
      return Status(Code::kFailedPrecondition,
                    "the key of cluster " + name +
                        " changed while it was being moved (another node may have moved it): "
                        "nothing was switched; look at the cluster again");
    }
    return tx
        .Execute(
            "INSERT INTO cluster_audit (cluster, at, actor, action, detail) VALUES ($1, $2, $3, "
            "'move-key', $4)",
            {name, Secs(at), actor, "the cluster key now lives in " + key_uri})
        .status();
  });
}

Result<std::optional<SlcRecord>> ClusterStore::ActiveSlc(const std::string& name) {
  ASSIGN_OR_RETURN(auto rows, db_.Query(std::string("SELECT s.") + kSlcColumns +
                                            " FROM cluster_slcs s JOIN clusters c ON c.active_slc "
                                            "= s.id WHERE c.name = $1",
                                        {name}));
  if (rows.empty()) return std::optional<SlcRecord>();
  return std::optional<SlcRecord>(ToSlc(rows[0]));
}

Result<std::vector<SlcRecord>> ClusterStore::History(const std::string& name) {
  ASSIGN_OR_RETURN(auto rows, db_.Query(std::string("SELECT ") + kSlcColumns +
                                            " FROM cluster_slcs WHERE cluster = $1 ORDER BY id",
                                        {name}));
  std::vector<SlcRecord> out;
  for (const auto& r : rows) out.push_back(ToSlc(r));
  return out;
}

Result<int64_t> ClusterStore::Activate(const std::string& name, const SlcRecord& slc,
                                       std::optional<int64_t> expected_active,
                                       const std::string& actor, const std::string& event_message,
                                       const ClusterConfig* create, const KeySwitch* rekey) {
  int64_t new_id = 0;
  OPENRMS_CRASH_POINT("activate: before the transaction");
  Status s = db_.InTransaction([&](store::Database& tx) -> Status {
    if (create != nullptr) RETURN_IF_ERROR(Insert(tx, *create));
    auto inserted = tx.Execute(
        "INSERT INTO cluster_slcs (cluster, certificate_id, chain, issued_at, valid_from, "
        "valid_until, issuer, source, installed_at, installed_by) VALUES ($1, $2, $3, $4, $5, $6, "
        "$7, $8, $9, $10)",
        {name, slc.certificate_id, slc.chain, Secs(slc.issued), Secs(slc.valid_from),
         Secs(slc.valid_until), slc.issuer, slc.source, Secs(slc.installed_at), actor});
    if (!inserted.ok()) {
      if (inserted.status().code() == Code::kAlreadyUsed) {
        return Status(Code::kAlreadyUsed,
                      "this certificate (" + slc.certificate_id + ") was installed before");
      }
      return inserted.status();
    }
    OPENRMS_CRASH_POINT("activate: history row written");
    if (rekey != nullptr) {
      RETURN_IF_ERROR(PublishingDomainStore::Insert(tx, name, rekey->retired));
      OPENRMS_CRASH_POINT("rekey: old domain retired");
      ASSIGN_OR_RETURN(int64_t switched,
                       tx.Execute("UPDATE clusters SET public_key = $1, sealed_key = $2, key_uri = "
                                  "$3 WHERE name = $4 AND public_key = $5",
                                  {rekey->next.public_key, rekey->next.sealed_key,
                                   rekey->next.key_uri, name, rekey->old_public_key}));
      if (switched != 1) {
        return Status(Code::kFailedPrecondition,
                      "the key of cluster " + name +
                          " changed while the new one was being activated (another rekey?): "
                          "nothing was switched; look at the cluster again");
      }
      OPENRMS_CRASH_POINT("rekey: key switched");
    }
    ASSIGN_OR_RETURN(auto id_rows, tx.Query("SELECT id FROM cluster_slcs WHERE cluster = $1 AND "
                                            "certificate_id = $2",
                                            {name, slc.certificate_id}));
    if (id_rows.empty()) return Status(Code::kDataLoss, "the SLC just written cannot be read back");
    new_id = id_rows[0].Int(0);
    ASSIGN_OR_RETURN(
        int64_t moved,
        tx.Execute(expected_active ? "UPDATE clusters SET active_slc = $1 WHERE name = $2 AND "
                                     "active_slc = $3"
                                   : "UPDATE clusters SET active_slc = $1 WHERE name = $2 AND "
                                     "active_slc IS NULL",
                   expected_active ? std::vector<store::Value>{new_id, name, *expected_active}
                                   : std::vector<store::Value>{new_id, name}));
    if (moved != 1) {
      return Status(Code::kFailedPrecondition,
                    "the cluster's active SLC changed while this one was being installed; check "
                    "the status and try again");
    }
    OPENRMS_CRASH_POINT("activate: active pointer moved");
    RETURN_IF_ERROR(tx.Execute("UPDATE cluster_requests SET state = 'completed' WHERE cluster = $1 "
                               "AND state = 'pending'",
                               {name})
                        .status());
    RETURN_IF_ERROR(tx.Execute("INSERT INTO cluster_audit (cluster, at, actor, action, detail) "
                               "VALUES ($1, $2, $3, $4, $5)",
                               {name, Secs(slc.installed_at), actor, std::string("activate-slc"),
                                event_message})
                        .status());
    RETURN_IF_ERROR(tx.Execute("INSERT INTO cluster_events (cluster, at, level, kind, message) "
                               "VALUES ($1, $2, 'info', 'renewed', $3)",
                               {name, Secs(slc.installed_at), event_message})
                        .status());
    OPENRMS_CRASH_POINT("activate: before commit");
    return Status::Ok();
  });
  RETURN_IF_ERROR(s);
  if (create != nullptr) created_.fetch_add(1, std::memory_order_release);
  OPENRMS_CRASH_POINT("activate: committed");
  return new_id;
}

Result<std::optional<RequestRecord>> ClusterStore::PendingRequest(const std::string& name) {
  ASSIGN_OR_RETURN(auto rows,
                   db_.Query("SELECT id, created_at, created_by, file_name, request, state FROM "
                             "cluster_requests WHERE cluster = $1 AND state = 'pending' ORDER BY "
                             "id DESC LIMIT 1",
                             {name}));
  if (rows.empty()) return std::optional<RequestRecord>();
  const Row& r = rows[0];
  return std::optional<RequestRecord>(
      RequestRecord{r.Int(0), At(r.Int(1)), r.Text(2), r.Text(3), r.Text(4), r.Text(5)});
}

Status ClusterStore::RecordRequest(const std::string& name, const RequestRecord& req,
                                   const PendingKey* new_key) {
  const PendingKey none;
  const PendingKey& key = new_key != nullptr ? *new_key : none;
  return db_.InTransaction([&](store::Database& tx) -> Status {
    RETURN_IF_ERROR(tx.Execute("UPDATE cluster_requests SET state = 'superseded' WHERE cluster = "
                               "$1 AND state = 'pending'",
                               {name})
                        .status());
    return tx
        .Execute(
            "INSERT INTO cluster_requests (cluster, created_at, created_by, file_name, request, "
            "state, new_public_key, new_sealed_key, new_key_uri) VALUES ($1, $2, $3, $4, $5, "
            "'pending', $6, $7, $8)",
            {name, Secs(req.created_at), req.created_by, req.file_name, req.request, key.public_key,
             key.sealed_key, key.key_uri})
        .status();
  });
}

Result<std::optional<PendingKey>> ClusterStore::PendingNewKey(const std::string& name) {
  ASSIGN_OR_RETURN(auto rows,
                   db_.Query("SELECT new_public_key, new_sealed_key, new_key_uri FROM "
                             "cluster_requests WHERE cluster = $1 AND state = 'pending' ORDER BY "
                             "id DESC LIMIT 1",
                             {name}));
  if (rows.empty() || rows[0].Text(0).empty()) return std::optional<PendingKey>();
  return std::optional<PendingKey>(PendingKey{rows[0].Text(0), rows[0].Text(1), rows[0].Text(2)});
}

Result<bool> ClusterStore::PostEvent(const std::string& name, const Event& e,
                                     const std::optional<std::string>& dedupe) {
  auto r = db_.Execute(
      "INSERT INTO cluster_events (cluster, at, level, kind, message, dedupe) VALUES ($1, $2, $3, "
      "$4, $5, $6)",
      {name, Secs(e.at), e.level, e.kind, e.message, dedupe ? Value(*dedupe) : Value(nullptr)});
  if (!r.ok() && r.status().code() == Code::kAlreadyUsed) return false;
  if (!r.ok()) return r.status();
  return true;
}

Result<std::vector<Event>> ClusterStore::Events(const std::string& name, int limit) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT id, at, level, kind, message FROM cluster_events "
                                        "WHERE cluster = $1 ORDER BY id DESC LIMIT $2",
                                        {name, int64_t{limit}}));
  std::vector<Event> out;
  for (const auto& r : rows)
    out.push_back({r.Int(0), At(r.Int(1)), r.Text(2), r.Text(3), r.Text(4)});
  return out;
}

Status ClusterStore::Audit(const std::string& name, Time at, const std::string& actor,
                           const std::string& action, const std::string& detail) {
  return db_
      .Execute(
          "INSERT INTO cluster_audit (cluster, at, actor, action, detail) VALUES ($1, $2, $3, $4, "
          "$5)",
          {name, Secs(at), actor, action, detail})
      .status();
}

Result<std::vector<AuditEntry>> ClusterStore::AuditLog(const std::string& name, int limit) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT at, actor, action, detail FROM cluster_audit "
                                        "WHERE cluster = $1 ORDER BY id DESC LIMIT $2",
                                        {name, int64_t{limit}}));
  std::vector<AuditEntry> out;
  for (const auto& r : rows) out.push_back({At(r.Int(0)), r.Text(1), r.Text(2), r.Text(3)});
  return out;
}

Status ClusterStore::StageImport(const std::string& id, const std::string& user,
                                 const std::string& name, const std::string& file, Time now) {
  return db_.InTransaction([&](store::Database& tx) -> Status {
    RETURN_IF_ERROR(tx.Execute("DELETE FROM admin_staged_imports WHERE created_at < $1",
                               {Secs(now - kStagedImportLifetime)})
                        .status());
    return tx
        .Execute(
            "INSERT INTO admin_staged_imports (id, user_name, cluster, file, created_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            {id, user, name, file, Secs(now)})
        .status();
  });
}

Result<std::string> ClusterStore::TakeStagedImport(const std::string& id, const std::string& user,
                                                   const std::string& name, Time now) {
  std::optional<std::string> file;
  // One transaction: two confirmations of the same id cannot both read it.
  RETURN_IF_ERROR(db_.InTransaction([&](store::Database& tx) -> Status {
    RETURN_IF_ERROR(tx.Execute("DELETE FROM admin_staged_imports WHERE created_at < $1",
                               {Secs(now - kStagedImportLifetime)})
                        .status());
    ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT file FROM admin_staged_imports WHERE id = $1 AND "
                                         "user_name = $2 AND cluster = $3",
                                         {id, user, name}));
    if (!rows.empty()) file = rows[0].Text(0);
    return tx.Execute("DELETE FROM admin_staged_imports WHERE id = $1", {id}).status();
  }));
  if (!file) return Status(Code::kNotFound, "the confirmation expired; import the file again");
  return std::move(*file);
}

}  // namespace openrms::cluster
