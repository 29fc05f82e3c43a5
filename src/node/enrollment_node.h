// An enrollment service opened from its directory, and the same served over
// HTTPS. Shared by `openrms enrollment ...` and `openrms demo`.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "accounts/accounts.h"
#include "crypto/pkcs11.h"
#include "enrollment/service.h"
#include "http/server.h"
#include "node/tls.h"
#include "sites/logon_gate.h"
#include "store/database.h"

namespace openrms::node {

class EnrollmentContext final {
 public:
  // `pkcs11`: the module and PIN, for a service key kept in a token.
  static Result<std::unique_ptr<EnrollmentContext>> Open(
      const std::string& dir, std::string_view password,
      std::optional<crypto::Pkcs11Config> pkcs11 = std::nullopt);
  enrollment::EnrollmentService& service() { return *service_; }
  // Operator accounts of the enrollment site.
  accounts::AccountStore& operators() { return *operators_; }
  sites::LogonGate& operator_gate() { return *gate_; }

 private:
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<enrollment::EnrollmentService> service_;
  std::unique_ptr<accounts::AccountStore> operators_;
  std::unique_ptr<accounts::LogonService> logon_;
  std::unique_ptr<accounts::SessionStore> sessions_;
  std::unique_ptr<sites::LogonGate> gate_;
};

// Renewal information (enrollment/renewal_info.h, after RFC 9773):
// GET /renewal-info/<certificate id> answers 200 with the JSON document and
// a Retry-After header; an ID that is not a GUID (braces optional) gets 400,
// a certificate this service did not issue 404, both as
// {"error": "malformed" | "not_found", "message": "..."}.
inline constexpr char kRenewalInfoPath[] = "/renewal-info/";

struct EnrollmentNodeOptions {
  // The Retry-After of renewal information: how long clusters wait before
  // they ask again (so how soon a moved window reaches them).
  int renewal_info_retry_after_seconds = 3600;
  // The module and PIN, for a service key kept in a token.
  std::optional<crypto::Pkcs11Config> pkcs11;
  // Serve with this certificate and key instead of the directory's own (the
  // demo's two nodes share one, issued by one root for the same names).
  std::optional<TlsFiles> tls;
};

// The answer to GET /renewal-info/..., for the route and for tests.
http::Response RenewalInfoResponse(enrollment::EnrollmentService& service,
                                   const http::Request& request, int retry_after_seconds);

class EnrollmentNode final {
 public:
  // `listen` is "ADDR:PORT" or "[v6]:PORT"; port 0 picks a free one.
  static Result<std::unique_ptr<EnrollmentNode>> Start(const std::string& dir,
                                                       std::string_view password,
                                                       const std::string& listen,
                                                       const EnrollmentNodeOptions& options = {});
  // "https://127.0.0.1:PORT"
  std::string url() const { return url_; }
  void Stop() { server_->Stop(); }

 private:
  std::unique_ptr<EnrollmentContext> context_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  std::string url_;
};

}  // namespace openrms::node
