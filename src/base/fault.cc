#include "base/fault.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace openrms {

namespace {
long Target() {
  static const long target = [] {
    const char* env = std::getenv("OPENRMS_CRASH_AT");
    return env != nullptr ? std::atol(env) : 0L;
  }();
  return target;
}
std::atomic<long> reached{0};
}  // namespace

void CrashPoint(const char* name) {
  const long target = Target();
  if (target <= 0) return;
  if (reached.fetch_add(1) + 1 == target) {
    std::fprintf(stderr, "crash point %ld (%s): exiting as if killed\n", target, name);
    _exit(137);
  }
}

}  // namespace openrms
