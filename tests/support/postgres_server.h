// A PostgreSQL server of a test's own: initdb into a fresh temporary
// directory, postgres listening only on a unix socket in it (no TCP), a
// superuser "openrms" with trust authentication, C collation (SQLite's
// byte order). Stopped (pg_ctl stop -m immediate) and removed by the
// destructor.
//
// It runs the server binaries of Debian's postgresql-NN package from
// /usr/lib/postgresql/NN/bin (the newest one), not from PATH. initdb and
// postgres refuse to run as root: when the test runs as root they run as
// the `postgres` user that package creates (setpriv), in a directory
// handed to that user.
//
// Not thread-safe; one object per server.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace openrms::testing {

class PostgresServer final {
 public:
  static Result<std::unique_ptr<PostgresServer>> Start();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Creates an empty database `name` (letters, digits, _) owned by
  // "openrms"; returns its libpq connection string.
  Result<std::string> CreateDatabase(const std::string& name);
  // "host=DIR port=PORT user=openrms dbname=NAME".
  std::string conninfo(const std::string& database) const;
  // The same as a URL: "postgresql://openrms@/NAME?host=DIR&port=PORT".
  std::string url(const std::string& database) const;

  // Stops the server (pg_ctl stop -m fast) and starts it again: every open
  // connection is cut; committed data stays.
  Status Restart();

  // What a crash of the server does (pg_ctl stop -m immediate): every
  // connection is cut at once, and new ones are refused until StartAgain.
  // It would lose asynchronous commits: call CommitSynchronously first.
  Status StopNow();
  Status StartAgain();
  // Makes every session, open ones too, wait for its commits' WAL to be
  // written (synchronous_commit = on, by a configuration reload), so that
  // StopNow loses nothing committed.
  Status CommitSynchronously();

  const std::string& directory() const { return dir_; }

 private:
  PostgresServer() = default;
  // Runs a server binary (as `postgres` when we are root); output goes to
  // DIR/commands.log, which the error message quotes on failure.
  Status Run(const std::string& binary, std::vector<std::string> args, bool as_server_user);
  Status StartServer();

  std::string bin_;  // /usr/lib/postgresql/NN/bin
  std::string dir_;  // socket, log; data/ below it
  int port_ = 5432;
  bool started_ = false;
};

}  // namespace openrms::testing
