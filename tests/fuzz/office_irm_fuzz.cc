// libFuzzer target: the compound-file reader (MS-CFB, through libgsf) and
// the Office IRM data spaces read from it (protected Office documents come
// from anyone who shares one). Whatever reads must write back to bytes that
// read to the same parts, and a compound file that reads must write again
// and read to the same storages and streams.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/compound_file.h"
#include "formats/container.h"
#include "formats/office_irm.h"
#include "fuzz_check.h"

// libgsf 1.14.50 (Debian 12) leaks a few directory entries inside
// gsf_infile_msole_new when it meets some damaged directories; every object
// it hands back is released here. The fast unwinder often stops at GLib's
// allocator, so GLib's frames are suppressed too: only libgsf calls GLib in
// this program. LeakSanitizer keeps reporting leaks of this code.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libgsf-1.so\nleak:libglib-2.0.so\n";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace openrms::formats;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto cfb = ReadCompoundFile(bytes);
  if (cfb.ok()) {
    FUZZ_CHECK(cfb->streams.size() + cfb->storages.size() <= kMaxCompoundFileEntries);
    size_t total = 0;
    for (const auto& s : cfb->streams) total += s.data.size();
    FUZZ_CHECK(total <= kMaxCompoundFileBytes);
    auto written = WriteCompoundFile(*cfb);
    // Names libgsf reads may be ones the writer refuses (over 31 bytes,
    // a '/'); anything it writes reads back the same.
    if (written.ok()) {
      auto again = ReadCompoundFile(*written);
      FUZZ_CHECK(again.ok());
      FUZZ_CHECK(again->streams.size() == cfb->streams.size());
      for (const auto& s : cfb->streams) {
        const CompoundStream* back = again->Find(s.path);
        FUZZ_CHECK(back != nullptr && back->data == s.data);
      }
    }
  }
  auto irm = ReadOfficeIrm(bytes);
  if (!irm.ok()) return 0;
  FUZZ_CHECK(!irm->publishing_license.empty());
  FUZZ_CHECK(irm->publishing_license.size() <= kMaxOfficeLicenseBytes);
  FUZZ_CHECK(irm->content.size() % 16 == 0);
  FUZZ_CHECK(irm->content.size() >= irm->original_size);
  FUZZ_CHECK(irm->content.size() - irm->original_size < 16);
  auto written = WriteOfficeIrm(*irm);
  FUZZ_CHECK(written.ok());
  auto again = ReadOfficeIrm(*written);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->publishing_license == irm->publishing_license);
  FUZZ_CHECK(again->original_size == irm->original_size);
  FUZZ_CHECK(again->content == irm->content);
  auto file = ReadProtected(bytes);
  FUZZ_CHECK(file.ok() && file->container == Container::kOffice);
  return 0;
}
