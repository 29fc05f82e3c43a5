// Parsers for HTML form submissions. Pure functions of bytes with size
// limits, each with a fuzz target.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/text.h"

namespace openrms::http {

// application/x-www-form-urlencoded. kMalformed on bad percent-escapes,
// kTooLarge for more than 1000 fields. Of repeated names the first wins.
Result<std::map<std::string, std::string>> ParseUrlEncoded(std::string_view body);

struct FormPart {
  std::string name;          // from Content-Disposition
  std::string filename;      // empty for plain fields
  std::string content_type;  // empty when absent
  std::string data;
};

// multipart/form-data. `content_type` is the request's Content-Type header
// (the boundary is read from it). At most `max_parts` parts (kTooLarge for
// more). kMalformed with a message naming what is wrong.
Result<std::vector<FormPart>> ParseMultipart(std::string_view content_type, std::string_view body,
                                             size_t max_parts = 32);

std::string PercentDecode(std::string_view s, bool plus_is_space);
using openrms::PercentEncode;  // base/text.h

}  // namespace openrms::http
