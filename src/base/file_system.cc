#include "base/file_system.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace openrms {
namespace {

constexpr mode_t kFileMode = 0600;
constexpr mode_t kDirectoryMode = 0700;

Status ErrnoStatus(const std::string& what, const std::string& path) {
  return Status(Code::kIo, what + " " + path + ": " + std::strerror(errno));
}

// Closes the descriptor when it goes out of scope.
class Fd final {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now, for callers that must see close(2)'s result.
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status RegularFile(const std::string& path, const struct stat& st) {
  if (S_ISREG(st.st_mode)) return Status::Ok();
  const char* kind = S_ISFIFO(st.st_mode)   ? "a FIFO"
                     : S_ISDIR(st.st_mode)  ? "a directory"
                     : S_ISCHR(st.st_mode)  ? "a character device"
                     : S_ISBLK(st.st_mode)  ? "a block device"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                                            : "neither a file nor a directory";
  return Status(Code::kInvalidArgument,
                path + " is not a regular file (it is " + std::string(kind) + ")");
}

Status OpenError(const std::string& path) {
  if (errno == ENOENT) return Status(Code::kNotFound, "no such file: " + path);
  return ErrnoStatus("cannot open", path);
}

// Writes all of `data`; false with errno set when write(2) fails.
bool WriteAll(int fd, std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::string> ReadFile(const std::string& path, size_t max_bytes) override {
    // Looked at before opening: opening a device can itself act (a tape
    // rewinds, a serial line comes up).
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return OpenError(path);
    RETURN_IF_ERROR(RegularFile(path, st));
    // O_NONBLOCK: a FIFO put in its place since the stat still does not
    // block open(2), and fstat then refuses it.
    Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (fd.get() < 0) return OpenError(path);
    if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("cannot read", path);
    RETURN_IF_ERROR(RegularFile(path, st));
    const int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
      return ErrnoStatus("cannot read", path);
    }
    const Status too_large(Code::kTooLarge, path + " is larger than the limit of " +
                                                std::to_string(max_bytes) + " bytes");
    if (static_cast<unsigned long long>(st.st_size) > max_bytes) return too_large;
    std::string data;
    data.reserve(static_cast<size_t>(st.st_size));
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("cannot read", path);
      }
      if (n == 0) break;
      // The file may grow while it is read.
      if (data.size() + static_cast<size_t>(n) > max_bytes) return too_large;
      data.append(buf, static_cast<size_t>(n));
    }
    return data;
  }

  Status WriteFileAtomic(const std::string& path, std::string_view data) override {
    // The process and a counter name the temporary file, so two writers in
    // one process never share one; O_EXCL, so it is always a new file
    // made with our mode, never one someone left there.
    static std::atomic<unsigned> counter{0};
    const std::string tmp =
        path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    int raw = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kFileMode);
    if (raw < 0 && errno == EEXIST) {
      // Left by a process that crashed with our pid: it is ours to remove.
      ::unlink(tmp.c_str());
      raw = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kFileMode);
    }
    if (raw < 0) return ErrnoStatus("cannot create", tmp);
    Fd fd(raw);
    // The umask may have taken bits away from kFileMode; fchmod sets it
    // exactly.
    if (::fchmod(fd.get(), kFileMode) != 0 || !WriteAll(fd.get(), data)) {
      Status s = ErrnoStatus("cannot write", tmp);
      ::unlink(tmp.c_str());
      return s;
    }
    if (::fsync(fd.get()) != 0 || fd.Close() != 0) {
      Status s = ErrnoStatus("cannot flush", tmp);
      ::unlink(tmp.c_str());
      return s;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      Status s = ErrnoStatus("cannot rename onto", path);
      ::unlink(tmp.c_str());
      return s;
    }
    return Status::Ok();
  }

  Status CreateFileIfMissing(const std::string& path) override {
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kFileMode));
    if (fd.get() < 0) {
      if (errno == EEXIST) return Status::Ok();
      return ErrnoStatus("cannot create", path);
    }
    if (::fchmod(fd.get(), kFileMode) != 0) return ErrnoStatus("cannot set the mode of", path);
    return Status::Ok();
  }

  bool Exists(const std::string& path) override {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
  }

  Status CreateDirectories(const std::string& path) override {
    if (path.empty()) return Status(Code::kInvalidArgument, "no directory named");
    // Each prefix that ends before a '/' (and the whole path), parents first.
    for (size_t end = path.find('/', 1);; end = path.find('/', end + 1)) {
      const std::string dir = path.substr(0, end);
      if (!dir.empty() && dir.back() != '/') RETURN_IF_ERROR(CreateDirectory(dir, path));
      if (end == std::string::npos) break;
    }
    return Status::Ok();
  }

  std::optional<FileMode> Mode(const std::string& path) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return FileMode{static_cast<unsigned>(st.st_mode & 07777), S_ISDIR(st.st_mode)};
  }

 private:
  static Status CreateDirectory(const std::string& dir, const std::string& path) {
    if (::mkdir(dir.c_str(), kDirectoryMode) == 0) {
      // mkdir(2) applies the umask; chmod sets the mode exactly. Between the
      // two the mode is only ever narrower than kDirectoryMode.
      if (::chmod(dir.c_str(), kDirectoryMode) != 0) {
        return ErrnoStatus("cannot set the mode of directory", dir);
      }
      return Status::Ok();
    }
    if (errno != EEXIST) return ErrnoStatus("cannot create directory", dir);
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::Ok();
    return Status(Code::kIo,
                  "cannot create directory " + path + ": " + dir + " exists and is not one");
  }
};

std::string Octal(unsigned mode) {
  char text[8];
  std::snprintf(text, sizeof text, "0%03o", mode & 07777);
  return text;
}

}  // namespace

FileSystem& RealFileSystem() {
  static PosixFileSystem fs;
  return fs;
}

std::vector<std::string> OpenToOthers(FileSystem& fs, const std::vector<std::string>& paths) {
  std::vector<std::string> lines;
  for (const std::string& path : paths) {
    const std::optional<FileMode> m = fs.Mode(path);
    if (!m || (m->permissions & 077) == 0) continue;
    const char* what = (m->permissions & 044) != 0   ? "can be read by"
                       : (m->permissions & 022) != 0 ? "can be changed by"
                                                     : "is open to";
    lines.push_back(path + " " + what + " group or others (mode " + Octal(m->permissions) +
                    "): run chmod " + (m->directory ? "700 " : "600 ") + path);
  }
  return lines;
}

}  // namespace openrms
