// The audit trail read back (audit_query.h), kept (audit_retention.h) and
// streamed (audit_syslog.h). Queries run on SQLite and on a real
// PostgreSQL: they must be portable as written.
#include "licensing/audit_query.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "licensing/audit_retention.h"
#include "licensing/audit_syslog.h"
#include "licensing/licensing.h"
#include "support/postgres_server.h"
#include "support/udp_collector.h"

namespace openrms::licensing {
namespace {

using store::Dialect;

const Time kT0 = Time(Duration(1800000000));  // 2027-01-15 08:00 UTC

testing::PostgresServer& SharedServer() {
  static std::unique_ptr<testing::PostgresServer> server = [] {
    auto s = testing::PostgresServer::Start();
    if (!s.ok()) {
      ADD_FAILURE() << s.status().ToString();
      std::abort();
    }
    return std::move(s).value();
  }();
  return *server;
}

AuditRecord Entry(int64_t seconds, std::string user, std::string kind, std::string content,
                  std::string result, std::string reason = "", std::string owner = "") {
  AuditRecord r;
  r.cluster = "ROOT";
  r.at = kT0 + Duration(seconds);
  r.user = std::move(user);
  r.kind = std::move(kind);
  r.content_id = std::move(content);
  r.result = std::move(result);
  r.detail = std::move(reason);
  r.owner = std::move(owner);
  r.node = "node-a";
  r.address = "10.0.0." + std::to_string(seconds % 250);
  return r;
}

class AuditQueryTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    static int counter = 0;
    const std::string name = "audit" + std::to_string(++counter);
    std::string url;
    if (GetParam() == Dialect::kSqlite) {
      const auto dir = std::filesystem::temp_directory_path() /
                       ("openrms-audit-query-" + std::to_string(::getpid()));
      std::filesystem::create_directories(dir);
      std::filesystem::remove(dir / (name + ".db"));
      url = "sqlite:" + (dir / (name + ".db")).string();
    } else {
      auto created = SharedServer().CreateDatabase(name);
      ASSERT_TRUE(created.ok()) << created.status().ToString();
      url = SharedServer().url(name);
    }
    auto db = store::OpenDatabase(url);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(LicensingService::Migrate(*db_).ok());
  }

  void Add(const AuditRecord& r) {
    DirectAuditTrail trail(*db_);
    ASSERT_TRUE(trail.Append(r).ok());
  }

  // The users of `entries`, in order.
  static std::vector<std::string> Users(const std::vector<AuditEntry>& entries) {
    std::vector<std::string> out;
    for (const auto& e : entries) out.push_back(e.record.user + "@" + e.record.content_id);
    return out;
  }

  std::vector<AuditEntry> Must(const AuditFilter& f) {
    auto got = QueryAudit(*db_, f);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : std::vector<AuditEntry>{};
  }

  // A scripted day: alice publishes d1, bob opens it, carol is refused,
  // alice revokes it, bob is refused; bob publishes d2.
  void Script() {
    Add(Entry(0, "alice", "publish", "d1", "issued", "custom rights", "alice"));
    Add(Entry(10, "bob", "use", "d1", "AccessGranted", "VIEW", "alice"));
    Add(Entry(20, "carol", "use", "d1", "AccessDenied", "no right granted", "alice"));
    Add(Entry(30, "alice", "revoke", "d1", "revoked", "", "alice"));
    Add(Entry(40, "bob", "use", "d1", "AccessDenied", "revoked by alice at ...", "alice"));
    Add(Entry(50, "bob", "publish", "d2", "issued", "template T", "bob"));
    Add(Entry(60, "bob", "rac", "rac-1", "issued", ""));
    ASSERT_TRUE(db_->Execute("INSERT INTO revocations (cluster, content_id, revoked_by, "
                             "revoked_at) VALUES ('ROOT', 'd1', 'alice', $1)",
                             {(kT0 + Duration(30)).time_since_epoch().count()})
                    .ok());
  }

  std::unique_ptr<store::Database> db_;
};

INSTANTIATE_TEST_SUITE_P(Engines, AuditQueryTest,
                         ::testing::Values(Dialect::kSqlite, Dialect::kPostgres),
                         [](const auto& info) {
                           return info.param == Dialect::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST_P(AuditQueryTest, EachFilterGivesExactlyItsEntriesInTheOrderWritten) {
  Script();
  EXPECT_EQ(Users(Must({})), (std::vector<std::string>{"alice@d1", "bob@d1", "carol@d1", "alice@d1",
                                                       "bob@d1", "bob@d2", "bob@rac-1"}));
  AuditFilter f;
  f.user = "bob";
  EXPECT_EQ(Users(Must(f)), (std::vector<std::string>{"bob@d1", "bob@d1", "bob@d2", "bob@rac-1"}));
  f = {};
  f.content_id = "d1";
  f.operation = "use";
  EXPECT_EQ(Users(Must(f)), (std::vector<std::string>{"bob@d1", "carol@d1", "bob@d1"}));
  f = {};
  f.since = kT0 + Duration(20);  // at or after
  f.until = kT0 + Duration(50);  // before
  EXPECT_EQ(Users(Must(f)), (std::vector<std::string>{"carol@d1", "alice@d1", "bob@d1"}));
  f = {};
  f.cluster = "OTHER";
  EXPECT_TRUE(Must(f).empty());
  // Newest first, and pages that follow on by id in either order.
  f = {};
  f.newest_first = true;
  f.limit = 2;
  const auto newest = Must(f);
  EXPECT_EQ(Users(newest), (std::vector<std::string>{"bob@rac-1", "bob@d2"}));
  f.after_id = newest.back().id;
  EXPECT_EQ(Users(Must(f)), (std::vector<std::string>{"bob@d1", "alice@d1"}));
  f = {};
  f.limit = 1;
  const auto first = Must(f);
  ASSERT_EQ(first.size(), 1u);
  f.after_id = first[0].id;
  EXPECT_EQ(Users(Must(f)), (std::vector<std::string>{"bob@d1"}));
  // Every field comes back as written.
  const AuditRecord& r = Must({})[1].record;
  EXPECT_EQ(r.cluster, "ROOT");
  EXPECT_EQ(r.at, kT0 + Duration(10));
  EXPECT_EQ(r.kind, "use");
  EXPECT_EQ(r.result, "AccessGranted");
  EXPECT_EQ(r.detail, "VIEW");
  EXPECT_EQ(r.node, "node-a");
  EXPECT_EQ(r.address, "10.0.0.10");
  EXPECT_EQ(r.owner, "alice");
}

TEST_P(AuditQueryTest, APageHoldsOneToTheLargestAllowed) {
  Script();
  for (size_t bad : {size_t{0}, kMaxAuditPage + 1}) {
    AuditFilter f;
    f.limit = bad;
    auto got = QueryAudit(*db_, f);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(got.status().message(), "a page of the audit trail holds 1 to 10000 entries");
  }
  AuditFilter f;
  f.limit = kMaxAuditPage;
  EXPECT_EQ(Must(f).size(), 7u);
}

TEST_P(AuditQueryTest, ExportWritesEveryEntryAsOneJsonObjectALineAcrossPages) {
  Script();
  // A reason with what JSON must escape, and bytes that are not UTF-8.
  Add(Entry(70, "eve \"the\"\nuser", "use", "d3", "AccessDenied", std::string("x\xff\x01y")));
  std::vector<std::string> lines;
  AuditFilter f;
  f.limit = 3;  // three pages and a bit
  auto n = ExportAudit(*db_, f, [&](std::string_view line) {
    lines.emplace_back(line);
    return Status::Ok();
  });
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 8);
  ASSERT_EQ(lines.size(), 8u);
  int64_t last_id = 0;
  for (const auto& line : lines) {
    EXPECT_EQ(line.find('\n'), std::string::npos);
    const auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    for (const char* key : {"id", "time", "node", "cluster", "user", "address", "operation",
                            "content_id", "owner", "result", "reason"}) {
      EXPECT_TRUE(j.contains(key)) << key << " in " << line;
    }
    EXPECT_GT(j["id"].get<int64_t>(), last_id);
    last_id = j["id"].get<int64_t>();
  }
  const auto second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["time"], "2027-01-15T08:00:10Z");
  EXPECT_EQ(second["user"], "bob");
  EXPECT_EQ(second["operation"], "use");
  EXPECT_EQ(second["result"], "AccessGranted");
  EXPECT_EQ(second["reason"], "VIEW");
  EXPECT_EQ(second["owner"], "alice");
  const auto last = nlohmann::json::parse(lines[7]);
  EXPECT_EQ(last["user"], "eve \"the\"\nuser");
  EXPECT_EQ(last["reason"], "x\xEF\xBF\xBD\x01y");  // U+FFFD for the stray byte
  // A writer that fails stops the export with its error.
  auto failed =
      ExportAudit(*db_, f, [](std::string_view) { return Status(Code::kIo, "disk full"); });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().message(), "disk full");
  // Nothing to export is zero lines.
  f.cluster = "OTHER";
  auto none = ExportAudit(*db_, f, [](std::string_view) { return Status::Ok(); });
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);
}

TEST_P(AuditQueryTest, ADocumentSumsItsRequestsAndShowsItsRevocation) {
  Script();
  auto docs = FindDocuments(*db_, {});
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 2u);             // the RAC is not a document
  const DocumentSummary& d2 = (*docs)[0];  // newest first
  EXPECT_EQ(d2.content_id, "d2");
  EXPECT_EQ(d2.owner, "bob");
  EXPECT_EQ(d2.granted, 0);
  EXPECT_FALSE(d2.last_request.has_value());
  EXPECT_TRUE(d2.revoked_by.empty());
  const DocumentSummary& d1 = (*docs)[1];
  EXPECT_EQ(d1.cluster, "ROOT");
  EXPECT_EQ(d1.content_id, "d1");
  EXPECT_EQ(d1.owner, "alice");
  EXPECT_EQ(d1.published, kT0);
  EXPECT_EQ(d1.granted, 1);
  EXPECT_EQ(d1.refused, 2);
  EXPECT_EQ(d1.last_request, kT0 + Duration(40));
  EXPECT_EQ(d1.last_seen, kT0 + Duration(40));
  EXPECT_EQ(d1.revoked_by, "alice");
  EXPECT_EQ(d1.revoked_at, kT0 + Duration(30));

  auto by = [](std::string DocumentSearch::*field, std::string value) {
    DocumentSearch s;
    s.*field = std::move(value);
    return s;
  };
  auto ids = [&](DocumentSearch s) {
    std::vector<std::string> out;
    auto found = FindDocuments(*db_, s);
    EXPECT_TRUE(found.ok()) << found.status().ToString();
    for (const auto& d : found.ok() ? *found : std::vector<DocumentSummary>{}) {
      out.push_back(d.content_id);
    }
    return out;
  };
  EXPECT_EQ(ids(by(&DocumentSearch::owner, "alice")), (std::vector<std::string>{"d1"}));
  EXPECT_EQ(ids(by(&DocumentSearch::user, "carol")), (std::vector<std::string>{"d1"}));
  EXPECT_EQ(ids(by(&DocumentSearch::user, "bob")), (std::vector<std::string>{"d2", "d1"}));
  EXPECT_EQ(ids(by(&DocumentSearch::content_id, "d2")), (std::vector<std::string>{"d2"}));
  EXPECT_TRUE(ids(by(&DocumentSearch::user, "nobody")).empty());
  EXPECT_TRUE(ids(by(&DocumentSearch::cluster, "OTHER")).empty());
  DocumentSearch one;
  one.limit = 1;
  EXPECT_EQ(ids(one), (std::vector<std::string>{"d2"}));

  // The owner and super users may track it; nobody else.
  auto mine = DocumentFor(*db_, "ROOT", "d1", "Alice", false, "SuperUsers");
  ASSERT_TRUE(mine.ok()) << mine.status().ToString();
  EXPECT_EQ(mine->granted, 1);
  auto theirs = DocumentFor(*db_, "ROOT", "d1", "bob", false, "SuperUsers");
  ASSERT_FALSE(theirs.ok());
  EXPECT_EQ(theirs.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(theirs.status().message(),
            "only the owner of content d1 or a member of SuperUsers may track it");
  EXPECT_TRUE(DocumentFor(*db_, "ROOT", "d1", "dave", true, "SuperUsers").ok());
  auto unknown = DocumentFor(*db_, "ROOT", "d9", "alice", true, "SuperUsers");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  EXPECT_EQ(unknown.status().message(),
            "cluster ROOT has no license request for content d9 in its audit trail");
}

int64_t Count(store::Database& db) {
  auto rows = db.Query("SELECT COUNT(*) FROM license_audit");
  return rows.ok() ? (*rows)[0].Int(0) : -1;
}

TEST_P(AuditQueryTest, RetentionDeletesOldEntriesInBatchesUnderOneNodesLease) {
  FakeClock clock(kT0 + Days(500));
  // Ten entries 401 to 410 days old, three 399 days old and younger.
  for (int i = 0; i < 10; ++i) Add(Entry(86400 * (90 - i), "old", "use", "d", "AccessGranted"));
  for (int i = 0; i < 3; ++i) Add(Entry(86400 * (101 + i), "new", "use", "d", "AccessGranted"));
  ASSERT_EQ(Count(*db_), 13);

  RetentionOptions options;
  options.batch_rows = 3;
  options.pause = std::chrono::milliseconds(0);
  AuditRetention a(*db_, clock, "node-a/1", options);
  AuditRetention b(*db_, clock, "node-b/2", options);
  auto pass = a.RunPass();
  ASSERT_TRUE(pass.ok()) << pass.status().ToString();
  EXPECT_TRUE(pass->held);
  EXPECT_EQ(pass->deleted, 10);
  EXPECT_EQ(pass->batches, 4);  // 3 + 3 + 3 + 1
  EXPECT_EQ(Count(*db_), 3);
  AuditFilter f;
  for (const auto& e : Must(f)) EXPECT_EQ(e.record.user, "new");

  // The lease stays with node-a after its pass: node-b does nothing.
  for (int i = 0; i < 4; ++i) Add(Entry(86400 * (80 - i), "old", "use", "d", "AccessGranted"));
  auto other = b.RunPass();
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->held);
  EXPECT_EQ(other->held_by, "node-a/1");
  EXPECT_EQ(other->deleted, 0);
  EXPECT_EQ(Count(*db_), 7);
  // Once node-a's lease runs out (it went away), node-b takes over.
  clock.Advance(std::chrono::seconds(61));
  other = b.RunPass();
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->held);
  EXPECT_EQ(other->deleted, 4);
  EXPECT_EQ(Count(*db_), 3);
  // And node-a now waits for node-b's.
  auto back = a.RunPass();
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->held);
  EXPECT_EQ(back->held_by, "node-b/2");
}

TEST_P(AuditQueryTest, RetentionStopsBetweenBatchesAndKeepsEverythingAtZeroDays) {
  FakeClock clock(kT0 + Days(500));
  for (int i = 0; i < 7; ++i) Add(Entry(86400 * (10 + i), "old", "use", "d", "AccessGranted"));
  RetentionOptions keep_all;
  keep_all.keep_days = 0;
  auto none = AuditRetention(*db_, clock, "a", keep_all).RunPass();
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->deleted, 0);
  EXPECT_EQ(Count(*db_), 7);

  RetentionOptions options;
  options.batch_rows = 3;
  options.pause = std::chrono::milliseconds(0);
  int asked = 0;
  auto stopped = AuditRetention(*db_, clock, "a", options).RunPass([&] { return ++asked > 1; });
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->deleted, 3);  // one batch, then asked to stop
  EXPECT_EQ(Count(*db_), 4);

  options.keep_days = -1;
  auto bad = AuditRetention(*db_, clock, "a", options).RunPass();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "audit keep_days must be between 0 and 36600");
}

TEST(AuditTime, ReadsDatesTimesAndSpansBackFromNow) {
  const Time now = kT0;
  auto at = [&](std::string_view text) { return ParseAuditTime(text, now, "--since"); };
  EXPECT_EQ(*at("2027-01-15"), kT0 - std::chrono::hours(8));
  EXPECT_EQ(*at("2027-01-15T08:00Z"), kT0);
  EXPECT_EQ(*at("2027-01-15T08:00:30"), kT0 + Duration(30));
  EXPECT_EQ(*at("90m"), kT0 - std::chrono::minutes(90));
  EXPECT_EQ(*at("36h"), kT0 - std::chrono::hours(36));
  EXPECT_EQ(*at("7d"), kT0 - Days(7));
  EXPECT_EQ(*at("0d"), kT0);
  for (const char* bad : {"", "d", "7w", "-7d", "2027-02-30", "yesterday", "100001d"}) {
    auto t = at(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().message(),
              std::string("--since takes a UTC date (2026-12-07), a time (2026-12-07T10:00Z) or "
                          "a span back from now (90m, 36h, 7d), not \"") +
                  bad + "\"");
  }
}

TEST(AuditSyslog, AnEntryIsOneRfc5424MessageWithItsRecordInStructuredData) {
  AuditRecord r = Entry(10, "bob", "use", "d1", "AccessGranted", "VIEW", "alice");
  const SyslogIdentity who{"rms1", 4242};
  EXPECT_EQ(SyslogMessage(r, who),
            "<86>1 2027-01-15T08:00:10Z rms1 openrms 4242 use [openrms@32473 cluster=\"ROOT\" "
            "node=\"node-a\" user=\"bob\" address=\"10.0.0.10\" operation=\"use\" "
            "content_id=\"d1\" owner=\"alice\" result=\"AccessGranted\" reason=\"VIEW\"] "
            "bob use d1: AccessGranted (VIEW)");
  // Refusals are notices (5); '"', '\' and ']' are escaped, control
  // characters cannot end the message, and long values are cut.
  r.result = "AccessDenied";
  r.detail = "a \"q\" \\ ] z\nnext";
  r.user = std::string(2000, 'u');
  const std::string m = SyslogMessage(r, {"host name with spaces", 0});
  EXPECT_EQ(m.rfind("<85>1 2027-01-15T08:00:10Z hostnamewithspaces openrms - use [", 0), 0u) << m;
  EXPECT_NE(m.find("reason=\"a \\\"q\\\" \\\\ \\] z?next\""), std::string::npos) << m;
  EXPECT_NE(m.find("user=\"" + std::string(1024, 'u') + "...\""), std::string::npos);
  EXPECT_EQ(m.find('\n'), std::string::npos);
  r.kind = "";
  EXPECT_NE(SyslogMessage(r, {"", 0}).find(" - openrms - - [openrms@32473 "), std::string::npos);
}

TEST(AuditSyslog, TheTrailSendsWhatItWroteToACollector) {
  testing::UdpCollector collector;
  auto forward = UdpSyslogForward::Open(collector.target(), {"rms1", 7});
  ASSERT_TRUE(forward.ok()) << forward.status().ToString();
  const auto dir = std::filesystem::temp_directory_path() /
                   ("openrms-audit-syslog-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::remove(dir / "s.db");
  auto db = store::OpenSqlite((dir / "s.db").string());
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(LicensingService::Migrate(**db).ok());
  AuditBatching batching;
  batching.forward = forward->get();
  BatchedAuditTrail trail(**db, batching);
  ASSERT_TRUE(trail.Append(Entry(1, "bob", "use", "d1", "AccessGranted", "VIEW", "alice")).ok());
  ASSERT_TRUE(trail.Append(Entry(2, "carol", "use", "d1", "AccessDenied", "", "alice")).ok());
  ASSERT_TRUE(trail.Flush().ok());
  const std::string first = collector.Receive();
  const std::string second = collector.Receive();
  EXPECT_EQ(first.rfind("<86>1 2027-01-15T08:00:01Z rms1 openrms 7 use [openrms@32473 ", 0), 0u)
      << first;
  EXPECT_NE(first.find("user=\"bob\""), std::string::npos);
  EXPECT_EQ(second.rfind("<85>1 2027-01-15T08:00:02Z rms1 openrms 7 use [", 0), 0u) << second;
  EXPECT_EQ((*forward)->sent(), 2u);
  EXPECT_EQ((*forward)->dropped(), 0u);
}

TEST(AuditSyslog, ATargetWithoutAPortOrAHostIsRefused) {
  for (const char* bad : {"127.0.0.1", ":514", "127.0.0.1:", "no-such-host.invalid:514"}) {
    auto f = UdpSyslogForward::Open(bad, {});
    ASSERT_FALSE(f.ok()) << bad;
    EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(f.status().message().rfind(std::string("audit syslog target \"") + bad + "\": ", 0),
              0u)
        << f.status().message();
  }
  EXPECT_TRUE(UdpSyslogForward::Open("[::1]:514", {}).ok());
}

}  // namespace
}  // namespace openrms::licensing
