#include "http/proxy_protocol.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <vector>

namespace openrms::http {

namespace {

constexpr std::string_view kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);
constexpr std::string_view kV1Start = "PROXY ";
// The shortest header of either version: "PROXY UNKNOWN\r\n". A version 2
// header is at least 16 bytes, so asking for 15 first never reads past one.
constexpr size_t kShortest = 15;

Status Malformed(std::string what) { return Status(Code::kMalformed, std::move(what)); }

Status NoHeader() {
  return Malformed(
      "the connection does not start with a PROXY protocol header (a trusted proxy must send "
      "one: send-proxy-v2 in HAProxy)");
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Whether `prefix` could still become `whole` (or starts with it).
bool CouldStart(std::string_view prefix, std::string_view whole) {
  const size_t n = std::min(prefix.size(), whole.size());
  return prefix.substr(0, n) == whole.substr(0, n);
}

std::string AddressText(int family, const unsigned char* bytes) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  ::inet_ntop(family, bytes, text.data(), text.size());
  return text.data();
}

Result<ProxyHeader> ParseV2(std::string_view h) {
  const auto* b = reinterpret_cast<const unsigned char*>(h.data());
  const unsigned version = b[12] >> 4;
  const unsigned command = b[12] & 0x0f;
  const unsigned family = b[13] >> 4;
  const unsigned transport = b[13] & 0x0f;
  const size_t length = (size_t{b[14]} << 8) | b[15];
  if (version != 2) {
    return Malformed("the PROXY protocol header has version " + std::to_string(version) +
                     "; only 2 (binary) and 1 (text) are known");
  }
  if (h.size() != 16 + length) return Malformed("the PROXY protocol header is cut short");
  if (command == 0) return ProxyHeader{};  // LOCAL: the proxy's own connection
  if (command != 1) {
    return Malformed("the PROXY protocol header has the unknown command " +
                     std::to_string(command));
  }
  if (family != 1 && family != 2) return ProxyHeader{};  // UNSPEC or UNIX: no client address
  if (transport != 1) {
    return Malformed("the PROXY protocol header names a transport other than TCP (" +
                     std::to_string(transport) + ")");
  }
  const size_t needed = family == 1 ? 12 : 36;
  if (length < needed) {
    return Malformed("the PROXY protocol header's address block is " + std::to_string(length) +
                     " bytes, shorter than the " + std::to_string(needed) + " its family needs");
  }
  return ProxyHeader{AddressText(family == 1 ? AF_INET : AF_INET6, b + 16)};
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while (true) {
    const size_t space = line.find(' ', at);
    out.push_back(line.substr(at, space - at));
    if (space == std::string_view::npos) return out;
    at = space + 1;
  }
}

bool IsPort(std::string_view s) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return false;
  unsigned value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= 65535;
}

bool IsAddress(int family, std::string_view s) {
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN) return false;
  std::array<unsigned char, 16> bytes{};
  return ::inet_pton(family, std::string(s).c_str(), bytes.data()) == 1;
}

Result<ProxyHeader> ParseV1(std::string_view h) {
  const std::string_view line = h.substr(0, h.size() - 2);  // without CRLF
  const std::vector<std::string_view> f = Fields(line);
  if (f.size() >= 2 && f[1] == "UNKNOWN") return ProxyHeader{};  // the rest is to be ignored
  if (f.size() != 6 || f[0] != "PROXY" || (f[1] != "TCP4" && f[1] != "TCP6")) {
    return Malformed(
        "the PROXY protocol header is not \"PROXY TCP4|TCP6 SOURCE DESTINATION SPORT DPORT\"");
  }
  const int family = f[1] == "TCP4" ? AF_INET : AF_INET6;
  if (!IsAddress(family, f[2]) || !IsAddress(family, f[3])) {
    return Malformed("the PROXY protocol header's addresses are not " +
                     std::string(family == AF_INET ? "IPv4" : "IPv6") + " addresses");
  }
  if (!IsPort(f[4]) || !IsPort(f[5])) {
    return Malformed("the PROXY protocol header's ports are not numbers from 0 to 65535");
  }
  return ProxyHeader{std::string(f[2])};
}

}  // namespace

Result<size_t> ProxyHeaderMissing(std::string_view prefix) {
  if (prefix.size() < kShortest) {
    if (!CouldStart(prefix, kV2Signature) && !CouldStart(prefix, kV1Start)) return NoHeader();
    return kShortest - prefix.size();
  }
  if (StartsWith(prefix, kV2Signature)) {
    if (prefix.size() < 16) return 16 - prefix.size();
    const size_t length = (size_t{static_cast<unsigned char>(prefix[14])} << 8) |
                          static_cast<unsigned char>(prefix[15]);
    if (16 + length > kMaxProxyHeaderV2Bytes) {
      return Malformed("the PROXY protocol header is " + std::to_string(16 + length) +
                       " bytes, more than the limit of " + std::to_string(kMaxProxyHeaderV2Bytes));
    }
    if (prefix.size() > 16 + length) return Malformed("the PROXY protocol header is too long");
    return 16 + length - prefix.size();
  }
  if (!StartsWith(prefix, kV1Start)) return NoHeader();
  const size_t lf = prefix.find('\n');
  if (lf != std::string_view::npos) {
    if (lf + 1 != prefix.size() || prefix[lf - 1] != '\r') {
      return Malformed("the PROXY protocol header's line does not end in CRLF");
    }
    return size_t{0};
  }
  if (prefix.size() >= kMaxProxyHeaderV1Bytes) {
    return Malformed("the PROXY protocol header's line is longer than " +
                     std::to_string(kMaxProxyHeaderV1Bytes) + " bytes");
  }
  // The line ends somewhere ahead; only one byte is sure to be in it.
  return size_t{1};
}

Result<ProxyHeader> ParseProxyHeader(std::string_view header) {
  ASSIGN_OR_RETURN(size_t missing, ProxyHeaderMissing(header));
  if (missing != 0) return Malformed("the PROXY protocol header is cut short");
  if (StartsWith(header, kV2Signature)) return ParseV2(header);
  return ParseV1(header);
}

}  // namespace openrms::http
