#include "support/stalled_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace openrms::testing {

StalledServer::StalledServer() {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 64) != 0) return;
  socklen_t len = sizeof a;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] {
    while (true) {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::lock_guard lock(mu_);
      held_.push_back(c);
      accepted_++;
    }
  });
}

StalledServer::~StalledServer() {
  shutdown(fd_, SHUT_RDWR);
  close(fd_);
  if (thread_.joinable()) thread_.join();
  for (int c : held_) close(c);
}

}  // namespace openrms::testing
