// libFuzzer target: UTF-16 text, as licenses and publishing licenses arrive
// (UTF-16LE with a byte-order mark). Conversions that succeed must round
// trip; a UTF-16 XML document that parses must convert back to the UTF-16LE
// bytes its signature covers.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/text.h"
#include "fuzz_check.h"
#include "xrml/element.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const bool le_bom = bytes.starts_with("\xFF\xFE");

  if (auto utf8 = openrms::Utf16LeToUtf8(bytes); utf8.ok()) {
    auto back = openrms::Utf8ToUtf16Le(*utf8);
    FUZZ_CHECK(back.ok());
    FUZZ_CHECK(*back == (le_bom ? bytes.substr(2) : bytes));
  }
  if (auto utf16 = openrms::Utf8ToUtf16Le(bytes); utf16.ok()) {
    FUZZ_CHECK(utf16->size() % 2 == 0);
    // Utf16LeToUtf8 drops a leading byte-order mark, which a leading UTF-8
    // one becomes.
    const bool utf8_bom = bytes.starts_with("\xEF\xBB\xBF");
    auto back = openrms::Utf16LeToUtf8(*utf16);
    FUZZ_CHECK(back.ok());
    FUZZ_CHECK(*back == (utf8_bom ? bytes.substr(3) : bytes));
  }
  if (le_bom || bytes.starts_with("\xFE\xFF")) {
    if (auto element = openrms::xrml::ParseXml(bytes); element.ok()) {
      FUZZ_CHECK(openrms::Utf8ToUtf16Le(openrms::xrml::SerializeSurface(*element)).ok());
    }
  }
  return 0;
}
