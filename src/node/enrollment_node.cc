#include "node/enrollment_node.h"

#include "base/file_system.h"
#include "base/json.h"
#include "base/text.h"
#include "crypto/encoding.h"
#include "enrollment/authority.h"
#include "node/api/enroll.h"
#include "node/tls.h"
#include "protocol/enrollment_messages.h"
#include "sites/enrollment/enrollment_site.h"

namespace openrms::node {

Result<std::unique_ptr<EnrollmentContext>> EnrollmentContext::Open(
    const std::string& dir, std::string_view password, std::optional<crypto::Pkcs11Config> pkcs11) {
  // The key keeps its token logged in; the store is needed only to open it.
  std::optional<crypto::Pkcs11KeyStore> keys;
  if (pkcs11) keys.emplace(std::move(*pkcs11));
  ASSIGN_OR_RETURN(
      enrollment::Authority authority,
      enrollment::LoadAuthority(RealFileSystem(), dir, password, keys ? &*keys : nullptr));
  auto ctx = std::unique_ptr<EnrollmentContext>(new EnrollmentContext());
  ASSIGN_OR_RETURN(ctx->db_, store::OpenSqlite(enrollment::AuthorityPaths(dir).database));
  RETURN_IF_ERROR(enrollment::EnrollmentService::Migrate(*ctx->db_));
  RETURN_IF_ERROR(accounts::AccountStore::Migrate(*ctx->db_));
  const std::string name = authority.name;
  ctx->service_ = std::make_unique<enrollment::EnrollmentService>(
      std::move(authority), *ctx->db_, DefaultClock(), crypto::SystemRandom());
  ctx->operators_ = std::make_unique<accounts::AccountStore>(*ctx->db_, DefaultClock());
  ctx->logon_ = std::make_unique<accounts::LogonService>(
      *ctx->db_, DefaultClock(), std::vector<accounts::Authenticator*>{ctx->operators_.get()});
  ctx->sessions_ = std::make_unique<accounts::SessionStore>(*ctx->db_, DefaultClock(),
                                                            crypto::SystemRandom(), "operator");
  ctx->gate_ = std::make_unique<sites::LogonGate>(
      *ctx->logon_, *ctx->sessions_, crypto::SystemRandom(),
      sites::GateOptions{name, "/operator", sites::kOperatorsGroup, "openrms_operator",
                         "operators"});
  return ctx;
}

http::Response RenewalInfoResponse(enrollment::EnrollmentService& service,
                                   const http::Request& request, int retry_after_seconds) {
  auto error = [](int status, const char* code, const std::string& message) {
    return http::Response::Json(status, WriteJson({{"error", code}, {"message", message}}));
  };
  std::string id = request.path.substr(std::min(request.path.size(), sizeof(kRenewalInfoPath) - 1));
  if (id.size() == 36) id = "{" + id + "}";
  if (!IsGuid(id)) {
    return error(400, "malformed",
                 "\"" + id.substr(0, 80) +
                     "\" is not a certificate ID: give the SLC's ID, a GUID such as "
                     "{01234567-89ab-4cde-8f01-23456789abcd}");
  }
  for (char& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto issued = service.FindIssued(id);
  if (!issued.ok()) {
    if (issued.status().code() == Code::kNotFound) {
      return error(404, "not_found", issued.status().message());
    }
    return error(500, "internal", "the renewal information could not be read");
  }
  return http::Response::Json(200, enrollment::WriteRenewalInfo(issued->renewal))
      .SetHeader("Retry-After", std::to_string(retry_after_seconds));
}

Result<std::unique_ptr<EnrollmentNode>> EnrollmentNode::Start(
    const std::string& dir, std::string_view password, const std::string& listen,
    const EnrollmentNodeOptions& options) {
  auto host = std::unique_ptr<EnrollmentNode>(new EnrollmentNode());
  const enrollment::AuthorityPaths paths(dir);
  TlsFiles tls = options.tls.value_or(
      TlsFiles{paths.tls_server, paths.tls_ca, paths.tls_server_key, OpeningTlsKey()});
  // The TLS key is unsealed beside the service's own key.
  if (!tls.opening.valid()) tls.opening = OpenTlsKey(tls.sealed_key, password);
  ASSIGN_OR_RETURN(host->context_, EnrollmentContext::Open(dir, password, options.pkcs11));
  FileSystem& fs = RealFileSystem();
  sites::EnrollmentSiteOptions site;
  ASSIGN_OR_RETURN(site.trust_anchor_xml, fs.ReadFile(paths.trust_anchor, 1 << 20));
  ASSIGN_OR_RETURN(site.tls_ca_pem, fs.ReadFile(paths.tls_ca, 1 << 20));
  site.operator_gate = &host->context_->operator_gate();
  sites::AddEnrollmentSiteRoutes(host->router_, host->context_->service(), std::move(site));
  enrollment::EnrollmentService* service = &host->context_->service();
  host->router_.Add("POST", protocol::kEnrollPath, [service](const http::Request& r) {
    return api::SoapEnroll(*service, r, protocol::RequestKind::kEnroll);
  });
  const int retry_after = options.renewal_info_retry_after_seconds;
  host->router_.Add("GET", std::string(kRenewalInfoPath) + "*",
                    [service, retry_after](const http::Request& r) {
                      return RenewalInfoResponse(*service, r, retry_after);
                    });

  http::Router* router = &host->router_;
  HttpsSettings threads;
  // Operators log on with scrypt; the rest only computes.
  threads.may_wait = [](const http::Request& r) { return r.path.rfind("/operator", 0) == 0; };
  ASSIGN_OR_RETURN(
      host->server_,
      StartHttps(
          listen, tls, password, [router](const http::Request& r) { return router->Dispatch(r); },
          host->url_, std::move(threads)));
  return host;
}

}  // namespace openrms::node
