// libFuzzer target: XrML documents and chain files (untrusted bytes from
// uploads, imports and the network).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "xrml/chain.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto doc = openrms::xrml::ParseDocument(bytes);
  if (doc.ok()) (void)openrms::xrml::VerifySignature(*doc);
  auto chain = openrms::xrml::ParseChain(bytes);
  if (chain.ok()) (void)openrms::xrml::VerifyChain(*chain, {});
  return 0;
}
