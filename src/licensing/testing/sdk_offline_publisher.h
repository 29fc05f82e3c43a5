// For tests only: what the RMS SDK's offline publisher does with the
// SerializedThinCLC it gets from /my/v2/clientlicensorcertificates, step by
// step as its public source does it (github.com/AzureAD/rms-sdk-for-cpp,
// branch feature-offlinepublish, sdk/rms_sdk/RestClients/PublishClient.cpp:
// RetrieveCLC, Unescape, CreateLicense, SetSessionKey, CreatePolicyAdhoc,
// SignPayload, CreateResponse). Written from that reading and OpenSSL, not
// from OpenRMS's own reader, so that the two check each other.
//
// One step is left out: SignPayload first passes the payload through
// Reformat(..., 1), which looks for a doubly escaped "sig" that no
// certificate can hold once RetrieveCLC's Unescape has removed every
// backslash, and so throws. The license is signed over the payload as
// Stringify writes it, which is what Reformat exists to restore.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace openrms::licensing::testing {

struct SdkRights {
  std::vector<std::string> users;
  std::vector<std::string> rights;
};

struct SdkPublished {
  std::string license;      // UTF-8 with a byte-order mark, as the SDK returns it
  std::string content_key;  // 16 bytes (AES-128, CBC4K)
  std::string owner;        // the CLC's "fname"
  std::string license_id;   // "id"
};

// A license for `rights` (or, when `template_id` is set, for that
// template). `serialized` is the SerializedThinCLC string, decoded from
// the answer's JSON.
Result<SdkPublished> SdkPublishOffline(std::string_view serialized,
                                       const std::vector<SdkRights>& rights,
                                       const std::string& template_id = "");

// The SDK's Unescape: every backslash removed, then "\"{\"" -> "{\"" and
// "}}\"" -> "}}".
std::string SdkUnescape(std::string_view text);

}  // namespace openrms::licensing::testing
