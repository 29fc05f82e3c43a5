// libFuzzer target: a node's configuration file (TOML).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "node/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)openrms::node::ParseNodeConfig(std::string_view(reinterpret_cast<const char*>(data), size),
                                       "fuzz.toml");
  return 0;
}
