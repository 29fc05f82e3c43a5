#include "base/random.h"

#include <cctype>
#include <vector>

#include "base/text.h"

namespace openrms {

void DeterministicRandom::Fill(std::span<uint8_t> out) {
  for (auto& b : out) {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    b = static_cast<uint8_t>(z ^ (z >> 31));
  }
}

std::string NewGuid(Random& random) {
  uint8_t b[16];
  random.Fill(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const std::string hex = HexEncode(std::string_view(reinterpret_cast<const char*>(b), 16));
  return "{" + hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20) + "}";
}

bool IsGuid(std::string_view t) {
  if (t.size() != 38 || t.front() != '{' || t.back() != '}') return false;
  for (size_t i = 1; i < 37; ++i) {
    const bool dash = (i == 9 || i == 14 || i == 19 || i == 24);
    if (dash ? t[i] != '-' : !std::isxdigit(static_cast<unsigned char>(t[i]))) return false;
  }
  return true;
}

std::string NewToken(Random& random, size_t bytes) {
  std::vector<uint8_t> b(bytes);
  random.Fill(b);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

}  // namespace openrms
