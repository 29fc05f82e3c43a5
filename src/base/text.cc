#include "base/text.h"

#include <iconv.h>

#include <cctype>
#include <charconv>

namespace openrms {
namespace {

// One conversion descriptor per thread and direction: iconv_open is costly
// and signing converts every document it signs or verifies.
class Descriptor final {
 public:
  Descriptor(const char* to, const char* from) : cd_(iconv_open(to, from)) {}
  ~Descriptor() {
    if (ok()) iconv_close(cd_);
  }
  bool ok() const { return cd_ != reinterpret_cast<iconv_t>(-1); }
  // Back to the initial shift state, for a fresh conversion.
  iconv_t Reset() {
    iconv(cd_, nullptr, nullptr, nullptr, nullptr);
    return cd_;
  }

 private:
  iconv_t cd_;
};

Result<std::string> Convert(Descriptor& descriptor, const char* to, const char* from,
                            std::string_view in) {
  if (!descriptor.ok()) {
    return Status(Code::kInternal, std::string("iconv cannot convert ") + from + " to " + to);
  }
  iconv_t cd = descriptor.Reset();
  std::string out(in.size() * 2 + 16, '\0');
  char* inp = const_cast<char*>(in.data());
  size_t inleft = in.size();
  char* outp = out.data();
  size_t outleft = out.size();
  while (inleft > 0) {
    if (iconv(cd, &inp, &inleft, &outp, &outleft) == static_cast<size_t>(-1)) {
      if (errno == E2BIG) {
        const size_t used = static_cast<size_t>(outp - out.data());
        out.resize(out.size() * 2);
        outp = out.data() + used;
        outleft = out.size() - used;
        continue;
      }
      return Status(Code::kMalformed, std::string("text is not valid ") + from);
    }
  }
  out.resize(static_cast<size_t>(outp - out.data()));
  return out;
}

}  // namespace

Result<std::string> Utf8ToUtf16Le(std::string_view utf8) {
  thread_local Descriptor descriptor("UTF-16LE", "UTF-8");
  return Convert(descriptor, "UTF-16LE", "UTF-8", utf8);
}

Result<std::string> Utf16LeToUtf8(std::string_view utf16) {
  if (utf16.size() >= 2 && static_cast<unsigned char>(utf16[0]) == 0xFF &&
      static_cast<unsigned char>(utf16[1]) == 0xFE) {
    utf16.remove_prefix(2);
  }
  thread_local Descriptor descriptor("UTF-8", "UTF-16LE");
  return Convert(descriptor, "UTF-8", "UTF-16LE", utf16);
}

void AppendXmlEscaped(std::string_view text, std::string& out) {
  size_t plain = 0;  // start of the run of bytes written as they are
  for (size_t i = 0; i < text.size(); ++i) {
    std::string_view entity;
    switch (text[i]) {
      case '&':
        entity = "&amp;";
        break;
      case '<':
        entity = "&lt;";
        break;
      case '>':
        entity = "&gt;";
        break;
      case '"':
        entity = "&quot;";
        break;
      default:
        continue;
    }
    out.append(text.data() + plain, i - plain);
    out += entity;
    plain = i + 1;
  }
  out.append(text.data() + plain, text.size() - plain);
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

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

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
