// openrms demo: everything on loopback in one command.
#include <iostream>

#include "base/file_system.h"
#include "cli/commands.h"
#include "cli/enrollment_host.h"
#include "crypto/encoding.h"
#include "enrollment/authority.h"

namespace openrms::cli {

namespace {

// The demo keeps its key password in a file beside the keys so that a second
// run can reuse them without asking. A real deployment must not: use
// --password-file on another medium, or the prompt.
Result<std::string> DemoPassword(FileSystem& fs, const std::string& dir) {
  const std::string path = dir + "/demo-key-password";
  if (fs.Exists(path)) return fs.ReadFile(path, 4096);
  const std::string pw = NewToken(crypto::SystemRandom(), 24);
  RETURN_IF_ERROR(fs.CreateDirectories(dir, 0700));
  RETURN_IF_ERROR(fs.WriteFileAtomic(path, pw, 0600));
  return pw;
}

}  // namespace

void RegisterDemoCommand(CLI::App& app, int& exit_code) {
  static std::string dir = "openrms-demo";
  static int port = 8443;
  auto* demo = app.add_subcommand("demo", "Start a complete OpenRMS deployment on loopback");
  demo->add_option("--dir", dir, "Where the demo keeps its state")->capture_default_str();
  demo->add_option("--port", port, "First of the loopback ports it uses")->capture_default_str();
  demo->callback([&exit_code] {
    FileSystem& fs = RealFileSystem();
    auto pw = DemoPassword(fs, dir);
    if (!pw.ok()) return void(exit_code = ReportError(pw.status()));
    const std::string enrollment_dir = dir + "/enrollment";
    if (!fs.Exists(enrollment::AuthorityPaths(enrollment_dir).config)) {
      enrollment::InitOptions options;
      options.name = "OpenRMS Demo Enrollment Service";
      Status s = enrollment::InitializeAuthority(fs, enrollment_dir, *pw, options, DefaultClock(),
                                                 crypto::SystemRandom());
      if (!s.ok()) return void(exit_code = ReportError(s));
    }
    BlockTerminationSignals();
    auto host = EnrollmentHost::Start(enrollment_dir, *pw, "127.0.0.1:" + std::to_string(port + 1));
    if (!host.ok()) return void(exit_code = ReportError(host.status()));
    auto ctx = EnrollmentContext::Open(enrollment_dir, *pw);
    auto token = ctx.ok() ? ctx.value()->service().NewToken({"cli", "demo"})
                          : Result<std::string>(ctx.status());
    if (!token.ok()) return void(exit_code = ReportError(token.status()));
    std::cout << "enrollment-site: " << (*host)->url() << "/\n"
              << "enrollment-token: " << *token << "\n"
              << "trust-anchor: " << enrollment::AuthorityPaths(enrollment_dir).trust_anchor << "\n"
              << "tls-ca: " << enrollment::AuthorityPaths(enrollment_dir).tls_ca << "\n"
              << "serving until interrupted (Ctrl-C)\n"
              << std::flush;
    WaitForTerminationSignal();
    (*host)->Stop();
  });
}

}  // namespace openrms::cli
