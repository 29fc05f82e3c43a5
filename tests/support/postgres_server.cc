#include "support/postgres_server.h"

#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace openrms::testing {
namespace fs = std::filesystem;

namespace {

// The newest /usr/lib/postgresql/NN/bin that has initdb, pg_ctl and postgres.
Result<std::string> FindServerBinaries() {
  std::vector<std::pair<int, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const fs::path bin = entry.path() / "bin";
    if (!fs::exists(bin / "initdb") || !fs::exists(bin / "pg_ctl") ||
        !fs::exists(bin / "postgres")) {
      continue;
    }
    found.emplace_back(std::atoi(entry.path().filename().c_str()), bin.string());
  }
  if (found.empty()) {
    return Status(Code::kNotFound,
                  "no PostgreSQL server in /usr/lib/postgresql/*/bin: run scripts/install-deps.sh "
                  "(package postgresql)");
  }
  return std::max_element(found.begin(), found.end())->second;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

Result<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  ASSIGN_OR_RETURN(server->bin_, FindServerBinaries());
  std::string pattern = (fs::temp_directory_path() / "openrms-pg-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return Status(Code::kIo, "cannot create a temporary directory for PostgreSQL");
  }
  server->dir_ = pattern;
  // PostgreSQL derives its shared memory keys from the port; a port per
  // test process keeps parallel tests from probing each other's.
  server->port_ = 20000 + static_cast<int>(getpid() % 20000);
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) {
      return Status(Code::kNotFound,
                    "running as root, and there is no `postgres` user to run the server as "
                    "(the postgresql package creates it)");
    }
    if (chown(server->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return Status(Code::kIo, "cannot hand " + server->dir_ + " to the postgres user");
    }
  }
  chmod(server->dir_.c_str(), 0755);  // the test (root or not) reaches the socket
  RETURN_IF_ERROR(server->Run("initdb",
                              {"-D", server->dir_ + "/data", "-U", "openrms", "--auth=trust", "-E",
                               "UTF8", "--locale=C", "--no-sync", "--no-instructions"},
                              true));
  {
    std::ofstream conf(server->dir_ + "/data/postgresql.conf", std::ios::app);
    conf << "listen_addresses = ''\n"
         << "unix_socket_directories = '" << server->dir_ << "'\n"
         << "port = " << server->port_ << "\n"
         << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
         << "max_connections = 100\nshared_buffers = 16MB\n";
    if (!conf) return Status(Code::kIo, "cannot write postgresql.conf in " + server->dir_);
  }
  RETURN_IF_ERROR(server->StartServer());
  return server;
}

PostgresServer::~PostgresServer() {
  if (started_) {
    (void)Run("pg_ctl", {"stop", "-D", dir_ + "/data", "-m", "immediate", "-w", "-s"}, true);
  }
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

Status PostgresServer::StartServer() {
  Status s = Run(
      "pg_ctl", {"start", "-D", dir_ + "/data", "-l", dir_ + "/server.log", "-w", "-t", "60", "-s"},
      true);
  if (!s.ok())
    return Status(s.code(), s.message() + "\nserver.log:\n" + ReadFile(dir_ + "/server.log"));
  started_ = true;
  return Status::Ok();
}

Status PostgresServer::StopNow() {
  RETURN_IF_ERROR(
      Run("pg_ctl", {"stop", "-D", dir_ + "/data", "-m", "immediate", "-w", "-s"}, true));
  started_ = false;
  return Status::Ok();
}

Status PostgresServer::StartAgain() { return StartServer(); }

Status PostgresServer::CommitSynchronously() {
  {
    // The last setting in the file wins.
    std::ofstream conf(dir_ + "/data/postgresql.conf", std::ios::app);
    conf << "synchronous_commit = on\n";
    if (!conf) return Status(Code::kIo, "cannot write postgresql.conf in " + dir_);
  }
  return Run("pg_ctl", {"reload", "-D", dir_ + "/data", "-s"}, true);
}

Status PostgresServer::Restart() {
  // fast, not immediate: the server runs with synchronous_commit off, and
  // an immediate stop could lose the last commits.
  RETURN_IF_ERROR(Run("pg_ctl", {"stop", "-D", dir_ + "/data", "-m", "fast", "-w", "-s"}, true));
  started_ = false;
  return StartServer();
}

Result<std::string> PostgresServer::CreateDatabase(const std::string& name) {
  RETURN_IF_ERROR(
      Run("createdb", {"-h", dir_, "-p", std::to_string(port_), "-U", "openrms", name}, false));
  return conninfo(name);
}

std::string PostgresServer::conninfo(const std::string& database) const {
  return "host=" + dir_ + " port=" + std::to_string(port_) + " user=openrms dbname=" + database;
}

std::string PostgresServer::url(const std::string& database) const {
  return "postgresql://openrms@/" + database + "?host=" + dir_ + "&port=" + std::to_string(port_);
}

Status PostgresServer::Run(const std::string& binary, std::vector<std::string> args,
                           bool as_server_user) {
  std::vector<std::string> argv;
  if (as_server_user && geteuid() == 0) {
    argv = {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"};
  }
  argv.push_back(bin_ + "/" + binary);
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargs;
  for (auto& a : argv) cargs.push_back(a.data());
  cargs.push_back(nullptr);

  const std::string log = dir_ + "/commands.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // The server user may not enter the test's working directory.
  posix_spawn_file_actions_addchdir_np(&actions, dir_.c_str());
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, cargs.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Status(Code::kIo, "cannot run " + argv[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  return Status(Code::kIo, binary + " failed: " + ReadFile(log));
}

}  // namespace openrms::testing
