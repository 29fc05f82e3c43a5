// Sealing of private keys at rest: PKCS#8 "ENCRYPTED PRIVATE KEY" PEM,
// PBES2 with scrypt and AES-256-CBC. Shared by keys.cc (XrML keys),
// tls_certificates.cc (TLS keys) and http/ (loading the server's TLS key).
// Private to crypto/ and http/: business code uses crypto/keys.h.
#pragma once

#include <openssl/evp.h>

#include <string>
#include <string_view>

#include "base/status.h"
#include "crypto/ssl_util.h"

namespace openrms::crypto {

// Encrypts `pkey` under `password`. kInvalidArgument for an empty password.
Result<std::string> SealPrivateKey(EVP_PKEY* pkey, std::string_view password);

// Opens a sealed key. kPermissionDenied for a wrong password, kMalformed for
// text that is not a sealed key.
Result<PkeyPtr> UnsealPrivateKey(std::string_view sealed_pem, std::string_view password);

}  // namespace openrms::crypto
