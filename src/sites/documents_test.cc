// The administration site's Documents pages on real provisioned clusters
// (SQLite, an enrollment service answered in-process), over a scripted audit
// trail: the exact rows of each search, a document's page, revocation and
// its refusals, and escaping of what users named.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "accounts/accounts.h"
#include "base/file_system.h"
#include "cluster/cluster.h"
#include "crypto/encoding.h"
#include "enrollment/authority.h"
#include "enrollment/service.h"
#include "licensing/audit.h"
#include "licensing/licensing.h"
#include "protocol/enrollment_messages.h"
#include "sites/admin/admin_site.h"

namespace openrms::sites {
namespace {

using Rows = std::vector<std::vector<std::string>>;

constexpr char kPassword[] = "test password";
// Content IDs of the script: A and B published online on CONTOSO, C on
// FABRIKAM, D published offline (known by its use entries only), and E a
// content ID a client made up, full of markup.
constexpr char kA[] = "{0a0a0a0a-0000-4000-8000-00000000000a}";
constexpr char kB[] = "{0b0b0b0b-0000-4000-8000-00000000000b}";
constexpr char kC[] = "{0c0c0c0c-0000-4000-8000-00000000000c}";
constexpr char kD[] = "{0d0d0d0d-0000-4000-8000-00000000000d}";
constexpr char kE[] = "<b>x</b>&\"y";

class InProcessIssuer final : public cluster::IssuerTransport {
 public:
  explicit InProcessIssuer(enrollment::EnrollmentService& service) : service_(service) {}
  Result<std::string> PostSoap(const std::string&, const std::string&, const std::string& body,
                               const std::string&) override {
    auto issued = service_.Enroll(body, {"test", "local"});
    if (!issued.ok()) return protocol::WriteSoapFault(issued.status());
    return protocol::WriteEnrollResponse(issued->chain);
  }

 private:
  enrollment::EnrollmentService& service_;
};

// Statements of OutageDatabase that contain it fail (a literal, or nullptr
// for none).
std::atomic<const char*> failing{nullptr};

// The store as the licensing service sees it: statements that contain
// `failing` fail with kUnavailable (an outage) while it is set.
class OutageDatabase final : public store::Database {
 public:
  explicit OutageDatabase(store::Database& inner) : inner_(inner) {}
  Result<std::vector<store::Row>> Query(std::string_view sql,
                                        const std::vector<store::Value>& params) override {
    if (Down(sql)) return Status(Code::kUnavailable, "the store did not answer");
    return inner_.Query(sql, params);
  }
  Result<int64_t> Execute(std::string_view sql, const std::vector<store::Value>& params) override {
    if (Down(sql)) return Status(Code::kUnavailable, "the store did not answer");
    return inner_.Execute(sql, params);
  }
  Status InTransaction(const std::function<Status(Database& tx)>& body) override {
    return inner_.InTransaction(body);
  }
  store::Dialect dialect() const override { return inner_.dialect(); }

 private:
  bool Down(std::string_view sql) const {
    const char* what = failing.load();
    return what != nullptr && sql.find(what) != std::string_view::npos;
  }
  store::Database& inner_;
};

// What a browser reads: the text of each cell of each body row of the
// table with that id (tags dropped, the templates' escapes undone).
Rows TableRows(const std::string& html, const std::string& id) {
  Rows rows;
  const size_t table = html.find("id=\"" + id + "\"");
  if (table == std::string::npos) return rows;
  const size_t body = html.find("<tbody>", table);
  const size_t end = html.find("</tbody>", body);
  auto text = [](std::string cell) {
    std::string out;
    bool in_tag = false;
    for (char c : cell) {
      if (c == '<') in_tag = true;
      if (!in_tag) out += c;
      if (c == '>') in_tag = false;
    }
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}}) {
      for (size_t at = 0; (at = out.find(from, at)) != std::string::npos; at += to.size()) {
        out.replace(at, from.size(), to);
      }
    }
    return out;
  };
  for (size_t tr = html.find("<tr", body); tr < end; tr = html.find("<tr", tr + 1)) {
    const size_t tr_end = html.find("</tr>", tr);
    std::vector<std::string> cells;
    for (size_t td = html.find("<td", tr); td < tr_end; td = html.find("<td", td + 1)) {
      const size_t open = html.find('>', td) + 1;
      cells.push_back(text(html.substr(open, html.find("</td>", open) - open)));
    }
    rows.push_back(std::move(cells));
  }
  return rows;
}

class DocumentsPagesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(
        (std::filesystem::temp_directory_path() / ("openrms-documents-" + std::to_string(getpid())))
            .string());
    std::filesystem::remove_all(*dir_);
    clock_ = new FakeClock(RoundToMinute(SystemClock().Now()));
    t0_ = clock_->Now() - std::chrono::hours(1);
    ASSERT_TRUE(enrollment::InitializeAuthority(RealFileSystem(), *dir_ + "/enrollment", kPassword,
                                                {}, *clock_, crypto::SystemRandom())
                    .ok());
    db_ = std::move(store::OpenSqlite(*dir_ + "/openrms.db")).value().release();
    ASSERT_TRUE(enrollment::EnrollmentService::Migrate(*db_).ok());
    ASSERT_TRUE(cluster::ClusterStore::Migrate(*db_).ok());
    ASSERT_TRUE(accounts::AccountStore::Migrate(*db_).ok());
    ASSERT_TRUE(licensing::LicensingService::Migrate(*db_).ok());
    enroll_ = new enrollment::EnrollmentService(
        std::move(enrollment::LoadAuthority(RealFileSystem(), *dir_ + "/enrollment", kPassword))
            .value(),
        *db_, *clock_, crypto::SystemRandom());
    transport_ = new InProcessIssuer(*enroll_);
    store_ = new cluster::ClusterStore(*db_);
    clusters_ = new cluster::ClusterService(
        *store_, cluster::Environment{*clock_, crypto::SystemRandom(), *transport_});
    for (const char* name : {"CONTOSO", "FABRIKAM"}) {
      cluster::ProvisionRequest r;
      r.name = name;
      r.url = std::string("https://127.0.0.1:1/") + name + "/_wmcs";
      r.trust_anchor_xml =
          *RealFileSystem().ReadFile(*dir_ + "/enrollment/trust-anchor.xml", 1 << 20);
      r.issuer_url = "https://in-process";
      r.token = *enroll_->NewToken({"test", "local"});
      auto provisioned = clusters_->Provision(r, kPassword);
      ASSERT_TRUE(provisioned.ok()) << provisioned.status().ToString();
    }
    outage_ = new OutageDatabase(*db_);
    licensing_ =
        new licensing::LicensingService(*clusters_, *outage_, *clock_, crypto::SystemRandom(),
                                        kPassword, licensing::LicensingOptions{.node = "node-a"});
    accounts_ = new accounts::AccountStore(*db_, *clock_);
    logon_ = new accounts::LogonService(*db_, *clock_, {accounts_});
    sessions_ = new accounts::SessionStore(*db_, *clock_, crypto::SystemRandom());
    site_ = new AdminSite(*clusters_, *logon_, *sessions_, *clock_, crypto::SystemRandom(),
                          AdminOptions{"Administrators", kPassword, licensing_});
    Script();
  }
  static void TearDownTestSuite() {
    delete site_;
    delete sessions_;
    delete logon_;
    delete accounts_;
    delete licensing_;
    delete outage_;
    delete clusters_;
    delete store_;
    delete transport_;
    delete enroll_;
    delete db_;
    delete clock_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  static Time At(int minute) { return t0_ + std::chrono::minutes(minute); }
  static std::string Human(int minute) { return FormatHuman(At(minute)); }

  // The trail as nodes would have written it.
  static void Script() {
    licensing::DirectAuditTrail trail(*db_);
    auto add = [&](const char* cluster, int minute, const char* user, const char* kind,
                   const char* content, const char* result, const char* detail, const char* node,
                   const char* address, const char* owner) {
      ASSERT_TRUE(trail
                      .Append({cluster, At(minute), user, kind, content, result, detail, node,
                               address, owner})
                      .ok());
    };
    add("CONTOSO", 0, "alice", "publish", kA, "issued", "", "node-1", "10.0.0.1", "alice");
    add("CONTOSO", 1, "bob", "use", kA, "AccessGranted", "VIEW", "node-2", "10.0.0.2", "alice");
    add("CONTOSO", 2, "carol", "use", kA, "AccessDenied", "no right granted", "node-1", "10.0.0.3",
        "alice");
    add("CONTOSO", 3, "bob", "publish", kB, "issued", "", "node-2", "10.0.0.2", "bob");
    add("CONTOSO", 4, "alice", "use", kB, "AccessGranted", "VIEW, PRINT", "node-1", "10.0.0.1",
        "bob");
    add("FABRIKAM", 5, "carol", "publish", kC, "issued", "", "node-1", "10.0.0.3", "carol");
    add("CONTOSO", 6, "bob", "use", kD, "AccessGranted", "VIEW", "node-2", "10.0.0.2", "alice");
    add("CONTOSO", 7, "<i>mallory</i>", "use", kE, "AccessDenied", "no right granted", "node-1",
        "10.0.0.9", "<i>mallory</i>");
    // Not a document: a RAC.
    add("CONTOSO", 8, "dave", "rac", "rac-id", "issued", "", "node-1", "10.0.0.4", "");
  }

  struct Visitor {
    std::string cookie;
    std::string csrf;
  };
  static Visitor SignIn(const std::string& user, std::vector<std::string> groups) {
    auto token = sessions_->Create(accounts::Identity{user, std::move(groups), "local"});
    EXPECT_TRUE(token.ok());
    auto session = sessions_->Find(*token);
    EXPECT_TRUE(session.ok() && session->has_value());
    return {std::string(kAdminSessionCookie) + "=" + *token, (*session)->csrf_token};
  }
  static Visitor Admin() { return SignIn("root", {"Administrators"}); }

  static http::Response Get(const Visitor& v, const std::string& path,
                            std::map<std::string, std::string> query = {}) {
    http::Request req;
    req.method = "GET";
    req.target = path;
    req.path = path;
    req.query = std::move(query);
    req.headers = {{"cookie", v.cookie}};
    req.remote_address = "192.0.2.7";
    return site_->Handle(req);
  }
  static http::Response Post(const Visitor& v, const std::string& path, const std::string& body) {
    http::Request req;
    req.method = "POST";
    req.target = path;
    req.path = path;
    req.headers = {{"cookie", v.cookie}, {"content-type", "application/x-www-form-urlencoded"}};
    req.body = body;
    req.remote_address = "192.0.2.7";
    return site_->Handle(req);
  }
  static std::string Location(const http::Response& r) {
    for (const auto& [k, v] : r.headers) {
      if (k == "Location") return v;
    }
    return "";
  }

  static std::string* dir_;
  static FakeClock* clock_;
  static Time t0_;
  static store::Database* db_;
  static enrollment::EnrollmentService* enroll_;
  static InProcessIssuer* transport_;
  static cluster::ClusterStore* store_;
  static cluster::ClusterService* clusters_;
  static OutageDatabase* outage_;
  static licensing::LicensingService* licensing_;
  static accounts::AccountStore* accounts_;
  static accounts::LogonService* logon_;
  static accounts::SessionStore* sessions_;
  static AdminSite* site_;
};

std::string* DocumentsPagesTest::dir_ = nullptr;
FakeClock* DocumentsPagesTest::clock_ = nullptr;
Time DocumentsPagesTest::t0_{};
store::Database* DocumentsPagesTest::db_ = nullptr;
enrollment::EnrollmentService* DocumentsPagesTest::enroll_ = nullptr;
InProcessIssuer* DocumentsPagesTest::transport_ = nullptr;
cluster::ClusterStore* DocumentsPagesTest::store_ = nullptr;
cluster::ClusterService* DocumentsPagesTest::clusters_ = nullptr;
OutageDatabase* DocumentsPagesTest::outage_ = nullptr;
licensing::LicensingService* DocumentsPagesTest::licensing_ = nullptr;
accounts::AccountStore* DocumentsPagesTest::accounts_ = nullptr;
accounts::LogonService* DocumentsPagesTest::logon_ = nullptr;
accounts::SessionStore* DocumentsPagesTest::sessions_ = nullptr;
AdminSite* DocumentsPagesTest::site_ = nullptr;

// The tests run in the order written and share the trail: the revocation
// tests come last.

TEST_F(DocumentsPagesTest, TheGlobalPageLinksToDocuments) {
  auto r = Get(Admin(), "/admin/");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<a href=\"/admin/documents\">Track and revoke documents</a>"),
            std::string::npos);
}

TEST_F(DocumentsPagesTest, WithoutAQueryTheMostRecentDocumentsAreListed) {
  auto r = Get(Admin(), "/admin/documents");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(TableRows(r.body, "documents"),
            (Rows{
                {kE, "CONTOSO", "<i>mallory</i>", "offline", "0", "1", Human(7), "Active"},
                {kD, "CONTOSO", "alice", "offline", "1", "0", Human(6), "Active"},
                {kC, "FABRIKAM", "carol", Human(5), "0", "0", "never", "Active"},
                {kB, "CONTOSO", "bob", Human(3), "1", "0", Human(4), "Active"},
                {kA, "CONTOSO", "alice", Human(0), "1", "1", Human(2), "Active"},
            }));
  // Two clusters: the search offers a choice of them.
  EXPECT_NE(r.body.find("<option value=\"FABRIKAM\">FABRIKAM</option>"), std::string::npos);
  EXPECT_NE(r.body.find("<nav class=\"crumbs\"><a href=\"/admin/\">Global Administration</a> "
                        "&rsaquo; <span aria-current=\"page\">Documents</span></nav>"),
            std::string::npos);
}

TEST_F(DocumentsPagesTest, AUserNameFindsWhatTheyOwnAndWhatTheyAskedFor) {
  // alice owns A (published) and D (offline), and asked for B.
  auto r = Get(Admin(), "/admin/documents", {{"q", "alice"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(TableRows(r.body, "documents"),
            (Rows{
                {kD, "CONTOSO", "alice", "offline", "1", "0", Human(6), "Active"},
                {kB, "CONTOSO", "bob", Human(3), "1", "0", Human(4), "Active"},
                {kA, "CONTOSO", "alice", Human(0), "1", "1", Human(2), "Active"},
            }));
  // carol only asked for A on CONTOSO; the cluster narrows her to FABRIKAM.
  r = Get(Admin(), "/admin/documents", {{"q", "carol"}, {"cluster", "FABRIKAM"}});
  EXPECT_EQ(TableRows(r.body, "documents"),
            (Rows{{kC, "FABRIKAM", "carol", Human(5), "0", "0", "never", "Active"}}));
  EXPECT_NE(r.body.find("<option value=\"FABRIKAM\" selected>"), std::string::npos);
}

TEST_F(DocumentsPagesTest, AContentIdFindsThatDocumentInAnyCaseWithOrWithoutBraces) {
  std::string bare = std::string(kB).substr(1, 36);
  for (char& c : bare) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& q : {std::string(kB), bare}) {
    auto r = Get(Admin(), "/admin/documents", {{"q", q}});
    EXPECT_EQ(TableRows(r.body, "documents"),
              (Rows{{kB, "CONTOSO", "bob", Human(3), "1", "0", Human(4), "Active"}}))
        << q;
  }
  // The link to its page, percent-encoded.
  auto r = Get(Admin(), "/admin/documents", {{"q", kB}});
  EXPECT_NE(r.body.find("<a href=\"/admin/documents/CONTOSO/"
                        "%7B0b0b0b0b-0000-4000-8000-00000000000b%7D\">"),
            std::string::npos)
      << r.body;
}

TEST_F(DocumentsPagesTest, AnEmptyResultSaysSoAndWhatCanBeSearched) {
  auto r = Get(Admin(), "/admin/documents", {{"q", "nobody"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(TableRows(r.body, "documents"),
            (Rows{{"No document matches \"nobody\". Search by a content ID "
                   "({xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}), by the user name of a document's "
                   "owner, or by the user name of someone who asked for a license."}}));
}

TEST_F(DocumentsPagesTest, WhatUsersNamedIsEscapedAndEveryContentIdInAUrlEncoded) {
  auto r = Get(Admin(), "/admin/documents", {{"q", "<i>mallory</i>"}});
  EXPECT_EQ(r.body.find("<i>"), std::string::npos);
  EXPECT_EQ(r.body.find("<b>x"), std::string::npos);
  EXPECT_NE(r.body.find("&lt;b&gt;x&lt;/b&gt;&amp;&quot;y"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("href=\"/admin/documents/CONTOSO/%3Cb%3Ex%3C%2Fb%3E%26%22y\""),
            std::string::npos)
      << r.body;
  // Its page, whose decoded path holds a '/'.
  r = Get(Admin(), std::string("/admin/documents/CONTOSO/") + kE);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.find("<b>x"), std::string::npos);
  EXPECT_NE(r.body.find("action=\"/admin/documents/CONTOSO/%3Cb%3Ex%3C%2Fb%3E%26%22y/revoke\""),
            std::string::npos)
      << r.body;
}

TEST_F(DocumentsPagesTest, ADocumentsPageShowsItsSummaryAndRequestsNewestFirst) {
  auto r = Get(Admin(), std::string("/admin/documents/CONTOSO/") + kA);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("<h1>Document " + std::string(kA) + "</h1>"), std::string::npos);
  EXPECT_NE(r.body.find("<td id=\"owner\">alice</td>"), std::string::npos);
  EXPECT_NE(r.body.find("<td id=\"granted\">1</td>"), std::string::npos);
  EXPECT_NE(r.body.find("<td id=\"refused\">1</td>"), std::string::npos);
  EXPECT_EQ(
      TableRows(r.body, "requests"),
      (Rows{
          {Human(2), "carol", "10.0.0.3", "node-1", "use", "AccessDenied", "no right granted"},
          {Human(1), "bob", "10.0.0.2", "node-2", "use", "AccessGranted", "VIEW"},
          {Human(0), "alice", "10.0.0.1", "node-1", "publish", "issued", ""},
      }));
  EXPECT_NE(r.body.find("<tr class=\"error\"><td>" + Human(2)), std::string::npos);
  EXPECT_NE(r.body.find("<button type=\"submit\">Revoke</button>"), std::string::npos);
  EXPECT_NE(r.body.find("<a href=\"/admin/documents\">Documents</a>"), std::string::npos);
}

TEST_F(DocumentsPagesTest, AnUnknownDocumentOrClusterIsNotFoundInTheSitesFrame) {
  auto r = Get(Admin(), "/admin/documents/CONTOSO/{0e0e0e0e-0000-4000-8000-00000000000e}");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("No such document"), std::string::npos);
  EXPECT_NE(r.body.find("cluster CONTOSO has no license request for content "
                        "{0e0e0e0e-0000-4000-8000-00000000000e} in its audit trail"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("Signed in as"), std::string::npos);
  // A RAC's ID is not a document.
  EXPECT_EQ(Get(Admin(), "/admin/documents/CONTOSO/rac-id").status, 404);
  r = Get(Admin(), std::string("/admin/documents/NOWHERE/") + kA);
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("This server has no cluster named NOWHERE."), std::string::npos);
  // Nor can either be revoked.
  const Visitor admin = Admin();
  EXPECT_EQ(
      Post(admin, std::string("/admin/documents/NOWHERE/") + kA + "/revoke", "csrf=" + admin.csrf)
          .status,
      404);
  EXPECT_EQ(Post(admin, "/admin/documents/CONTOSO/rac-id/revoke", "csrf=" + admin.csrf).status,
            404);
}

TEST_F(DocumentsPagesTest, ANonAdministratorIsRefused) {
  const Visitor eve = SignIn("eve", {"Users"});
  for (const std::string& path :
       {std::string("/admin/documents"), std::string("/admin/documents/CONTOSO/") + kA}) {
    auto r = Get(eve, path);
    EXPECT_EQ(r.status, 403) << path;
    EXPECT_NE(r.body.find("is not a member of the Administrators group"), std::string::npos)
        << r.body;
  }
  auto r = Post(eve, std::string("/admin/documents/CONTOSO/") + kA + "/revoke", "csrf=" + eve.csrf);
  EXPECT_EQ(r.status, 403);
  auto state = licensing_->TrackAny("CONTOSO", kA, 1);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->document.revoked_by, "");
}

TEST_F(DocumentsPagesTest, RevokingWithoutTheFormsTokenIsRefused) {
  const Visitor admin = Admin();
  const std::string path = std::string("/admin/documents/CONTOSO/") + kA + "/revoke";
  for (const std::string& body : {std::string(""), std::string("csrf=wrong")}) {
    auto r = Post(admin, path, body);
    EXPECT_EQ(r.status, 403) << body;
    EXPECT_NE(r.body.find("The form expired"), std::string::npos);
  }
  // Another session's token is not this one's.
  EXPECT_EQ(Post(admin, path, "csrf=" + Admin().csrf).status, 403);
  auto state = licensing_->TrackAny("CONTOSO", kA, 1);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->document.revoked_by, "");
}

TEST_F(DocumentsPagesTest, AStoreOutageIsTheOutagePageAndRevokesNothing) {
  const Visitor admin = Admin();
  const std::string path = std::string("/admin/documents/CONTOSO/") + kA;
  auto expect_outage = [](const http::Response& r) {
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find("The service is unavailable"), std::string::npos) << r.body;
  };
  failing = "license_audit";
  expect_outage(Get(admin, "/admin/documents"));
  expect_outage(Get(admin, "/admin/documents", {{"q", "alice"}}));
  expect_outage(Get(admin, path));
  expect_outage(Post(admin, path + "/revoke", "csrf=" + admin.csrf));
  failing = "INSERT INTO revocations";
  expect_outage(Post(admin, path + "/revoke", "csrf=" + admin.csrf));
  failing = nullptr;
  auto state = licensing_->TrackAny("CONTOSO", kA, 10);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->document.revoked_by, "");
  EXPECT_EQ(state->requests.size(), 3u);
}

TEST_F(DocumentsPagesTest, RevokeThenRevokeAgain) {
  const Visitor admin = Admin();
  clock_->Set(At(10));
  const std::string page = "/admin/documents/CONTOSO/%7B0a0a0a0a-0000-4000-8000-00000000000a%7D";
  const std::string path = std::string("/admin/documents/CONTOSO/") + kA;
  auto r = Post(admin, path + "/revoke", "csrf=" + admin.csrf);
  ASSERT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(Location(r), page + "?revoked=1");

  r = Get(admin, path, {{"revoked", "1"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<div class=\"notice success\" role=\"status\"><strong>The document was "
                        "revoked</strong><p>No node issues a license for it from now on (within "
                        "2 s). Licenses already issued live until they expire.</p></div>"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("<td id=\"document-state\"><span class=\"badge err\">Revoked</span> by "
                        "admin:root at " +
                        Human(10) + "</td>"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(r.body.find("<button type=\"submit\">Revoke</button>"), std::string::npos);
  // The revocation is the newest entry: who, from where, through which node.
  const Rows requests = TableRows(r.body, "requests");
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0], (std::vector<std::string>{Human(10), "admin:root", "192.0.2.7", "node-a",
                                                   "revoke", "revoked", ""}));
  // And licensing refuses it.
  auto state = licensing_->TrackAny("CONTOSO", kA, 1);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->document.revoked_by, "admin:root");
  EXPECT_EQ(state->document.owner, "alice");

  // On the list, too.
  r = Get(admin, "/admin/documents", {{"q", kA}});
  EXPECT_EQ(TableRows(r.body, "documents"),
            (Rows{{kA, "CONTOSO", "alice", Human(0), "1", "1", Human(2),
                   "Revoked by admin:root at " + Human(10)}}));

  // A second revocation (another tab still showing the button) says who did it.
  clock_->Set(At(11));
  r = Post(admin, path + "/revoke", "csrf=" + admin.csrf);
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(
      r.body.find("<strong>The document was not revoked</strong><p>content " + std::string(kA) +
                  " was already revoked by admin:root at " + Human(10) + "</p>"),
      std::string::npos)
      << r.body;
  EXPECT_EQ(TableRows(r.body, "requests").size(), 4u);
}

TEST_F(DocumentsPagesTest, WithoutLicensingThePagesDoNotExist) {
  AdminSite bare(*clusters_, *logon_, *sessions_, *clock_, crypto::SystemRandom(),
                 AdminOptions{"Administrators", kPassword, nullptr});
  http::Request req;
  req.method = "GET";
  req.path = req.target = "/admin/documents";
  req.headers = {{"cookie", Admin().cookie}};
  auto r = bare.Handle(req);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "licensing is not enabled\n");
  // Nor does the global page link to them.
  req.path = req.target = "/admin/";
  EXPECT_EQ(bare.Handle(req).body.find("/admin/documents"), std::string::npos);
}

}  // namespace
}  // namespace openrms::sites
