// JSON read from the network. Parsing is depth-limited before nlohmann sees
// the bytes (untrusted structure never drives recursion: dump() and
// comparisons recurse), and fields are read through typed readers that
// name the field when its type or range is wrong. Nothing here throws.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace openrms {

struct JsonLimits {
  size_t max_bytes = 4 << 20;
  int max_depth = 32;  // nested arrays and objects
};

// kMalformed for bytes that are not JSON; kTooLarge over a limit.
Result<nlohmann::json> ParseJson(std::string_view text, const JsonLimits& limits = {});

// `text` as a JSON string, quotes included: byte for byte what WriteJson
// writes for it, and several times faster for text of ASCII (a rights
// account certificate's chain file of some 20 KB, on every certification).
std::string JsonQuoted(std::string_view text);

// The value of the member `name` when `text` is one JSON object with that
// member alone, whose value is a string of printable ASCII without escapes
// ({"name": "value"}, white space around the tokens): what ParseJson would
// read, without building a document (a request of several kilobytes of
// base64 reads some twenty times faster). nullopt for anything else, which
// then goes to ParseJson. `name` must need no escapes itself. No limit of
// its own: the caller applies ParseJson's size limit first.
std::optional<std::string_view> SoleStringMember(std::string_view text, std::string_view name);

// Readers of an optional member of `object`: absent or null gives
// `fallback`; a value of another type, or a number out of [min, max] or
// with a fraction, is kInvalidArgument naming the field.
Result<int64_t> IntField(const nlohmann::json& object, std::string_view name, int64_t fallback,
                         int64_t min, int64_t max);
Result<bool> BoolField(const nlohmann::json& object, std::string_view name, bool fallback);
Result<std::string> StringField(const nlohmann::json& object, std::string_view name,
                                std::string fallback = "", size_t max_bytes = 64 << 10);
// A string member's value; "" when `object` is not an object, or the member
// is absent or of another type. For documents from elsewhere (tokens, a
// provider's answers) whose checks then refuse what is missing.
std::string StringMemberOrEmpty(const nlohmann::json& object, std::string_view name);
// A member, or a null value when `object` is not an object or lacks it; a
// server's answer, whatever its shape, never makes a client throw.
const nlohmann::json& MemberOrNull(const nlohmann::json& object, std::string_view name);
// An array of strings: absent or null gives an empty array; anything else
// than an array of at most `max_items` strings of at most `max_bytes` each
// is kInvalidArgument naming the field.
Result<std::vector<std::string>> StringArrayField(const nlohmann::json& object,
                                                  std::string_view name, size_t max_items = 4096,
                                                  size_t max_bytes = 64 << 10);

// The compact text of `j`. Never throws: dump() does on invalid UTF-8, and
// strings that came from users (names, headers) may hold some; those bytes
// are written as U+FFFD.
std::string WriteJson(const nlohmann::json& j);

}  // namespace openrms
