// OLE compound files (MS-CFB): a file system in a file, of storages
// (folders) and streams. Office keeps its protected documents in one
// (MS-OFFCRYPTO 1.3.2, 2.1).
//
// Read and written through libgsf, the compound-file library Debian keeps
// (gnumeric's, and Microsoft's RMS SDK uses it for the same job). This
// layer adds what a reader of untrusted files needs around it: a size
// limit, a bound on entries and depth, every stream read whole and checked
// against its stated size, and libgsf's warnings turned into the error.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace openrms::formats {

inline constexpr std::string_view kCompoundFileMagic = "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
// Protected documents up to 1 GiB (what `openrms protect` reads), with
// room for the compound file's own sectors.
inline constexpr size_t kMaxCompoundFileBytes = (size_t{1} << 30) + (size_t{16} << 20);
inline constexpr size_t kMaxCompoundFileEntries = 1024;
inline constexpr size_t kMaxCompoundFileDepth = 16;

// A stream, by the names of the storages above it and its own ("\x06"
// and "\x09" prefixes included, as MS-OFFCRYPTO spells them).
struct CompoundStream {
  std::vector<std::string> path;
  std::string data;
};

// Storages are implied by the paths of their streams; `storages` lists
// them all (empty ones too), parents before children, when read.
struct CompoundFile {
  std::vector<std::vector<std::string>> storages;
  std::vector<CompoundStream> streams;

  // The stream at `path`, or nullptr.
  const CompoundStream* Find(const std::vector<std::string>& path) const;
  bool HasStorage(const std::vector<std::string>& path) const;
};

bool LooksLikeCompoundFile(std::string_view bytes);

// kMalformed with what is wrong ("the compound file is damaged: ...") for
// anything libgsf or the checks here refuse; kTooLarge past the limits.
Result<CompoundFile> ReadCompoundFile(std::string_view bytes);

// Version 3 (512-byte sectors). Names must be 1 to 31 characters; every
// storage a path names is made.
Result<std::string> WriteCompoundFile(const CompoundFile& file);

// "\x06DataSpaces/Version" for messages: control characters as \xNN.
std::string PathText(const std::vector<std::string>& path);

}  // namespace openrms::formats
