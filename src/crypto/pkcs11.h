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

#include <map>
#include <memory>
#include <mutex>
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

// Where a node finds its keys in a token: the module to load and the user
// PIN. Node configuration, never database content (each node of a cluster
// may have its own module path); the PIN comes from a file or the
// environment, never from a command line or a log.
struct Pkcs11Config {
  std::string module_path;
  std::string pin;
};

// The keys of one node's PKCS#11 module, by URI. Each token is logged into
// on first use and stays logged in while this object lives, so its session
// pool is reused by every key opened here (signing is on the licensing hot
// path). Thread-safe.
class Pkcs11KeyStore final {
 public:
  explicit Pkcs11KeyStore(Pkcs11Config config);
  ~Pkcs11KeyStore();  // wipes the PIN
  Pkcs11KeyStore(const Pkcs11KeyStore&) = delete;
  Pkcs11KeyStore& operator=(const Pkcs11KeyStore&) = delete;

  const std::string& module_path() const { return config_.module_path; }

  // The logged-in token `uri` names (token=... is required).
  Result<std::shared_ptr<Pkcs11Token>> TokenOf(std::string_view uri);
  // The private key `uri` names (errors as OpenPkcs11Key).
  Result<std::unique_ptr<PrivateKey>> Open(std::string_view uri);

  struct Placed {
    std::unique_ptr<PrivateKey> key;
    bool created = false;  // made or imported now, rather than found in the token
  };
  // The key `uri` names; when the token has no object with its label
  // (object=...), an RSA key of `bits` is made there, sensitive and
  // non-extractable. kInvalidArgument when a new key is needed and the URI
  // has no object= or carries an id= (the token chooses new ids).
  Result<Placed> OpenOrGenerate(std::string_view uri, int bits);
  // The key `uri` names, imported from the sealed key when the token has no
  // object with its label. When it has one, it must hold the same key:
  // kAlreadyUsed otherwise (nothing is overwritten). kPermissionDenied for
  // a wrong `password`.
  Result<Placed> OpenOrImport(std::string_view uri, std::string_view sealed_pem,
                              std::string_view password);
  // What an export asks of the key (ExportPrivateKey): always refused.
  Result<std::string> Export(std::string_view uri);

 private:
  Pkcs11Config config_;
  std::mutex mu_;  // guards tokens_; held while a token logs in (once per label)
  std::map<std::string, std::shared_ptr<Pkcs11Token>, std::less<>> tokens_;
  std::map<std::string, Status, std::less<>> refused_;  // wrong PINs, by token label
};

// "CKR_PIN_INCORRECT" for 0xa0; "CKR_0x..." for codes not in the table.
std::string Pkcs11ErrorName(unsigned long rv);

}  // namespace openrms::crypto
