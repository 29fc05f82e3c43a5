// X.509 certificates for the HTTPS transport (not XrML): a small private CA
// per installation and server certificates it issues for loopback and the
// names the administrator gives. Private keys are sealed with a password
// (same format as crypto/keys.h).
#pragma once

#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace openrms::crypto {

struct TlsCredential {
  std::string certificate_pem;  // the leaf certificate (for a CA: itself)
  std::string sealed_key_pem;   // PKCS#8, encrypted under the given password
};

// A self-signed CA (RSA-2048, SHA-256, basicConstraints CA:TRUE,
// keyUsage keyCertSign|cRLSign) valid from `now` - 1 hour for `validity`.
Result<TlsCredential> CreateTlsCa(const std::string& common_name, Time now, Duration validity,
                                  std::string_view password);

// A server certificate signed by `ca` (whose key is opened with
// `ca_password`). `names` are DNS names or IP addresses (v4 or v6); each
// becomes a subjectAltName entry, the first is also the CN. extendedKeyUsage
// serverAuth. The new key is sealed under `password`.
Result<TlsCredential> IssueTlsServerCertificate(const TlsCredential& ca,
                                                std::string_view ca_password,
                                                const std::vector<std::string>& names, Time now,
                                                Duration validity, std::string_view password);

}  // namespace openrms::crypto
