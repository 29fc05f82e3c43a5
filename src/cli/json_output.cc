#include "cli/json_output.h"

#include <ostream>

#include "xrml/chain.h"

namespace openrms::cli {

using nlohmann::json;

namespace {

json TextOrNull(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json PartyJson(const xrml::Party& p) {
  json j = {{"name", p.object.name},
            {"id", p.object.id},
            {"type", p.object.type},
            {"address", TextOrNull(p.object.address)}};
  j["key_bits"] = p.public_key ? json(p.public_key->bits()) : json(nullptr);
  return j;
}

}  // namespace

void AddJsonFlag(CLI::App* cmd, bool& on) {
  cmd->add_flag("--json", on, "Print one JSON document (see README: Machine-readable output)");
}

void PrintJson(const json& document, std::ostream& out) {
  out << document.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

json JsonTime(Time t) { return FormatIso8601(t); }
json JsonTime(const std::optional<Time>& t) { return t ? JsonTime(*t) : json(nullptr); }

json RenewalWindowJson(const cluster::RenewalPlan& p) {
  return {{"start", JsonTime(p.window.start)},
          {"end", JsonTime(p.window.end)},
          {"source", std::string(cluster::WindowSourceName(p.source))},
          {"explanation_url", TextOrNull(p.explanation_url)},
          {"renew_at", JsonTime(p.renew_at)},
          {"fetched_at", JsonTime(p.fetched_at)},
          {"fetch_error", TextOrNull(p.fetch_error)}};
}

json StatusJson(const cluster::StatusReport& r) {
  json j = {{"cluster", r.config.name},
            {"kind", std::string(cluster::ClusterKindName(r.config.kind))},
            {"url", r.config.url},
            {"guid", r.config.guid},
            {"server_name", r.config.name},
            {"auto_renew", r.config.auto_renew}};
  if (r.slc) {
    j["issuer"] = r.slc->issuer;
    j["issued"] = JsonTime(r.slc->issued);
    j["expires"] = JsonTime(r.slc->expires);
    j["days_left"] = r.slc->days_left;
    j["state"] = std::string(cluster::SlcStateName(r.slc->state));
    j["certificate_id"] = r.slc->certificate_id;
  } else {
    j["state"] = "no certificate";
  }
  if (r.pending) {
    j["pending_request"] = {{"file_name", r.pending->file_name},
                            {"exported", JsonTime(r.pending->created_at)}};
  } else {
    j["pending_request"] = nullptr;
  }
  if (r.config.last_renewal_at) {
    j["last_renewal"] = {{"at", JsonTime(*r.config.last_renewal_at)},
                         {"ok", r.config.last_renewal_ok.value_or(false)}};
  }
  j["renewal_window"] = r.renewal ? RenewalWindowJson(*r.renewal) : json(nullptr);
  return j;
}

json ClusterListJson(const std::string& name, const cluster::StatusReport& r) {
  return {{"name", name},
          {"kind", std::string(cluster::ClusterKindName(r.config.kind))},
          {"url", r.config.url},
          {"state", r.slc ? std::string(cluster::SlcStateName(r.slc->state)) : "no certificate"},
          {"expires", r.slc ? JsonTime(r.slc->expires) : json(nullptr)},
          {"auto_renew", r.config.auto_renew}};
}

json EventJson(const cluster::Event& e) {
  return {{"id", e.id},
          {"at", JsonTime(e.at)},
          {"level", e.level},
          {"kind", e.kind},
          {"message", e.message}};
}

json CheckJson(const cluster::CheckOutcome& o) {
  json events = json::array();
  for (const auto& e : o.events) {
    events.push_back(
        {{"at", JsonTime(e.at)}, {"level", e.level}, {"kind", e.kind}, {"message", e.message}});
  }
  return {{"cluster", o.cluster},
          {"ok", o.status.ok()},
          {"error", o.status.ok() ? json(nullptr) : json(o.status.message())},
          {"events", events},
          {"renewal_window", o.plan ? RenewalWindowJson(*o.plan) : json(nullptr)},
          {"renewed_certificate_id", o.renewed ? json(o.renewed->certificate_id) : json(nullptr)}};
}

json HistoryJson(const cluster::SlcRecord& r, bool active) {
  return {{"certificate_id", r.certificate_id},
          {"source", r.source},
          {"installed_at", JsonTime(r.installed_at)},
          {"installed_by", r.installed_by},
          {"issued", JsonTime(r.issued)},
          {"valid_from", JsonTime(r.valid_from)},
          {"valid_until", JsonTime(r.valid_until)},
          {"issuer", r.issuer},
          {"active", active}};
}

json IssuedJson(const enrollment::IssuedRecord& r) {
  return {{"id", r.id},
          {"kind", r.kind},
          {"server_name", r.server_name},
          {"server_url", r.server_url},
          {"slc_guid", r.slc_guid},
          {"certificate_id", r.certificate_id},
          {"issued_at", JsonTime(r.issued_at)},
          {"valid_from", JsonTime(r.valid_from)},
          {"valid_until", JsonTime(r.valid_until)},
          {"channel", r.channel},
          {"requester", r.requester},
          {"renewal_window",
           {{"start", JsonTime(r.renewal.window.start)},
            {"end", JsonTime(r.renewal.window.end)},
            {"explanation_url", TextOrNull(r.renewal.explanation_url)},
            {"moved_at", JsonTime(r.window_moved_at)},
            {"moved_by", TextOrNull(r.window_moved_by)}}}};
}

json PendingJson(const enrollment::PendingRequest& p) {
  // Not the reference: it is the requester's secret handle on the web site.
  return {{"id", p.id},
          {"state", p.state},
          {"submitted_at", JsonTime(p.submitted_at)},
          {"server_name", p.server_name},
          {"slc_guid", p.slc_guid},
          {"key_fingerprint", p.key_fingerprint},
          {"requester", p.requester},
          {"certificate_id", TextOrNull(p.certificate_id)}};
}

json TemplateJson(const licensing::Template& t) {
  json rights = json::array();
  for (const auto& ur : t.user_rights)
    rights.push_back({{"users", ur.users}, {"rights", ur.rights}});
  return {{"id", t.id},
          {"name", t.name},
          {"description", t.description},
          {"valid_days", t.valid_days ? json(*t.valid_days) : json(nullptr)},
          {"user_rights", rights}};
}

json UserJson(const accounts::Identity& u) { return {{"user", u.user}, {"groups", u.groups}}; }

json DocumentJson(const std::vector<xrml::Document>& chain, size_t index) {
  const xrml::Document& doc = chain[index];
  json principals = json::array();
  for (const auto& p : doc.principals) principals.push_back(PartyJson(p));
  json rights = json::array();
  for (const auto& r : doc.rights) {
    rights.push_back({{"name", r.name},
                      {"from", r.range ? JsonTime(r.range->from) : json(nullptr)},
                      {"until", r.range ? JsonTime(r.range->until) : json(nullptr)}});
  }
  json signature = nullptr;
  if (doc.signature) {
    signature = {
        {"algorithm", doc.signature->algorithm},
        {"digest",
         doc.signature->digest_algorithm == crypto::DigestAlgorithm::kSha1 ? "SHA-1" : "SHA-256"}};
  }
  return {
      {"position", chain.size() > 1 ? json(xrml::DescribeInChain(chain, index)) : json(nullptr)},
      {"type", TextOrNull(doc.Kind())},
      {"guid", TextOrNull(doc.descriptor.id)},
      {"issuer", PartyJson(doc.issuer)},
      {"principals", principals},
      {"issued", JsonTime(doc.issued_time)},
      {"valid_from", doc.validity ? JsonTime(doc.validity->from) : json(nullptr)},
      {"valid_until", doc.validity ? JsonTime(doc.validity->until) : json(nullptr)},
      {"rights", rights},
      {"signature", signature}};
}

}  // namespace openrms::cli
