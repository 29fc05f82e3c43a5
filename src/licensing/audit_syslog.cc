#include "licensing/audit_syslog.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/clock.h"

namespace openrms::licensing {

namespace {

constexpr int kFacilityAuthpriv = 10;
constexpr int kSeverityNotice = 5;
constexpr int kSeverityInfo = 6;

// A PARAM-VALUE (RFC 5424 6.3.3): '"', '\' and ']' escaped; control
// characters, which would let a name end the message early on a stream
// transport, as '?'. Cut at kMaxSyslogValue.
void AppendValue(std::string& out, std::string_view v) {
  const bool cut = v.size() > kMaxSyslogValue;
  if (cut) v = v.substr(0, kMaxSyslogValue);
  for (const char c : v) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  if (cut) out += "...";
}

// A header field (HOSTNAME, MSGID): printable US-ASCII without spaces, at
// most `max`; "-" when nothing is left.
std::string HeaderField(std::string_view v, size_t max) {
  std::string out;
  for (const char c : v) {
    if (out.size() == max) break;
    if (c > 32 && c < 127) out += c;
  }
  return out.empty() ? "-" : out;
}

bool Refusal(const AuditRecord& r) {
  return r.kind == "revoke" || (r.result != "issued" && r.result != "AccessGranted");
}

}  // namespace

std::string SyslogMessage(const AuditRecord& r, const SyslogIdentity& who) {
  const int pri = kFacilityAuthpriv * 8 + (Refusal(r) ? kSeverityNotice : kSeverityInfo);
  std::string out = "<" + std::to_string(pri) + ">1 " + FormatIso8601(r.at) + " " +
                    HeaderField(who.hostname, 255) + " openrms " +
                    (who.pid > 0 ? std::to_string(who.pid) : "-") + " " + HeaderField(r.kind, 32) +
                    " [" + who.sd_id;
  const std::pair<const char*, const std::string*> params[] = {
      {"cluster", &r.cluster}, {"node", &r.node},      {"user", &r.user},
      {"address", &r.address}, {"operation", &r.kind}, {"content_id", &r.content_id},
      {"owner", &r.owner},     {"result", &r.result},  {"reason", &r.detail}};
  for (const auto& [name, value] : params) {
    out += ' ';
    out += name;
    out += "=\"";
    AppendValue(out, *value);
    out += '"';
  }
  out += "] ";
  // MSG: the same, for people reading the log.
  std::string msg = r.user + " " + r.kind + (r.content_id.empty() ? "" : " " + r.content_id) +
                    ": " + r.result + (r.detail.empty() ? "" : " (" + r.detail + ")");
  AppendValue(out, msg);
  return out;
}

Result<std::unique_ptr<UdpSyslogForward>> UdpSyslogForward::Open(const std::string& host_port,
                                                                 SyslogIdentity who) {
  auto bad = [&](const std::string& why) {
    return Status(Code::kInvalidArgument, "audit syslog target \"" + host_port + "\": " + why +
                                              " (give HOST:PORT, e.g. 127.0.0.1:514 or [::1]:514)");
  };
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == host_port.size()) {
    return bad("no port");
  }
  std::string host = host_port.substr(0, colon);
  const std::string port = host_port.substr(colon + 1);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return bad(gai_strerror(rc));
  }
  int fd = -1;
  std::string last = "no address";
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      last = std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) return bad(last);
  return std::unique_ptr<UdpSyslogForward>(new UdpSyslogForward(fd, std::move(who)));
}

UdpSyslogForward::~UdpSyslogForward() { close(fd_); }

void UdpSyslogForward::Forward(const std::deque<AuditRecord>& rows) {
  for (const AuditRecord& r : rows) {
    const std::string m = SyslogMessage(r, who_);
    // Non-blocking: a full socket buffer, or a collector that is down
    // (ECONNREFUSED from an earlier datagram), drops this one.
    if (send(fd_, m.data(), m.size(), MSG_DONTWAIT | MSG_NOSIGNAL) ==
        static_cast<ssize_t>(m.size())) {
      sent_.fetch_add(1, std::memory_order_relaxed);
    } else {
      dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace openrms::licensing
