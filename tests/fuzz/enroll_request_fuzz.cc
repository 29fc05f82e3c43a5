// libFuzzer target: enrollment and SubEnroll requests and responses.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "enrollment/request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto request = openrms::enrollment::ParseEnrollRequest(bytes);
  if (request.ok()) (void)openrms::enrollment::VerifyRequestSignature(*request);
  (void)openrms::enrollment::ParseEnrollResponse(bytes);
  return 0;
}
