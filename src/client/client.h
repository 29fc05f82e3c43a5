// The licensing client: what an RMS client does against a cluster, over the
// REST licensing protocol (/my/v2, as Microsoft's RMS SDK speaks it).
// Logging on, certifying, publishing (online, or offline with a client
// licensor certificate), consuming, and the container a document goes
// into (formats/container.h). No files and no printing here: the CLI reads
// and writes them, and tells people what happened.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "formats/container.h"
#include "licensing/licensing.h"
#include "xrml/document.h"

namespace openrms::client {

struct Account {
  std::string server;  // the cluster's service URL
  std::string user;
  std::string password;
  std::string tls_ca_pem;  // the TLS root the server's certificate chains to ("": the system's)
};

class Session {
 public:
  // POST /oauth2/token at the server's origin (the password grant).
  static Result<Session> LogOn(const Account& account);

  const std::string& token() const { return token_; }
  const Account& account() const { return account_; }

  // A plain authenticated JSON POST to a path below the cluster URL.
  Result<nlohmann::json> Post(const std::string& path, const nlohmann::json& body);
  // Calls the protocol as the RMS SDK does: first without a token (the
  // server must answer with a Bearer challenge), then with it.
  Result<nlohmann::json> Call(const std::string& method, const std::string& operation,
                              const nlohmann::json& body);

 private:
  Account account_;
  std::string token_;
};

// What to protect a document with: rights, or a template's name.
struct Protection {
  std::string name;       // the document's file name, for the policy's name
  std::string extension;  // ".txt", kept by a PFILE
  std::vector<licensing::UserRights> rights;
  std::string template_name;
  std::optional<Time> expires;
  // nullopt: chosen by the document's content (formats::ContainerFor).
  std::optional<formats::Container> container;
};

struct Protected {
  std::string bytes;  // the protected file
  formats::Container container = formats::Container::kPfile;
  std::string content_id;
  std::string owner;
};

Result<Protected> Protect(Session& session, std::string_view plain, const Protection& how);

// Offline: a publishing license this machine writes and signs with a
// client licensor certificate's key (Certify with clc).
Result<Protected> ProtectOffline(const xrml::Document& clc, const crypto::PrivateKey& clc_key,
                                 std::string_view plain, const Protection& how, Time now,
                                 Random& random);

struct Opened {
  std::string plain;
  formats::Container container = formats::Container::kPfile;
  std::vector<std::string> rights;
  std::string valid_until;  // as the server gave it
};

// kPermissionDenied / kExpired when the server refuses the user access.
// `file` from formats::ReadProtected.
Result<Opened> Open(Session& session, const formats::ProtectedFile& file);

struct Certified {
  std::string certificate;  // the chain, as the server gave it
  std::string sealed_key;   // the new key, sealed with the user's password (PEM)
  std::string valid_until;  // CLCs only
};

// A rights account certificate (temporary or not), or with `clc` a client
// licensor certificate for ProtectOffline.
Result<Certified> Certify(Session& session, bool temporary, bool clc);

// The content ID a protected file's publishing license names (WORK/OBJECT/ID).
Result<std::string> ContentIdOf(const formats::ProtectedFile& file);

// As the content's owner: no license is issued for it from then on. By a
// protected file, or a content ID. The server's content ID.
Result<std::string> Revoke(Session& session, const formats::ProtectedFile* file,
                           const std::string& content_id);

// A document's license requests, as the server answers them (my_v2).
Result<nlohmann::json> Track(Session& session, const std::string& content_id);

}  // namespace openrms::client
