// Little-endian integers in byte strings, for the containers' headers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace openrms::formats {

template <typename T>
void PutLittle(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

// The caller checks that `at + sizeof(T)` bytes are there.
template <typename T>
T GetLittle(std::string_view bytes, size_t at) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    v |= static_cast<T>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  }
  return v;
}

}  // namespace openrms::formats
