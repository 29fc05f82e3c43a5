#include "licensing/license_documents.h"

#include "base/text.h"

namespace openrms::licensing {

Result<std::vector<std::string_view>> SplitLicenseDocuments(std::string_view xml) {
  constexpr std::string_view kEnd = "</XrML>";
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t end = xml.find(kEnd, start);
    if (end == std::string_view::npos) break;
    if (out.size() == kMaxLicenseDocuments) {
      return Status(Code::kTooLarge, "the license carries more than " +
                                         std::to_string(kMaxLicenseDocuments) + " XrML documents");
    }
    out.push_back(Trim(xml.substr(start, end + kEnd.size() - start)));
    start = end + kEnd.size();
  }
  if (out.empty()) return std::vector<std::string_view>{xml};  // the parser names the problem
  if (!Trim(xml.substr(start)).empty()) {
    return Status(Code::kMalformed, "the license has bytes after its last </XrML>");
  }
  return out;
}

}  // namespace openrms::licensing
