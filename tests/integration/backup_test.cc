// Backup and restore with real programs: an enrollment service and a node
// on loopback; `openrms backup` while the node serves, the directory
// destroyed, `openrms restore`, and the content opened again through
// /my/v2 (the restore drill of issue 23).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/process.h"

namespace openrms::testing {
namespace {

const std::string kBin = OPENRMS_BINARY;
constexpr char kPassword[] = "backup test key password";
constexpr char kBackupPassword[] = "a long backup password";

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pw_ = File("password");
    std::ofstream(pw_) << kPassword << "\n";
    enr_ = File("enrollment");
    ASSERT_EQ(Cmd({"enrollment", "init", "--dir", enr_, "--password-file", pw_}).exit_code, 0);
    enrollment_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{kBin, "enrollment", "serve", "--dir", enr_, "--listen",
                                 "127.0.0.1:0", "--password-file", pw_});
    enroll_url_ = enrollment_->WaitForLine("enrollment-site: ");
    ASSERT_FALSE(enroll_url_.empty()) << enrollment_->output();
    dir_ = File("srv");
    port_ = FreeLoopbackPort();
    url_ = "https://127.0.0.1:" + std::to_string(port_) + "/srv/_wmcs";
    CommandResult p = KeyCmd({"cluster", "provision", "--dir", dir_, "--name", "ROOT", "--url",
                              url_, "--trust", enr_ + "/trust-anchor.xml", "--tls-ca",
                              enr_ + "/tls-ca.pem", "--enroll", enroll_url_, "--token", Token()});
    ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
    for (const char* user : {"alice", "bob"}) {
      ASSERT_EQ(RunCommand({kBin, "user", "add", user, "--dir", dir_},
                           {"OPENRMS_USER_PASSWORD=" + std::string(user) + "-password"})
                    .exit_code,
                0);
    }
  }

  std::string File(const std::string& name) { return tmp_.path() + "/" + name; }

  CommandResult Cmd(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), kBin);
    return RunCommand(args, env);
  }
  CommandResult KeyCmd(std::vector<std::string> args) {
    args.push_back("--password-file");
    args.push_back(pw_);
    return Cmd(std::move(args));
  }
  std::string Token() {
    return LastWord(Cmd({"enrollment", "token", "--dir", enr_, "--password-file", pw_}).out);
  }

  CommandResult Backup(const std::string& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"backup", "--dir", dir_, "--out", out};
    args.insert(args.end(), extra.begin(), extra.end());
    return Cmd(args, {std::string("OPENRMS_BACKUP_PASSWORD=") + kBackupPassword});
  }
  CommandResult Restore(const std::string& file, const std::string& dir,
                        const std::string& password = kBackupPassword,
                        std::vector<std::string> env = {}) {
    env.push_back("OPENRMS_BACKUP_PASSWORD=" + password);
    return Cmd({"restore", file, "--dir", dir}, env);
  }

  void Start() {
    node_ = std::make_unique<BackgroundProcess>(std::vector<std::string>{
        kBin, "serve", "--dir", dir_, "--listen", "127.0.0.1:" + std::to_string(port_),
        "--password-file", pw_, "--monitor-interval", "0"});
    ASSERT_FALSE(node_->WaitForLine("server: ").empty()) << node_->output();
  }
  void Stop() {
    if (node_) node_->Stop();
    node_.reset();
  }

  CommandResult As(const std::string& user, std::vector<std::string> args) {
    args.insert(args.begin(), kBin);
    args.insert(args.end(), {"--user", user, "--server", url_, "--tls-ca"});
    args.push_back(dir_ + "/tls-ca.pem");
    return RunCommand(args, {"OPENRMS_PASSWORD=" + user + "-password"});
  }

  // alice protects a file for bob (VIEW).
  std::string Protect(const std::string& name) {
    const std::string plain = File(name + ".txt");
    std::ofstream(plain) << "the numbers of " << name << "\n";
    CommandResult p =
        As("alice", {"protect", plain, File(name + ".pfile"), "--rights", "bob:VIEW"});
    EXPECT_EQ(p.exit_code, 0) << p.err;
    return File(name + ".pfile");
  }

  // bob opens `pfile`; "" when it opened with the original text.
  std::string OpenAsBob(const std::string& pfile, const std::string& suffix = ".opened") {
    const std::string out = pfile + suffix;
    std::remove(out.c_str());
    CommandResult r = As("bob", {"open", pfile, out});
    if (r.exit_code != 0) return r.err.empty() ? "exit " + std::to_string(r.exit_code) : r.err;
    const std::string expected = ReadAll(pfile.substr(0, pfile.size() - 6) + ".txt");
    return ReadAll(out) == expected ? "" : "opened to other text";
  }

  // Waits out the nodes' 2 s refresh for a revocation to hold.
  std::string OpenAsBobAfterRevocation(const std::string& pfile) {
    const auto start = std::chrono::steady_clock::now();
    std::string r;
    do {
      r = OpenAsBob(pfile);
    } while (r.empty() && std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
    return r;
  }

  nlohmann::json Domains() {
    CommandResult r = Cmd({"tpd", "list", "--dir", dir_, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  static unsigned Mode(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return 0;
    return st.st_mode & 07777;
  }

  void ExpectPrivateFiles(const std::string& dir) {
    EXPECT_EQ(Mode(dir), 0700u);
    EXPECT_EQ(Mode(dir + "/keys"), 0700u);
    for (const char* f :
         {"openrms.db", "tls-ca.pem", "tls-server.pem", "keys/tls-ca.key", "keys/tls-server.key"}) {
      EXPECT_EQ(Mode(dir + "/" + f), 0600u) << f;
    }
  }

  TempDir tmp_;
  std::string pw_, enr_, enroll_url_, dir_, url_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> enrollment_;
  std::unique_ptr<BackgroundProcess> node_;
};

std::string Revoked(const std::string& refusal) {
  return refusal.starts_with("error: access denied: revoked by ") ? "revoked" : refusal;
}

TEST_F(BackupTest, TheRestoreDrill) {
  Start();
  const std::string one = Protect("one"), two = Protect("two"), three = Protect("three");
  CommandResult revoked = Cmd({"revoke", three, "--dir", dir_});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  EXPECT_EQ(Revoked(OpenAsBobAfterRevocation(three)), "revoked");

  // The backup runs while bob keeps opening (each open writes audit rows).
  std::atomic<bool> backing_up{true};
  std::atomic<int> opened{0};
  std::thread reader([&] {
    while (backing_up) {
      if (OpenAsBob(one, ".during").empty()) ++opened;
    }
  });
  const std::string backup = File("srv.backup");
  CommandResult b = Backup(backup);
  backing_up = false;
  reader.join();
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.out.find("wrote " + backup + ": the SQLite store of " + dir_), std::string::npos)
      << b.out;
  EXPECT_NE(b.out.find("clusters: ROOT) and 4 TLS file(s)"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("which it does not hold"), std::string::npos) << b.out;
  EXPECT_GT(opened, 0);
  EXPECT_EQ(Mode(backup), 0600u);
  const std::string sealed = ReadAll(backup);
  EXPECT_EQ(sealed.substr(0, 8), "ORMSBAK1");
  EXPECT_EQ(sealed.find("SQLite format 3"), std::string::npos);
  EXPECT_EQ(sealed.find(kPassword), std::string::npos);

  // After the backup: a fourth file, and a revocation the restore will lose.
  const std::string four = Protect("four");
  ASSERT_EQ(OpenAsBob(four), "");
  ASSERT_EQ(Cmd({"revoke", one, "--dir", dir_}).exit_code, 0);
  EXPECT_EQ(Revoked(OpenAsBobAfterRevocation(one)), "revoked");

  Stop();
  std::filesystem::remove_all(dir_);
  CommandResult r = Restore(backup, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("restored " + dir_ + " from " + backup), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(clusters: ROOT; 4 TLS file(s))"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("revocations, accounts and audit rows made after"), std::string::npos);
  ExpectPrivateFiles(dir_);
  for (const auto& e : std::filesystem::directory_iterator(tmp_.path())) {
    EXPECT_EQ(e.path().filename().string().find(".restore-"), std::string::npos)
        << "left behind: " << e.path();
  }

  EXPECT_EQ(KeyCmd({"cluster", "verify", "--dir", dir_}).exit_code, 0);
  Start();
  EXPECT_EQ(OpenAsBob(two), "");
  EXPECT_EQ(OpenAsBob(four), "") << "content protected after the backup";
  EXPECT_EQ(Revoked(OpenAsBob(three)), "revoked");
  // The revocation made after the backup is lost, as the README says.
  EXPECT_EQ(OpenAsBob(one), "");
  // The node serves with the restored TLS files: new content too.
  EXPECT_EQ(OpenAsBob(Protect("five")), "");
}

TEST_F(BackupTest, TheRestoreDrillAfterARekeyKeepsBothDomains) {
  Start();
  const std::string before = Protect("before");
  CommandResult rekeyed = KeyCmd({"slc", "rekey", "--online", "--dir", dir_, "--token", Token()});
  ASSERT_EQ(rekeyed.exit_code, 0) << rekeyed.err;
  // The node takes the new key within its 2 s refresh (README "Rekey").
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const std::string after = Protect("after");
  ASSERT_EQ(OpenAsBob(before), "");
  ASSERT_EQ(OpenAsBob(after), "");
  const nlohmann::json domains = Domains();
  ASSERT_EQ(domains.size(), 2u) << domains;

  const std::string backup = File("rekeyed.backup");
  CommandResult b = Backup(backup);
  ASSERT_EQ(b.exit_code, 0) << b.err;
  Stop();
  std::filesystem::remove_all(dir_);
  CommandResult r = Restore(backup, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  EXPECT_EQ(Domains(), domains);
  EXPECT_EQ(KeyCmd({"cluster", "verify", "--dir", dir_}).exit_code, 0);
  Start();
  EXPECT_EQ(OpenAsBob(before), "") << "content of the retired domain";
  EXPECT_EQ(OpenAsBob(after), "") << "content of the active domain";
}

TEST_F(BackupTest, APostgresStoreIsRefusedWithThePointer) {
  const std::string out = File("pg.backup");
  CommandResult flag = Backup(out, {"--store", "postgresql://openrms@127.0.0.1:1/openrms"});
  EXPECT_EQ(flag.exit_code, 1);
  EXPECT_EQ(flag.err,
            "error: the store of " + dir_ +
                " is PostgreSQL (postgresql://openrms@127.0.0.1:1/openrms): `openrms backup` "
                "copies SQLite stores only. Back up the database with pg_dump (pg_dump "
                "--format=custom; pg_restore brings it back), and keep the directory's other "
                "files (TLS certificates and keys, store-url) and the key password apart from "
                "it; see README.md, \"Backup and restore\"\n");
  // The directory's own store-url, as `cluster provision --store` writes it.
  const std::string pg_dir = File("pg-node");
  std::filesystem::create_directory(pg_dir);
  std::ofstream(pg_dir + "/store-url") << "postgres://openrms@db.example/openrms\n";
  CommandResult remembered = Cmd({"backup", "--dir", pg_dir, "--out", out},
                                 {std::string("OPENRMS_BACKUP_PASSWORD=") + kBackupPassword});
  EXPECT_EQ(remembered.exit_code, 1);
  EXPECT_NE(remembered.err.find("is PostgreSQL (postgres://openrms@db.example/openrms)"),
            std::string::npos)
      << remembered.err;
  EXPECT_NE(remembered.err.find("pg_dump"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(BackupTest, ADirectoryWithoutAStoreHasNothingToBackUp) {
  const std::string empty = File("empty");
  std::filesystem::create_directory(empty);
  CommandResult r = Cmd({"backup", "--dir", empty, "--out", File("x.backup")},
                        {std::string("OPENRMS_BACKUP_PASSWORD=") + kBackupPassword});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "error: " + empty + " holds no OpenRMS server (there is no " + empty +
                       "/openrms.db); give the directory `cluster provision` made\n");
  EXPECT_FALSE(std::filesystem::exists(empty + "/openrms.db"));
}

TEST_F(BackupTest, RestoreRefusesAStoreAWrongPasswordAndAChangedFile) {
  const std::string backup = File("srv.backup");
  ASSERT_EQ(Backup(backup).exit_code, 0);

  // Never over a store.
  CommandResult over = Restore(backup, dir_);
  EXPECT_EQ(over.exit_code, 1);
  EXPECT_EQ(over.err, "error: " + dir_ + " already holds an OpenRMS store (" + dir_ +
                          "/openrms.db): a restore never writes over one. Restore into a new "
                          "directory, or stop the directory's nodes, move it aside and restore "
                          "again\n");
  const std::string busy = File("busy");
  std::filesystem::create_directory(busy);
  std::ofstream(busy + "/notes.txt") << "mine\n";
  CommandResult nonempty = Restore(backup, busy);
  EXPECT_EQ(nonempty.exit_code, 1);
  EXPECT_EQ(nonempty.err,
            "error: " + busy + " is not empty: restore into a new or empty directory\n");

  const std::string target = File("restored");
  CommandResult wrong = Restore(backup, target, "not the backup password");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_EQ(wrong.err,
            "error: the password does not open this backup file (or the file's header was "
            "changed): nothing was restored\n");
  EXPECT_FALSE(std::filesystem::exists(target));

  const std::string file = ReadAll(backup);
  for (size_t at : {size_t{70}, file.size() / 2, file.size() - 1}) {
    std::string changed = file;
    changed[at] = static_cast<char>(changed[at] ^ 0x20);
    const std::string path = File("changed.backup");
    std::ofstream(path, std::ios::binary | std::ios::trunc) << changed;
    CommandResult r = Restore(path, target);
    EXPECT_EQ(r.exit_code, 1) << "byte " << at;
    EXPECT_EQ(r.err,
              "error: the backup file was changed after it was written (its AES-GCM tag does not "
              "hold): nothing was restored\n")
        << "byte " << at;
    EXPECT_FALSE(std::filesystem::exists(target));
  }
  const std::string cut = File("cut.backup");
  std::ofstream(cut, std::ios::binary) << file.substr(0, 64);
  CommandResult short_file = Restore(cut, target);
  EXPECT_EQ(short_file.exit_code, 2);
  EXPECT_NE(short_file.err.find("the backup file is damaged: it is cut short"), std::string::npos)
      << short_file.err;
  EXPECT_FALSE(std::filesystem::exists(target));

  // An empty directory is a fine target (a mount point, say).
  std::filesystem::create_directory(target);
  CommandResult into_empty = Restore(backup, target);
  EXPECT_EQ(into_empty.exit_code, 0) << into_empty.err;
  ExpectPrivateFiles(target);
}

TEST_F(BackupTest, ARestoreKilledAnywhereLeavesNoHalfDirectory) {
  const std::string backup = File("srv.backup");
  ASSERT_EQ(Backup(backup).exit_code, 0);
  const std::string target = File("restored");
  int crashes = 0;
  for (int point = 1; point < 20; ++point) {
    CommandResult r =
        Restore(backup, target, kBackupPassword, {"OPENRMS_CRASH_AT=" + std::to_string(point)});
    if (r.exit_code != 137) {
      ASSERT_EQ(r.exit_code, 0) << r.err;
      break;
    }
    ++crashes;
    EXPECT_FALSE(std::filesystem::exists(target)) << "crash point " << point;
  }
  EXPECT_GE(crashes, 2);
  ExpectPrivateFiles(target);
  EXPECT_EQ(KeyCmd({"cluster", "verify", "--dir", target}).exit_code, 0);
}

// A key in a token is not in the backup: both commands say so, and the
// restored cluster works with the same token.
TEST_F(BackupTest, AKeyInATokenIsNamedAndNotCopied) {
  constexpr char kModule[] = "/usr/lib/softhsm/libsofthsm2.so";
  ASSERT_TRUE(std::filesystem::exists(kModule))
      << kModule << " is missing: SoftHSM2 is installed by scripts/install-deps.sh";
  const std::string d = tmp_.path();
  std::filesystem::create_directory(d + "/tokens");
  std::ofstream(d + "/softhsm2.conf") << "directories.tokendir = " << d << "/tokens\n"
                                      << "objectstore.backend = file\nlog.level = ERROR\n";
  const std::string conf = "SOFTHSM2_CONF=" + d + "/softhsm2.conf";
  CommandResult init = RunCommand({"/usr/bin/softhsm2-util", "--init-token", "--free", "--label",
                                   "OpenRMS", "--pin", "backup-pin", "--so-pin", "backup-so-pin"},
                                  {conf});
  ASSERT_EQ(init.exit_code, 0) << init.out << init.err;
  const std::string pin = File("pin");
  std::ofstream(pin) << "backup-pin\n";
  const std::string uri = "pkcs11:token=OpenRMS;object=root-2027";
  CommandResult r =
      Cmd({"slc", "rekey", "--online", "--dir", dir_, "--token", Token(), "--key", uri,
           "--pkcs11-module", kModule, "--pin-file", pin, "--password-file", pw_},
          {conf});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const std::string backup = File("hsm.backup");
  CommandResult b = Backup(backup);
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const std::string warning = "warning: the key " + uri +
                              " of cluster ROOT lives in a PKCS#11 token: the backup holds only "
                              "its URI, and the cluster needs that token (or one brought back "
                              "with the token's own backup tools)\n";
  EXPECT_EQ(b.err, warning);
  std::filesystem::remove_all(dir_);
  CommandResult restored = Restore(backup, dir_);
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_NE(restored.err.find("warning: the key " + uri +
                              " of cluster ROOT lives in a PKCS#11 "
                              "token: the store holds only its URI"),
            std::string::npos)
      << restored.err;
  EXPECT_EQ(Cmd({"cluster", "verify", "--dir", dir_, "--pkcs11-module", kModule, "--pin-file", pin,
                 "--password-file", pw_},
                {conf})
                .exit_code,
            0);
}

}  // namespace
}  // namespace openrms::testing
