#include "cluster/renewal_plan.h"

#include <cstring>

namespace openrms::cluster {

namespace {

int64_t Secs(Time t) { return t.time_since_epoch().count(); }
Time FromSecs(int64_t s) { return Time(Duration(s)); }

constexpr char kColumns[] =
    "certificate_id, window_start, window_end, source, explanation_url, renew_at, fetched_at, "
    "next_fetch, fetch_error";

RenewalPlan ToPlan(const store::Row& r) {
  RenewalPlan p;
  p.certificate_id = r.Text(0);
  p.window = {FromSecs(r.Int(1)), FromSecs(r.Int(2))};
  p.source = r.Text(3) == "issuer" ? WindowSource::kIssuer : WindowSource::kLocalRule;
  p.explanation_url = r.Text(4);
  p.renew_at = FromSecs(r.Int(5));
  if (!r.IsNull(6)) p.fetched_at = FromSecs(r.Int(6));
  if (!r.IsNull(7)) p.next_fetch = FromSecs(r.Int(7));
  p.fetch_error = r.Text(8);
  return p;
}

store::Value OptionalSecs(const std::optional<Time>& t) {
  return t ? store::Value(Secs(*t)) : store::Value(nullptr);
}

}  // namespace

std::string_view WindowSourceName(WindowSource source) {
  return source == WindowSource::kIssuer ? "issuer" : "local rule";
}

RenewalWindow LocalRenewalWindow(Time from, Time until) {
  const long life = std::max(0L, static_cast<long>((until - from).count()));
  const long spread = std::max(1L, life / 100);
  return {from + Duration(life * 2 / 3 - spread), from + Duration(life * 2 / 3 + spread)};
}

Time RandomMomentIn(const RenewalWindow& window, Random& random) {
  const uint64_t span = static_cast<uint64_t>((window.end - window.start).count());
  if (span == 0) return window.start;
  uint8_t bytes[8];
  random.Fill(bytes);
  uint64_t r = 0;
  std::memcpy(&r, bytes, sizeof r);
  // The bias of the modulo is below 2^-30 for any window under 1000 years.
  return window.start + Duration(static_cast<long>(r % span));
}

Status RenewalPlanStore::Migrate(store::Database& db) {
  return store::Migrate(
      db, "cluster-renewal-plan",
      {"CREATE TABLE cluster_renewal_plans (cluster TEXT PRIMARY KEY, certificate_id TEXT NOT "
       "NULL, window_start INTEGER NOT NULL, window_end INTEGER NOT NULL, source TEXT NOT NULL, "
       "explanation_url TEXT NOT NULL, renew_at INTEGER NOT NULL, fetched_at INTEGER, next_fetch "
       "INTEGER, fetch_error TEXT NOT NULL)"});
}

Result<std::optional<RenewalPlan>> RenewalPlanStore::Find(const std::string& name) {
  ASSIGN_OR_RETURN(auto rows, db_.Query(std::string("SELECT ") + kColumns +
                                            " FROM cluster_renewal_plans WHERE cluster = $1",
                                        {name}));
  if (rows.empty()) return std::optional<RenewalPlan>();
  return std::optional<RenewalPlan>(ToPlan(rows[0]));
}

Result<RenewalPlan> RenewalPlanStore::Choose(const std::string& name, const RenewalPlan& wanted,
                                             Random& random) {
  const Time moment = RandomMomentIn(wanted.window, random);
  const std::string source(WindowSourceName(wanted.source));
  // Each statement is atomic on its own: of several nodes that draw at
  // once, the first to change the row wins and the others then find it
  // matching and leave it.
  RETURN_IF_ERROR(db_.Execute("INSERT INTO cluster_renewal_plans (cluster, certificate_id, "
                              "window_start, window_end, source, explanation_url, renew_at, "
                              "fetch_error) VALUES ($1, $2, $3, $4, $5, '', $6, '') ON CONFLICT "
                              "(cluster) DO NOTHING",
                              {name, wanted.certificate_id, Secs(wanted.window.start),
                               Secs(wanted.window.end), source, Secs(moment)})
                      .status());
  // (Parameters are numbered in order of first use.)
  RETURN_IF_ERROR(db_.Execute("UPDATE cluster_renewal_plans SET certificate_id = $1, window_start "
                              "= $2, window_end = $3, source = $4, renew_at = $5 WHERE cluster = "
                              "$6 AND (certificate_id <> $1 OR window_start <> $2 OR window_end "
                              "<> $3 OR source <> $4)",
                              {wanted.certificate_id, Secs(wanted.window.start),
                               Secs(wanted.window.end), source, Secs(moment), name})
                      .status());
  RETURN_IF_ERROR(db_.Execute("UPDATE cluster_renewal_plans SET explanation_url = $1, fetched_at "
                              "= $2, next_fetch = $3, fetch_error = $4 WHERE cluster = $5",
                              {wanted.explanation_url, OptionalSecs(wanted.fetched_at),
                               OptionalSecs(wanted.next_fetch), wanted.fetch_error, name})
                      .status());
  ASSIGN_OR_RETURN(auto plan, Find(name));
  if (!plan) return Status(Code::kInternal, "the renewal plan of " + name + " was not stored");
  return *plan;
}

}  // namespace openrms::cluster
