// Test hooks: the process-wide clock (base/clock.h, DefaultClock) and crash
// points (base/fault.h) are defined in test_hooks.cc, which is compiled
// twice. Programs that users run link openrms_hooks_off, in which the
// environment variables OPENRMS_FAKE_NOW and OPENRMS_CRASH_AT do nothing
// (a warning says so); the test suite's programs (unit tests and
// `openrms-test`) link openrms_hooks_on, in which they move the clock and
// kill the process at the N-th crash point.
#pragma once

namespace openrms {

// True in test builds.
bool TestHooksCompiledIn();

// Warns on stderr, once, when a test-hook variable is set in a build that
// ignores it. Programs call it at start.
void WarnAboutIgnoredTestHooks();

}  // namespace openrms
