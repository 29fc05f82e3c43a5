// libFuzzer target: PROXY protocol headers, read as the server reads them
// (ProxyHeaderMissing bytes at a time, never more), then parsed.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "http/proxy_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  size_t have = 0;
  while (true) {
    auto missing = openrms::http::ProxyHeaderMissing(bytes.substr(0, have));
    if (!missing.ok()) return 0;
    if (*missing == 0) break;
    if (have + *missing > size) return 0;
    have += *missing;
    FUZZ_CHECK(have <= openrms::http::kMaxProxyHeaderV2Bytes);
  }
  (void)openrms::http::ParseProxyHeader(bytes.substr(0, have));
  return 0;
}
