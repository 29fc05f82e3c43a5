// `--json` output, shared by every command that lists or shows: one JSON
// document on stdout -- an array of objects for a listing, an object for
// a single thing -- with snake_case field names and times as ISO 8601 UTC
// strings ("2026-11-24T23:10:34Z"). Errors still go to stderr (ReportError).
#pragma once

#include <CLI/CLI.hpp>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "accounts/accounts.h"
#include "base/clock.h"
#include "cluster/cluster.h"
#include "cluster/monitor.h"
#include "enrollment/service.h"
#include "licensing/licensing.h"
#include "xrml/document.h"

namespace openrms::cli {

// Adds the `--json` flag to `cmd`, bound to `on`.
void AddJsonFlag(CLI::App* cmd, bool& on);

// Writes `document` indented by two spaces and a newline. Text from
// certificates or users that is not UTF-8 is written as U+FFFD rather than
// making the command fail.
void PrintJson(const nlohmann::json& document, std::ostream& out);

// A time as JSON: its ISO 8601 string, or null.
nlohmann::json JsonTime(Time t);
nlohmann::json JsonTime(const std::optional<Time>& t);

// The objects of each command; README.md, "Machine-readable output", lists
// their fields. Keep the two in step: the names are a stable interface.
nlohmann::json StatusJson(const cluster::StatusReport& report);      // slc status
nlohmann::json RenewalWindowJson(const cluster::RenewalPlan& plan);  // its renewal_window
nlohmann::json ClusterListJson(const std::string& name,              // cluster list
                               const cluster::StatusReport& report);
nlohmann::json EventJson(const cluster::Event& event);                      // cluster events
nlohmann::json CheckJson(const cluster::CheckOutcome& outcome);             // cluster check
nlohmann::json HistoryJson(const cluster::SlcRecord& record, bool active);  // slc history
nlohmann::json IssuedJson(const enrollment::IssuedRecord& record);          // enrollment list
nlohmann::json PendingJson(const enrollment::PendingRequest& request);      // enrollment pending
nlohmann::json TemplateJson(const licensing::Template& t);                  // template list
nlohmann::json UserJson(const accounts::Identity& user);                    // user list
nlohmann::json DocumentJson(const std::vector<xrml::Document>& chain,       // xrml show
                            size_t index);

}  // namespace openrms::cli
