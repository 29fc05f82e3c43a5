#include "cli/password.h"

#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "base/file_system.h"
#include "crypto/password_hash.h"

namespace openrms::cli {

namespace {

std::string Prompt(const std::string& text) {
  std::cerr << text << std::flush;
  termios old{};
  const bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) tcsetattr(STDIN_FILENO, TCSANOW, &old);
  std::cerr << "\n";
  return line;
}

}  // namespace

Result<std::string> ReadKeyPassword(const std::string& password_file, const char* env_name,
                                    bool confirm) {
  if (!password_file.empty()) {
    auto pw = crypto::ReadSecretFile(RealFileSystem(), password_file, "password file");
    if (!pw.ok() && pw.status().code() == Code::kFailedPrecondition) {
      return Status(Code::kInvalidArgument, pw.status().message());  // empty: a usage error
    }
    if (!pw.ok()) return pw.status().WithContext("password file");
    return pw;
  }
  if (const char* env = std::getenv(env_name); env != nullptr && *env != '\0')
    return std::string(env);
  if (!isatty(STDIN_FILENO)) {
    return Status(Code::kInvalidArgument, std::string("no key password: give --password-file, "
                                                      "set ") +
                                              env_name + ", or run in a terminal to be asked");
  }
  std::string pw =
      Prompt(std::string(env_name) == "OPENRMS_KEY_PASSWORD" ? "Key password: " : "Password: ");
  if (pw.empty()) return Status(Code::kInvalidArgument, "the key password is empty");
  if (confirm) {
    std::string again = Prompt("Again: ");
    const bool same = again == pw;
    crypto::Wipe(again);
    if (!same) {
      crypto::Wipe(pw);
      return Status(Code::kInvalidArgument, "the two passwords differ");
    }
  }
  return pw;
}

bool AskYesNo(const std::string& question) {
  if (!isatty(STDIN_FILENO)) return false;
  std::cerr << question << " [y/N] " << std::flush;
  std::string line;
  std::getline(std::cin, line);
  return line == "y" || line == "Y" || line == "yes";
}

}  // namespace openrms::cli
