// The file system, injected, so tests can inject faults (a write that dies
// half way) and so business code never reaches for <fstream> directly.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "base/status.h"

namespace openrms {

// Thread-safe.
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Reads a whole file; kTooLarge when it is longer than `max_bytes`.
  virtual Result<std::string> ReadFile(const std::string& path, size_t max_bytes) = 0;
  // Writes through a temporary file and rename(2), so a crash leaves either
  // the old or the new content. `mode` is the permission of a new file.
  virtual Status WriteFileAtomic(const std::string& path, std::string_view data,
                                 unsigned mode = 0644) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual Status CreateDirectories(const std::string& path, unsigned mode = 0755) = 0;
};

// The real file system (POSIX).
FileSystem& RealFileSystem();

}  // namespace openrms
