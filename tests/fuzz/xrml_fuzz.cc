// libFuzzer target: XrML documents and chain files (untrusted bytes from
// uploads, imports and the network).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "xrml/chain.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto doc = openrms::xrml::ParseDocument(bytes);
  if (doc.ok()) {
    const bool verified = openrms::xrml::VerifySignature(*doc).ok();
    // Writing a parsed document keeps each BODY's surface coding, so what
    // verified still verifies once written and read back.
    auto again = openrms::xrml::ParseDocument(openrms::xrml::WriteDocument(*doc));
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(openrms::xrml::SerializeSurface(again->root) ==
               openrms::xrml::SerializeSurface(doc->root));
    if (verified) FUZZ_CHECK(openrms::xrml::VerifySignature(*again).ok());
  }
  auto chain = openrms::xrml::ParseChain(bytes);
  if (chain.ok()) (void)openrms::xrml::VerifyChain(*chain, {});
  return 0;
}
