// The XrML documents a license travels as.
#pragma once

#include <string_view>
#include <vector>

#include "base/status.h"

namespace openrms::licensing {

inline constexpr size_t kMaxLicenseDocuments = 16;

// The XrML documents of a publishing license as it travels (UTF-8 text):
// the license alone, or followed by the certificates it needs -- Microsoft's
// clients append the CLC and its chain to one they signed offline. Each
// part ends with its </XrML>, white space before it left out. Text without
// any </XrML> is one part, for the XML parser to name what is wrong.
// kTooLarge past kMaxLicenseDocuments, kMalformed for bytes after the last.
Result<std::vector<std::string_view>> SplitLicenseDocuments(std::string_view xml);

}  // namespace openrms::licensing
