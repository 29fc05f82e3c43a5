#include "base/file_system.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

namespace openrms {
namespace {

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 07777;
  return st.st_mode & 07777;
}

class FileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "openrms-fs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::umask(old_umask_);
    std::filesystem::remove_all(dir_);
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
  const mode_t old_umask_ = ::umask(022);
  FileSystem& fs_ = RealFileSystem();
};

TEST_F(FileSystemTest, ReadFileRefusesAFifoAtOnce) {
  const std::string fifo = Path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto read = std::async(std::launch::async, [&] { return fs_.ReadFile(fifo, 1024); });
  if (read.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    // A writer lets a blocked open(2) and read(2) return, so the test fails
    // rather than hangs.
    const int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    ::close(w);
    FAIL() << "ReadFile still waits on a FIFO after 5 s";
  }
  Result<std::string> r = read.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), fifo + " is not a regular file (it is a FIFO)");
}

TEST_F(FileSystemTest, ReadFileRefusesDirectoriesDevicesAndSockets) {
  const std::string socket_path = Path("socket");
  const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  for (const auto& [path, kind] : {std::pair<std::string, std::string>{dir_, "a directory"},
                                   {"/dev/null", "a character device"},
                                   {"/dev/zero", "a character device"},
                                   {socket_path, "a socket"}}) {
    Result<std::string> r = fs_.ReadFile(path, 1024);
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << path;
    EXPECT_EQ(r.status().message(), path + " is not a regular file (it is " + kind + ")");
  }
  ::close(s);
}

TEST_F(FileSystemTest, ReadFileReadsRegularFilesWithinTheLimit) {
  const std::string file = Path("file");
  ASSERT_TRUE(fs_.WriteFileAtomic(file, "0123456789").ok());
  Result<std::string> r = fs_.ReadFile(file, 10);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "0123456789");
  r = fs_.ReadFile(file, 9);
  EXPECT_EQ(r.status().code(), Code::kTooLarge);
  EXPECT_EQ(r.status().message(), file + " is larger than the limit of 9 bytes");
  r = fs_.ReadFile(Path("missing"), 10);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), "no such file: " + Path("missing"));
  // A symbolic link to a regular file is read as the file.
  ASSERT_EQ(::symlink(file.c_str(), Path("link").c_str()), 0);
  r = fs_.ReadFile(Path("link"), 10);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "0123456789");
}

TEST_F(FileSystemTest, WritesPrivateFilesWhateverTheUmask) {
  ::umask(0);
  const std::string file = Path("secret");
  ASSERT_TRUE(fs_.WriteFileAtomic(file, "one").ok());
  EXPECT_EQ(ModeOf(file), 0600u);
  // Replacing a file that others could read leaves a private one.
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  ASSERT_TRUE(fs_.WriteFileAtomic(file, "two").ok());
  EXPECT_EQ(ModeOf(file), 0600u);
  EXPECT_EQ(*fs_.ReadFile(file, 16), "two");
  // No temporary file is left beside it.
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) entries += e.exists() ? 1 : 0;
  EXPECT_EQ(entries, 1u);
}

TEST_F(FileSystemTest, CreatesPrivateDirectoriesWhateverTheUmask) {
  ::umask(0);
  ASSERT_TRUE(fs_.CreateDirectories(Path("a/b/c")).ok());
  EXPECT_EQ(ModeOf(Path("a")), 0700u);
  EXPECT_EQ(ModeOf(Path("a/b")), 0700u);
  EXPECT_EQ(ModeOf(Path("a/b/c")), 0700u);
  ASSERT_TRUE(fs_.CreateDirectories(Path("a/b/c")).ok());  // existing: fine
  // A file in the way is named.
  ASSERT_TRUE(fs_.WriteFileAtomic(Path("f"), "x").ok());
  Status s = fs_.CreateDirectories(Path("f/g"));
  EXPECT_EQ(s.code(), Code::kIo);
}

TEST_F(FileSystemTest, CreatesAMissingFilePrivateAndLeavesAnExistingOneAlone) {
  ::umask(0);
  const std::string db = Path("db");
  ASSERT_TRUE(fs_.CreateFileIfMissing(db).ok());
  EXPECT_EQ(ModeOf(db), 0600u);
  EXPECT_EQ(*fs_.ReadFile(db, 16), "");
  ASSERT_TRUE(fs_.WriteFileAtomic(db, "data").ok());
  ASSERT_EQ(::chmod(db.c_str(), 0640), 0);
  ASSERT_TRUE(fs_.CreateFileIfMissing(db).ok());
  EXPECT_EQ(ModeOf(db), 0640u);
  EXPECT_EQ(*fs_.ReadFile(db, 16), "data");
  Status s = fs_.CreateFileIfMissing(Path("none/db"));
  EXPECT_EQ(s.code(), Code::kIo);
  EXPECT_EQ(s.message(), "cannot create " + Path("none/db") + ": No such file or directory");
}

TEST_F(FileSystemTest, NamesWhatGroupOrOthersMayUse) {
  ASSERT_TRUE(fs_.CreateDirectories(Path("keys")).ok());
  for (const char* f : {"private", "read", "written", "run"}) {
    ASSERT_TRUE(fs_.WriteFileAtomic(Path(f), "x").ok());
  }
  ASSERT_EQ(::chmod(Path("read").c_str(), 0644), 0);
  ASSERT_EQ(::chmod(Path("written").c_str(), 0602), 0);
  ASSERT_EQ(::chmod(Path("run").c_str(), 0710), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0750), 0);
  const std::optional<FileMode> mode = fs_.Mode(dir_);
  ASSERT_TRUE(mode.has_value());
  EXPECT_EQ(mode->permissions, 0750u);
  EXPECT_TRUE(mode->directory);
  EXPECT_EQ(fs_.Mode(Path("missing")), std::nullopt);
  const std::vector<std::string> lines =
      OpenToOthers(fs_, {dir_, Path("keys"), Path("private"), Path("read"), Path("written"),
                         Path("run"), Path("missing")});
  EXPECT_EQ(
      lines,
      (std::vector<std::string>{
          dir_ + " can be read by group or others (mode 0750): run chmod 700 " + dir_,
          Path("read") + " can be read by group or others (mode 0644): run chmod 600 " +
              Path("read"),
          Path("written") + " can be changed by group or others (mode 0602): run chmod 600 " +
              Path("written"),
          Path("run") + " is open to group or others (mode 0710): run chmod 600 " + Path("run")}));
}

}  // namespace
}  // namespace openrms
