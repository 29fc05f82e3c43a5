// libFuzzer target: base64 (keys, signatures, sealed keys and publishing
// licenses all arrive as base64). Decoding accepts only canonical base64, so
// what decodes must encode back to the same text (white space aside), and
// whatever is encoded must decode back.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/encoding.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using openrms::crypto::Base64Decode;
  using openrms::crypto::Base64Encode;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  if (auto decoded = Base64Decode(bytes)) {
    std::string text;
    for (char c : bytes) {
      if (!std::isspace(static_cast<unsigned char>(c))) text += c;
    }
    FUZZ_CHECK(Base64Encode(*decoded) == text);
  }
  const std::string encoded = Base64Encode(bytes);
  FUZZ_CHECK(encoded.size() == (bytes.size() + 2) / 3 * 4);
  auto back = Base64Decode(encoded);
  FUZZ_CHECK(back && *back == bytes);
  return 0;
}
