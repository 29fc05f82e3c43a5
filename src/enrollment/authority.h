// The enrollment service's trust hierarchy on disk: CA -> enrollment CA ->
// enrollment service, as XrML issuing certificates (MS-RMPR 2.2.9.3), each
// private key sealed under the service's key password; and the X.509 TLS
// credentials of its HTTPS endpoint. The three XrML keys may instead live in
// a PKCS#11 token: their key files then hold the keys' URIs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/file_system.h"
#include "base/random.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "crypto/pkcs11.h"
#include "xrml/document.h"

namespace openrms::enrollment {

// Files below the service directory.
struct AuthorityPaths {
  explicit AuthorityPaths(std::string dir);
  std::string dir;
  std::string trust_anchor;  // the CA certificate clusters pin
  std::string ca_certificate;
  std::string enrollment_ca_certificate;
  std::string service_certificate;
  std::string ca_key, enrollment_ca_key, service_key;  // sealed
  std::string tls_ca, tls_ca_key, tls_server, tls_server_key;
  std::string database;
  std::string config;
};

struct InitOptions {
  std::string name = "OpenRMS Enrollment Service";
  std::vector<std::string> tls_names = {"localhost", "127.0.0.1", "::1"};
  int max_validity_days = 365;
  // "" for sealed key files; else the keys live in a PKCS#11 token, named
  // by this RFC 7512 URI with "-ca", "-enrollment-ca" and "-service" added
  // to its object= label (made there non-extractable, or taken when the
  // token has them). Needs a key store.
  std::string key_uri;
};

// The URIs of the three keys for InitOptions::key_uri: CA, enrollment CA,
// service. kInvalidArgument when the URI has no object=.
Result<std::vector<std::string>> AuthorityKeyUris(const std::string& key_uri);

// Creates the hierarchy in `dir` (which must not hold one yet:
// kFailedPrecondition otherwise, and nothing is touched). `pkcs11`: the
// node's token, for options.key_uri.
Status InitializeAuthority(FileSystem& fs, const std::string& dir, std::string_view password,
                           const InitOptions& options, const Clock& clock, Random& random,
                           crypto::Pkcs11KeyStore* pkcs11 = nullptr);

// An issuer of SLCs: the enrollment service (its chain is service -> enrollment
// CA -> CA) or a root cluster that answers SubEnroll (its chain is its own SLC
// chain). `chain[0]` certifies `key`.
struct Authority {
  std::vector<xrml::Document> chain;
  std::unique_ptr<crypto::PrivateKey> key;
  int max_validity_days = 365;
  std::string name;
  // Partitions the issuer's records in a shared store: "enrollment", or
  // "cluster:<name>".
  std::string id = "enrollment";

  const xrml::Document& certificate() const { return chain.front(); }
};

// kNotFound with "run `openrms enrollment init`" when `dir` holds none.
// A service key kept in a token is opened through `pkcs11`
// (kFailedPrecondition naming the options when it is null).
Result<Authority> LoadAuthority(FileSystem& fs, const std::string& dir, std::string_view password,
                                crypto::Pkcs11KeyStore* pkcs11 = nullptr);

}  // namespace openrms::enrollment
