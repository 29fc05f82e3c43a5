// Where the key password comes from: --password-file, then the environment
// variable, then a prompt on the terminal (without echo).
#pragma once

#include <string>

#include "base/status.h"

namespace openrms::cli {

// `confirm`: ask twice when prompting (for a new password).
Result<std::string> ReadKeyPassword(const std::string& password_file, const char* env_name,
                                    bool confirm);

// Asks a yes/no question on the terminal; false when there is none.
bool AskYesNo(const std::string& question);

}  // namespace openrms::cli
