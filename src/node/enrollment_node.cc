#include "node/enrollment_node.h"

#include <csignal>

#include "base/file_system.h"
#include "crypto/encoding.h"
#include "enrollment/authority.h"
#include "protocol/enrollment_messages.h"
#include "sites/enrollment/enrollment_site.h"

namespace openrms::node {

Result<std::unique_ptr<EnrollmentContext>> EnrollmentContext::Open(const std::string& dir,
                                                                   std::string_view password) {
  ASSIGN_OR_RETURN(enrollment::Authority authority,
                   enrollment::LoadAuthority(RealFileSystem(), dir, password));
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

Result<std::pair<std::string, uint16_t>> ParseListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    return Status(Code::kInvalidArgument, "--listen takes ADDR:PORT, such as 127.0.0.1:8443");
  }
  std::string addr = listen.substr(0, colon);
  if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') {
    addr = addr.substr(1, addr.size() - 2);
  }
  int port = -1;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
  }
  if (port < 0 || port > 65535) {
    return Status(Code::kInvalidArgument, "the port in --listen " + listen + " is not 0-65535");
  }
  return std::make_pair(addr, static_cast<uint16_t>(port));
}

Result<std::unique_ptr<EnrollmentNode>> EnrollmentNode::Start(const std::string& dir,
                                                              std::string_view password,
                                                              const std::string& listen) {
  auto host = std::unique_ptr<EnrollmentNode>(new EnrollmentNode());
  ASSIGN_OR_RETURN(host->context_, EnrollmentContext::Open(dir, password));
  const enrollment::AuthorityPaths paths(dir);
  FileSystem& fs = RealFileSystem();
  sites::EnrollmentSiteOptions site;
  ASSIGN_OR_RETURN(site.trust_anchor_xml, fs.ReadFile(paths.trust_anchor, 1 << 20));
  ASSIGN_OR_RETURN(site.tls_ca_pem, fs.ReadFile(paths.tls_ca, 1 << 20));
  site.operator_gate = &host->context_->operator_gate();
  sites::AddEnrollmentSiteRoutes(host->router_, host->context_->service(), std::move(site));

  http::Router* router = &host->router_;
  ASSIGN_OR_RETURN(
      host->server_,
      StartHttps(
          listen, {paths.tls_server, paths.tls_ca, paths.tls_server_key}, password,
          [router](const http::Request& r) { return router->Dispatch(r); }, host->url_));
  return host;
}

Result<std::unique_ptr<http::Server>> StartHttps(const std::string& listen, const TlsFiles& tls,
                                                 std::string_view password, http::Handler handler,
                                                 std::string& url) {
  FileSystem& fs = RealFileSystem();
  ASSIGN_OR_RETURN(auto addr, ParseListen(listen));
  http::ServerOptions options;
  options.address = addr.first;
  options.port = addr.second;
  ASSIGN_OR_RETURN(std::string chain, fs.ReadFile(tls.certificate, 1 << 20));
  ASSIGN_OR_RETURN(std::string root, fs.ReadFile(tls.root, 1 << 20));
  options.certificate_chain_pem = chain + root;
  ASSIGN_OR_RETURN(options.sealed_key_pem, fs.ReadFile(tls.sealed_key, 1 << 20));
  options.key_password = std::string(password);
  options.max_body_bytes = 1 << 20;
  ASSIGN_OR_RETURN(auto server, http::Server::Start(options, std::move(handler)));
  const bool v6 = addr.first.find(':') != std::string::npos;
  url = "https://" + (v6 ? "[" + addr.first + "]" : addr.first) + ":" +
        std::to_string(server->port());
  return server;
}

namespace {
sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

void BlockTerminationSignals() {
  const sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void WaitForTerminationSignal() {
  const sigset_t set = TerminationSignals();
  int sig = 0;
  sigwait(&set, &sig);
}

}  // namespace openrms::node
