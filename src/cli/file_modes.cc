#include "cli/file_modes.h"

#include <iostream>
#include <vector>

#include "base/file_system.h"
#include "enrollment/authority.h"
#include "node/server_context.h"

namespace openrms::cli {

namespace {

void Warn(std::vector<std::string> paths, const std::string& database) {
  // SQLite keeps recent writes in -wal and pages in -shm until a checkpoint:
  // they hold what the database holds.
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) paths.push_back(database + suffix);
  for (const std::string& line : OpenToOthers(RealFileSystem(), paths)) {
    std::cerr << "warning: " << line << "\n";
  }
}

}  // namespace

void WarnAboutOpenServerFiles(const std::string& dir) {
  const node::ServerPaths p(dir);
  Warn({p.dir, p.dir + "/keys", p.tls_ca_key, p.tls_server_key, p.store_url}, p.database);
}

void WarnAboutOpenAuthorityFiles(const std::string& dir) {
  const enrollment::AuthorityPaths p(dir);
  Warn({p.dir, p.dir + "/keys", p.ca_key, p.enrollment_ca_key, p.service_key, p.tls_ca_key,
        p.tls_server_key},
       p.database);
}

}  // namespace openrms::cli
