#include "base/clock.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace openrms {

Time SystemClock::Now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

namespace {

std::tm ToTm(Time t) {
  const std::time_t tt = t.time_since_epoch().count();
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}

std::string Format(Time t, const char* pattern) {
  const std::tm tm = ToTm(t);
  char buf[64];
  std::strftime(buf, sizeof buf, pattern, &tm);
  return buf;
}

}  // namespace

std::string FormatXrmlTime(Time t) { return Format(t, "%Y-%m-%dT%H:%M"); }
std::string FormatIso8601(Time t) { return Format(t, "%Y-%m-%dT%H:%M:%SZ"); }
std::string FormatHuman(Time t) { return Format(t, "%Y-%m-%d %H:%M UTC"); }

std::optional<Time> ParseTime(std::string_view text) {
  if (text.size() < 16 || text.size() > 40) return std::nullopt;
  std::string s(text);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, used = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d%n", &y, &mo, &d, &h, &mi, &used) != 5 ||
      used != 16) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(16);
  if (rest.size() >= 3 && rest[0] == ':') {
    int used2 = 0;
    std::string r(rest);
    if (std::sscanf(r.c_str(), ":%2d%n", &sec, &used2) != 1 || used2 != 3) return std::nullopt;
    rest.remove_prefix(3);
  }
  if (rest.size() >= 1 && rest[0] == '.') {  // fractional seconds: ignored
    rest.remove_prefix(1);
    while (!rest.empty() && rest[0] >= '0' && rest[0] <= '9') rest.remove_prefix(1);
  }
  if (rest == "Z") rest = {};
  if (!rest.empty()) return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return Time(Duration(timegm(&tm)));
}

}  // namespace openrms
