// libFuzzer target: HTML form bodies (urlencoded and multipart). The first
// line of the input is taken as the Content-Type header.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/forms.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)openrms::http::ParseUrlEncoded(bytes);
  const size_t nl = bytes.find('\n');
  if (nl != std::string_view::npos) {
    (void)openrms::http::ParseMultipart(bytes.substr(0, nl), bytes.substr(nl + 1));
  }
  return 0;
}
