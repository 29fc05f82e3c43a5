// Cluster keys in an HSM, with a real SoftHSM2 token in a temporary
// directory and the real `openrms` program: a cluster provisioned with its
// key in the token enrolls, renews online, serves and licenses content; a
// cluster with a sealed software key moves it into the token and still
// opens what it protected before. The key never leaves the token.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "crypto/encoding.h"
#include "crypto/pkcs11.h"
#include "store/database.h"
#include "support/process.h"

namespace openrms::testing {
namespace {

const std::string kBin = OPENRMS_BINARY;
constexpr char kModule[] = "/usr/lib/softhsm/libsofthsm2.so";
constexpr char kPin[] = "hsm-test-pin-2718";

class HsmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(std::filesystem::exists(kModule))
        << kModule << " is missing: SoftHSM2 is installed by scripts/install-deps.sh";
    tmp_ = new TempDir();
    const std::string d = tmp_->path();
    std::filesystem::create_directory(d + "/tokens");
    std::ofstream(d + "/softhsm2.conf") << "directories.tokendir = " << d << "/tokens\n"
                                        << "objectstore.backend = file\n"
                                        << "log.level = ERROR\n";
    conf_ = "SOFTHSM2_CONF=" + d + "/softhsm2.conf";
    // For softhsm2-util and for this process's own look into the token.
    setenv("SOFTHSM2_CONF", (d + "/softhsm2.conf").c_str(), 1);
    CommandResult init = RunCommand({"/usr/bin/softhsm2-util", "--init-token", "--free", "--label",
                                     "OpenRMS", "--pin", kPin, "--so-pin", "hsm-test-so-pin"});
    ASSERT_EQ(init.exit_code, 0) << init.out << init.err;
    pin_file_ = d + "/pin";
    std::ofstream(pin_file_) << kPin << "\n";
    wrong_pin_file_ = d + "/wrong-pin";
    std::ofstream(wrong_pin_file_) << "not-the-pin\n";
    pw_ = d + "/key-password";
    std::ofstream(pw_) << "hsm test key password\n";
    enr_ = d + "/enrollment";
    ASSERT_EQ(Run({"enrollment", "init", "--dir", enr_, "--password-file", pw_}).exit_code, 0);
    enrollment_ = new BackgroundProcess({kBin, "enrollment", "serve", "--dir", enr_, "--listen",
                                         "127.0.0.1:0", "--password-file", pw_});
    enroll_url_ = enrollment_->WaitForLine("enrollment-site: ");
    ASSERT_FALSE(enroll_url_.empty()) << enrollment_->output();
  }

  static void TearDownTestSuite() {
    delete enrollment_;
    delete tmp_;
  }

  // Runs openrms with the token's configuration in its environment.
  static CommandResult Run(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), kBin);
    env.push_back(conf_);
    return RunCommand(args, env);
  }

  static std::vector<std::string> Token(const std::string& pin_file = pin_file_) {
    return {"--pkcs11-module", kModule, "--pin-file", pin_file};
  }

  static std::vector<std::string> Join(std::vector<std::string> a,
                                       const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  static std::string EnrollmentToken() {
    return LastWord(Run({"enrollment", "token", "--dir", enr_, "--password-file", pw_}).out);
  }

  // A root cluster in server directory `srv`; its SLC lasts 20 days, so a
  // renewal brings a longer one.
  static CommandResult Provision(const std::string& srv, const std::string& name, int port,
                                 const std::vector<std::string>& extra) {
    return Run(Join({"cluster",         "provision",
                     "--dir",           srv,
                     "--name",          name,
                     "--url",           Url(port, name),
                     "--trust",         enr_ + "/trust-anchor.xml",
                     "--tls-ca",        enr_ + "/tls-ca.pem",
                     "--enroll",        enroll_url_,
                     "--token",         EnrollmentToken(),
                     "--validity-days", "20",
                     "--password-file", pw_},
                    extra));
  }

  static std::string Url(int port, const std::string& name) {
    return "https://127.0.0.1:" + std::to_string(port) + "/" + name + "/_wmcs";
  }

  static std::unique_ptr<BackgroundProcess> Serve(const std::string& srv, int port,
                                                  const std::vector<std::string>& extra) {
    auto node = std::make_unique<BackgroundProcess>(
        Join({kBin, "serve", "--dir", srv, "--listen", "127.0.0.1:" + std::to_string(port),
              "--password-file", pw_, "--monitor-interval", "0", "--threads", "2"},
             extra),
        std::vector<std::string>{conf_});
    EXPECT_FALSE(node->WaitForLine("server: ").empty()) << node->output();
    return node;
  }

  static void AddUsers(const std::string& srv) {
    for (const char* user : {"alice", "bob"}) {
      ASSERT_EQ(Run({"user", "add", user, "--dir", srv},
                    {"OPENRMS_USER_PASSWORD=" + std::string(user) + "-password"})
                    .exit_code,
                0);
    }
  }

  static CommandResult As(const std::string& user, const std::string& srv,
                          std::vector<std::string> args) {
    args.push_back("--user");
    args.push_back(user);
    args.push_back("--tls-ca");
    args.push_back(srv + "/tls-ca.pem");
    return Run(args, {"OPENRMS_PASSWORD=" + user + "-password"});
  }

  // The cluster's key columns, read from its database.
  static std::pair<std::string, std::string> KeyColumns(const std::string& srv,
                                                        const std::string& name) {
    auto db = store::OpenSqlite(srv + "/openrms.db");
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return {};
    auto rows = (*db)->Query("SELECT sealed_key, key_uri FROM clusters WHERE name = $1", {name});
    EXPECT_TRUE(rows.ok() && rows->size() == 1);
    if (!rows.ok() || rows->empty()) return {};
    return {(*rows)[0].Text(0), (*rows)[0].Text(1)};
  }

  std::string Dir(const std::string& name) { return tmp_->path() + "/" + name; }

  static TempDir* tmp_;
  static BackgroundProcess* enrollment_;
  static std::string conf_, pin_file_, wrong_pin_file_, pw_, enr_, enroll_url_;
};

TempDir* HsmTest::tmp_ = nullptr;
BackgroundProcess* HsmTest::enrollment_ = nullptr;
std::string HsmTest::conf_, HsmTest::pin_file_, HsmTest::wrong_pin_file_, HsmTest::pw_,
    HsmTest::enr_, HsmTest::enroll_url_;

TEST_F(HsmTest, ClusterWithItsKeyInTheTokenEnrollsRenewsServesAndLicenses) {
  const std::string srv = Dir("token-server");
  const std::string uri = "pkcs11:token=OpenRMS;object=hsm-root";
  const int port = FreeLoopbackPort();
  CommandResult p = Provision(srv, "HSMROOT", port, Join({"--key", uri}, Token()));
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_NE(p.out.find("made a new non-extractable key in the token: " + uri + "\n"),
            std::string::npos)
      << p.out;
  EXPECT_NE(p.out.find("provisioned cluster HSMROOT\n"), std::string::npos) << p.out;
  EXPECT_EQ(p.out.find(kPin), std::string::npos);
  EXPECT_EQ(p.err.find(kPin), std::string::npos);
  // The database names the key; it holds no sealed copy.
  EXPECT_EQ(KeyColumns(srv, "HSMROOT"), std::make_pair(std::string(), uri));

  // Every command that uses the key needs the node's module and PIN.
  CommandResult bare = Run({"cluster", "verify", "--dir", srv, "--password-file", pw_});
  EXPECT_EQ(bare.exit_code, 1);
  EXPECT_EQ(bare.err, "error: the key of cluster HSMROOT lives in a PKCS#11 token (" + uri +
                          "): give this node its module and PIN (--pkcs11-module PATH, and "
                          "--pin-file FILE or $OPENRMS_PKCS11_PIN)\n");
  CommandResult no_pin =
      Run({"cluster", "verify", "--dir", srv, "--password-file", pw_, "--pkcs11-module", kModule});
  EXPECT_EQ(no_pin.exit_code, 2);
  EXPECT_EQ(no_pin.err,
            "error: --pkcs11-module needs the token's PIN: give --pin-file FILE or set "
            "$OPENRMS_PKCS11_PIN (a PIN is never taken on the command line)\n");
  CommandResult verify = Run(Join({"cluster", "verify", "--dir", srv, "--password-file", pw_},
                                  {"--pkcs11-module", kModule}),
                             {"OPENRMS_PKCS11_PIN=" + std::string(kPin)});
  ASSERT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_EQ(verify.out, "key ok: the cluster key matches its active SLC, whose chain is trusted\n");

  // Online renewal: the request is signed in the token.
  CommandResult renew =
      Run(Join({"slc", "renew", "--online", "--dir", srv, "--password-file", pw_}, Token()));
  ASSERT_EQ(renew.exit_code, 0) << renew.err;
  EXPECT_NE(renew.out.find("renewed the SLC of HSMROOT\n"), std::string::npos) << renew.out;

  // A wrong PIN stops the node before it listens, naming the token.
  CommandResult wrong = Run(Join({"serve", "--dir", srv, "--listen", "127.0.0.1:0",
                                  "--password-file", pw_, "--monitor-interval", "0"},
                                 Token(wrong_pin_file_)));
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_EQ(wrong.err,
            "error: the key of cluster HSMROOT: wrong PIN for token \"OpenRMS\" "
            "(CKR_PIN_INCORRECT)\n");

  // Serving: licenses are signed and content keys decrypted in the token.
  AddUsers(srv);
  auto node = Serve(srv, port, Token());
  const std::string plain = Dir("token-plain.txt"), pfile = Dir("token.pfile"),
                    opened = Dir("token-opened.txt");
  std::ofstream(plain) << "kept under a key in the HSM\n";
  CommandResult protect =
      As("alice", srv,
         {"protect", plain, pfile, "--server", Url(port, "HSMROOT"), "--rights", "bob:VIEW"});
  ASSERT_EQ(protect.exit_code, 0) << protect.err;
  CommandResult open = As("bob", srv, {"open", pfile, opened, "--server", Url(port, "HSMROOT")});
  ASSERT_EQ(open.exit_code, 0) << open.err;
  EXPECT_EQ(ReadAll(opened), "kept under a key in the HSM\n");

  // The key never leaves the token: asked for its private part, the
  // token refuses (the key is sensitive and not extractable).
  crypto::Pkcs11KeyStore keys({kModule, kPin});
  auto exported = keys.Export(uri);
  ASSERT_FALSE(exported.ok());
  EXPECT_EQ(exported.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(exported.status().message(),
            "the private key " + uri +
                " lives in a PKCS#11 token and was made non-extractable: the token does not give "
                "out its private part (CKR_ATTRIBUTE_SENSITIVE). A key that can be exported would "
                "have to be created so on purpose.");
}

TEST_F(HsmTest, ProvisionUsesAKeyTheTokenAlreadyHolds) {
  const std::string uri = "pkcs11:token=OpenRMS;object=made-before;type=private";
  crypto::PublicKey made_key = [&] {
    crypto::Pkcs11KeyStore keys({kModule, kPin});
    auto made = keys.OpenOrGenerate(uri, 2048);
    EXPECT_TRUE(made.ok() && made->created) << made.status().ToString();
    return made->key->public_key();
  }();
  const std::string srv = Dir("existing-key-server");
  CommandResult p = Provision(srv, "EXISTING", FreeLoopbackPort(), Join({"--key", uri}, Token()));
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_NE(p.out.find("uses the key the token already holds: " + uri + "\n"), std::string::npos)
      << p.out;
  auto db = store::OpenSqlite(srv + "/openrms.db");
  ASSERT_TRUE(db.ok());
  auto rows = (*db)->Query("SELECT public_key FROM clusters WHERE name = 'EXISTING'");
  ASSERT_TRUE(rows.ok() && rows->size() == 1);
  EXPECT_EQ((*rows)[0].Text(0), crypto::Base64Encode(made_key.ToPkcs1Der()));
}

TEST_F(HsmTest, SoftwareKeyMovesIntoTheTokenAndOldContentStillOpens) {
  const std::string srv = Dir("move-server");
  const int port = FreeLoopbackPort();
  CommandResult p = Provision(srv, "MOVER", port, {});
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_FALSE(KeyColumns(srv, "MOVER").first.empty());
  AddUsers(srv);
  const std::string plain = Dir("move-plain.txt"), pfile = Dir("move.pfile");
  std::ofstream(plain) << "protected before the move\n";
  {
    auto node = Serve(srv, port, {});
    CommandResult protect =
        As("alice", srv,
           {"protect", plain, pfile, "--server", Url(port, "MOVER"), "--rights", "bob:VIEW"});
    ASSERT_EQ(protect.exit_code, 0) << protect.err;
  }

  const std::string uri = "pkcs11:token=OpenRMS;object=mover-key";
  auto move = [&](const std::string& to, const std::string& pin_file) {
    return Run(Join({"cluster", "move-key", "--dir", srv, "--password-file", pw_, "--to", to},
                    Token(pin_file)));
  };
  // A wrong PIN: a clear refusal naming the token, nothing changed.
  CommandResult wrong = move(uri, wrong_pin_file_);
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_EQ(wrong.err,
            "error: moving the key of cluster MOVER: wrong PIN for token \"OpenRMS\" "
            "(CKR_PIN_INCORRECT)\n");
  // An object of that label holding another key is not overwritten.
  const std::string taken = "pkcs11:token=OpenRMS;object=taken-by-another";
  {
    crypto::Pkcs11KeyStore keys({kModule, kPin});
    ASSERT_TRUE(keys.OpenOrGenerate(taken, 2048).ok());
  }
  CommandResult clash = move(taken, pin_file_);
  EXPECT_EQ(clash.exit_code, 1);
  EXPECT_NE(clash.err.find("error: moving the key of cluster MOVER: token \"OpenRMS\" already "
                           "holds a key named by " +
                           taken + ", and it is another key ("),
            std::string::npos)
      << clash.err;
  EXPECT_NE(clash.err.find("nothing was changed; choose another object= label\n"),
            std::string::npos)
      << clash.err;
  EXPECT_FALSE(KeyColumns(srv, "MOVER").first.empty()) << "the sealed key is still there";
  EXPECT_EQ(KeyColumns(srv, "MOVER").second, "");

  CommandResult moved = move(uri, pin_file_);
  ASSERT_EQ(moved.exit_code, 0) << moved.err;
  EXPECT_EQ(moved.out,
            "imported the key of cluster MOVER into the token: " + uri +
                "\ncluster MOVER now signs and decrypts in the token; its sealed key is deleted "
                "from the database (older backups of the database still hold it)\n");
  EXPECT_EQ(KeyColumns(srv, "MOVER"), std::make_pair(std::string(), uri));
  CommandResult again = move(uri, pin_file_);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.err,
            "error: the key of cluster MOVER is in a PKCS#11 token already (" + uri + ")\n");
  CommandResult verify =
      Run(Join({"cluster", "verify", "--dir", srv, "--password-file", pw_}, Token()));
  EXPECT_EQ(verify.exit_code, 0) << verify.err;

  // The content protected under the software key opens with the key in the token.
  auto node = Serve(srv, port, Token());
  CommandResult open =
      As("bob", srv, {"open", pfile, Dir("move-opened.txt"), "--server", Url(port, "MOVER")});
  ASSERT_EQ(open.exit_code, 0) << open.err;
  EXPECT_EQ(ReadAll(Dir("move-opened.txt")), "protected before the move\n");
  crypto::Pkcs11KeyStore keys({kModule, kPin});
  EXPECT_EQ(keys.Export(uri).status().code(), Code::kPermissionDenied);
}

TEST_F(HsmTest, EnrollmentServiceKeysLiveInTheTokenToo) {
  const std::string enr = Dir("token-enrollment");
  const std::string uri = "pkcs11:token=OpenRMS;object=enrollment";
  CommandResult init = Run(
      Join({"enrollment", "init", "--dir", enr, "--password-file", pw_, "--key", uri}, Token()));
  ASSERT_EQ(init.exit_code, 0) << init.out << init.err;
  EXPECT_NE(init.out.find("keys in the token (non-extractable): "
                          "pkcs11:token=OpenRMS;object=enrollment-ca "
                          "pkcs11:token=OpenRMS;object=enrollment-enrollment-ca "
                          "pkcs11:token=OpenRMS;object=enrollment-service\n"),
            std::string::npos)
      << init.out;
  // The key files name the keys; none holds key material.
  EXPECT_EQ(ReadAll(enr + "/keys/enrollment-service.key"),
            "pkcs11:token=OpenRMS;object=enrollment-service\n");
  EXPECT_EQ(ReadAll(enr + "/keys/ca.key"), "pkcs11:token=OpenRMS;object=enrollment-ca\n");

  CommandResult bare = Run({"enrollment", "token", "--dir", enr, "--password-file", pw_});
  EXPECT_EQ(bare.exit_code, 1);
  EXPECT_EQ(bare.err,
            "error: the enrollment service's key lives in a PKCS#11 token "
            "(pkcs11:token=OpenRMS;object=enrollment-service): give its module and PIN "
            "(--pkcs11-module PATH, and --pin-file FILE or $OPENRMS_PKCS11_PIN)\n");

  // It issues an SLC, signed in the token, to a cluster that enrolls online.
  BackgroundProcess service(Join({kBin, "enrollment", "serve", "--dir", enr, "--listen",
                                  "127.0.0.1:0", "--password-file", pw_},
                                 Token()),
                            {conf_});
  const std::string url = service.WaitForLine("enrollment-site: ");
  ASSERT_FALSE(url.empty()) << service.output();
  const std::string token = LastWord(
      Run(Join({"enrollment", "token", "--dir", enr, "--password-file", pw_}, Token())).out);
  const std::string srv = Dir("token-enrollment-server");
  CommandResult p =
      Run({"cluster", "provision", "--dir", srv, "--name", "ISSUED", "--url",
           Url(FreeLoopbackPort(), "ISSUED"), "--trust", enr + "/trust-anchor.xml", "--tls-ca",
           enr + "/tls-ca.pem", "--enroll", url, "--token", token, "--password-file", pw_});
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_NE(p.out.find("provisioned cluster ISSUED\n"), std::string::npos) << p.out;

  crypto::Pkcs11KeyStore keys({kModule, kPin});
  EXPECT_EQ(keys.Export("pkcs11:token=OpenRMS;object=enrollment-service").status().code(),
            Code::kPermissionDenied);
}

}  // namespace
}  // namespace openrms::testing
