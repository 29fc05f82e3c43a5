#include "base/text.h"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace openrms {
namespace {

// The length of the valid UTF-8 sequence at the start of `t` (RFC 3629:
// no overlong forms, no surrogates, nothing past U+10FFFF), or 0.
size_t Utf8SequenceLength(std::string_view t) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(t[i]); };
  const unsigned char c = b(0);
  if (c >= 0x01 && c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (t.size() < n || b(1) < lo || b(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i) {
    if (b(i) < 0x80 || b(i) > 0xBF) return 0;
  }
  return n;
}

}  // namespace

// By hand rather than with iconv: glibc's converter costs about 2 ns a byte,
// which was a twentieth of publishing a license (a signature converts the
// whole signed body to UTF-16LE). Both are strict, as iconv is: invalid
// input is an error, never a replacement.
Result<std::string> Utf8ToUtf16Le(std::string_view utf8) {
  // Each 1-, 2- or 3-byte sequence gives 2 bytes and each 4-byte one 4.
  std::string out(utf8.size() * 2, '\0');
  char* o = out.data();
  for (size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {  // NUL included, as iconv converts it
      *o++ = static_cast<char>(c);
      *o++ = '\0';
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(utf8.substr(i));
    if (n == 0) return Status(Code::kMalformed, "text is not valid UTF-8");
    uint32_t cp = c & (0x7F >> n);
    for (size_t k = 1; k < n; ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
    i += n;
    auto unit = [&](uint32_t u) {
      *o++ = static_cast<char>(u & 0xFF);
      *o++ = static_cast<char>(u >> 8);
    };
    if (cp < 0x10000) {
      unit(cp);
    } else {
      cp -= 0x10000;
      unit(0xD800 + (cp >> 10));
      unit(0xDC00 + (cp & 0x3FF));
    }
  }
  out.resize(static_cast<size_t>(o - out.data()));
  return out;
}

Result<std::string> Utf16LeToUtf8(std::string_view utf16) {
  if (utf16.size() >= 2 && static_cast<unsigned char>(utf16[0]) == 0xFF &&
      static_cast<unsigned char>(utf16[1]) == 0xFE) {
    utf16.remove_prefix(2);
  }
  const Status malformed(Code::kMalformed, "text is not valid UTF-16LE");
  if (utf16.size() % 2 != 0) return malformed;
  const auto unit = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(utf16[i])) |
           static_cast<uint32_t>(static_cast<unsigned char>(utf16[i + 1])) << 8;
  };
  // Each unit gives at most 3 bytes; a surrogate pair (2 units) gives 4.
  std::string out(utf16.size() / 2 * 3, '\0');
  char* o = out.data();
  for (size_t i = 0; i < utf16.size(); i += 2) {
    uint32_t cp = unit(i);
    if (cp >= 0xDC00 && cp <= 0xDFFF) return malformed;  // a low surrogate first
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (i + 4 > utf16.size()) return malformed;
      const uint32_t low = unit(i + 2);
      if (low < 0xDC00 || low > 0xDFFF) return malformed;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      i += 2;
    }
    if (cp < 0x80) {
      *o++ = static_cast<char>(cp);
    } else if (cp < 0x800) {
      *o++ = static_cast<char>(0xC0 | (cp >> 6));
      *o++ = static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *o++ = static_cast<char>(0xE0 | (cp >> 12));
      *o++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *o++ = static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *o++ = static_cast<char>(0xF0 | (cp >> 18));
      *o++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      *o++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *o++ = static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  out.resize(static_cast<size_t>(o - out.data()));
  return out;
}

void AppendXmlEscaped(std::string_view text, std::string& out) {
  // Licenses are mostly long base64 texts with nothing to escape: memchr
  // (vectorised) finds the next special byte many times faster than a
  // byte-by-byte switch, and each run between them is appended whole.
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    const char* next = end;
    for (const char special : {'&', '<', '>', '"'}) {
      if (const void* at = std::memchr(p, special, static_cast<size_t>(next - p))) {
        next = static_cast<const char*>(at);
      }
    }
    out.append(p, static_cast<size_t>(next - p));
    if (next == end) break;
    switch (*next) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += "&quot;";
        break;
    }
    p = next + 1;
  }
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendXmlEscaped(text, out);
  return out;
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\'') {
      out += "&#39;";
    } else {
      out += XmlEscape(std::string_view(&c, 1));
    }
  }
  return out;
}

std::string FileNameSafe(std::string_view name) {
  std::string safe;
  for (char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    safe += ok ? c : '_';
  }
  return safe.empty() ? "server" : safe;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string HexEncode(std::string_view bytes, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string PercentEncode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%' + HexEncode(std::string_view(&c, 1), /*upper=*/true);
    }
  }
  return out;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::string ValidUtf8(std::string_view text) {
  std::string out;
  size_t copied = 0;  // text[0, copied) is in `out`, or all of it is valid so far
  bool changed = false;
  for (size_t i = 0; i < text.size();) {
    const size_t n = Utf8SequenceLength(text.substr(i));
    if (n > 0) {
      i += n;
      continue;
    }
    if (!changed) out.reserve(text.size() + 8);
    changed = true;
    out.append(text.substr(copied, i - copied));
    out += "\xEF\xBF\xBD";
    copied = ++i;
  }
  if (!changed) return std::string(text);
  out.append(text.substr(copied));
  return out;
}

}  // namespace openrms
