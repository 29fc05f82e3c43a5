// Files OpenRMS writes are private whatever the umask, the commands that
// serve warn about ones that are not, and no command waits on a FIFO or
// reads a device, socket or directory as if it were a file (issue 21,
// breaks 3 and 4). Runs the real program.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "support/process.h"

namespace openrms::testing {
namespace {

const std::string kBin = OPENRMS_BINARY;
constexpr char kPassword[] = "file modes test password";

// The permission bits of `path` (not following a symbolic link).
unsigned ModeOf(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 07777;
  return st.st_mode & 07777;
}

// Every file and directory under `root`, and root itself, with its mode.
std::map<std::string, unsigned> Tree(const std::string& root) {
  std::map<std::string, unsigned> modes = {{root, ModeOf(root)}};
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    modes[e.path().string()] = ModeOf(e.path().string());
  }
  return modes;
}

// Checks that every directory in `tree` is 0700 and every file 0600.
void ExpectPrivate(const std::map<std::string, unsigned>& tree) {
  for (const auto& [path, mode] : tree) {
    const bool dir = std::filesystem::is_directory(std::filesystem::symlink_status(path));
    EXPECT_EQ(mode, dir ? 0700u : 0600u) << path << " has mode 0" << std::oct << mode;
  }
}

// The "warning: " lines of a server's stderr (which also holds its access
// log).
std::string Warnings(const std::string& err) {
  std::string out;
  size_t start = 0;
  while (start < err.size()) {
    size_t nl = err.find('\n', start);
    if (nl == std::string::npos) nl = err.size() - 1;
    const std::string line = err.substr(start, nl + 1 - start);
    if (line.rfind("warning: ", 0) == 0) out += line;
    start = nl + 1;
  }
  return out;
}

// Runs the program like RunCommand, but kills it after `limit`: a command
// that waits on a FIFO then fails the test instead of hanging it.
struct Bounded {
  CommandResult result;
  bool timed_out = false;
};
Bounded RunWithin(std::vector<std::string> argv, std::chrono::seconds limit) {
  Bounded b;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return b;
  const pid_t pid = fork();
  if (pid == 0) {
    const int null_fd = ::open("/dev/null", O_RDONLY);
    dup2(null_fd, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || poll(fds, 2, static_cast<int>(left.count())) <= 0) {
      b.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      (i == 0 ? b.result.out : b.result.err).append(buf, static_cast<size_t>(n));
    }
  }
  close(out[0]);
  close(err[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
    b.result.exit_code = WEXITSTATUS(status);
  }
  return b;
}

// An enrollment service and a provisioned cluster, made under umask 000.
class FileModesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    old_umask_ = ::umask(0);
    pw_ = tmp_.path() + "/password";
    std::ofstream(pw_) << kPassword << "\n";
    enr_ = tmp_.path() + "/enrollment";
    srv_ = tmp_.path() + "/server";
    CommandResult init = Cmd({"enrollment", "init", "--dir", enr_});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    StartEnrollment();
    const std::string token = LastWord(Cmd({"enrollment", "token", "--dir", enr_}).out);
    port_ = FreeLoopbackPort();
    CommandResult p = Cmd({"cluster", "provision", "--dir", srv_, "--name", "ROOT", "--url",
                           "https://127.0.0.1:" + std::to_string(port_) + "/root/_wmcs", "--trust",
                           enr_ + "/trust-anchor.xml", "--tls-ca", enr_ + "/tls-ca.pem", "--enroll",
                           enroll_url_, "--token", token});
    ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  }
  void TearDown() override {
    node_.reset();
    enrollment_.reset();
    ::umask(old_umask_);
  }

  std::vector<std::string> WithPassword(std::vector<std::string> argv) {
    argv.push_back("--password-file");
    argv.push_back(pw_);
    return argv;
  }
  CommandResult Cmd(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), kBin);
    return RunCommand(WithPassword(args), env);
  }

  // The servers' stderr goes to a file, so the tests can read its warnings.
  std::unique_ptr<BackgroundProcess> Background(std::vector<std::string> args,
                                                const std::string& err_file) {
    std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$@\" 2>\"$OPENRMS_TEST_ERR\"", "sh",
                                     kBin};
    for (auto& a : WithPassword(args)) argv.push_back(a);
    return std::make_unique<BackgroundProcess>(
        argv, std::vector<std::string>{"OPENRMS_TEST_ERR=" + err_file});
  }
  void StartEnrollment() {
    enrollment_ = Background({"enrollment", "serve", "--dir", enr_, "--listen", "127.0.0.1:0"},
                             tmp_.path() + "/enrollment.err");
    enroll_url_ = enrollment_->WaitForLine("enrollment-site: ");
    ASSERT_FALSE(enroll_url_.empty()) << enrollment_->output();
  }
  void StartNode() {
    node_ = Background({"serve", "--dir", srv_, "--listen", "127.0.0.1:" + std::to_string(port_),
                        "--monitor-interval", "0"},
                       tmp_.path() + "/serve.err");
    ASSERT_FALSE(node_->WaitForLine("server: ").empty()) << node_->output();
  }

  TempDir tmp_;
  mode_t old_umask_ = 0;
  std::string pw_, enr_, srv_, enroll_url_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> enrollment_, node_;
};

TEST_F(FileModesTest, EveryFileAndDirectoryIsPrivateUnderUmask000) {
  StartNode();
  // While both serve, their databases have their WAL and shared memory.
  const auto enrollment_tree = Tree(enr_);
  const auto server_tree = Tree(srv_);
  for (const char* f :
       {"/enrollment.db", "/enrollment.db-wal", "/enrollment.db-shm", "/keys/ca.key",
        "/keys/tls-server.key", "/trust-anchor.xml", "/certificates"}) {
    EXPECT_EQ(enrollment_tree.count(enr_ + f), 1u) << f;
  }
  for (const char* f : {"/openrms.db", "/openrms.db-wal", "/openrms.db-shm", "/keys/tls-ca.key",
                        "/keys/tls-server.key", "/tls-server.pem"}) {
    EXPECT_EQ(server_tree.count(srv_ + f), 1u) << f;
  }
  ExpectPrivate(enrollment_tree);
  ExpectPrivate(server_tree);

  // Files written where the user says are private too.
  const std::string request = tmp_.path() + "/request.xml";
  CommandResult e = Cmd({"slc", "export-request", "--dir", srv_, "--out", request});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(ModeOf(request), 0600u);
  const std::string chain = tmp_.path() + "/chain.xml";
  CommandResult issued = Cmd({"enrollment", "issue", request, "--dir", enr_, "--out", chain});
  ASSERT_EQ(issued.exit_code, 0) << issued.err;
  EXPECT_EQ(ModeOf(chain), 0600u);
  const std::string tpd = tmp_.path() + "/domains.tpd";
  CommandResult t =
      RunCommand({kBin, "tpd", "export", "--dir", srv_, "--out", tpd, "--key-password-file", pw_},
                 {"OPENRMS_TPD_PASSWORD=file modes tpd password"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(ModeOf(tpd), 0600u);
  // Nothing new is open to others after the commands ran either.
  ExpectPrivate(Tree(enr_));
  ExpectPrivate(Tree(srv_));
  // Nothing to warn about in private files.
  EXPECT_EQ(Warnings(ReadAll(tmp_.path() + "/serve.err")), "");
  EXPECT_EQ(Warnings(ReadAll(tmp_.path() + "/enrollment.err")), "");
}

TEST_F(FileModesTest, ServingCommandsWarnAboutFilesOthersCanRead) {
  enrollment_.reset();
  ASSERT_EQ(::chmod(enr_.c_str(), 0755), 0);
  ASSERT_EQ(::chmod((enr_ + "/enrollment.db").c_str(), 0644), 0);
  ASSERT_EQ(::chmod((enr_ + "/keys/enrollment-service.key").c_str(), 0640), 0);
  StartEnrollment();
  EXPECT_EQ(Warnings(ReadAll(tmp_.path() + "/enrollment.err")),
            "warning: " + enr_ + " can be read by group or others (mode 0755): run chmod 700 " +
                enr_ + "\n" + "warning: " + enr_ +
                "/keys/enrollment-service.key can be read by group or others (mode 0640): run "
                "chmod 600 " +
                enr_ + "/keys/enrollment-service.key\n" + "warning: " + enr_ +
                "/enrollment.db can be read by group or others (mode 0644): run chmod 600 " + enr_ +
                "/enrollment.db\n");

  ASSERT_EQ(::chmod((srv_ + "/keys").c_str(), 0750), 0);
  ASSERT_EQ(::chmod((srv_ + "/openrms.db").c_str(), 0606), 0);
  const std::string keys_line = "warning: " + srv_ +
                                "/keys can be read by group or others (mode 0750): run chmod 700 " +
                                srv_ + "/keys\n";
  const std::string db_line = "warning: " + srv_ +
                              "/openrms.db can be read by group or others (mode 0606): run chmod "
                              "600 " +
                              srv_ + "/openrms.db\n";
  StartNode();
  EXPECT_EQ(Warnings(ReadAll(tmp_.path() + "/serve.err")), keys_line + db_line);
  // A running node has the WAL and shared memory open, which SQLite made
  // with the database's mode: stopped, it leaves neither.
  node_.reset();
  CommandResult v = Cmd({"cluster", "verify", "--dir", srv_});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_EQ(v.err, keys_line + db_line);

  // Write access alone is named as such.
  ASSERT_EQ(::chmod((srv_ + "/keys").c_str(), 0700), 0);
  ASSERT_EQ(::chmod((srv_ + "/openrms.db").c_str(), 0620), 0);
  v = Cmd({"cluster", "verify", "--dir", srv_});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_EQ(v.err, "warning: " + srv_ +
                       "/openrms.db can be changed by group or others (mode 0620): run chmod 600 " +
                       srv_ + "/openrms.db\n");
}

// A FIFO, a directory, a device and a socket, each refused at once by name.
class NonRegularFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fifo_ = tmp_.path() + "/fifo";
    ASSERT_EQ(::mkfifo(fifo_.c_str(), 0600), 0);
    socket_path_ = tmp_.path() + "/socket";
    socket_fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path_.c_str());
    ASSERT_EQ(::bind(socket_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  void TearDown() override { ::close(socket_fd_); }

  std::vector<std::pair<std::string, std::string>> Cases() const {
    return {{fifo_, "a FIFO"},
            {tmp_.path(), "a directory"},
            {"/dev/null", "a character device"},
            {socket_path_, "a socket"}};
  }

  TempDir tmp_;
  std::string fifo_, socket_path_;
  int socket_fd_ = -1;
};

TEST_F(NonRegularFilesTest, XrmlVerifyRefusesAtOnce) {
  for (const auto& [path, kind] : Cases()) {
    Bounded b = RunWithin({kBin, "xrml", "verify", path}, std::chrono::seconds(10));
    ASSERT_FALSE(b.timed_out) << "xrml verify " << path << " still waits after 10 s";
    EXPECT_EQ(b.result.exit_code, 2) << path;
    EXPECT_EQ(b.result.err, "error: " + path + " is not a regular file (it is " + kind + ")\n");
    EXPECT_EQ(b.result.out, "");
  }
}

TEST_F(NonRegularFilesTest, TpdImportRefusesAtOnce) {
  for (const auto& [path, kind] : Cases()) {
    Bounded b = RunWithin({kBin, "tpd", "import", path, "--dir", tmp_.path() + "/no-server"},
                          std::chrono::seconds(10));
    ASSERT_FALSE(b.timed_out) << "tpd import " << path << " still waits after 10 s";
    EXPECT_EQ(b.result.exit_code, 2) << path;
    EXPECT_EQ(b.result.err, "error: " + path + " is not a regular file (it is " + kind + ")\n");
  }
}

// A FIFO given where a password, a configuration or a request is read.
TEST_F(NonRegularFilesTest, OtherFileOptionsRefuseAFifo) {
  const std::string expected = fifo_ + " is not a regular file (it is a FIFO)\n";
  for (auto [args, prefix] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"enrollment", "init", "--dir", tmp_.path() + "/e", "--password-file", fifo_},
            "error: password file: "},
           {{"serve", "--config", fifo_}, "error: "},
           {{"xrml", "show", fifo_}, "error: "},
       }) {
    args.insert(args.begin(), kBin);
    Bounded b = RunWithin(args, std::chrono::seconds(10));
    ASSERT_FALSE(b.timed_out) << args[1] << " " << args[2] << " still waits after 10 s";
    EXPECT_EQ(b.result.err, prefix + expected) << args[1] << " " << args[2];
  }
}

}  // namespace
}  // namespace openrms::testing
