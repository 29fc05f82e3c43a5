// The subcommands of `openrms`. Each Register* adds its commands to the app;
// the callbacks set the process exit code through Exit.
#pragma once

#include <CLI/CLI.hpp>

#include "base/status.h"

namespace openrms::cli {

// Prints "error: message" to stderr and returns the exit code for it
// (2 for input that cannot be read, 1 otherwise).
int ReportError(const Status& status);

// Who a command acts as in the audit trail: "cli:" and the login name.
std::string Actor();

void RegisterXrmlCommands(CLI::App& app, int& exit_code);
void RegisterEnrollmentCommands(CLI::App& app, int& exit_code);
void RegisterDemoCommand(CLI::App& app, int& exit_code);
void RegisterClusterCommands(CLI::App& app, int& exit_code);
void RegisterSlcCommands(CLI::App& app, int& exit_code);
void RegisterServeCommand(CLI::App& app, int& exit_code);
void RegisterUserCommands(CLI::App& app, int& exit_code);
void RegisterDirectoryCommands(CLI::App& app, int& exit_code);
void RegisterLicensingCommands(CLI::App& app, int& exit_code);
void RegisterTpdCommands(CLI::App& app, int& exit_code);
void RegisterBackupCommands(CLI::App& app, int& exit_code);
void RegisterAuditCommands(CLI::App& app, int& exit_code);

}  // namespace openrms::cli
