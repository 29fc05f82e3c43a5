// Running the real `openrms` program from tests: one-shot commands with
// their output captured, and servers in the background that are stopped
// (SIGTERM, then SIGKILL) when the test ends.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace openrms::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv[0] (a path) with the given environment additions.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env = {});

class BackgroundProcess final {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  // Reads stdout until a line starts with `prefix`; returns the rest of
  // that line, or "" on timeout or exit.
  std::string WaitForLine(const std::string& prefix,
                          std::chrono::seconds timeout = std::chrono::seconds(60));
  // All stdout read so far.
  const std::string& output() const { return out_; }
  // SIGTERM and wait; returns the exit status (or -1).
  int Stop();
  // SIGKILL (no chance to clean up) and wait.
  void Kill();

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string out_;
  size_t scanned_ = 0;
};

// The whole content of a file ("" when it cannot be read).
std::string ReadAll(const std::string& path);
// The last word of a command's output, e.g. a printed token.
std::string LastWord(std::string text);
// "OPENRMS_FAKE_NOW=<now + days>", to run the program at another time.
std::string FakeNow(long days);

// A TCP port on 127.0.0.1 that was free a moment ago, and the port after it
// too (`openrms demo --port P` also takes P + 1), for servers whose URL must
// be known before they start. Below the kernel's range for outgoing
// connections (ip_local_port_range) when there is room: a port the kernel
// hands out is soon the local end of some test's outgoing connection, and
// then a server cannot listen on it.
int FreeLoopbackPort();

// A fresh temporary directory, removed by the destructor.
class TempDir final {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace openrms::testing
