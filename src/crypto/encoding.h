// Base64 (RFC 4648, with padding) and the operating system's CSPRNG.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/random.h"

namespace openrms::crypto {

std::string Base64Encode(std::string_view bytes);
// nullopt for text that is not canonical base64 (white space is skipped).
std::optional<std::string> Base64Decode(std::string_view text);

// base64url (RFC 4648 5) without padding, as JOSE and PKCE write it.
std::string Base64UrlEncode(std::string_view bytes);
// nullopt for text with a character outside the base64url alphabet (no
// padding, no white space) or that is not canonical.
std::optional<std::string> Base64UrlDecode(std::string_view text);

// OpenSSL's RAND_bytes. Thread-safe.
Random& SystemRandom();

}  // namespace openrms::crypto
