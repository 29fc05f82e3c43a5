// PFILE, the protected-file format RMS clients read (as the public source of
// Microsoft's RMS SDK for portable devices reads and writes it). All
// integers little-endian; offsets from the start of the file:
//
//   ".pfile" | major u32 | minor u32 | notice length u32 | notice
//   header: size u32 (40) | extension offset, length | PL offset, length |
//           content offset | original size u64 (all ones: unknown) |
//           metadata offset, length
//   extension | publishing license | metadata | content (MICROSOFT.CBC4K)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace openrms::formats {

inline constexpr uint32_t kPfileMajorVersion = 3;
inline constexpr uint32_t kPfileMinorVersion = 0;
inline constexpr uint64_t kUnknownOriginalSize = ~uint64_t{0};
inline constexpr size_t kMaxPfileHeaderPart = 16 << 20;  // notice, PL or metadata

struct Pfile {
  uint32_t major_version = kPfileMajorVersion;
  uint32_t minor_version = kPfileMinorVersion;
  std::string notice;              // plain text for people without a client
  std::string extension;           // ".txt"
  std::string publishing_license;  // exactly as the server returned it
  std::string metadata;
  uint64_t original_size = kUnknownOriginalSize;
  std::string content;  // the encrypted content
};

std::string WritePfile(const Pfile& file);
// Refuses files that are not PFILEs, versions outside 2-3, offsets out of
// the file, and parts over kMaxPfileHeaderPart (kMalformed / kTooLarge /
// kUnsupported, with the reason).
Result<Pfile> ReadPfile(std::string_view bytes);

}  // namespace openrms::formats
