// openrms demo: a whole deployment on loopback in one command: an
// enrollment service, and a server hosting a root cluster and a
// licensing-only cluster with the administration web site.
#include <future>
#include <iostream>

#include "base/file_system.h"
#include "cli/commands.h"
#include "crypto/encoding.h"
#include "crypto/tls_certificates.h"
#include "enrollment/authority.h"
#include "node/cluster_node.h"
#include "node/config.h"
#include "node/enrollment_node.h"
#include "node/signals.h"
#include "node/tls.h"

namespace openrms::cli {

namespace {

constexpr char kRoot[] = "CONTOSO-RMS";
constexpr char kLicensing[] = "CONTOSO-LICENSING";

// The demo keeps its key password in a file beside the keys so that a second
// run can reuse them without asking. A real deployment must not: use
// --password-file on another medium, or the prompt.
Result<std::string> DemoSecret(FileSystem& fs, const std::string& path) {
  if (fs.Exists(path)) return fs.ReadFile(path, 4096);
  const std::string secret = NewToken(crypto::SystemRandom(), 12);
  RETURN_IF_ERROR(fs.WriteFileAtomic(path, secret));
  return secret;
}

// One TLS root for the whole demo: the server's certificate is issued by the
// enrollment service's TLS root, so a browser trusts one file.
Status ShareTlsRoot(FileSystem& fs, const std::string& enrollment_dir,
                    const node::ServerPaths& server, std::string_view password) {
  if (fs.Exists(server.tls_server)) return Status::Ok();
  const enrollment::AuthorityPaths e(enrollment_dir);
  crypto::TlsCredential ca;
  ASSIGN_OR_RETURN(ca.certificate_pem, fs.ReadFile(e.tls_ca, 1 << 20));
  ASSIGN_OR_RETURN(ca.sealed_key_pem, fs.ReadFile(e.tls_ca_key, 1 << 20));
  ASSIGN_OR_RETURN(crypto::TlsCredential leaf, crypto::IssueTlsServerCertificate(
                                                   ca, password, {"localhost", "127.0.0.1", "::1"},
                                                   DefaultClock().Now(), Days(825), password));
  RETURN_IF_ERROR(fs.CreateDirectories(server.dir + "/keys"));
  RETURN_IF_ERROR(fs.WriteFileAtomic(server.tls_server_key, leaf.sealed_key_pem));
  RETURN_IF_ERROR(fs.WriteFileAtomic(server.tls_ca, ca.certificate_pem));
  return fs.WriteFileAtomic(server.tls_server, leaf.certificate_pem);
}

Status EnsureUser(node::ServerContext& ctx, FileSystem& fs, const std::string& dir,
                  const std::string& name, const std::vector<std::string>& groups,
                  std::string& password) {
  const std::string path = dir + "/demo-password-" + name;
  const bool existed = fs.Exists(path);
  ASSIGN_OR_RETURN(password, DemoSecret(fs, path));
  if (existed) return Status::Ok();
  Status s = ctx.accounts().AddUser(name, password, groups);
  if (s.code() == Code::kAlreadyUsed) return ctx.accounts().SetPassword(name, password);
  return s;
}

Status RunDemo(const std::string& dir, int port, const std::string& oidc_file) {
  FileSystem& fs = RealFileSystem();
  node::ContextOptions context_options;
  if (!oidc_file.empty()) {
    ASSIGN_OR_RETURN(node::NodeConfig config, node::LoadNodeConfig(fs, oidc_file));
    if (config.oidc.empty()) {
      return Status(Code::kInvalidArgument,
                    oidc_file + " names no identity provider: give it [[oidc]] tables");
    }
    context_options.oidc = std::move(config.oidc);
  }
  RETURN_IF_ERROR(fs.CreateDirectories(dir));
  ASSIGN_OR_RETURN(std::string pw, DemoSecret(fs, dir + "/demo-key-password"));
  const std::string enrollment_dir = dir + "/enrollment";
  if (!fs.Exists(enrollment::AuthorityPaths(enrollment_dir).config)) {
    enrollment::InitOptions options;
    options.name = "OpenRMS Demo Enrollment Service";
    RETURN_IF_ERROR(enrollment::InitializeAuthority(fs, enrollment_dir, pw, options, DefaultClock(),
                                                    crypto::SystemRandom()));
  }
  node::BlockTerminationSignals();  // before any thread starts: they inherit the mask
  const node::ServerPaths paths(dir + "/server");
  RETURN_IF_ERROR(ShareTlsRoot(fs, enrollment_dir, paths, pw));
  // Unsealing keys (scrypt) is most of a start. The two nodes serve one TLS
  // certificate (one root, the same loopback names), so its key is opened
  // once, on a thread of its own; beside it the enrollment node opens its
  // service key and the cluster node its store. The cluster node needs the
  // enrollment node only to provision a cluster the first time.
  const node::TlsFiles tls{paths.tls_server, paths.tls_ca, paths.tls_server_key,
                           node::OpenServerTlsKey(paths, pw)};
  auto enroll_start = std::async(std::launch::async, [&] {
    node::EnrollmentNodeOptions options;
    options.tls = tls;
    return node::EnrollmentNode::Start(enrollment_dir, pw, "127.0.0.1:" + std::to_string(port + 1),
                                       options);
  });
  std::unique_ptr<node::EnrollmentNode> enroll_host;
  auto enrollment_started = [&]() -> Status {
    if (enroll_host) return Status::Ok();
    ASSIGN_OR_RETURN(enroll_host, enroll_start.get());
    return Status::Ok();
  };

  node::ClusterNodeOptions options;
  options.tls_key = tls.opening;
  ASSIGN_OR_RETURN(auto ctx,
                   node::ServerContext::Open(paths.dir, pw, /*create=*/true, context_options));
  const std::string base = "https://127.0.0.1:" + std::to_string(port);
  const std::string root_url = base + "/contoso/_wmcs";
  ASSIGN_OR_RETURN(std::string anchor,
                   fs.ReadFile(enrollment::AuthorityPaths(enrollment_dir).trust_anchor, 1 << 20));
  ASSIGN_OR_RETURN(std::string tls_ca, fs.ReadFile(paths.tls_ca, 1 << 20));

  if (!ctx->store().Find(kRoot).ok()) {
    RETURN_IF_ERROR(enrollment_started());
    // The first SLC lasts 20 days, so the demo opens with renewal due.
    ASSIGN_OR_RETURN(auto enrollment, node::EnrollmentContext::Open(enrollment_dir, pw));
    ASSIGN_OR_RETURN(std::string token, enrollment->service().NewToken({"cli", "demo"}));
    cluster::ProvisionRequest r;
    r.name = kRoot;
    r.url = root_url;
    r.kind = cluster::ClusterKind::kRoot;
    r.trust_anchor_xml = anchor;
    r.issuer_url = enroll_host->url();
    r.issuer_tls_ca = tls_ca;
    r.token = token;
    r.validity_days = 20;
    r.actor = "demo";
    RETURN_IF_ERROR(ctx->clusters().Provision(r, pw).status().WithContext("provisioning " +
                                                                          std::string(kRoot)));
  }
  options.listen = "127.0.0.1:" + std::to_string(port);
  ASSIGN_OR_RETURN(auto host, node::ClusterNode::Start(*ctx, std::move(options)));
  RETURN_IF_ERROR(enrollment_started());
  if (!ctx->store().Find(kLicensing).ok()) {
    ASSIGN_OR_RETURN(enrollment::Authority root, ctx->clusters().SubordinateIssuer(kRoot, pw));
    enrollment::EnrollmentService issuer(std::move(root), ctx->database(), DefaultClock(),
                                         crypto::SystemRandom());
    ASSIGN_OR_RETURN(std::string token, issuer.NewToken({"cli", "demo"}));
    cluster::ProvisionRequest r;
    r.name = kLicensing;
    r.url = base + "/contoso-licensing/_wmcs";
    r.kind = cluster::ClusterKind::kLicensingOnly;
    r.trust_anchor_xml = anchor;
    r.issuer_url = root_url;
    r.issuer_tls_ca = tls_ca;
    r.token = token;
    r.actor = "demo";
    RETURN_IF_ERROR(ctx->clusters().Provision(r, pw).status().WithContext("provisioning " +
                                                                          std::string(kLicensing)));
  }
  std::string admin_pw, user_pw;
  RETURN_IF_ERROR(EnsureUser(*ctx, fs, dir, "admin", {"Administrators"}, admin_pw));
  RETURN_IF_ERROR(EnsureUser(*ctx, fs, dir, "user", {"Users"}, user_pw));
  (void)cluster::ExpiryMonitor(ctx->clusters(), std::nullopt).RunOnce();  // post the first events
  licensing::LicensingService templates(ctx->clusters(), ctx->database(), DefaultClock(),
                                        crypto::SystemRandom(), "");
  auto existing = templates.ListTemplates();
  if (existing.ok() && existing->empty()) {
    licensing::Template t;
    t.name = "Company Confidential";
    t.description = "Every signed-in user may view; only the owner may change or print";
    t.user_rights = {{{"ANYONE"}, {"VIEW"}}};
    RETURN_IF_ERROR(templates.AddTemplate(t).status());
  }

  std::cout << "admin-site: " << host->url() << "/admin/\n"
            << "enrollment-site: " << enroll_host->url() << "/\n"
            << "rms-url: " << root_url << "\n"
            << "root-cluster: " << kRoot << "\n"
            << "licensing-cluster: " << kLicensing << "\n"
            << "admin: admin " << admin_pw << "\n"
            << "user: user " << user_pw << "\n"
            << "tls-ca: " << paths.tls_ca << "\n"
            << "serving until interrupted (Ctrl-C)\n"
            << std::flush;
  node::WaitForTerminationSignal();
  host->Stop();
  enroll_host->Stop();
  return Status::Ok();
}

}  // namespace

void RegisterDemoCommand(CLI::App& app, int& exit_code) {
  static std::string dir = "openrms-demo";
  static int port = 8443;
  static std::string oidc;
  auto* demo = app.add_subcommand("demo", "Start a complete OpenRMS deployment on loopback");
  demo->add_option("--dir", dir, "Where the demo keeps its state")->capture_default_str();
  demo->add_option("--port", port,
                   "The administration site's port; the enrollment site uses the next one")
      ->capture_default_str();
  demo->add_option("--oidc", oidc,
                   "A file of [[oidc]] tables, as the node configuration takes them: identity "
                   "providers whose tokens the demo takes, and through which administrators "
                   "sign on (the file's other settings are not used)");
  demo->callback([&exit_code] {
    Status s = RunDemo(dir, port, oidc);
    if (!s.ok()) exit_code = ReportError(s);
  });
}

}  // namespace openrms::cli
