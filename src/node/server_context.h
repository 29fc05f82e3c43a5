// The store and services of one server directory, wired together. This is
// where a node picks its backends: the database (SQLite, in the directory),
// the keys (sealed files, opened with the key password), the issuer
// transport (HTTPS) and the logon sources (local accounts, then the
// directory when one is configured).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "accounts/accounts.h"
#include "accounts/directory.h"
#include "accounts/oidc.h"
#include "accounts/oidc_sign_on.h"
#include "cluster/cluster.h"
#include "cluster/cluster_store.h"
#include "cluster/monitor.h"
#include "crypto/pkcs11.h"
#include "node/issuer_transport.h"
#include "store/database.h"

namespace openrms::node {

// Files of a server directory.
struct ServerPaths {
  explicit ServerPaths(std::string dir);
  std::string dir, database, tls_ca, tls_ca_key, tls_server, tls_server_key;
  // Names the store when it is not the directory's SQLite file (written by
  // `cluster provision --store URL`; never holds a secret).
  std::string store_url;
};

// What a node's configuration may choose beyond the directory.
struct ContextOptions {
  // The store: "" for the SQLite file of the directory, else a
  // postgresql:// URL (several nodes share it) or sqlite:PATH.
  std::string store_url;
  // Directory logons with these settings instead of the stored ones (a
  // node whose CA file or directory replica differs from the others').
  std::optional<accounts::DirectoryConfig> directory;
  // This node's PKCS#11 module and PIN, for cluster keys in a token.
  std::optional<crypto::Pkcs11Config> pkcs11;
  // OpenID Connect issuers whose JWTs are bearer tokens ([[oidc]]); each
  // ca_file is read when the context opens.
  std::vector<accounts::OidcIssuerConfig> oidc;
};

class ServerContext final {
 public:
  // Creates the directory, its database and TLS credentials when missing.
  static Result<std::unique_ptr<ServerContext>> Open(const std::string& dir,
                                                     std::optional<std::string> password,
                                                     bool create,
                                                     const ContextOptions& options = {});
  cluster::ClusterService& clusters() { return *service_; }
  accounts::AccountStore& accounts() { return *accounts_; }
  accounts::LogonService& logon() { return *logon_; }
  accounts::SessionStore& sessions() { return *sessions_; }
  accounts::SessionStore& bearer_tokens() { return *bearer_; }
  // Null without [[oidc]] issuers.
  accounts::OidcVerifier* oidc() { return oidc_.get(); }
  // Null without [[oidc]] issuers; Providers() empty when none has a client_id.
  accounts::OidcSignOn* oidc_sign_on() { return oidc_sign_on_.get(); }
  cluster::ClusterStore& store() { return *store_; }
  store::Database& database() { return *db_; }
  const ServerPaths& paths() const { return paths_; }
  const std::optional<std::string>& password() const { return password_; }
  // The only cluster, or the named one. kInvalidArgument listing the names
  // when there are several and none is named.
  Result<std::string> ResolveCluster(const std::string& requested);

 private:
  explicit ServerContext(std::string dir) : paths_(std::move(dir)) {}
  ServerPaths paths_;
  std::optional<std::string> password_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<cluster::ClusterStore> store_;
  HttpsIssuerTransport transport_;
  std::unique_ptr<crypto::Pkcs11KeyStore> pkcs11_;  // outlives service_
  cluster::SyslogSink syslog_;
  std::unique_ptr<cluster::ClusterService> service_;
  std::unique_ptr<accounts::AccountStore> accounts_;
  std::unique_ptr<accounts::DirectoryAuthenticator> directory_;
  std::unique_ptr<accounts::LogonService> logon_;
  std::unique_ptr<accounts::SessionStore> sessions_;
  std::unique_ptr<accounts::SessionStore> bearer_;
  std::unique_ptr<accounts::OidcVerifier> oidc_;
  std::unique_ptr<accounts::OidcSignOn> oidc_sign_on_;
};

}  // namespace openrms::node
