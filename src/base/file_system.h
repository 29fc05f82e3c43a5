// The file system, injected, so tests can inject faults (a write that dies
// half way) and so business code never reaches for <fstream> directly.
//
// What it makes is private to the user who runs OpenRMS whatever the umask:
// files 0600, directories 0700. What it reads is a regular file or nothing:
// a FIFO, device, socket or directory is refused at once, so no command
// waits on a FIFO or reads a device without end.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace openrms {

struct FileMode {
  unsigned permissions = 0;  // the permission bits, e.g. 0600
  bool directory = false;
};

// Thread-safe.
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Reads a whole regular file (a symbolic link is followed).
  // kInvalidArgument "PATH is not a regular file (it is a FIFO)" for a FIFO,
  // device, socket or directory, without waiting or reading from it;
  // kNotFound when there is none; kTooLarge when longer than `max_bytes`.
  virtual Result<std::string> ReadFile(const std::string& path, size_t max_bytes) = 0;
  // Writes a file of mode 0600 through a new temporary file beside it and
  // rename(2), so a crash leaves either the old or the new content.
  virtual Status WriteFileAtomic(const std::string& path, std::string_view data) = 0;
  // Creates an empty file of mode 0600 unless `path` exists (left as it
  // is): for a file a library then opens and fills, such as a database.
  virtual Status CreateFileIfMissing(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // Makes `path` and its missing parents, each of mode 0700; directories
  // that exist are left as they are.
  virtual Status CreateDirectories(const std::string& path) = 0;
  // The mode of what `path` names (a symbolic link is followed);
  // std::nullopt when it cannot be found.
  virtual std::optional<FileMode> Mode(const std::string& path) = 0;
};

// The real file system (POSIX).
FileSystem& RealFileSystem();

// One line for each of `paths` that group or others may use, saying so and
// how to stop it, e.g. "/srv/openrms.db can be read by group or others
// (mode 0644): run chmod 600 /srv/openrms.db". Paths that do not exist are
// skipped.
std::vector<std::string> OpenToOthers(FileSystem& fs, const std::vector<std::string>& paths);

}  // namespace openrms
