// A syslog collector on loopback for tests: a UDP socket bound to
// 127.0.0.1 on a free port, read by the test.
#pragma once

#include <chrono>
#include <string>

namespace openrms::testing {

class UdpCollector final {
 public:
  UdpCollector();
  ~UdpCollector();
  UdpCollector(const UdpCollector&) = delete;
  UdpCollector& operator=(const UdpCollector&) = delete;

  // "127.0.0.1:PORT".
  std::string target() const;
  // The next datagram, or "" once `timeout` passes.
  std::string Receive(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Datagrams until one holds `needle` (or `timeout` passes); that one, or "".
  std::string WaitFor(const std::string& needle,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace openrms::testing
