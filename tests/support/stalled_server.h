// A TCP server on 127.0.0.1 that accepts connections and never answers: an
// issuer (or any peer) that hangs. Closing it (the destructor) closes the
// connections it holds, so whoever waits on them fails at once.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace openrms::testing {

class StalledServer {
 public:
  StalledServer();
  ~StalledServer();
  StalledServer(const StalledServer&) = delete;
  StalledServer& operator=(const StalledServer&) = delete;
  int port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::vector<int> held_;
  std::thread thread_;
};

}  // namespace openrms::testing
