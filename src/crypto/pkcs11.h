// Private keys in a PKCS#11 token (an HSM; SoftHSM2 in tests): the second
// PrivateKey implementation beside the sealed software keys of keys.h. The
// key is made in the token, or imported into it once, as sensitive and
// non-extractable: signing and decryption happen in the token.
//
// Keys are named by RFC 7512 URIs, "pkcs11:token=OpenRMS;object=cluster-root;type=private",
// parsed and written by p11-kit's URI code. The module path and the user PIN
// come from configuration; the PIN never appears in a URI, a message or a log.
//
// Why the PKCS#11 API directly (p11-kit's headers, dlopen of the module)
// rather than libp11: libp11's PKCS11_* library API does not need its OpenSSL
// engine, so "the engine API is deprecated in OpenSSL 3" is not by itself the
// reason. The reasons that hold: PrivateKey is our own interface, so we need
// no OpenSSL key object backed by the token (libp11 hooks keys in through
// RSA_METHOD, deprecated in OpenSSL 3); we want to own the session pool
// (concurrent signing without a global lock), the mechanism parameters (OAEP
// with SHA-256, and a fallback where a token refuses them) and the CKR_ codes
// in our Status messages; and it is one package fewer (p11-kit is already
// there for its URI parser).
//
// Thread-safe: a Pkcs11Token and its keys may be used from many threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "crypto/keys.h"

namespace openrms::crypto {

// A logged-in token. A module is loaded (dlopen, C_Initialize) once per
// process and path and finalised with the last token open in it; a token is
// logged into once per process: opening it again returns the same object
// (after checking the PIN against the one it was opened with).
class Pkcs11Token final {
 public:
  // kNotFound when there is no module at `module_path` or no token labelled
  // `token_label` (the message lists the labels present); kPermissionDenied
  // for a wrong PIN.
  static Result<std::shared_ptr<Pkcs11Token>> Open(const std::string& module_path,
                                                   std::string_view token_label,
                                                   std::string_view pin);
  ~Pkcs11Token();
  Pkcs11Token(const Pkcs11Token&) = delete;
  Pkcs11Token& operator=(const Pkcs11Token&) = delete;

  const std::string& label() const;
  const std::string& module_path() const;

  struct Impl;  // pkcs11.cc only
  Impl& impl() const { return *impl_; }

 private:
  explicit Pkcs11Token(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A key in a token and the URI that names it (for configuration).
struct Pkcs11Key {
  std::unique_ptr<PrivateKey> key;
  std::string uri;
};

// Opens the private key `uri` names in `token`. kInvalidArgument for a URI
// that does not parse, carries a PIN or names something other than a
// private key; kMismatch when it names another token; kNotFound when no
// object matches.
Result<std::unique_ptr<PrivateKey>> OpenPkcs11Key(std::shared_ptr<Pkcs11Token> token,
                                                  std::string_view uri);
// The whole way from configuration: the token is the one `uri` names
// (token=... is required).
Result<std::unique_ptr<PrivateKey>> OpenPkcs11Key(const std::string& module_path,
                                                  std::string_view uri, std::string_view pin);

// Makes an RSA key pair of `bits` (2048, 3072 or 4096) in the token, labelled
// `label`, the private half sensitive and non-extractable.
// kFailedPrecondition when an object with that label exists.
Result<Pkcs11Key> GenerateRsaKey(std::shared_ptr<Pkcs11Token> token, std::string_view label,
                                 int bits);

// Moves a sealed software key (keys.h, GenerateSealedRsaKey) into the token
// as `label`, sensitive and non-extractable, with its public half. For
// moving a cluster's key into an HSM; delete the sealed file afterwards.
// kPermissionDenied for a wrong password; kFailedPrecondition when an
// object with that label exists.
Result<Pkcs11Key> ImportSealedKey(std::shared_ptr<Pkcs11Token> token, std::string_view label,
                                  std::string_view sealed_pem, std::string_view password);

// What an export (a TPD) asks of a key in a token. Never gives key bytes:
// kPermissionDenied when the token says the key is sensitive or not
// extractable (every key made or imported above), kUnsupported for a key
// some other tool made extractable.
Result<std::string> ExportPrivateKey(Pkcs11Token& token, std::string_view uri);

// "CKR_PIN_INCORRECT" for 0xa0; "CKR_0x..." for codes not in the table.
std::string Pkcs11ErrorName(unsigned long rv);

}  // namespace openrms::crypto
