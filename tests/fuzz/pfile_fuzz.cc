// libFuzzer target: the PFILE reader (protected files come from anyone who
// shares one). A file that reads must write back to bytes that read to the
// same parts, and writing those again must give the same bytes; its
// license splits into documents (SplitLicenseDocuments) soundly.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/pfile.h"
#include "fuzz_check.h"
#include "licensing/license_documents.h"

namespace {

bool Same(const openrms::formats::Pfile& a, const openrms::formats::Pfile& b) {
  return a.major_version == b.major_version && a.minor_version == b.minor_version &&
         a.notice == b.notice && a.extension == b.extension &&
         a.publishing_license == b.publishing_license && a.metadata == b.metadata &&
         a.original_size == b.original_size && a.content == b.content;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using openrms::formats::ReadPfile;
  using openrms::formats::WritePfile;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto file = ReadPfile(bytes);
  if (!file.ok()) return 0;
  FUZZ_CHECK(!file->publishing_license.empty());
  FUZZ_CHECK(file->extension.size() <= 256);
  const std::string written = WritePfile(*file);
  auto again = ReadPfile(written);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(Same(*file, *again));
  FUZZ_CHECK(WritePfile(*again) == written);
  // Its license splits into at most kMaxLicenseDocuments parts, in order,
  // each inside the license and each but a sole part ending with </XrML>.
  auto parts = openrms::licensing::SplitLicenseDocuments(file->publishing_license);
  if (parts.ok()) {
    FUZZ_CHECK(!parts->empty() && parts->size() <= openrms::licensing::kMaxLicenseDocuments);
    const char* previous = file->publishing_license.data();
    for (std::string_view part : *parts) {
      FUZZ_CHECK(part.data() >= previous);
      FUZZ_CHECK(part.data() + part.size() <=
                 file->publishing_license.data() + file->publishing_license.size());
      FUZZ_CHECK(parts->size() == 1 || part.ends_with("</XrML>"));
      previous = part.data() + part.size();
    }
  }
  return 0;
}
