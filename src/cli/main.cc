// openrms: one program, many subcommands.
#include <cstdlib>
#include <iostream>

#include "base/test_hooks.h"
#include "cli/commands.h"

namespace openrms::cli {

int ReportError(const Status& status) {
  std::cerr << "error: " << status.message() << "\n";
  switch (status.code()) {
    case Code::kMalformed:
    case Code::kTooLarge:
    case Code::kNotFound:
    case Code::kIo:
    case Code::kInvalidArgument:
      return 2;
    default:
      return 1;
  }
}

std::string Actor() {
  const char* user = std::getenv("USER");
  return std::string("cli:") + (user != nullptr ? user : "unknown");
}

}  // namespace openrms::cli

int main(int argc, char** argv) {
  openrms::WarnAboutIgnoredTestHooks();
  CLI::App app{"OpenRMS: an open rights-management server", "openrms"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "openrms 0.1.0");
  int exit_code = 0;
  openrms::cli::RegisterXrmlCommands(app, exit_code);
  openrms::cli::RegisterEnrollmentCommands(app, exit_code);
  openrms::cli::RegisterClusterCommands(app, exit_code);
  openrms::cli::RegisterSlcCommands(app, exit_code);
  openrms::cli::RegisterServeCommand(app, exit_code);
  openrms::cli::RegisterUserCommands(app, exit_code);
  openrms::cli::RegisterDirectoryCommands(app, exit_code);
  openrms::cli::RegisterLicensingCommands(app, exit_code);
  openrms::cli::RegisterTpdCommands(app, exit_code);
  openrms::cli::RegisterBackupCommands(app, exit_code);
  openrms::cli::RegisterAuditCommands(app, exit_code);
  openrms::cli::RegisterDemoCommand(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    // Nothing below throws by design (errors are Status values, and server
    // answers are read with checked readers): this is a bug; say so rather
    // than abort.
    std::cerr << "error: internal error: " << e.what() << "\n";
    return 1;
  }
  return exit_code;
}
