// Time, injected. Business code asks a Clock for "now" so tests can walk a
// whole certificate lifetime in seconds (FakeClock).
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace openrms {

using Time = std::chrono::sys_seconds;
using Duration = std::chrono::seconds;

constexpr Duration Days(long n) { return std::chrono::hours(24 * n); }

// Thread-safe: implementations may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Time Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Time Now() const override;
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Time start) : now_(start.time_since_epoch().count()) {}
  Time Now() const override { return Time(Duration(now_.load())); }
  void Set(Time t) { now_ = t.time_since_epoch().count(); }
  void Advance(Duration d) { now_ += d.count(); }

 private:
  std::atomic<long long> now_;
};

// Returns the process-wide clock: the SystemClock. In test builds only
// (base/test_hooks.h), the environment variable OPENRMS_FAKE_NOW may hold an
// ISO 8601 UTC time from which the clock then runs, so integration tests can
// run the real program at a chosen instant.
const Clock& DefaultClock();

// `t` without its seconds: XrML times have minute precision, so times that
// are written into documents and compared with them are rounded first.
Time RoundToMinute(Time t);

// "2010-06-11T20:50" (XrML 2.2.9.1.1: minute precision, UTC).
std::string FormatXrmlTime(Time t);
// "2026-11-24T23:10:34Z".
std::string FormatIso8601(Time t);
// "2026-11-24 23:10 UTC", for people.
std::string FormatHuman(Time t);
// Accepts "YYYY-MM-DDTHH:MM", with optional ":SS" (then an optional,
// ignored fraction ".123") and an optional "Z"; all UTC, two digits a field.
// Refuses dates that do not exist (2026-02-31, 2026-02-29), hours past 23,
// other offsets than "Z", and any text after the time. A leap second
// ("23:59:60") is refused too: Time has no place for it, and moving it to
// the next minute would make a valid-until later than it was written.
std::optional<Time> ParseTime(std::string_view text);

}  // namespace openrms
