#include "base/json.h"

namespace openrms {

namespace {

// The deepest nesting of arrays and objects in `text`, stopping early once
// it passes `limit`. Brackets inside strings do not count.
int NestingDepth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

const nlohmann::json* Member(const nlohmann::json& object, std::string_view name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

Status Wrong(std::string_view name, std::string_view what) {
  return Status(Code::kInvalidArgument, std::string(name) + " must be " + std::string(what));
}

}  // namespace

Result<nlohmann::json> ParseJson(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return Status(Code::kTooLarge, "the JSON document is larger than " +
                                       std::to_string(limits.max_bytes) + " bytes");
  }
  if (NestingDepth(text, limits.max_depth) > limits.max_depth) {
    return Status(Code::kTooLarge, "the JSON document nests deeper than " +
                                       std::to_string(limits.max_depth) + " levels");
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status(Code::kMalformed, "the body is not JSON");
  return j;
}

std::string JsonQuoted(std::string_view text) {
  // Beyond ASCII the UTF-8 must be checked (and invalid bytes replaced):
  // nlohmann's writer does that.
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return WriteJson(nlohmann::json(std::string(text)));
  }
  std::string out;
  out.reserve(text.size() + text.size() / 8 + 2);
  out += '"';
  size_t plain = 0;  // start of the run of bytes written as they are
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
      }
    }
  }
  out.append(text.data() + plain, text.size() - plain);
  out += '"';
  return out;
}

std::optional<std::string_view> SoleStringMember(std::string_view text, std::string_view name) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() &&
           (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) {
      ++i;
    }
  };
  auto take = [&](char c) {
    skip_space();
    if (i >= text.size() || text[i] != c) return false;
    ++i;
    return true;
  };
  if (!take('{') || !take('"')) return std::nullopt;
  if (text.substr(i, name.size()) != name) return std::nullopt;
  i += name.size();
  if (i >= text.size() || text[i] != '"') return std::nullopt;
  ++i;
  if (!take(':') || !take('"')) return std::nullopt;
  const size_t start = i;
  while (i < text.size() && text[i] != '"') {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c > 0x7e || c == '\\') return std::nullopt;
    ++i;
  }
  if (i >= text.size()) return std::nullopt;
  const std::string_view value = text.substr(start, i - start);
  ++i;
  if (!take('}')) return std::nullopt;
  skip_space();
  if (i != text.size()) return std::nullopt;
  return value;
}

Result<int64_t> IntField(const nlohmann::json& object, std::string_view name, int64_t fallback,
                         int64_t min, int64_t max) {
  const nlohmann::json* v = Member(object, name);
  if (!v) return fallback;
  const std::string range =
      "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(max) || (min > 0 && u < static_cast<uint64_t>(min))) {
      return Wrong(name, range);
    }
    return static_cast<int64_t>(u);
  }
  if (v->is_number_integer()) {
    const int64_t i = v->get<int64_t>();
    if (i < min || i > max) return Wrong(name, range);
    return i;
  }
  return Wrong(name, range);
}

Result<bool> BoolField(const nlohmann::json& object, std::string_view name, bool fallback) {
  const nlohmann::json* v = Member(object, name);
  if (!v) return fallback;
  if (!v->is_boolean()) return Wrong(name, "true or false");
  return v->get<bool>();
}

std::string StringMemberOrEmpty(const nlohmann::json& object, std::string_view name) {
  if (!object.is_object()) return "";
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const nlohmann::json& MemberOrNull(const nlohmann::json& object, std::string_view name) {
  static const nlohmann::json kNull;
  if (!object.is_object()) return kNull;
  const auto it = object.find(name);
  return it == object.end() ? kNull : *it;
}

Result<std::string> StringField(const nlohmann::json& object, std::string_view name,
                                std::string fallback, size_t max_bytes) {
  const nlohmann::json* v = Member(object, name);
  if (!v) return fallback;
  if (!v->is_string()) return Wrong(name, "a string");
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    return Wrong(name, "at most " + std::to_string(max_bytes) + " bytes long");
  }
  return s;
}

Result<std::vector<std::string>> StringArrayField(const nlohmann::json& object,
                                                  std::string_view name, size_t max_items,
                                                  size_t max_bytes) {
  const nlohmann::json* v = Member(object, name);
  if (!v) return std::vector<std::string>();
  const std::string what = "an array of at most " + std::to_string(max_items) +
                           " strings of at most " + std::to_string(max_bytes) + " bytes";
  if (!v->is_array() || v->size() > max_items) return Wrong(name, what);
  std::vector<std::string> out;
  out.reserve(v->size());
  for (const nlohmann::json& item : *v) {
    if (!item.is_string() || item.get_ref<const std::string&>().size() > max_bytes) {
      return Wrong(name, what);
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::string WriteJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace openrms
