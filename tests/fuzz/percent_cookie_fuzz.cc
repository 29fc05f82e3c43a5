// libFuzzer target: percent-decoding (request paths, query strings, form
// fields) and the Cookie header. The first line of the input is the cookie
// name looked up; every further line is one Cookie header.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/forms.h"
#include "http/server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using openrms::http::PercentDecode;
  using openrms::http::PercentEncode;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  const std::string encoded = PercentEncode(bytes);
  for (unsigned char c : encoded) {
    FUZZ_CHECK(std::isalnum(c) || c == '%' || c == '-' || c == '.' || c == '_' || c == '~');
  }
  for (const bool plus_is_space : {false, true}) {
    FUZZ_CHECK(PercentDecode(bytes, plus_is_space).size() <= bytes.size());
    FUZZ_CHECK(PercentDecode(encoded, plus_is_space) == bytes);
  }

  openrms::http::Request request;
  size_t nl = bytes.find('\n');
  const std::string_view name = bytes.substr(0, nl);
  size_t header_bytes = 0;
  while (nl != std::string_view::npos) {
    const size_t start = nl + 1;
    nl = bytes.find('\n', start);
    const std::string_view line =
        bytes.substr(start, nl == std::string_view::npos ? nl : nl - start);
    // Header names arrive lower-cased; Cookie() must not depend on that.
    request.headers.emplace_back(request.headers.size() % 2 ? "Cookie" : "cookie",
                                 std::string(line));
    header_bytes += line.size();
  }
  if (auto value = request.Cookie(name)) {
    FUZZ_CHECK(value->size() <= header_bytes);
    FUZZ_CHECK(value->find(';') == std::string::npos);
  }
  return 0;
}
