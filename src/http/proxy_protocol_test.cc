#include "http/proxy_protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace openrms::http {
namespace {

const std::string kSig("\r\n\r\n\0\r\nQUIT\n", 12);

// A version 2 header: version/command, family/transport, then `block`.
std::string V2(unsigned char ver_cmd, unsigned char fam, const std::string& block) {
  std::string h = kSig;
  h += static_cast<char>(ver_cmd);
  h += static_cast<char>(fam);
  h += static_cast<char>(block.size() >> 8);
  h += static_cast<char>(block.size() & 0xff);
  return h + block;
}

// Feeds `bytes` to the reader as the server does: as many bytes as it asks
// for, never more. The bytes read, or the error.
Result<std::string> ReadAsServer(const std::string& bytes) {
  std::string have;
  while (true) {
    ASSIGN_OR_RETURN(size_t missing, ProxyHeaderMissing(have));
    if (missing == 0) return have;
    if (have.size() + missing > bytes.size()) return Status(Code::kNotFound, "ran out");
    have += bytes.substr(have.size(), missing);
  }
}

TEST(ProxyProtocol, V2Ipv4GivesTheSourceAndReadsNoFurther) {
  // 192.0.2.1:51000 -> 198.51.100.7:8443
  const std::string block("\xc0\x00\x02\x01\xc6\x33\x64\x07\xc7\x38\x20\xfb", 12);
  const std::string header = V2(0x21, 0x11, block);
  auto read = ReadAsServer(header + "\x16\x03\x01 TLS follows");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, header);  // the ClientHello is left alone
  auto parsed = ParseProxyHeader(*read);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->client, "192.0.2.1");
}

TEST(ProxyProtocol, V2Ipv6AndTlvs) {
  std::string block(36, '\0');
  block[0] = '\x20';
  block[1] = '\x01';
  block[2] = '\x0d';
  block[3] = '\xb8';
  block[15] = '\x01';                        // 2001:db8::1
  block += std::string("\x04\x00\x01Z", 4);  // a TLV (NOOP), skipped
  auto parsed = ParseProxyHeader(V2(0x21, 0x21, block));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->client, "2001:db8::1");
}

TEST(ProxyProtocol, V2LocalAndUnspecNameNoClient) {
  auto local = ParseProxyHeader(V2(0x20, 0x00, ""));  // a health check
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_FALSE(local->client.has_value());
  auto unix_family = ParseProxyHeader(V2(0x21, 0x31, std::string(216, 'x')));
  ASSERT_TRUE(unix_family.ok());
  EXPECT_FALSE(unix_family->client.has_value());
}

TEST(ProxyProtocol, V2Refusals) {
  EXPECT_EQ(ParseProxyHeader(V2(0x11, 0x11, std::string(12, '\0'))).status().message(),
            "the PROXY protocol header has version 1; only 2 (binary) and 1 (text) are known");
  EXPECT_EQ(ParseProxyHeader(V2(0x22, 0x11, std::string(12, '\0'))).status().message(),
            "the PROXY protocol header has the unknown command 2");
  EXPECT_EQ(ParseProxyHeader(V2(0x21, 0x12, std::string(12, '\0'))).status().message(),
            "the PROXY protocol header names a transport other than TCP (2)");
  EXPECT_EQ(ParseProxyHeader(V2(0x21, 0x11, std::string(11, '\0'))).status().message(),
            "the PROXY protocol header's address block is 11 bytes, shorter than the 12 its "
            "family needs");
  EXPECT_EQ(ParseProxyHeader(V2(0x21, 0x21, std::string(35, '\0'))).status().message(),
            "the PROXY protocol header's address block is 35 bytes, shorter than the 36 its "
            "family needs");
  // The largest block read, and one byte more.
  EXPECT_TRUE(ParseProxyHeader(V2(0x21, 0x11, std::string(512, '\0'))).ok());
  EXPECT_EQ(
      ProxyHeaderMissing(V2(0x21, 0x11, std::string(513, '\0')).substr(0, 16)).status().message(),
      "the PROXY protocol header is 529 bytes, more than the limit of 528");
  EXPECT_EQ(
      ParseProxyHeader(V2(0x21, 0x11, std::string(12, '\0')).substr(0, 20)).status().message(),
      "the PROXY protocol header is cut short");
}

TEST(ProxyProtocol, V1) {
  const std::string line = "PROXY TCP4 192.0.2.9 198.51.100.7 51000 8443\r\n";
  auto read = ReadAsServer(line + "\x16\x03\x01");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, line);
  auto v4 = ParseProxyHeader(line);
  ASSERT_TRUE(v4.ok()) << v4.status().ToString();
  EXPECT_EQ(v4->client, "192.0.2.9");
  auto v6 = ParseProxyHeader("PROXY TCP6 2001:db8::2 ::1 1 65535\r\n");
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  EXPECT_EQ(v6->client, "2001:db8::2");
  // The shortest header there is: one byte less than a version 2 header.
  auto read_unknown = ReadAsServer("PROXY UNKNOWN\r\nX");
  ASSERT_TRUE(read_unknown.ok());
  EXPECT_EQ(*read_unknown, "PROXY UNKNOWN\r\n");
  auto unknown = ParseProxyHeader("PROXY UNKNOWN\r\n");
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->client.has_value());
}

TEST(ProxyProtocol, V1Refusals) {
  auto message = [](const std::string& h) { return ParseProxyHeader(h).status().message(); };
  EXPECT_EQ(message("PROXY TCP4 192.0.2.9 198.51.100.7 51000\r\n"),
            "the PROXY protocol header is not \"PROXY TCP4|TCP6 SOURCE DESTINATION SPORT DPORT\"");
  EXPECT_EQ(message("PROXY TCP4 2001:db8::2 198.51.100.7 1 2\r\n"),
            "the PROXY protocol header's addresses are not IPv4 addresses");
  EXPECT_EQ(message("PROXY TCP4 192.0.2.9 198.51.100.7 65536 2\r\n"),
            "the PROXY protocol header's ports are not numbers from 0 to 65535");
  EXPECT_EQ(message("PROXY TCP4 192.0.2.9 198.51.100.7 1 2\n"),
            "the PROXY protocol header's line does not end in CRLF");
  // 107 bytes without a line end.
  EXPECT_EQ(ProxyHeaderMissing("PROXY " + std::string(101, 'a')).status().message(),
            "the PROXY protocol header's line is longer than 107 bytes");
  EXPECT_EQ(ProxyHeaderMissing("PROXY " + std::string(100, 'a')).value(), 1u);
}

TEST(ProxyProtocol, NoHeaderAtAll) {
  const std::string expected =
      "the connection does not start with a PROXY protocol header (a trusted proxy must send "
      "one: send-proxy-v2 in HAProxy)";
  EXPECT_EQ(ProxyHeaderMissing("\x16\x03\x01").status().message(), expected);  // TLS
  EXPECT_EQ(ProxyHeaderMissing("GET / HTTP/1.1\r\n").status().message(), expected);
  EXPECT_EQ(ProxyHeaderMissing("PROXX").status().message(), expected);
  // Empty and one byte of either version ask for the 15 bytes every header has.
  EXPECT_EQ(ProxyHeaderMissing("").value(), 15u);
  EXPECT_EQ(ProxyHeaderMissing("\r").value(), 14u);
  EXPECT_EQ(ProxyHeaderMissing("P").value(), 14u);
  EXPECT_EQ(ParseProxyHeader("").status().message(), "the PROXY protocol header is cut short");
}

}  // namespace
}  // namespace openrms::http
