#include "node/server_context.h"

#include "base/file_system.h"
#include "base/text.h"
#include "crypto/encoding.h"
#include "crypto/password_hash.h"
#include "enrollment/service.h"
#include "http/client.h"
#include "licensing/licensing.h"

namespace openrms::node {

ServerPaths::ServerPaths(std::string d) : dir(std::move(d)) {
  database = dir + "/openrms.db";
  tls_ca = dir + "/tls-ca.pem";
  tls_ca_key = dir + "/keys/tls-ca.key";
  tls_server = dir + "/tls-server.pem";
  tls_server_key = dir + "/keys/tls-server.key";
  store_url = dir + "/store-url";
}

namespace {

Result<std::unique_ptr<store::Database>> OpenStore(const std::string& url,
                                                   const std::string& default_path) {
  if (url.empty()) return store::OpenSqlite(default_path);
  return store::OpenDatabase(url);
}

}  // namespace

Result<std::unique_ptr<ServerContext>> ServerContext::Open(const std::string& dir,
                                                           std::optional<std::string> password,
                                                           bool create,
                                                           const ContextOptions& options) {
  FileSystem& fs = RealFileSystem();
  auto ctx = std::unique_ptr<ServerContext>(new ServerContext(dir));
  ctx->password_ = std::move(password);
  const ServerPaths& p = ctx->paths_;
  // The directory remembers a store named at provisioning, so that every
  // later command given --dir reaches the same database.
  std::string store_url = options.store_url;
  if (store_url.empty() && fs.Exists(p.store_url)) {
    ASSIGN_OR_RETURN(std::string text, fs.ReadFile(p.store_url, 4096));
    store_url = std::string(Trim(text));
  }
  if (store_url.empty() && !fs.Exists(p.database) && !create) {
    return Status(Code::kNotFound, dir +
                                       " holds no OpenRMS server; provision a cluster with "
                                       "`openrms cluster provision --dir " +
                                       dir + " ...`");
  }
  RETURN_IF_ERROR(fs.CreateDirectories(dir));
  ASSIGN_OR_RETURN(ctx->db_, OpenStore(store_url, p.database));
  if (create && !options.store_url.empty() && !fs.Exists(p.store_url)) {
    RETURN_IF_ERROR(fs.WriteFileAtomic(p.store_url, options.store_url + "\n"));
  }
  RETURN_IF_ERROR(cluster::ClusterStore::Migrate(*ctx->db_));
  RETURN_IF_ERROR(enrollment::EnrollmentService::Migrate(*ctx->db_));
  RETURN_IF_ERROR(accounts::AccountStore::Migrate(*ctx->db_));
  RETURN_IF_ERROR(accounts::MigrateSettings(*ctx->db_));
  ctx->accounts_ = std::make_unique<accounts::AccountStore>(*ctx->db_, DefaultClock());
  // Local accounts first, then the directory when one is configured.
  std::vector<accounts::Authenticator*> sources = {ctx->accounts_.get()};
  std::optional<accounts::DirectoryConfig> directory = options.directory;
  if (!directory) {
    ASSIGN_OR_RETURN(directory, accounts::LoadDirectoryConfig(*ctx->db_));
  }
  if (directory) {
    ctx->directory_ = std::make_unique<accounts::DirectoryAuthenticator>(*directory);
    sources.push_back(ctx->directory_.get());
  }
  ctx->logon_ = std::make_unique<accounts::LogonService>(*ctx->db_, DefaultClock(), sources);
  RETURN_IF_ERROR(licensing::LicensingService::Migrate(*ctx->db_));
  ctx->sessions_ =
      std::make_unique<accounts::SessionStore>(*ctx->db_, DefaultClock(), crypto::SystemRandom());
  ctx->bearer_ = std::make_unique<accounts::SessionStore>(*ctx->db_, DefaultClock(),
                                                          crypto::SystemRandom(), "bearer");
  if (!options.oidc.empty()) {
    std::vector<accounts::OidcIssuerConfig> issuers = options.oidc;
    for (auto& issuer : issuers) {
      if (!issuer.client_secret_file.empty()) {
        auto secret = crypto::ReadSecretFile(fs, issuer.client_secret_file);
        if (!secret.ok()) {
          return secret.status().WithContext("[[oidc]] client_secret_file of " + issuer.issuer);
        }
        issuer.client_secret = std::move(*secret);
      }
      if (issuer.ca_file.empty()) continue;
      auto pem = fs.ReadFile(issuer.ca_file, 1 << 20);
      if (!pem.ok()) return pem.status().WithContext("[[oidc]] ca_file of " + issuer.issuer);
      issuer.ca_pem = std::move(*pem);
    }
    ctx->oidc_ = std::make_unique<accounts::OidcVerifier>(
        std::move(issuers), DefaultClock(),
        [](const accounts::FetchRequest& r) -> Result<accounts::FetchResponse> {
          http::ClientRequest req;
          req.url = r.url;
          req.ca_pem = r.ca_pem;
          req.headers = {{"Accept", "application/json"}};
          if (!r.form.empty()) {
            req.method = "POST";
            req.body = r.form;
            req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
          }
          if (!r.authorization.empty()) req.headers.emplace_back("Authorization", r.authorization);
          req.timeout_seconds = r.timeout_seconds;
          req.max_response_bytes = r.max_response_bytes;
          ASSIGN_OR_RETURN(http::ClientResponse answer, http::Fetch(req));
          return accounts::FetchResponse{answer.status, std::move(answer.body)};
        });
    ctx->oidc_sign_on_ =
        std::make_unique<accounts::OidcSignOn>(*ctx->oidc_, crypto::SystemRandom());
  }
  // Directory users' groups follow the directory while they are signed on.
  ctx->sessions_->set_group_source(ctx->directory_.get());
  ctx->bearer_->set_group_source(ctx->directory_.get());
  ctx->store_ = std::make_unique<cluster::ClusterStore>(*ctx->db_);
  if (options.pkcs11) ctx->pkcs11_ = std::make_unique<crypto::Pkcs11KeyStore>(*options.pkcs11);
  ctx->service_ = std::make_unique<cluster::ClusterService>(
      *ctx->store_, cluster::Environment{DefaultClock(), crypto::SystemRandom(), ctx->transport_,
                                         ctx->pkcs11_.get()});
  ctx->service_->set_event_sink(&ctx->syslog_);
  return ctx;
}

Result<std::string> ServerContext::ResolveCluster(const std::string& requested) {
  if (!requested.empty()) {
    ASSIGN_OR_RETURN(auto c, store_->Find(requested));
    return c.name;
  }
  ASSIGN_OR_RETURN(auto names, store_->ListClusters());
  if (names.size() == 1) return names[0];
  if (names.empty()) {
    return Status(Code::kNotFound, paths_.dir + " holds no cluster; provision one first");
  }
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return Status(Code::kInvalidArgument,
                paths_.dir + " holds several clusters (" + list + "); name one with --cluster");
}

}  // namespace openrms::node
