// Rekey and trusted publishing domains with real programs: an enrollment
// service and cluster nodes on loopback, driven through `openrms` as an
// administrator would; files protected and opened through /my/v2.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "formats/pfile.h"
#include "http/client.h"
#include "store/database.h"
#include "support/process.h"
#include "support/web_logon.h"
#include "xrml/document.h"

namespace openrms::testing {
namespace {

const std::string kBin = OPENRMS_BINARY;
constexpr char kPassword[] = "rekey test key password";
constexpr char kTpdPassword[] = "correct horse battery staple";

class RekeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pw_ = tmp_.path() + "/password";
    std::ofstream(pw_) << kPassword << "\n";
    enr_ = tmp_.path() + "/enrollment";
    ASSERT_EQ(Cmd({"enrollment", "init", "--dir", enr_, "--password-file", pw_}).exit_code, 0);
    enrollment_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{kBin, "enrollment", "serve", "--dir", enr_, "--listen",
                                 "127.0.0.1:0", "--password-file", pw_});
    enroll_url_ = enrollment_->WaitForLine("enrollment-site: ");
    ASSERT_FALSE(enroll_url_.empty()) << enrollment_->output();
    one_ = Provision("one", "ROOT");
  }

  struct Server {
    std::string dir, origin, url;
    int port = 0;
    std::unique_ptr<BackgroundProcess> node;
  };

  CommandResult Cmd(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), kBin);
    return RunCommand(args, env);
  }
  // A command that opens the cluster key.
  CommandResult KeyCmd(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.push_back("--password-file");
    args.push_back(pw_);
    return Cmd(std::move(args), std::move(env));
  }

  std::string Token() {
    return LastWord(Cmd({"enrollment", "token", "--dir", enr_, "--password-file", pw_}).out);
  }

  Server Provision(const std::string& name, const std::string& cluster) {
    Server s;
    s.dir = tmp_.path() + "/" + name;
    s.port = FreeLoopbackPort();
    s.origin = "https://127.0.0.1:" + std::to_string(s.port);
    s.url = s.origin + "/" + name + "/_wmcs";
    CommandResult p = KeyCmd({"cluster", "provision", "--dir", s.dir, "--name", cluster, "--url",
                              s.url, "--trust", enr_ + "/trust-anchor.xml", "--tls-ca",
                              enr_ + "/tls-ca.pem", "--enroll", enroll_url_, "--token", Token()});
    EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
    for (const char* user : {"alice", "bob"}) {
      EXPECT_EQ(RunCommand({kBin, "user", "add", user, "--dir", s.dir},
                           {"OPENRMS_USER_PASSWORD=" + std::string(user) + "-password"})
                    .exit_code,
                0);
    }
    return s;
  }

  void Start(Server& s) {
    s.node = std::make_unique<BackgroundProcess>(std::vector<std::string>{
        kBin, "serve", "--dir", s.dir, "--listen", "127.0.0.1:" + std::to_string(s.port),
        "--password-file", pw_, "--monitor-interval", "0"});
    ASSERT_FALSE(s.node->WaitForLine("server: ").empty()) << s.node->output();
  }

  CommandResult As(const std::string& user, const Server& s, std::vector<std::string> args) {
    args.insert(args.begin(), kBin);
    args.push_back("--user");
    args.push_back(user);
    args.push_back("--server");
    args.push_back(s.url);
    args.push_back("--tls-ca");
    args.push_back(s.dir + "/tls-ca.pem");
    return RunCommand(args, {"OPENRMS_PASSWORD=" + user + "-password"});
  }

  std::string File(const std::string& name) { return tmp_.path() + "/" + name; }

  // alice protects a file for bob (VIEW) through `s`.
  std::string Protect(const Server& s, const std::string& name) {
    const std::string plain = File(name + ".txt");
    std::ofstream(plain) << "the numbers of " << name << "\n";
    CommandResult p =
        As("alice", s, {"protect", plain, File(name + ".pfile"), "--rights", "bob:VIEW"});
    EXPECT_EQ(p.exit_code, 0) << p.err;
    return File(name + ".pfile");
  }

  // bob opens `pfile` through `s`; "" when it opened with the original text.
  std::string OpenAsBob(const Server& s, const std::string& pfile) {
    const std::string out = pfile + ".opened";
    std::remove(out.c_str());
    CommandResult r = As("bob", s, {"open", pfile, out});
    if (r.exit_code != 0) return r.err.empty() ? "exit " + std::to_string(r.exit_code) : r.err;
    const std::string expected = ReadAll(pfile.substr(0, pfile.size() - 6) + ".txt");
    return ReadAll(out) == expected ? "" : "opened to other text";
  }

  nlohmann::json Json(const std::vector<std::string>& args) {
    CommandResult r = Cmd(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  nlohmann::json Domains(const Server& s) {
    return Json({"tpd", "list", "--dir", s.dir, "--json"});
  }
  std::string ActiveFingerprint(const Server& s) {
    for (const auto& d : Domains(s)) {
      if (d["state"] == "active") return d["fingerprint"];
    }
    return "";
  }

  // The fingerprint of the key that published `pfile`.
  static std::string Publisher(const std::string& pfile) {
    auto file = formats::ReadPfile(ReadAll(pfile));
    if (!file.ok()) return "";
    auto pl = xrml::ParseDocument(file->publishing_license.substr(3));  // after the BOM
    if (!pl.ok() || !pl->issuer.public_key) return "";
    return pl->issuer.public_key->Fingerprint();
  }

  // The rows of every table an import may write, as text.
  std::string StoreSnapshot(const Server& s) {
    auto db = store::OpenSqlite(s.dir + "/openrms.db");
    EXPECT_TRUE(db.ok());
    std::string out;
    for (const char* sql :
         {"SELECT cluster, fingerprint, public_key, sealed_key, chain, state FROM cluster_tpds "
          "ORDER BY id",
          "SELECT name, public_key, sealed_key, key_uri, active_slc FROM clusters ORDER BY name",
          "SELECT id, name, policy FROM rights_templates ORDER BY id",
          "SELECT COUNT(*) FROM cluster_audit", "SELECT COUNT(*) FROM cluster_slcs"}) {
      auto rows = (*db)->Query(sql);
      EXPECT_TRUE(rows.ok()) << sql;
      for (const auto& r : *rows) {
        for (size_t i = 0; i < r.values.size(); ++i) out += r.Text(i) + "|";
        out += "\n";
      }
    }
    return out;
  }

  TempDir tmp_;
  std::string pw_, enr_, enroll_url_;
  std::unique_ptr<BackgroundProcess> enrollment_;
  Server one_;
};

TEST_F(RekeyTest, ContentProtectedBeforeARekeyOpensAfterIt) {
  Start(one_);
  const std::string before = Protect(one_, "before");
  ASSERT_EQ(OpenAsBob(one_, before), "");
  const std::string old_fingerprint = ActiveFingerprint(one_);
  const std::string old_certificate =
      Json({"slc", "status", "--dir", one_.dir, "--json"})["certificate_id"];

  // A new key for a known GUID is authorised as a first enrollment.
  CommandResult refused = KeyCmd({"slc", "rekey", "--online", "--dir", one_.dir});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("was issued for another key: a new key for it (a rekey) needs a "
                             "one-time enrollment token"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(ActiveFingerprint(one_), old_fingerprint);

  CommandResult rekeyed =
      KeyCmd({"slc", "rekey", "--online", "--dir", one_.dir, "--token", Token()});
  ASSERT_EQ(rekeyed.exit_code, 0) << rekeyed.err;
  EXPECT_NE(rekeyed.out.find("the old key " + old_fingerprint +
                             " and its SLC stay as a retired trusted publishing domain"),
            std::string::npos)
      << rekeyed.out;
  const std::string new_fingerprint = ActiveFingerprint(one_);
  EXPECT_NE(new_fingerprint, old_fingerprint);
  EXPECT_EQ(KeyCmd({"cluster", "verify", "--dir", one_.dir}).exit_code, 0);

  // The running node licenses the old content, and publishes under the new key.
  EXPECT_EQ(OpenAsBob(one_, before), "");
  // A node re-reads its cluster's state every 2 s (licensing.h,
  // cluster_refresh): until then it may publish under the old key, which
  // stays licensable; after that, under the new one.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const std::string after = Protect(one_, "after");
  EXPECT_EQ(OpenAsBob(one_, after), "");
  EXPECT_EQ(Publisher(before), old_fingerprint);
  EXPECT_EQ(Publisher(after), new_fingerprint);
  CommandResult rac =
      As("bob", one_, {"certify", "--out", File("rac.xml"), "--key-out", File("rac.key")});
  EXPECT_EQ(rac.exit_code, 0) << rac.err;

  // The old SLC is listed as retired.
  nlohmann::json domains = Domains(one_);
  ASSERT_EQ(domains.size(), 2u) << domains;
  EXPECT_EQ(domains[0]["state"], "active");
  EXPECT_EQ(domains[0]["fingerprint"], new_fingerprint);
  EXPECT_EQ(domains[1]["state"], "retired");
  EXPECT_EQ(domains[1]["source"], "rekey");
  EXPECT_EQ(domains[1]["fingerprint"], old_fingerprint);
  EXPECT_EQ(domains[1]["certificate_id"], old_certificate);
  for (const auto& h : Json({"slc", "history", "--dir", one_.dir, "--json"})) {
    if (h["certificate_id"] == old_certificate) {
      EXPECT_EQ(h["active"], false);
    }
  }

  // And on the administration site.
  const std::string admin_pw = File("admin-password");
  std::ofstream(admin_pw) << "admin web password\n";
  ASSERT_EQ(Cmd({"user", "add", "ada", "--dir", one_.dir, "--group", "Administrators",
                 "--password-file", admin_pw})
                .exit_code,
            0);
  const std::string ca = ReadAll(one_.dir + "/tls-ca.pem");
  auto logon = WebLogOn(one_.origin + "/admin", ca, "ada", "admin web password");
  ASSERT_TRUE(logon.ok()) << logon.status().ToString();
  http::ClientRequest page;
  page.url = one_.origin + "/admin/clusters/ROOT";
  page.ca_pem = ca;
  page.headers = {{"Cookie", CookiePair(*logon)}};
  auto html = http::Fetch(page);
  ASSERT_TRUE(html.ok()) << html.status().ToString();
  const std::string& body = html->body;
  const size_t active = body.find("<tr class=\"tpd-active\">");
  const size_t retired = body.find("<tr class=\"tpd-retired\">");
  ASSERT_NE(active, std::string::npos) << body;
  ASSERT_NE(retired, std::string::npos) << body;
  EXPECT_NE(body.find(new_fingerprint, active), std::string::npos);
  EXPECT_LT(body.find(new_fingerprint, active), retired);
  EXPECT_NE(body.find(old_fingerprint, retired), std::string::npos);
  EXPECT_NE(body.find("<td>rekey</td>", retired), std::string::npos);
  EXPECT_NE(body.find("href=\"/admin/clusters/ROOT/rekey\""), std::string::npos);
  page.url = one_.origin + "/admin/clusters/ROOT/rekey";
  auto dialog = http::Fetch(page);
  ASSERT_TRUE(dialog.ok());
  EXPECT_EQ(dialog->status, 200);
  EXPECT_NE(dialog->body.find("id=\"rekey-online\""), std::string::npos);
  EXPECT_NE(dialog->body.find("id=\"rekey-export\""), std::string::npos);
}

TEST_F(RekeyTest, OfflineRekeySwitchesKeysOnlyWhenItsCertificateIsImported) {
  Start(one_);
  const std::string before = Protect(one_, "before");
  const std::string old_fingerprint = ActiveFingerprint(one_);
  const std::string request = File("rekey-request.xml");
  CommandResult r = KeyCmd({"slc", "rekey", "--offline-request", request, "--dir", one_.dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ActiveFingerprint(one_), old_fingerprint) << "switched before the import";
  EXPECT_EQ(Domains(one_).size(), 1u);
  EXPECT_EQ(OpenAsBob(one_, before), "");

  // The issuer's operator approves it; the import switches keys.
  const std::string cert = File("rekey-cert.xml");
  CommandResult issued = Cmd({"enrollment", "issue", request, "--dir", enr_, "--out", cert,
                              "--approve", "--password-file", pw_});
  ASSERT_EQ(issued.exit_code, 0) << issued.err;
  CommandResult imported = Cmd({"slc", "import", cert, "--dir", one_.dir, "--yes"});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_NE(imported.out.find("new key:"), std::string::npos) << imported.out;
  EXPECT_NE(ActiveFingerprint(one_), old_fingerprint);
  nlohmann::json domains = Domains(one_);
  ASSERT_EQ(domains.size(), 2u);
  EXPECT_EQ(domains[1]["fingerprint"], old_fingerprint);
  EXPECT_EQ(KeyCmd({"cluster", "verify", "--dir", one_.dir}).exit_code, 0);
  EXPECT_EQ(OpenAsBob(one_, before), "");
  EXPECT_EQ(OpenAsBob(one_, Protect(one_, "after")), "");
  // The same answer again is refused (it is the active SLC now).
  CommandResult again = Cmd({"slc", "import", cert, "--dir", one_.dir, "--yes"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.err, "error: this certificate is already the cluster's active SLC\n");
}

TEST_F(RekeyTest, RekeyKilledAtEveryCrashPointLeavesOneWholeKeyAndSlc) {
  const std::string old_fingerprint = ActiveFingerprint(one_);
  int crashes = 0;
  bool switched = false;
  for (int point = 1; point < 60 && !switched; ++point) {
    CommandResult r = KeyCmd({"slc", "rekey", "--online", "--dir", one_.dir, "--token", Token()},
                             {"OPENRMS_CRASH_AT=" + std::to_string(point)});
    CommandResult verify = KeyCmd({"cluster", "verify", "--dir", one_.dir});
    EXPECT_EQ(verify.exit_code, 0) << "point " << point << ": " << verify.err;
    const nlohmann::json domains = Domains(one_);
    const std::string now = ActiveFingerprint(one_);
    if (now == old_fingerprint) {
      EXPECT_EQ(domains.size(), 1u) << "point " << point << ": " << domains;
    } else {
      // The new key and SLC, and the old ones retired: never a mix.
      ASSERT_EQ(domains.size(), 2u) << "point " << point;
      EXPECT_EQ(domains[1]["fingerprint"], old_fingerprint);
      switched = true;
    }
    if (r.exit_code == 137) {
      ++crashes;
      auto db = store::OpenSqlite(one_.dir + "/openrms.db");
      ASSERT_TRUE((*db)->Execute("DELETE FROM cluster_renewal_leases").ok());
      continue;
    }
    ASSERT_EQ(r.exit_code, 0) << "point " << point << ": " << r.err;
    EXPECT_TRUE(switched);
  }
  EXPECT_TRUE(switched);
  EXPECT_GE(crashes, 6);
}

// A rekey is also how a cluster moves into an HSM with a fresh key; a
// domain whose key is in the token is then not exported.
TEST_F(RekeyTest, RekeyIntoATokenAndATokenKeyIsNotExported) {
  constexpr char kModule[] = "/usr/lib/softhsm/libsofthsm2.so";
  ASSERT_TRUE(std::filesystem::exists(kModule))
      << kModule << " is missing: SoftHSM2 is installed by scripts/install-deps.sh";
  const std::string d = tmp_.path();
  std::filesystem::create_directory(d + "/tokens");
  std::ofstream(d + "/softhsm2.conf") << "directories.tokendir = " << d << "/tokens\n"
                                      << "objectstore.backend = file\nlog.level = ERROR\n";
  const std::string conf = "SOFTHSM2_CONF=" + d + "/softhsm2.conf";
  CommandResult init = RunCommand({"/usr/bin/softhsm2-util", "--init-token", "--free", "--label",
                                   "OpenRMS", "--pin", "rekey-pin", "--so-pin", "rekey-so-pin"},
                                  {conf});
  ASSERT_EQ(init.exit_code, 0) << init.out << init.err;
  const std::string pin = d + "/pin";
  std::ofstream(pin) << "rekey-pin\n";
  const std::vector<std::string> token = {"--pkcs11-module", kModule, "--pin-file", pin};
  auto with_token = [&](std::vector<std::string> args) {
    args.insert(args.end(), token.begin(), token.end());
    return KeyCmd(args, {conf, std::string("OPENRMS_TPD_PASSWORD=") + kTpdPassword});
  };
  const std::string uri = "pkcs11:token=OpenRMS;object=root-2027";
  CommandResult r =
      with_token({"slc", "rekey", "--online", "--dir", one_.dir, "--token", Token(), "--key", uri});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("made a new non-extractable key in the token: " + uri), std::string::npos);
  EXPECT_EQ(with_token({"cluster", "verify", "--dir", one_.dir}).exit_code, 0);
  nlohmann::json domains = Domains(one_);
  ASSERT_EQ(domains.size(), 2u);
  EXPECT_EQ(domains[0]["key"], uri);
  EXPECT_EQ(domains[1]["key"], "sealed");
  // A second rekey must name a new object.
  CommandResult again =
      with_token({"slc", "rekey", "--online", "--dir", one_.dir, "--token", Token()});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("lives in a PKCS#11 token (" + uri +
                           "): name a new object there for the new key with --key"),
            std::string::npos)
      << again.err;
  CommandResult exported =
      Cmd({"tpd", "export", "--dir", one_.dir, "--out", File("hsm.tpd"), "--key-password-file", pw_,
           "--pkcs11-module", kModule, "--pin-file", pin},
          {conf, std::string("OPENRMS_TPD_PASSWORD=") + kTpdPassword});
  EXPECT_EQ(exported.exit_code, 1);
  EXPECT_NE(exported.err.find("cannot be exported: its key (" +
                              domains[0]["fingerprint"].get<std::string>().substr(0, 16) +
                              ") lives in a PKCS#11 token, and a key there can be exported only "
                              "if it was made exportable; the private key " +
                              uri + " lives in a PKCS#11 token and was made non-extractable"),
            std::string::npos)
      << exported.err;
  EXPECT_FALSE(std::filesystem::exists(File("hsm.tpd")));
}

class TpdTest : public RekeyTest {
 protected:
  void SetUp() override {
    RekeyTest::SetUp();
    ASSERT_EQ(Cmd({"template", "add", "--dir", one_.dir, "--name", "Board only", "--description",
                   "Board members", "--rights", "bob:VIEW,PRINT"})
                  .exit_code,
              0);
    two_ = Provision("two", "OTHER");
    Start(one_);
    Start(two_);
    pfile_ = Protect(one_, "report");
    exported_ = File("one.tpd");
    CommandResult e = Export();
    ASSERT_EQ(e.exit_code, 0) << e.err;
  }

  CommandResult Export() {
    return Cmd({"tpd", "export", "--dir", one_.dir, "--out", exported_, "--key-password-file", pw_},
               {std::string("OPENRMS_TPD_PASSWORD=") + kTpdPassword});
  }
  CommandResult Import(const std::string& file, const std::string& password = kTpdPassword) {
    return Cmd({"tpd", "import", file, "--dir", two_.dir, "--key-password-file", pw_},
               {"OPENRMS_TPD_PASSWORD=" + password});
  }

  Server two_;
  std::string pfile_, exported_;
};

TEST_F(TpdTest, ADomainExportedFromOneServerLicensesItsContentOnAnother) {
  EXPECT_NE(OpenAsBob(two_, pfile_)
                .find("this content was published through another cluster "
                      "(ROOT); ask that cluster for a license"),
            std::string::npos);
  const std::string file = ReadAll(exported_);
  EXPECT_EQ(file.substr(0, 8), "ORMSTPD1");
  EXPECT_EQ(file.find("BEGIN"), std::string::npos) << "the keys are not sealed";
  CommandResult i = Import(exported_);
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_NE(i.out.find("as retired"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("1 template(s) added"), std::string::npos) << i.out;
  EXPECT_EQ(OpenAsBob(two_, pfile_), "");
  nlohmann::json domains = Domains(two_);
  ASSERT_EQ(domains.size(), 2u);
  EXPECT_EQ(domains[1]["state"], "retired");
  EXPECT_EQ(domains[1]["source"], "import");
  EXPECT_EQ(domains[1]["fingerprint"], ActiveFingerprint(one_));
  nlohmann::json templates = Json({"template", "list", "--dir", two_.dir, "--json"});
  ASSERT_EQ(templates.size(), 1u);
  EXPECT_EQ(templates[0]["name"], "Board only");
  // New content on the second server is its own.
  EXPECT_EQ(OpenAsBob(two_, Protect(two_, "own")), "");
}

TEST_F(TpdTest, AWrongPasswordIsRefusedAndChangesNothing) {
  const std::string before = StoreSnapshot(two_);
  CommandResult i = Import(exported_, "not the password at all");
  EXPECT_EQ(i.exit_code, 1);
  EXPECT_EQ(i.err,
            "error: the password does not open this trusted publishing domain file (or the file's "
            "header was changed): nothing was imported\n");
  EXPECT_EQ(StoreSnapshot(two_), before);
  EXPECT_NE(OpenAsBob(two_, pfile_), "");
}

TEST_F(TpdTest, ATamperedFileIsRefusedAndChangesNothing) {
  const std::string before = StoreSnapshot(two_);
  const std::string file = ReadAll(exported_);
  const std::set<std::string> expected = {
      "error: the trusted publishing domain file was changed after it was exported (its AES-GCM "
      "tag does not hold): nothing was imported; export it again\n",
      "error: the password does not open this trusted publishing domain file (or the file's "
      "header was changed): nothing was imported\n"};
  // A byte of the magic, the KDF's cost, salt, nonce, check, length, the
  // ciphertext's first, middle and last bytes, and the tag.
  for (size_t at : {size_t{3}, size_t{9}, size_t{20}, size_t{30}, size_t{45}, size_t{58},
                    size_t{60}, file.size() / 2, file.size() - 17, file.size() - 1}) {
    std::string changed = file;
    changed[at] = static_cast<char>(changed[at] ^ 0x01);
    const std::string path = File("tampered.tpd");
    std::ofstream(path, std::ios::binary | std::ios::trunc) << changed;
    CommandResult i = Import(path);
    EXPECT_NE(i.exit_code, 0) << "byte " << at;
    if (at >= 12 && at != 56 && at != 57 && at != 58 && at != 59) {
      EXPECT_TRUE(expected.count(i.err)) << "byte " << at << ": " << i.err;
    } else {
      EXPECT_FALSE(i.err.empty()) << "byte " << at;
    }
    EXPECT_EQ(StoreSnapshot(two_), before) << "byte " << at;
  }
  EXPECT_NE(OpenAsBob(two_, pfile_), "");
}

TEST_F(TpdTest, TheSameDomainTwiceIsRefusedAndChangesNothing) {
  ASSERT_EQ(Import(exported_).exit_code, 0);
  const std::string before = StoreSnapshot(two_);
  CommandResult again = Import(exported_);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.err,
            "error: cluster OTHER already holds every trusted publishing domain in this file "
            "(ROOT, 1 domain(s)): nothing was imported\n");
  EXPECT_EQ(StoreSnapshot(two_), before);
  // A server's own domain, too.
  const std::string own = File("two.tpd");
  ASSERT_EQ(Cmd({"tpd", "export", "--dir", two_.dir, "--out", own, "--key-password-file", pw_},
                {std::string("OPENRMS_TPD_PASSWORD=") + kTpdPassword})
                .exit_code,
            0);
  const std::string before_own = StoreSnapshot(two_);
  CommandResult self = Import(own);
  EXPECT_EQ(self.exit_code, 1);
  EXPECT_NE(self.err.find("already holds every trusted publishing domain in this file (OTHER"),
            std::string::npos)
      << self.err;
  EXPECT_EQ(StoreSnapshot(two_), before_own);
}

// Content OpenRMS protected before its publishing licenses took the spec's
// format (tests/data/old-format-pl: made by the 4c0c1ce build) opens once its
// domain is imported, for the user it was protected for.
TEST_F(TpdTest, ContentInTheOldFormatOpensAfterTheSpecFormat) {
  const std::string data = std::string(OPENRMS_TEST_DATA) + "/old-format-pl/";
  for (const char* name : {"old-format.pfile", "old-format.txt"}) {
    std::filesystem::copy_file(data + name, File(name));
  }
  const std::string pfile = File("old-format.pfile");
  EXPECT_NE(OpenAsBob(two_, pfile).find("this content was published through another cluster"),
            std::string::npos);
  CommandResult i = Import(data + "old-format.tpd", "old-format-fixture-tpd");
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_EQ(OpenAsBob(two_, pfile), "");
  // alice, who protected it, holds every right.
  CommandResult owner = As("alice", two_, {"open", pfile, File("owner.txt")});
  ASSERT_EQ(owner.exit_code, 0) << owner.err;
  EXPECT_EQ(ReadAll(File("owner.txt")), ReadAll(data + "old-format.txt"));
  EXPECT_NE(owner.out.find("rights: OWNER"), std::string::npos) << owner.out;
}

}  // namespace
}  // namespace openrms::testing
