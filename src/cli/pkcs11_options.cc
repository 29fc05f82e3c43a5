#include "cli/pkcs11_options.h"

#include <cstdlib>

#include "base/file_system.h"

namespace openrms::cli {

namespace {
constexpr char kPinEnv[] = "OPENRMS_PKCS11_PIN";
}  // namespace

void AddPkcs11Options(CLI::App* cmd, Pkcs11Flags& f) {
  cmd->add_option("--pkcs11-module", f.module,
                  "The PKCS#11 module for keys in a token (e.g. /usr/lib/softhsm/libsofthsm2.so)");
  cmd->add_option("--pin-file", f.pin_file,
                  "File holding the token's user PIN (else $OPENRMS_PKCS11_PIN)");
}

Result<std::optional<crypto::Pkcs11Config>> ReadPkcs11Config(const Pkcs11Flags& f) {
  if (f.module.empty()) {
    if (!f.pin_file.empty()) {
      return Status(Code::kInvalidArgument, "--pin-file goes with --pkcs11-module");
    }
    return std::optional<crypto::Pkcs11Config>();
  }
  crypto::Pkcs11Config config{f.module, ""};
  if (!f.pin_file.empty()) {
    auto pin = RealFileSystem().ReadFile(f.pin_file, 4096);
    if (!pin.ok()) return pin.status().WithContext("--pin-file");
    config.pin = std::move(*pin);
    while (!config.pin.empty() && (config.pin.back() == '\n' || config.pin.back() == '\r')) {
      config.pin.pop_back();
    }
    if (config.pin.empty()) {
      return Status(Code::kInvalidArgument, "the PIN file " + f.pin_file + " is empty");
    }
  } else if (const char* env = std::getenv(kPinEnv); env != nullptr && *env != '\0') {
    config.pin = env;
  } else {
    return Status(Code::kInvalidArgument,
                  "--pkcs11-module needs the token's PIN: give --pin-file FILE or set "
                  "$OPENRMS_PKCS11_PIN (a PIN is never taken on the command line)");
  }
  return std::optional<crypto::Pkcs11Config>(std::move(config));
}

}  // namespace openrms::cli
