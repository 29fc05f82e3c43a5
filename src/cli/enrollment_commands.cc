// openrms enrollment init|serve|issue|token|pending|approve|reject|list|renewal-window
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "base/file_system.h"
#include "cli/commands.h"
#include "cli/file_modes.h"
#include "cli/json_output.h"
#include "cli/password.h"
#include "cli/pkcs11_options.h"
#include "crypto/encoding.h"
#include "enrollment/authority.h"
#include "enrollment/service.h"
#include "node/enrollment_node.h"
#include "node/signals.h"
#include "protocol/enrollment_messages.h"
#include "sites/enrollment/enrollment_site.h"

namespace openrms::cli {

namespace {

constexpr char kPasswordEnv[] = "OPENRMS_KEY_PASSWORD";

struct Common {
  std::string dir;
  std::string password_file;
  Pkcs11Flags pkcs11;  // for the service's keys in a token
};

void AddCommon(CLI::App* cmd, Common& c) {
  cmd->add_option("--dir", c.dir, "The enrollment service's directory")->required();
  cmd->add_option("--password-file", c.password_file,
                  "File holding the key password (else $OPENRMS_KEY_PASSWORD or a prompt)");
  AddPkcs11Options(cmd, c.pkcs11);
}

Result<std::unique_ptr<node::EnrollmentContext>> OpenContext(const Common& c,
                                                             std::string_view password) {
  ASSIGN_OR_RETURN(auto pkcs11, ReadPkcs11Config(c.pkcs11));
  return node::EnrollmentContext::Open(c.dir, password, std::move(pkcs11));
}

std::string LocalUser() {
  const char* user = std::getenv("USER");
  return user != nullptr ? user : "operator";
}

Status WriteChain(const std::string& out, const std::vector<xrml::Document>& chain) {
  return RealFileSystem().WriteFileAtomic(out, protocol::WriteEnrollResponse(chain));
}

void PrintIssued(const enrollment::Issued& issued, const std::string& out) {
  const xrml::Document& slc = issued.chain.front();
  std::cout << (issued.renewal ? "renewed" : "issued") << " SLC for "
            << slc.principal()->object.name << " " << slc.principal()->object.id << ", valid until "
            << FormatHuman(*slc.validity->until) << "\n"
            << "wrote " << out << "\n";
}

}  // namespace

void RegisterEnrollmentCommands(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("enrollment", "Run the enrollment service that issues SLCs");
  cmd->require_subcommand(1);

  // init
  static Common init_c;
  static enrollment::InitOptions init_o;
  static std::vector<std::string> tls_names;
  auto* init =
      cmd->add_subcommand("init", "Create the CA hierarchy and TLS credentials in a directory");
  AddCommon(init, init_c);
  init->add_option("--name", init_o.name, "The service's name")->capture_default_str();
  init->add_option("--max-validity-days", init_o.max_validity_days,
                   "The longest SLC validity this service issues")
      ->capture_default_str();
  init->add_option("--tls-name", tls_names,
                   "A host name or IP address for the HTTPS certificate (default: localhost, "
                   "127.0.0.1, ::1)");
  init->add_option("--key", init_o.key_uri,
                   "Keep the XrML keys in a PKCS#11 token: 'pkcs11:token=T;object=NAME' makes "
                   "NAME-ca, NAME-enrollment-ca and NAME-service there");
  init->callback([&exit_code] {
    auto pkcs11 = ReadPkcs11Config(init_c.pkcs11);
    if (!pkcs11.ok()) return void(exit_code = ReportError(pkcs11.status()));
    auto pw = ReadKeyPassword(init_c.password_file, kPasswordEnv, /*confirm=*/true);
    if (!pw.ok()) return void(exit_code = ReportError(pw.status()));
    if (!tls_names.empty()) init_o.tls_names = tls_names;
    std::optional<crypto::Pkcs11KeyStore> keys;
    if (*pkcs11) keys.emplace(std::move(**pkcs11));
    Status s =
        enrollment::InitializeAuthority(RealFileSystem(), init_c.dir, *pw, init_o, DefaultClock(),
                                        crypto::SystemRandom(), keys ? &*keys : nullptr);
    if (!s.ok()) return void(exit_code = ReportError(s));
    const enrollment::AuthorityPaths paths(init_c.dir);
    if (!init_o.key_uri.empty()) {
      auto uris = enrollment::AuthorityKeyUris(init_o.key_uri);
      std::cout << "keys in the token (non-extractable):";
      for (const std::string& uri : uris.ok() ? *uris : std::vector<std::string>()) {
        std::cout << " " << uri;
      }
      std::cout << "\n";
    }
    std::cout << "created the enrollment service in " << init_c.dir << "\n"
              << "trust anchor (clusters pin it): " << paths.trust_anchor << "\n"
              << "TLS root (browsers and clients trust it): " << paths.tls_ca << "\n";
  });

  // serve
  static Common serve_c;
  static std::string listen = "127.0.0.1:8443";
  static node::EnrollmentNodeOptions serve_o;
  auto* serve =
      cmd->add_subcommand("serve", "Serve the enrollment endpoint and web site over HTTPS");
  AddCommon(serve, serve_c);
  serve->add_option("--listen", listen, "ADDR:PORT to listen on ([::1]:PORT for IPv6)")
      ->capture_default_str();
  serve
      ->add_option("--renewal-info-retry-after", serve_o.renewal_info_retry_after_seconds,
                   "Seconds clusters wait before asking for renewal information again (so how "
                   "soon a moved renewal window reaches them)")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  serve->callback([&exit_code] {
    WarnAboutOpenAuthorityFiles(serve_c.dir);
    auto pw = ReadKeyPassword(serve_c.password_file, kPasswordEnv, false);
    if (!pw.ok()) return void(exit_code = ReportError(pw.status()));
    auto pkcs11 = ReadPkcs11Config(serve_c.pkcs11);
    if (!pkcs11.ok()) return void(exit_code = ReportError(pkcs11.status()));
    node::BlockTerminationSignals();
    serve_o.pkcs11 = std::move(*pkcs11);
    auto host = node::EnrollmentNode::Start(serve_c.dir, *pw, listen, serve_o);
    if (!host.ok()) return void(exit_code = ReportError(host.status()));
    std::cout << "enrollment-site: " << (*host)->url() << "/\n"
              << "enrollment-url: " << (*host)->url() << protocol::kEnrollPath << "\n"
              << "tls-ca: " << enrollment::AuthorityPaths(serve_c.dir).tls_ca << "\n"
              << std::flush;
    node::WaitForTerminationSignal();
    (*host)->Stop();
  });

  // issue
  static Common issue_c;
  static std::string issue_request, issue_out, issue_token;
  static bool issue_approve = false;
  auto* issue = cmd->add_subcommand("issue", "Answer a request file from the command line");
  AddCommon(issue, issue_c);
  issue->add_option("REQUEST", issue_request, "The request file")->required();
  issue->add_option("--out", issue_out, "Where to write the certificate chain file")->required();
  issue->add_option("--token", issue_token, "A one-time token for a first enrollment");
  issue->add_flag("--approve", issue_approve,
                  "Approve a first enrollment as the operator (no token needed)");
  issue->callback([&exit_code] {
    auto pw = ReadKeyPassword(issue_c.password_file, kPasswordEnv, false);
    if (!pw.ok()) return void(exit_code = ReportError(pw.status()));
    auto ctx = OpenContext(issue_c, *pw);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    auto text = RealFileSystem().ReadFile(issue_request, protocol::kMaxRequestBytes);
    if (!text.ok()) return void(exit_code = ReportError(text.status()));
    const enrollment::Requester who{"cli", LocalUser()};
    Result<enrollment::Issued> issued = Status(Code::kInternal, "unreachable");
    if (issue_approve) {
      auto pending = (*ctx)->service().SubmitForApproval(*text, who);
      if (!pending.ok()) return void(exit_code = ReportError(pending.status()));
      issued = (*ctx)->service().Approve(pending->id, who);
    } else {
      issued = (*ctx)->service().Enroll(
          *text, who, issue_token.empty() ? std::nullopt : std::optional(issue_token));
    }
    if (!issued.ok()) return void(exit_code = ReportError(issued.status()));
    Status w = WriteChain(issue_out, issued->chain);
    if (!w.ok()) return void(exit_code = ReportError(w));
    PrintIssued(*issued, issue_out);
  });

  // token
  static Common token_c;
  auto* token = cmd->add_subcommand("token", "Print a new one-time token for a first enrollment");
  AddCommon(token, token_c);
  token->callback([&exit_code] {
    auto pw = ReadKeyPassword(token_c.password_file, kPasswordEnv, false);
    if (!pw.ok()) return void(exit_code = ReportError(pw.status()));
    auto ctx = OpenContext(token_c, *pw);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    auto t = (*ctx)->service().NewToken({"cli", LocalUser()});
    if (!t.ok()) return void(exit_code = ReportError(t.status()));
    std::cout << "one-time enrollment token: " << *t << "\n";
  });

  // pending, approve, reject
  static Common pending_c;
  static bool pending_json = false;
  auto* pending = cmd->add_subcommand("pending", "List requests that wait for approval");
  AddCommon(pending, pending_c);
  AddJsonFlag(pending, pending_json);
  pending->callback([&exit_code] {
    auto pw = ReadKeyPassword(pending_c.password_file, kPasswordEnv, false);
    if (!pw.ok()) return void(exit_code = ReportError(pw.status()));
    auto ctx = OpenContext(pending_c, *pw);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    auto list = (*ctx)->service().ListPending();
    if (!list.ok()) return void(exit_code = ReportError(list.status()));
    if (pending_json) {
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& p : *list) rows.push_back(PendingJson(p));
      return PrintJson(rows, std::cout);
    }
    for (const auto& p : *list) {
      std::cout << p.id << "\t" << p.state << "\t" << FormatHuman(p.submitted_at) << "\t"
                << p.server_name << "\t" << p.slc_guid << "\t" << p.requester << "\n";
    }
  });

  static Common approve_c;
  static int64_t approve_id = 0;
  static std::string approve_out;
  auto* approve = cmd->add_subcommand("approve", "Approve a pending first enrollment");
  AddCommon(approve, approve_c);
  approve->add_option("ID", approve_id, "The request's reference number")->required();
  approve->add_option("--out", approve_out, "Also write the certificate chain file here");
  approve->callback([&exit_code] {
    auto pw = ReadKeyPassword(approve_c.password_file, kPasswordEnv, false);
    if (!pw.ok()) return void(exit_code = ReportError(pw.status()));
    auto ctx = OpenContext(approve_c, *pw);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    auto issued = (*ctx)->service().Approve(approve_id, {"cli", LocalUser()});
    if (!issued.ok()) return void(exit_code = ReportError(issued.status()));
    if (!approve_out.empty()) {
      Status w = WriteChain(approve_out, issued->chain);
      if (!w.ok()) return void(exit_code = ReportError(w));
    }
    PrintIssued(*issued,
                approve_out.empty() ? "(the requester downloads it on the site)" : approve_out);
  });

  static Common reject_c;
  static int64_t reject_id = 0;
  auto* reject = cmd->add_subcommand("reject", "Reject a pending first enrollment");
  AddCommon(reject, reject_c);
  reject->add_option("ID", reject_id, "The request's reference number")->required();
  reject->callback([&exit_code] {
    auto pw = ReadKeyPassword(reject_c.password_file, kPasswordEnv, false);
    if (!pw.ok()) return void(exit_code = ReportError(pw.status()));
    auto ctx = OpenContext(reject_c, *pw);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    Status s = (*ctx)->service().Reject(reject_id, {"cli", LocalUser()});
    if (!s.ok()) return void(exit_code = ReportError(s));
    std::cout << "rejected request " << reject_id << "\n";
  });

  // operator add
  static Common op_c;
  static std::string op_name, op_pw_file;
  auto* op = cmd->add_subcommand("operator", "Accounts of the operators' pages (/operator/)");
  op->require_subcommand(1);
  auto* op_add = op->add_subcommand("add", "Create an operator account");
  AddCommon(op_add, op_c);
  op_add->add_option("NAME", op_name, "User name")->required();
  op_add->add_option("--user-password-file", op_pw_file,
                     "File holding the operator's password (else $OPENRMS_USER_PASSWORD or a "
                     "prompt)");
  op_add->callback([&exit_code] {
    auto pw = ReadKeyPassword(op_c.password_file, kPasswordEnv, false);
    if (!pw.ok()) return void(exit_code = ReportError(pw.status()));
    auto user_pw = ReadKeyPassword(op_pw_file, "OPENRMS_USER_PASSWORD", true);
    if (!user_pw.ok()) return void(exit_code = ReportError(user_pw.status()));
    auto ctx = OpenContext(op_c, *pw);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    Status s = (*ctx)->operators().AddUser(op_name, *user_pw, {sites::kOperatorsGroup});
    if (!s.ok()) return void(exit_code = ReportError(s));
    std::cout << "created operator " << op_name << "\n";
  });

  // list
  static Common list_c;
  static bool list_json = false;
  auto* list = cmd->add_subcommand("list", "List every certificate this service issued");
  AddCommon(list, list_c);
  AddJsonFlag(list, list_json);
  list->callback([&exit_code] {
    auto pw = ReadKeyPassword(list_c.password_file, kPasswordEnv, false);
    if (!pw.ok()) return void(exit_code = ReportError(pw.status()));
    auto ctx = OpenContext(list_c, *pw);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    auto records = (*ctx)->service().ListIssued();
    if (!records.ok()) return void(exit_code = ReportError(records.status()));
    if (list_json) {
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& r : *records) rows.push_back(IssuedJson(r));
      return PrintJson(rows, std::cout);
    }
    std::cout << "issued\tkind\tserver\tslc guid\tvalid until\tchannel\trequester\n";
    for (const auto& r : *records) {
      std::cout << FormatHuman(r.issued_at) << "\t" << r.kind << "\t" << r.server_name << "\t"
                << r.slc_guid << "\t" << FormatHuman(r.valid_until) << "\t" << r.channel << "\t"
                << r.requester << "\n";
    }
  });

  // renewal-window
  static Common rw_c;
  static std::string rw_certificate, rw_start, rw_end, rw_url;
  static bool rw_all = false;
  auto* rw = cmd->add_subcommand(
      "renewal-window",
      "Move the window in which clusters are asked to renew (one certificate, or all)");
  AddCommon(rw, rw_c);
  auto* one = rw->add_option("--certificate", rw_certificate,
                             "The SLC's certificate ID (as `enrollment list` shows it)");
  auto* all =
      rw->add_flag("--all", rw_all, "Every valid certificate's latest SLC whose window ends later");
  one->excludes(all);
  rw->add_option("--start", rw_start, "The window's start, a UTC time like 2026-05-01T00:00")
      ->required();
  rw->add_option("--end", rw_end, "The window's end, a UTC time after the start")->required();
  rw->add_option("--explanation-url", rw_url,
                 "A page that tells cluster administrators why (shown on their status)");
  rw->callback([&exit_code] {
    auto fail = [&](const Status& s) { exit_code = ReportError(s); };
    if (rw_certificate.empty() && !rw_all) {
      return fail(Status(Code::kInvalidArgument, "give --certificate ID or --all"));
    }
    enrollment::WindowChange change;
    const auto start = ParseTime(rw_start);
    const auto end = ParseTime(rw_end);
    if (!start) {
      return fail(Status(Code::kInvalidArgument,
                         "--start takes a UTC time like 2026-05-01T00:00 (or with :SS and Z), "
                         "not \"" +
                             rw_start + "\""));
    }
    if (!end) {
      return fail(Status(Code::kInvalidArgument,
                         "--end takes a UTC time like 2026-05-01T00:00 (or with :SS and Z), "
                         "not \"" +
                             rw_end + "\""));
    }
    change.window = {*start, *end};
    change.explanation_url = rw_url;
    if (!rw_all) {
      std::string id = rw_certificate;
      for (char& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      change.certificate_id = id;
    }
    auto pw = ReadKeyPassword(rw_c.password_file, kPasswordEnv, false);
    if (!pw.ok()) return fail(pw.status());
    auto ctx = node::EnrollmentContext::Open(rw_c.dir, *pw);
    if (!ctx.ok()) return fail(ctx.status());
    auto moved = (*ctx)->service().MoveRenewalWindow(change, {"cli", LocalUser()});
    if (!moved.ok()) return fail(moved.status());
    const std::string window = FormatHuman(*start) + " - " + FormatHuman(*end);
    if (!rw_all) {
      std::cout << "the renewal window of " << *change.certificate_id << " is now " << window
                << "\n";
    } else {
      std::cout << "moved the renewal window of " << *moved << " certificate"
                << (*moved == 1 ? "" : "s") << " to " << window
                << " (windows that already ended sooner were kept)\n";
    }
    std::cout << "clusters see it when they next ask (at most --renewal-info-retry-after "
                 "seconds)\n";
  });
}

}  // namespace openrms::cli
