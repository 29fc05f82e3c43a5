// Renewal information, after ACME Renewal Information (RFC 9773): for each
// certificate it issued, the issuer suggests a window in which the holder
// should renew, and may move it (earlier, after an incident). The holder
// renews at a random moment inside the window, so that the issuer is not
// asked by every cluster at once.
//
// The document (RFC 9773 section 4.2 has the same shape):
//   {"suggested_window": {"start": "2026-05-01T00:00:00Z",
//                         "end": "2026-06-01T00:00:00Z"},
//    "explanation_url": "https://..."}        (explanation_url optional)
// Times are ISO 8601 UTC with seconds. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"

namespace openrms::enrollment {

// [start, end): renewal is suggested at some moment in it.
struct RenewalWindow {
  Time start;
  Time end;
  bool operator==(const RenewalWindow&) const = default;
};

// The issuer's default for a certificate valid over [from, until): the
// start of its last third, from 2/3 to 5/6 of the lifetime (whole seconds,
// rounded down). A renewal there leaves a sixth of the lifetime to retry.
RenewalWindow DefaultRenewalWindow(Time from, Time until);

struct RenewalInfo {
  RenewalWindow window;
  std::string explanation_url;  // "" when there is none
};

std::string WriteRenewalInfo(const RenewalInfo& info);

// Reads an issuer's answer (untrusted bytes). kMalformed naming what is
// wrong: not JSON, no suggested_window, a time that does not parse, an end
// not after its start, an explanation_url that is not an http(s) URL.
Result<RenewalInfo> ParseRenewalInfo(std::string_view text);

// A Retry-After header's delay (RFC 9110 section 10.2.3) in seconds,
// clamped to [0, 1 day]. HTTP dates and junk give nullopt: the caller's
// default applies.
std::optional<Duration> ParseRetryAfter(std::string_view header);

// True for an absolute http:// or https:// URL without spaces or quotes
// (an explanation URL is shown to administrators as a link).
bool IsExplanationUrl(std::string_view url);

}  // namespace openrms::enrollment
