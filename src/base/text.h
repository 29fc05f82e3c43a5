// Small text helpers shared by every layer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace openrms {

// UTF-8 to UTF-16LE bytes (no byte-order mark). kMalformed on invalid UTF-8.
Result<std::string> Utf8ToUtf16Le(std::string_view utf8);
// UTF-16LE bytes (an optional byte-order mark is skipped) to UTF-8.
Result<std::string> Utf16LeToUtf8(std::string_view utf16);

// `text` with every byte that is not part of valid UTF-8 (and every NUL,
// which PostgreSQL's text refuses) as U+FFFD: text from users and the
// network made safe to store in either engine. Valid text is returned as
// it is.
std::string ValidUtf8(std::string_view text);

// Escapes & < > " for XML text and attribute values.
std::string XmlEscape(std::string_view text);
// XmlEscape(text), appended to `out`.
void AppendXmlEscaped(std::string_view text, std::string& out);
// Escapes & < > " ' for HTML.
std::string HtmlEscape(std::string_view text);

// `name` usable as part of a file name: letters, digits, '-', '_' and '.'
// kept, anything else '_'; "server" when empty.
std::string FileNameSafe(std::string_view name);

std::string_view Trim(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// ASCII letters lower-cased, other bytes kept (header names, schemes,
// parameter names: never locale-dependent).
std::string ToLower(std::string_view s);

// A whole decimal integer ("42", "-7"): no sign '+', no spaces, no junk,
// nothing out of range. nullopt otherwise. Never throws.
std::optional<int64_t> ParseInt(std::string_view text);

// Two hex digits a byte ("0a1b"; "0A1B" when `upper`).
std::string HexEncode(std::string_view bytes, bool upper = false);
// RFC 3986 percent-encoding of every byte but the unreserved ones
// (ALPHA / DIGIT / "-" / "." / "_" / "~"), in upper-case hex.
std::string PercentEncode(std::string_view s);

}  // namespace openrms
