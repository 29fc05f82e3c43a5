// `openrms audit query` and `openrms audit export`: the license audit trail
// of a server directory's store, read by an administrator on the server.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/file_system.h"
#include "cli/commands.h"
#include "cli/json_output.h"
#include "licensing/audit_query.h"
#include "node/server_context.h"

namespace openrms::cli {

namespace {

using nlohmann::json;

struct AuditFlags {
  std::string dir;
  std::string since, until, user, content, cluster, operation;
  size_t limit = 100;
  bool json = false;
  std::string out;
};

void AddFilterFlags(CLI::App* cmd, AuditFlags& f) {
  cmd->add_option("--dir", f.dir, "The server directory")->required();
  cmd->add_option("--since", f.since,
                  "From this time on: 2026-12-07, 2026-12-07T10:00Z, or back from now: 90m, "
                  "36h, 7d");
  cmd->add_option("--until", f.until, "Before this time (the same forms)");
  cmd->add_option("--user", f.user, "Only this user's entries");
  cmd->add_option("--content", f.content, "Only entries of this content ID");
  cmd->add_option("--cluster", f.cluster, "Only this cluster's entries");
  cmd->add_option("--operation", f.operation,
                  "Only this operation: use, publish, rac, rac-temporary, clc, revoke");
}

Result<licensing::AuditFilter> FilterOf(const AuditFlags& f) {
  licensing::AuditFilter filter;
  const Time now = DefaultClock().Now();
  if (!f.since.empty()) {
    ASSIGN_OR_RETURN(Time t, licensing::ParseAuditTime(f.since, now, "--since"));
    filter.since = t;
  }
  if (!f.until.empty()) {
    ASSIGN_OR_RETURN(Time t, licensing::ParseAuditTime(f.until, now, "--until"));
    filter.until = t;
  }
  if (filter.since && filter.until && *filter.until <= *filter.since) {
    return Status(Code::kInvalidArgument, "--until must be later than --since");
  }
  filter.user = f.user;
  filter.content_id = f.content;
  filter.cluster = f.cluster;
  filter.operation = f.operation;
  return filter;
}

// One line for people: time, node, user, address, operation, content,
// result, reason.
void PrintEntry(const licensing::AuditEntry& e, std::ostream& out) {
  const licensing::AuditRecord& r = e.record;
  out << FormatIso8601(r.at) << "  " << (r.node.empty() ? "-" : r.node) << "  " << r.user << "  "
      << (r.address.empty() ? "-" : r.address) << "  " << r.kind << "  "
      << (r.content_id.empty() ? "-" : r.content_id) << "  " << r.result
      << (r.detail.empty() ? "" : "  " + r.detail) << "\n";
}

Status Query(const AuditFlags& f) {
  ASSIGN_OR_RETURN(licensing::AuditFilter filter, FilterOf(f));
  filter.limit = f.limit;
  ASSIGN_OR_RETURN(auto ctx, node::ServerContext::Open(f.dir, std::nullopt, false));
  ASSIGN_OR_RETURN(auto entries, licensing::QueryAudit(ctx->database(), filter));
  if (f.json) {
    json list = json::array();
    for (const auto& e : entries) list.push_back(json::parse(licensing::AuditEntryJson(e)));
    PrintJson(list, std::cout);
    return Status::Ok();
  }
  if (entries.empty()) {
    std::cout << "no audit entries match\n";
    return Status::Ok();
  }
  for (const auto& e : entries) PrintEntry(e, std::cout);
  if (entries.size() == f.limit) {
    std::cout << "(the first " << f.limit
              << " entries; narrow the query, raise --limit, or use `openrms audit export`)\n";
  }
  return Status::Ok();
}

Status Export(const AuditFlags& f) {
  ASSIGN_OR_RETURN(licensing::AuditFilter filter, FilterOf(f));
  filter.limit = 1000;
  ASSIGN_OR_RETURN(auto ctx, node::ServerContext::Open(f.dir, std::nullopt, false));
  // Written beside the target and renamed over it: a failed export leaves
  // no half file for a SIEM to read. The trail names users and addresses:
  // owner-only, as the server's other files.
  const std::string temp = f.out + ".partial";
  std::remove(temp.c_str());                                    // left by an export that was killed
  RETURN_IF_ERROR(RealFileSystem().CreateFileIfMissing(temp));  // 0600
  std::ofstream file(temp, std::ios::binary | std::ios::trunc);
  if (!file) return Status(Code::kIo, "cannot write " + temp);
  auto written = licensing::ExportAudit(ctx->database(), filter, [&](std::string_view line) {
    file << line << '\n';
    return file ? Status::Ok() : Status(Code::kIo, "cannot write " + temp);
  });
  file.close();
  if (!written.ok() || !file) {
    std::remove(temp.c_str());
    return written.ok() ? Status(Code::kIo, "cannot write " + temp) : written.status();
  }
  if (std::rename(temp.c_str(), f.out.c_str()) != 0) {
    std::remove(temp.c_str());
    return Status(Code::kIo, "cannot rename " + temp + " to " + f.out);
  }
  std::cout << "exported " << *written << " audit entries to " << f.out << " (JSON Lines)\n";
  return Status::Ok();
}

}  // namespace

void RegisterAuditCommands(CLI::App& app, int& exit_code) {
  auto* audit = app.add_subcommand("audit", "Read the license audit trail (on the server)");
  audit->require_subcommand(1);

  static AuditFlags q;
  auto* query = audit->add_subcommand("query", "Show audit entries, oldest first");
  AddFilterFlags(query, q);
  query->add_option("--limit", q.limit, "At most this many entries")
      ->check(CLI::Range(size_t{1}, licensing::kMaxAuditPage))
      ->capture_default_str();
  AddJsonFlag(query, q.json);
  query->callback([&exit_code] {
    Status s = Query(q);
    if (!s.ok()) exit_code = ReportError(s);
  });

  static AuditFlags x;
  auto* exp = audit->add_subcommand("export", "Write audit entries to a file as JSON Lines");
  AddFilterFlags(exp, x);
  exp->add_option("--out", x.out, "The file to write")->required();
  exp->callback([&exit_code] {
    Status s = Export(x);
    if (!s.ok()) exit_code = ReportError(s);
  });
}

}  // namespace openrms::cli
