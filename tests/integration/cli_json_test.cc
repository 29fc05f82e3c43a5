// `--json` on every command that lists or shows: the real program, its
// stdout parsed as JSON, exact field names and values (README.md,
// "Machine-readable output"). Everything offline: an enrollment service
// directory and a server directory, no servers.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "base/clock.h"
#include "support/process.h"

namespace openrms::testing {
namespace {

using nlohmann::json;

const std::string kBin = OPENRMS_BINARY;

std::set<std::string> Keys(const json& object) {
  std::set<std::string> keys;
  for (const auto& [k, v] : object.items()) keys.insert(k);
  return keys;
}

class CliJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pw_ = tmp_.path() + "/password";
    std::ofstream(pw_) << "json test password\n";
    enr_ = tmp_.path() + "/enrollment";
    srv_ = tmp_.path() + "/server";
    ASSERT_EQ(Run({"enrollment", "init", "--dir", enr_, "--password-file", pw_}).exit_code, 0);
    // An offline root cluster: request file, issued with approval, imported.
    const std::string req = tmp_.path() + "/request.xml";
    chain_ = tmp_.path() + "/slc.xml";
    CommandResult p = Run({"cluster", "provision", "--dir", srv_, "--password-file", pw_, "--name",
                           "ROOT", "--url", "https://rms.example.test/_wmcs", "--trust",
                           enr_ + "/trust-anchor.xml", "--offline-request", req});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    CommandResult issued = Run({"enrollment", "issue", req, "--dir", enr_, "--password-file", pw_,
                                "--out", chain_, "--approve"});
    ASSERT_EQ(issued.exit_code, 0) << issued.err;
    CommandResult imported = Run({"slc", "import", chain_, "--dir", srv_, "--yes"});
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
  }

  static CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), kBin);
    return RunCommand(args);
  }

  // Runs a command with --json: exit 0, nothing on stderr but the lines of
  // the log, and one JSON document on stdout.
  static json Json(std::vector<std::string> args) {
    args.push_back("--json");
    CommandResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not one JSON document: " << r.out;
    return j;
  }

  static void ExpectIso(const json& v) {
    ASSERT_TRUE(v.is_string()) << v;
    EXPECT_TRUE(ParseTime(v.get<std::string>()).has_value()) << v;
    EXPECT_EQ(v.get<std::string>().back(), 'Z') << v;
  }

  TempDir tmp_;
  std::string pw_, enr_, srv_, chain_;
};

TEST_F(CliJsonTest, ClusterListEventsHistoryAndStatus) {
  json list = Json({"cluster", "list", "--dir", srv_});
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(Keys(list[0]),
            (std::set<std::string>{"name", "kind", "url", "state", "expires", "auto_renew"}));
  EXPECT_EQ(list[0]["name"], "ROOT");
  EXPECT_EQ(list[0]["kind"], "root");
  EXPECT_EQ(list[0]["url"], "https://rms.example.test/_wmcs");
  EXPECT_EQ(list[0]["state"], "valid");
  EXPECT_EQ(list[0]["auto_renew"], false);
  ExpectIso(list[0]["expires"]);

  json status = Json({"slc", "status", "--dir", srv_});
  ASSERT_TRUE(status.is_object());
  EXPECT_EQ(Keys(status),
            (std::set<std::string>{"cluster", "kind", "url", "guid", "server_name", "auto_renew",
                                   "issuer", "issued", "expires", "days_left", "state",
                                   "certificate_id", "pending_request", "renewal_window"}));
  EXPECT_EQ(status["expires"], list[0]["expires"]);
  EXPECT_EQ(status["days_left"], 365);
  // No monitor pass yet: the local rule, no moment chosen.
  const json& window = status["renewal_window"];
  EXPECT_EQ(Keys(window), (std::set<std::string>{"start", "end", "source", "explanation_url",
                                                 "renew_at", "fetched_at", "fetch_error"}));
  EXPECT_EQ(window["source"], "local rule");
  EXPECT_EQ(window["renew_at"], nullptr);
  const Time issued = *ParseTime(status["issued"].get<std::string>());
  const long life = 365L * 86400;
  EXPECT_EQ(window["start"], FormatIso8601(issued + Duration(life * 2 / 3 - life / 100)));
  EXPECT_EQ(window["end"], FormatIso8601(issued + Duration(life * 2 / 3 + life / 100)));

  json history = Json({"slc", "history", "--dir", srv_});
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(Keys(history[0]),
            (std::set<std::string>{"certificate_id", "source", "installed_at", "installed_by",
                                   "issued", "valid_from", "valid_until", "issuer", "active"}));
  EXPECT_EQ(history[0]["certificate_id"], status["certificate_id"]);
  EXPECT_EQ(history[0]["source"], "import");
  EXPECT_EQ(history[0]["active"], true);
  EXPECT_EQ(history[0]["issuer"], "OpenRMS Enrollment Service");
  EXPECT_EQ(history[0]["valid_until"], status["expires"]);

  json events = Json({"cluster", "events", "--dir", srv_});
  ASSERT_TRUE(events.is_array());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(Keys(events[0]), (std::set<std::string>{"id", "at", "level", "kind", "message"}));
  EXPECT_EQ(events[0]["kind"], "renewed");
  EXPECT_EQ(events[0]["level"], "info");
  ExpectIso(events[0]["at"]);
}

TEST_F(CliJsonTest, CheckReportsEachClusterAndChoosesTheMomentOnce) {
  // An offline cluster (no issuer URL): the local rule.
  json check = Json({"cluster", "check", "--dir", srv_});
  ASSERT_TRUE(check.is_array());
  ASSERT_EQ(check.size(), 1u);
  EXPECT_EQ(Keys(check[0]), (std::set<std::string>{"cluster", "ok", "error", "events",
                                                   "renewal_window", "renewed_certificate_id"}));
  EXPECT_EQ(check[0]["cluster"], "ROOT");
  EXPECT_EQ(check[0]["ok"], true);
  EXPECT_EQ(check[0]["error"], nullptr);
  EXPECT_EQ(check[0]["events"], json::array());
  EXPECT_EQ(check[0]["renewed_certificate_id"], nullptr);
  const json& window = check[0]["renewal_window"];
  EXPECT_EQ(window["source"], "local rule");
  EXPECT_EQ(window["fetched_at"], nullptr);
  EXPECT_EQ(window["fetch_error"], nullptr);
  const std::string at = window["renew_at"];
  EXPECT_GE(at, window["start"].get<std::string>());
  EXPECT_LT(at, window["end"].get<std::string>());
  // Stored: the next pass and `slc status` agree on it.
  EXPECT_EQ(Json({"cluster", "check", "--dir", srv_})[0]["renewal_window"]["renew_at"], at);
  EXPECT_EQ(Json({"slc", "status", "--dir", srv_})["renewal_window"]["renew_at"], at);
  // Text output is unchanged.
  EXPECT_EQ(Run({"cluster", "check", "--dir", srv_}).out, "checked\n");
}

TEST_F(CliJsonTest, EnrollmentListAndPending) {
  json list = Json({"enrollment", "list", "--dir", enr_, "--password-file", pw_});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(Keys(list[0]),
            (std::set<std::string>{"id", "kind", "server_name", "server_url", "slc_guid",
                                   "certificate_id", "issued_at", "valid_from", "valid_until",
                                   "channel", "requester", "renewal_window"}));
  EXPECT_EQ(list[0]["kind"], "enrollment");
  EXPECT_EQ(list[0]["server_name"], "ROOT");
  EXPECT_EQ(list[0]["server_url"], "https://rms.example.test/_wmcs");
  EXPECT_EQ(list[0]["channel"], "cli");
  const json status = Json({"slc", "status", "--dir", srv_});
  EXPECT_EQ(list[0]["certificate_id"], status["certificate_id"]);
  EXPECT_EQ(list[0]["slc_guid"], status["guid"]);
  const json& window = list[0]["renewal_window"];
  EXPECT_EQ(Keys(window),
            (std::set<std::string>{"start", "end", "explanation_url", "moved_at", "moved_by"}));
  const Time from = *ParseTime(list[0]["valid_from"].get<std::string>());
  EXPECT_EQ(window["start"], FormatIso8601(from + Days(365) * 2 / 3));
  EXPECT_EQ(window["end"], FormatIso8601(from + Days(365) * 5 / 6));
  EXPECT_EQ(window["moved_at"], nullptr);
  EXPECT_EQ(window["explanation_url"], nullptr);

  json pending = Json({"enrollment", "pending", "--dir", enr_, "--password-file", pw_});
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(Keys(pending[0]),
            (std::set<std::string>{"id", "state", "submitted_at", "server_name", "slc_guid",
                                   "key_fingerprint", "requester", "certificate_id"}));
  EXPECT_EQ(pending[0]["state"], "issued");
  EXPECT_EQ(pending[0]["server_name"], "ROOT");
  EXPECT_EQ(pending[0]["certificate_id"], list[0]["certificate_id"]);
}

TEST_F(CliJsonTest, TemplatesUsersAndXrmlShow) {
  ASSERT_EQ(Run({"template", "add", "--dir", srv_, "--name", "Confidential", "--description",
                 "Staff only", "--rights", "alice:VIEW,EDIT", "--rights", "Staff:VIEW",
                 "--valid-days", "30"})
                .exit_code,
            0);
  json templates = Json({"template", "list", "--dir", srv_});
  ASSERT_EQ(templates.size(), 1u);
  EXPECT_EQ(Keys(templates[0]),
            (std::set<std::string>{"id", "name", "description", "valid_days", "user_rights"}));
  EXPECT_EQ(templates[0]["name"], "Confidential");
  EXPECT_EQ(templates[0]["description"], "Staff only");
  EXPECT_EQ(templates[0]["valid_days"], 30);
  EXPECT_EQ(templates[0]["user_rights"],
            json::parse(R"([{"users":["alice"],"rights":["VIEW","EDIT"]},)"
                        R"({"users":["Staff"],"rights":["VIEW"]}])"));

  const std::string user_pw = tmp_.path() + "/user-password";
  std::ofstream(user_pw) << "a long user password\n";
  ASSERT_EQ(Run({"user", "add", "bob", "--dir", srv_, "--group", "Administrators", "--group",
                 "Staff", "--password-file", user_pw})
                .exit_code,
            0);
  json users = Json({"user", "list", "--dir", srv_});
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0], json::parse(R"({"user":"bob","groups":["Administrators","Staff"]})"));

  json docs = Json({"xrml", "show", chain_});
  ASSERT_TRUE(docs.is_array());
  ASSERT_EQ(docs.size(), 4u);
  EXPECT_EQ(Keys(docs[0]),
            (std::set<std::string>{"position", "type", "guid", "issuer", "principals", "issued",
                                   "valid_from", "valid_until", "rights", "signature"}));
  EXPECT_EQ(docs[0]["type"], "Server-Licensor-Certificate");
  EXPECT_EQ(docs[0]["principals"][0]["name"], "ROOT");
  EXPECT_EQ(docs[0]["principals"][0]["key_bits"], 2048);
  EXPECT_EQ(docs[0]["signature"]["digest"], "SHA-256");
  EXPECT_EQ(docs[0]["valid_until"], Json({"slc", "status", "--dir", srv_})["expires"]);
  EXPECT_EQ(Keys(docs[0]["issuer"]),
            (std::set<std::string>{"name", "id", "type", "address", "key_bits"}));
}

TEST_F(CliJsonTest, ErrorsGoToStderrWithTheirExitCodes) {
  CommandResult missing = Run({"cluster", "events", "--dir", srv_, "--cluster", "NOPE", "--json"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.out, "");
  EXPECT_EQ(missing.err.rfind("error: ", 0), 0u) << missing.err;
  EXPECT_NE(missing.err.find("NOPE"), std::string::npos) << missing.err;
  CommandResult no_dir = Run({"cluster", "list", "--dir", tmp_.path() + "/none", "--json"});
  EXPECT_NE(no_dir.exit_code, 0);
  EXPECT_EQ(no_dir.out, "");
  CommandResult wrong_pw =
      Run({"enrollment", "list", "--dir", enr_, "--password-file", srv_ + "/openrms.db", "--json"});
  EXPECT_NE(wrong_pw.exit_code, 0);
  EXPECT_EQ(wrong_pw.out, "");
}

}  // namespace
}  // namespace openrms::testing
