// The license audit trail streamed to syslog: each entry as one RFC 5424
// message with the record in structured data, sent over UDP (RFC 5426) to
// a collector or a SIEM. UDP never holds the node up: a message the
// network cannot take now is counted as dropped, never waited for. The
// store stays the trail of record; syslog is a copy.
//
//   <85>1 2026-12-07T10:00:00Z node1 openrms 4242 use [openrms@32473
//   cluster="contoso" node="node1:8443" user="bob" address="10.0.0.7"
//   operation="use" content_id="..." owner="alice" result="AccessGranted"
//   reason="VIEW"] bob use ... AccessGranted
//
// Facility authpriv (10); severity informational (6) for what was issued
// or granted, notice (5) for refusals and revocations. 32473 is the
// private enterprise number RFC 5612 sets aside for examples: a site
// that has its own may configure it.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "licensing/audit.h"

namespace openrms::licensing {

// The longest reason or name written into a message; longer ones are cut
// (and end in "..."), so a message stays well inside one datagram.
inline constexpr size_t kMaxSyslogValue = 1024;

struct SyslogIdentity {
  std::string hostname = "-";  // RFC 5424 HOSTNAME: printable ASCII, 255 at most
  int pid = 0;
  std::string sd_id = "openrms@32473";
};

// The RFC 5424 message of one entry. Pure.
std::string SyslogMessage(const AuditRecord& record, const SyslogIdentity& who);

// Sends each row, a datagram each, to HOST:PORT ("127.0.0.1:514",
// "[::1]:514", "logs.example.org:514"; the name is resolved once, when
// opened).
class UdpSyslogForward final : public AuditForward {
 public:
  static Result<std::unique_ptr<UdpSyslogForward>> Open(const std::string& host_port,
                                                        SyslogIdentity who);
  ~UdpSyslogForward() override;
  void Forward(const std::deque<AuditRecord>& rows) override;
  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  UdpSyslogForward(int fd, SyslogIdentity who) : fd_(fd), who_(std::move(who)) {}
  int fd_;
  SyslogIdentity who_;
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace openrms::licensing
