#include "base/clock.h"

#include <date/date.h>

#include <cctype>
#include <sstream>

namespace openrms {

Time SystemClock::Now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

Time RoundToMinute(Time t) { return std::chrono::floor<std::chrono::minutes>(t); }

std::string FormatXrmlTime(Time t) { return date::format("%Y-%m-%dT%H:%M", t); }
std::string FormatIso8601(Time t) { return date::format("%Y-%m-%dT%H:%M:%SZ", t); }
std::string FormatHuman(Time t) { return date::format("%Y-%m-%d %H:%M UTC", t); }

std::optional<Time> ParseTime(std::string_view text) {
  if (!text.empty() && text.back() == 'Z') text.remove_suffix(1);
  // A fraction of a second is dropped: Time counts whole seconds.
  if (text.size() > 19 && text[19] == '.') {
    const std::string_view digits = text.substr(20);
    if (digits.empty() || digits.size() > 9) return std::nullopt;
    for (char c : digits) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    }
    text = text.substr(0, 19);
  }
  // date::parse takes "2026-1-2T3:4" and "+2026-..." too; ISO 8601 does not.
  static constexpr std::string_view kShape = "0000-00-00T00:00:00";
  if (text.size() != 16 && text.size() != 19) return std::nullopt;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool digit = std::isdigit(static_cast<unsigned char>(text[i]));
    if (kShape[i] == '0' ? !digit : text[i] != kShape[i]) return std::nullopt;
  }
  std::istringstream in{std::string(text)};
  Time t;
  in >> date::parse(text.size() == 16 ? "%Y-%m-%dT%H:%M" : "%Y-%m-%dT%H:%M:%S", t);
  // date::parse fails on impossible dates and times; the shape check above
  // has already ruled out trailing text.
  if (in.fail()) return std::nullopt;
  return t;
}

}  // namespace openrms
