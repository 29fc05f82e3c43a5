#include "base/clock.h"

#include <date/date.h>

#include <cctype>
#include <sstream>

namespace openrms {

Time SystemClock::Now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

Time RoundToMinute(Time t) { return std::chrono::floor<std::chrono::minutes>(t); }

namespace {

// "YYYY-MM-DD?HH:MM[:SS]" written digit by digit: date::format goes
// through an ostringstream and its locale, a microsecond or two a call, and
// every license and answer carries a few of these. Years outside 0000-9999
// (which only a damaged or hostile input could carry) take date::format's
// own form.
std::string FormatFixed(Time t, char between, bool seconds, std::string_view suffix,
                        const char* fallback) {
  const auto day = std::chrono::floor<date::days>(t);
  const date::year_month_day ymd{day};
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) return date::format(fallback, t);
  const date::hh_mm_ss<Duration> hms{t - day};
  char out[20];
  auto two = [](char* at, long v) {
    at[0] = static_cast<char>('0' + v / 10);
    at[1] = static_cast<char>('0' + v % 10);
  };
  two(out, year / 100);
  two(out + 2, year % 100);
  out[4] = '-';
  two(out + 5, static_cast<unsigned>(ymd.month()));
  out[7] = '-';
  two(out + 8, static_cast<unsigned>(ymd.day()));
  out[10] = between;
  two(out + 11, hms.hours().count());
  out[13] = ':';
  two(out + 14, hms.minutes().count());
  size_t n = 16;
  if (seconds) {
    out[16] = ':';
    two(out + 17, hms.seconds().count());
    n = 19;
  }
  std::string text(out, n);
  text += suffix;
  return text;
}

}  // namespace

std::string FormatXrmlTime(Time t) { return FormatFixed(t, 'T', false, "", "%Y-%m-%dT%H:%M"); }
std::string FormatIso8601(Time t) { return FormatFixed(t, 'T', true, "Z", "%Y-%m-%dT%H:%M:%SZ"); }
std::string FormatHuman(Time t) { return FormatFixed(t, ' ', false, " UTC", "%Y-%m-%d %H:%M UTC"); }

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
