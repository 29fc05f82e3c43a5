#include "base/test_hooks.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "base/clock.h"
#include "base/fault.h"

#ifndef OPENRMS_TEST_HOOKS
#error "compile with OPENRMS_TEST_HOOKS=0 or 1 (see src/base/CMakeLists.txt)"
#endif

namespace openrms {

namespace {

bool Set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

#if OPENRMS_TEST_HOOKS
class FixedOffsetClock final : public Clock {
 public:
  explicit FixedOffsetClock(Duration offset) : offset_(offset) {}
  Time Now() const override { return system_.Now() + offset_; }

 private:
  SystemClock system_;
  Duration offset_;
};

long CrashTarget() {
  static const long target = [] {
    const char* env = std::getenv("OPENRMS_CRASH_AT");
    return env != nullptr ? std::atol(env) : 0L;
  }();
  return target;
}
std::atomic<long> reached{0};
#endif

}  // namespace

bool TestHooksCompiledIn() { return OPENRMS_TEST_HOOKS != 0; }

void WarnAboutIgnoredTestHooks() {
  if (TestHooksCompiledIn()) return;
  for (const char* name : {"OPENRMS_FAKE_NOW", "OPENRMS_CRASH_AT"}) {
    if (Set(name)) {
      std::fprintf(stderr, "warning: %s is ignored: only test builds (openrms-test) honour it\n",
                   name);
    }
  }
}

const Clock& DefaultClock() {
#if OPENRMS_TEST_HOOKS
  // The fake "now" keeps running from the given instant, so timeouts work.
  static const Clock* clock = []() -> const Clock* {
    const char* fake = std::getenv("OPENRMS_FAKE_NOW");
    if (Set("OPENRMS_FAKE_NOW")) {
      if (auto t = ParseTime(fake)) return new FixedOffsetClock(*t - SystemClock().Now());
    }
    return new SystemClock();
  }();
  return *clock;
#else
  static const SystemClock clock;
  return clock;
#endif
}

void CrashPoint(const char* name) {
#if OPENRMS_TEST_HOOKS
  const long target = CrashTarget();
  if (target <= 0) return;
  if (reached.fetch_add(1) + 1 == target) {
    std::fprintf(stderr, "crash point %ld (%s): exiting as if killed\n", target, name);
    _exit(137);
  }
#else
  (void)name;
#endif
}

}  // namespace openrms
