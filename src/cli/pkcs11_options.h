// Where a node finds keys kept in a PKCS#11 token: --pkcs11-module, and the
// user PIN from --pin-file or $OPENRMS_PKCS11_PIN (never from the command
// line, where `ps` shows it).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "base/status.h"
#include "crypto/pkcs11.h"

namespace openrms::cli {

struct Pkcs11Flags {
  std::string module;
  std::string pin_file;
};

void AddPkcs11Options(CLI::App* cmd, Pkcs11Flags& flags);

// None without --pkcs11-module; kInvalidArgument when the PIN is missing.
Result<std::optional<crypto::Pkcs11Config>> ReadPkcs11Config(const Pkcs11Flags& flags);

}  // namespace openrms::cli
