// libFuzzer target: enrollment and SubEnroll requests and responses.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/enrollment_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto request = openrms::protocol::ParseEnrollRequest(bytes);
  if (request.ok()) (void)openrms::protocol::VerifyRequestSignature(*request);
  (void)openrms::protocol::ParseEnrollResponse(bytes);
  return 0;
}
