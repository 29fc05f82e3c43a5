// Crash points for tests of crash safety. Production code marks the places
// where dying would be interesting with OPENRMS_CRASH_POINT("name"). In test
// builds only (base/test_hooks.h), when the environment variable
// OPENRMS_CRASH_AT holds a number N, the process dies with _exit(137) at the
// N-th crash point it reaches, as if killed there. Otherwise a crash point
// costs a function call.
#pragma once

namespace openrms {

void CrashPoint(const char* name);

}  // namespace openrms

#define OPENRMS_CRASH_POINT(name) ::openrms::CrashPoint(name)
