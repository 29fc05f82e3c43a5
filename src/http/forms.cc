#include "http/forms.h"

#include <cctype>
#include <optional>
#include <string>
#include <string_view>

#include "base/text.h"

namespace openrms::http {

namespace {

// Limits beyond the caller's body limit: they bound work on hostile input.
constexpr size_t kMaxUrlEncodedFields = 1000;
constexpr size_t kMaxPartHeaderBytes = 16 << 10;
constexpr size_t kMaxBoundary = 70;  // RFC 2046 5.1.1

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The offset of the first bad percent-escape in `s`, if any.
std::optional<size_t> BadEscape(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size()) return i;
    if (HexValue(s[i + 1]) < 0 || HexValue(s[i + 2]) < 0) return i;
    i += 2;
  }
  return std::nullopt;
}

std::string Quote(std::string_view s, size_t max = 40) {
  std::string out = "\"";
  for (char c : s.substr(0, max)) {
    out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  }
  if (s.size() > max) out += "...";
  return out + "\"";
}

// Parameters of a header value such as `form-data; name="a"; filename="b"`
// or `multipart/form-data; boundary=xyz`. Parameter names are lower-cased.
// Quoted values end at the next '"': browsers percent-encode quotes in
// names and file names, and old ones send Windows paths with backslashes,
// so a backslash is not an escape character here.
struct HeaderValue {
  std::string value;  // the part before the first ';', lower-cased
  std::vector<std::pair<std::string, std::string>> params;

  std::optional<std::string> Param(std::string_view name) const {
    for (const auto& [k, v] : params) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
};

Result<HeaderValue> ParseHeaderValue(std::string_view text, std::string_view what) {
  HeaderValue out;
  size_t i = text.find(';');
  out.value = ToLower(Trim(text.substr(0, i)));
  while (i != std::string_view::npos && i < text.size()) {
    ++i;  // past ';'
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i >= text.size()) break;
    const size_t eq = text.find_first_of("=;", i);
    if (eq == std::string_view::npos || text[eq] == ';') {
      // A parameter without a value; skip it.
      i = eq;
      continue;
    }
    std::string name = ToLower(Trim(text.substr(i, eq - i)));
    i = eq + 1;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    std::string value;
    if (i < text.size() && text[i] == '"') {
      const size_t close = text.find('"', i + 1);
      if (close == std::string_view::npos) {
        return Status(Code::kMalformed, "the " + std::string(what) + " parameter \"" + name +
                                            "\" has no closing quote");
      }
      value = std::string(text.substr(i + 1, close - i - 1));
      i = text.find(';', close + 1);
    } else {
      const size_t end = text.find(';', i);
      value = std::string(Trim(text.substr(i, end == std::string_view::npos ? end : end - i)));
      i = end;
    }
    out.params.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

// RFC 5987 ext-value: UTF-8''percent-encoded.
std::optional<std::string> DecodeExtValue(std::string_view v) {
  const size_t q = v.find('\'');
  if (q == std::string_view::npos) return std::nullopt;
  const size_t q2 = v.find('\'', q + 1);
  if (q2 == std::string_view::npos || !EqualsIgnoreCase(v.substr(0, q), "utf-8")) {
    return std::nullopt;
  }
  const std::string_view encoded = v.substr(q2 + 1);
  if (BadEscape(encoded)) return std::nullopt;
  return PercentDecode(encoded, false);
}

}  // namespace

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;  // a stray '%' stays as it is
    }
  }
  return out;
}

Result<std::map<std::string, std::string>> ParseUrlEncoded(std::string_view body) {
  std::map<std::string, std::string> out;
  size_t fields = 0;
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find('&', start);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view field = body.substr(start, end - start);
    if (!field.empty()) {
      if (++fields > kMaxUrlEncodedFields) {
        return Status(Code::kTooLarge,
                      "the form has more than " + std::to_string(kMaxUrlEncodedFields) + " fields");
      }
      if (std::optional<size_t> bad = BadEscape(field)) {
        return Status(Code::kMalformed, "bad percent-escape " + Quote(field.substr(*bad, 3)) +
                                            " at byte " + std::to_string(start + *bad) +
                                            " of the form data (expected % and two hex digits)");
      }
      const size_t eq = field.find('=');
      std::string name = PercentDecode(field.substr(0, eq), true);
      std::string value =
          eq == std::string_view::npos ? std::string() : PercentDecode(field.substr(eq + 1), true);
      out.emplace(std::move(name), std::move(value));  // the first of repeated names wins
    }
    start = end + 1;
  }
  return out;
}

Result<std::vector<FormPart>> ParseMultipart(std::string_view content_type, std::string_view body,
                                             size_t max_parts) {
  ASSIGN_OR_RETURN(HeaderValue type, ParseHeaderValue(content_type, "Content-Type"));
  if (type.value != "multipart/form-data") {
    return Status(Code::kMalformed, "the request is not multipart/form-data (Content-Type is " +
                                        Quote(type.value) + ")");
  }
  const std::optional<std::string> boundary = type.Param("boundary");
  if (!boundary || boundary->empty()) {
    return Status(Code::kMalformed, "the multipart/form-data Content-Type has no boundary");
  }
  if (boundary->size() > kMaxBoundary) {
    return Status(Code::kMalformed, "the multipart boundary is longer than 70 characters");
  }
  const std::string delimiter = "--" + *boundary;
  const std::string inner_delimiter = "\r\n" + delimiter;

  // The first delimiter: at the start or after a preamble ending in CRLF.
  size_t pos;
  if (body.substr(0, delimiter.size()) == delimiter) {
    pos = delimiter.size();
  } else {
    const size_t found = body.find(inner_delimiter);
    if (found == std::string_view::npos) {
      return Status(Code::kMalformed,
                    "the multipart body does not contain its boundary " + Quote(*boundary));
    }
    pos = found + inner_delimiter.size();
  }

  std::vector<FormPart> parts;
  while (true) {
    // After a delimiter: "--" closes the body; otherwise optional white
    // space (transport padding) and CRLF start a part.
    if (body.substr(pos, 2) == "--") return parts;
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") {
      return Status(Code::kMalformed, "the multipart boundary at byte " + std::to_string(pos) +
                                          " is not followed by a line break");
    }
    pos += 2;
    if (parts.size() >= max_parts) {
      return Status(Code::kTooLarge,
                    "the form has more than " + std::to_string(max_parts) + " parts");
    }
    const size_t part_number = parts.size() + 1;
    const std::string where = "part " + std::to_string(part_number) + " of the multipart body";

    // Headers, up to an empty line.
    FormPart part;
    bool has_disposition = false;
    const size_t headers_start = pos;
    while (true) {
      const size_t eol = body.find("\r\n", pos);
      if (eol == std::string_view::npos) {
        return Status(Code::kMalformed, where + " ends inside its headers");
      }
      if (eol - headers_start > kMaxPartHeaderBytes) {
        return Status(Code::kMalformed, where + " has more than 16 KiB of headers");
      }
      const std::string_view line = body.substr(pos, eol - pos);
      pos = eol + 2;
      if (line.empty()) break;
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) {
        return Status(Code::kMalformed, where + " has a header line without ':' " + Quote(line));
      }
      const std::string name = ToLower(Trim(line.substr(0, colon)));
      const std::string_view value = Trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        ASSIGN_OR_RETURN(HeaderValue disposition, ParseHeaderValue(value, "Content-Disposition"));
        if (disposition.value != "form-data") {
          return Status(Code::kMalformed, where + " is not form-data (Content-Disposition " +
                                              Quote(disposition.value) + ")");
        }
        std::optional<std::string> field_name = disposition.Param("name");
        if (!field_name) {
          return Status(Code::kMalformed, where + " has no name in its Content-Disposition");
        }
        part.name = std::move(*field_name);
        if (std::optional<std::string> filename = disposition.Param("filename")) {
          part.filename = std::move(*filename);
        } else if (std::optional<std::string> ext = disposition.Param("filename*")) {
          std::optional<std::string> decoded = DecodeExtValue(*ext);
          if (!decoded) {
            return Status(Code::kMalformed, where + " has an unreadable filename* " + Quote(*ext));
          }
          part.filename = std::move(*decoded);
        }
        has_disposition = true;
      } else if (name == "content-type") {
        part.content_type = std::string(value);
      }
      // Other part headers (Content-Transfer-Encoding, ...) are ignored.
    }
    if (!has_disposition) {
      return Status(Code::kMalformed, where + " has no Content-Disposition header");
    }

    // Data, up to CRLF and the next delimiter.
    const size_t data_end = body.find(inner_delimiter, pos);
    if (data_end == std::string_view::npos) {
      return Status(Code::kMalformed, "the multipart body ends inside " + where +
                                          " (its closing boundary is missing)");
    }
    part.data = std::string(body.substr(pos, data_end - pos));
    parts.push_back(std::move(part));
    pos = data_end + inner_delimiter.size();
  }
}

}  // namespace openrms::http
