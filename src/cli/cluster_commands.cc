// openrms cluster ..., openrms slc ..., openrms serve
#include <iostream>

#include "base/file_system.h"
#include "base/text.h"
#include "cli/commands.h"
#include "cli/file_modes.h"
#include "cli/json_output.h"
#include "cli/password.h"
#include "cli/pkcs11_options.h"
#include "crypto/encoding.h"
#include "node/cluster_node.h"
#include "node/config.h"
#include "node/enrollment_node.h"
#include "node/signals.h"
#include "node/tls.h"
#include "protocol/enrollment_messages.h"
#include "xrml/chain.h"

namespace openrms::cli {

namespace {

constexpr char kPasswordEnv[] = "OPENRMS_KEY_PASSWORD";

struct Target {
  std::string dir;
  std::string cluster;
  std::string password_file;
  Pkcs11Flags pkcs11;
};

void AddTarget(CLI::App* cmd, Target& t, bool password) {
  cmd->add_option("--dir", t.dir, "The server directory")->required();
  cmd->add_option("--cluster", t.cluster, "The cluster (needed when the server hosts several)");
  if (password) {
    cmd->add_option("--password-file", t.password_file,
                    "File holding the cluster key password (else $OPENRMS_KEY_PASSWORD or a "
                    "prompt)");
    AddPkcs11Options(cmd, t.pkcs11);
  }
}

// Opens the server and resolves the cluster; asks for the password when
// `password` is set.
struct Opened {
  std::unique_ptr<node::ServerContext> context;
  std::string cluster;
};

Result<Opened> OpenTarget(const Target& t, bool password) {
  std::optional<std::string> pw;
  if (password) {
    ASSIGN_OR_RETURN(std::string p, ReadKeyPassword(t.password_file, kPasswordEnv, false));
    pw = std::move(p);
  }
  ASSIGN_OR_RETURN(auto pkcs11, ReadPkcs11Config(t.pkcs11));
  Opened o;
  node::ContextOptions options;
  options.pkcs11 = std::move(pkcs11);
  ASSIGN_OR_RETURN(o.context, node::ServerContext::Open(t.dir, pw, /*create=*/false, options));
  ASSIGN_OR_RETURN(o.cluster, o.context->ResolveCluster(t.cluster));
  return o;
}

void PrintSummary(const cluster::SlcSummary& s, std::ostream& out) {
  out << "server name:  " << s.server_name << "\n"
      << "GUID:         " << s.guid << "\n"
      << "issuer:       " << s.issuer << "\n"
      << "issued:       " << FormatHuman(s.issued) << "\n"
      << "expires:      " << FormatHuman(s.expires) << "\n"
      << "days left:    " << s.days_left << "\n"
      << "state:        " << cluster::SlcStateName(s.state) << "\n";
}

void PrintStatus(const cluster::StatusReport& r, std::ostream& out) {
  out << "cluster:      " << r.config.name << " (" << cluster::ClusterKindName(r.config.kind)
      << ", " << r.config.url << ")\n";
  if (r.slc) {
    PrintSummary(*r.slc, out);
    if (r.slc->state == cluster::SlcState::kExpired) {
      out << "warning:      the SLC has expired: the cluster issues nothing until it is renewed\n";
    } else if (r.slc->state != cluster::SlcState::kValid) {
      out << "warning:      renewal is due: run `openrms slc renew --online` or export a request\n";
    }
  } else {
    out << "state:        no certificate yet\n";
  }
  if (r.pending) {
    out << "pending:      " << r.pending->file_name << " exported "
        << FormatHuman(r.pending->created_at) << "\n";
  }
  out << "auto-renew:   " << (r.config.auto_renew ? "on" : "off") << "\n";
  if (r.renewal) {
    out << "renewal:      " << FormatHuman(r.renewal->window.start) << " - "
        << FormatHuman(r.renewal->window.end) << " ("
        << cluster::WindowSourceName(r.renewal->source) << ")";
    if (r.renewal->renew_at) out << ", automatic renewal at " << FormatHuman(*r.renewal->renew_at);
    out << "\n";
    if (!r.renewal->explanation_url.empty()) {
      out << "why:          " << r.renewal->explanation_url << "\n";
    }
  }
}

Result<std::string> ReadTextFile(const std::string& path, size_t limit) {
  return RealFileSystem().ReadFile(path, limit);
}

// Opens every cluster key kept in a token (logging in once per token).
Status CheckTokenKeys(node::ServerContext& ctx, const std::string& password) {
  ASSIGN_OR_RETURN(auto names, ctx.store().ListClusters());
  for (const std::string& name : names) {
    ASSIGN_OR_RETURN(cluster::ClusterConfig c, ctx.store().Find(name));
    if (c.key_uri.empty()) continue;
    ASSIGN_OR_RETURN(auto key, ctx.clusters().ClusterKey(name, password));
  }
  return Status::Ok();
}

}  // namespace

void RegisterClusterCommands(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("cluster", "Provision and look after RMS clusters");
  cmd->require_subcommand(1);

  // provision
  static Target pv;
  static cluster::ProvisionRequest pr;
  static std::string trust_file, tls_ca_file, enroll_url, root_url, token, offline_file;
  static Pkcs11Flags pv_pkcs11;
  static int validity_days = 0;
  static bool licensing_only = false;
  static std::string store_url;
  auto* provision = cmd->add_subcommand("provision", "Create a cluster and obtain its SLC");
  provision->add_option("--dir", pv.dir, "The server directory")->required();
  provision->add_option("--password-file", pv.password_file, "File holding the key password");
  provision->add_option("--name", pr.name, "The cluster's server name")->required();
  provision->add_option("--url", pr.url, "The cluster's service URL (https://...)")->required();
  provision->add_option("--trust", trust_file, "The enrollment service's trust anchor")->required();
  provision->add_option("--tls-ca", tls_ca_file, "TLS root of the issuer's HTTPS endpoint");
  provision->add_option("--enroll", enroll_url, "The enrollment service's URL (root cluster)");
  provision->add_option("--token", token, "One-time token from the issuer");
  provision->add_option("--offline-request", offline_file,
                        "Write the request to this file instead of enrolling online");
  provision->add_option("--validity-days", validity_days, "Ask for less than the maximum");
  provision->add_flag("--licensing-only", licensing_only, "A licensing-only cluster");
  provision->add_option("--root", root_url, "The root cluster's URL (licensing-only)");
  provision->add_option("--store", store_url,
                        "Keep the cluster in this store (postgresql://user@host/db, for several "
                        "nodes) instead of the directory's SQLite file; the directory remembers "
                        "it");
  provision->add_option("--key", pr.key_uri,
                        "Keep the cluster key in a PKCS#11 token: its RFC 7512 URI, "
                        "'pkcs11:token=T;object=O' (made there unless the token has it)");
  AddPkcs11Options(provision, pv_pkcs11);
  provision->callback([&exit_code] {
    auto fail = [&](const Status& s) { exit_code = ReportError(s); };
    if (licensing_only == root_url.empty()) {
      return fail(Status(Code::kInvalidArgument, licensing_only
                                                     ? "--licensing-only needs --root URL"
                                                     : "--root goes with --licensing-only"));
    }
    if (!licensing_only && enroll_url.empty() && offline_file.empty()) {
      return fail(
          Status(Code::kInvalidArgument, "give --enroll URL (online) or --offline-request FILE"));
    }
    auto pkcs11 = ReadPkcs11Config(pv_pkcs11);
    if (!pkcs11.ok()) return fail(pkcs11.status());
    auto pw = ReadKeyPassword(pv.password_file, kPasswordEnv, /*confirm=*/true);
    if (!pw.ok()) return fail(pw.status());
    auto anchor = ReadTextFile(trust_file, 1 << 20);
    if (!anchor.ok()) return fail(anchor.status().WithContext("--trust"));
    pr.trust_anchor_xml = *anchor;
    if (!tls_ca_file.empty()) {
      auto ca = ReadTextFile(tls_ca_file, 1 << 20);
      if (!ca.ok()) return fail(ca.status().WithContext("--tls-ca"));
      pr.issuer_tls_ca = *ca;
    }
    pr.kind = licensing_only ? cluster::ClusterKind::kLicensingOnly : cluster::ClusterKind::kRoot;
    pr.issuer_url = licensing_only ? root_url : enroll_url;
    if (!token.empty()) pr.token = token;
    pr.offline = !offline_file.empty();
    if (validity_days != 0) pr.validity_days = validity_days;
    pr.actor = Actor();
    node::ContextOptions context_options;
    context_options.pkcs11 = std::move(*pkcs11);
    if (!store_url.empty()) {
      Status url = node::CheckStoreUrl(store_url, "--store");
      if (!url.ok()) return fail(url);
      context_options.store_url = store_url;
    }
    auto ctx = node::ServerContext::Open(pv.dir, *pw, /*create=*/true, context_options);
    if (!ctx.ok()) return fail(ctx.status());
    Status tls = node::EnsureServerTls((*ctx)->paths(), *pw, pr.url);
    if (!tls.ok()) return fail(tls);
    auto result = (*ctx)->clusters().Provision(pr, *pw);
    if (!result.ok()) return fail(result.status());
    if (!pr.key_uri.empty()) {
      std::cout << (result->key_created ? "made a new non-extractable key in the token: "
                                        : "uses the key the token already holds: ")
                << pr.key_uri << "\n";
    }
    if (pr.offline) {
      Status w = RealFileSystem().WriteFileAtomic(offline_file, result->request_text);
      if (!w.ok()) return fail(w);
      std::cout << "provisioned cluster " << pr.name << "; its enrollment request is in "
                << offline_file << "\nsubmit it to the issuer, then run `openrms slc import FILE "
                << "--dir " << pv.dir << "`\n";
      return;
    }
    std::cout << "provisioned cluster " << pr.name << "\n";
    PrintSummary(*result->active, std::cout);
  });

  // list
  static Target ls;
  static bool ls_json = false;
  auto* list = cmd->add_subcommand("list", "List the clusters of a server directory");
  list->add_option("--dir", ls.dir, "The server directory")->required();
  AddJsonFlag(list, ls_json);
  list->callback([&exit_code] {
    auto ctx = node::ServerContext::Open(ls.dir, std::nullopt, false);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    auto names = (*ctx)->store().ListClusters();
    if (!names.ok()) return void(exit_code = ReportError(names.status()));
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& n : *names) {
      auto r = (*ctx)->clusters().GetStatus(n);
      if (!r.ok()) continue;
      if (ls_json) {
        rows.push_back(ClusterListJson(n, *r));
        continue;
      }
      std::cout << n << "\t" << cluster::ClusterKindName(r->config.kind) << "\t" << r->config.url
                << "\t"
                << (r->slc ? std::string(cluster::SlcStateName(r->slc->state)) : "no certificate")
                << "\n";
    }
    if (ls_json) PrintJson(rows, std::cout);
  });

  // check: one pass of the expiry monitor
  static Target ck;
  static bool ck_renew = false, ck_json = false;
  auto* check = cmd->add_subcommand("check", "Run the expiry monitor once (events, auto-renewal)");
  check->add_option("--dir", ck.dir, "The server directory")->required();
  AddJsonFlag(check, ck_json);
  check->add_option("--password-file", ck.password_file, "Key password, for automatic renewal");
  check->add_flag("--renew", ck_renew, "Also renew clusters that opted in and are due");
  check->callback([&exit_code] {
    std::optional<std::string> pw;
    if (ck_renew) {
      auto p = ReadKeyPassword(ck.password_file, kPasswordEnv, false);
      if (!p.ok()) return void(exit_code = ReportError(p.status()));
      pw = *p;
    }
    auto ctx = node::ServerContext::Open(ck.dir, pw, false);
    if (!ctx.ok()) return void(exit_code = ReportError(ctx.status()));
    cluster::ExpiryMonitor monitor((*ctx)->clusters(), pw);
    auto outcomes = monitor.RunAll();
    if (!outcomes.ok()) return void(exit_code = ReportError(outcomes.status()));
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& o : *outcomes) rows.push_back(CheckJson(o));
    if (ck_json) PrintJson(rows, std::cout);
    for (const auto& o : *outcomes) {
      if (!o.status.ok())
        return void(exit_code = ReportError(o.status.WithContext("cluster " + o.cluster)));
    }
    if (!ck_json) std::cout << "checked\n";
  });

  // events
  static Target ev;
  static bool ev_json = false;
  auto* events = cmd->add_subcommand("events", "Show the cluster's recent events");
  AddTarget(events, ev, false);
  AddJsonFlag(events, ev_json);
  events->callback([&exit_code] {
    auto o = OpenTarget(ev, false);
    if (!o.ok()) return void(exit_code = ReportError(o.status()));
    auto list = o->context->store().Events(o->cluster, 100);
    if (!list.ok()) return void(exit_code = ReportError(list.status()));
    if (ev_json) {
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& e : *list) rows.push_back(EventJson(e));
      return PrintJson(rows, std::cout);
    }
    for (const auto& e : *list) {
      std::cout << FormatHuman(e.at) << "\t" << e.level << "\t" << e.kind << "\t" << e.message
                << "\n";
    }
  });

  // verify
  static Target vf;
  auto* verify = cmd->add_subcommand("verify", "Check the cluster key against the active SLC");
  AddTarget(verify, vf, true);
  verify->callback([&exit_code] {
    WarnAboutOpenServerFiles(vf.dir);
    auto o = OpenTarget(vf, true);
    if (!o.ok()) return void(exit_code = ReportError(o.status()));
    Status s = o->context->clusters().VerifyKey(o->cluster, *o->context->password());
    if (!s.ok()) return void(exit_code = ReportError(s));
    std::cout << "key ok: the cluster key matches its active SLC, whose chain is trusted\n";
  });

  // move-key
  static Target mk;
  static std::string mk_to;
  auto* movekey = cmd->add_subcommand(
      "move-key", "Move the cluster's sealed key into a PKCS#11 token (non-extractable)");
  AddTarget(movekey, mk, true);
  movekey
      ->add_option("--to", mk_to, "The key's RFC 7512 URI in the token, 'pkcs11:token=T;object=O'")
      ->required();
  movekey->callback([&exit_code] {
    auto o = OpenTarget(mk, true);
    if (!o.ok()) return void(exit_code = ReportError(o.status()));
    auto imported =
        o->context->clusters().MoveKeyToToken(o->cluster, *o->context->password(), mk_to, Actor());
    if (!imported.ok()) return void(exit_code = ReportError(imported.status()));
    std::cout << (*imported ? "imported the key of cluster " + o->cluster + " into the token"
                            : "the token already held the key of cluster " + o->cluster)
              << ": " << mk_to << "\ncluster " << o->cluster
              << " now signs and decrypts in the token; its sealed key is deleted from the "
                 "database (older backups of the database still hold it)\n";
  });

  // auto-renew
  static Target ar;
  static std::string ar_mode;
  auto* autorenew = cmd->add_subcommand("auto-renew", "Turn automatic online renewal on or off");
  AddTarget(autorenew, ar, false);
  autorenew->add_option("MODE", ar_mode, "on or off")
      ->required()
      ->check(CLI::IsMember({"on", "off"}));
  autorenew->callback([&exit_code] {
    auto o = OpenTarget(ar, false);
    if (!o.ok()) return void(exit_code = ReportError(o.status()));
    Status s = o->context->store().SetAutoRenew(o->cluster, ar_mode == "on");
    if (s.ok()) {
      s = o->context->store().Audit(o->cluster, DefaultClock().Now(), Actor(), "auto-renew",
                                    ar_mode);
    }
    if (!s.ok()) return void(exit_code = ReportError(s));
    std::cout << "automatic renewal " << ar_mode << " for " << o->cluster << "\n";
  });

  // rac-validity
  static Target rv;
  static int rv_days = 365, rv_minutes = 15;
  auto* racv = cmd->add_subcommand("rac-validity",
                                   "Set how long rights account certificates last (root cluster)");
  AddTarget(racv, rv, false);
  racv->add_option("--standard-days", rv_days, "Standard RACs")->capture_default_str();
  racv->add_option("--temporary-minutes", rv_minutes, "Temporary RACs")->capture_default_str();
  racv->callback([&exit_code] {
    auto o = OpenTarget(rv, false);
    if (!o.ok()) return void(exit_code = ReportError(o.status()));
    Status s = o->context->store().SetRacValidity(o->cluster, rv_days, rv_minutes);
    if (!s.ok()) return void(exit_code = ReportError(s));
    std::cout << "RACs of " << o->cluster << ": standard " << rv_days << " days, temporary "
              << rv_minutes << " minutes\n";
  });

  // clc-validity
  static Target cv;
  static int cv_days = 30;
  auto* clcv = cmd->add_subcommand(
      "clc-validity", "Set how long client licensor certificates (offline publishing) last");
  AddTarget(clcv, cv, false);
  clcv->add_option("--days", cv_days, "Days")->capture_default_str();
  clcv->callback([&exit_code] {
    auto o = OpenTarget(cv, false);
    if (!o.ok()) return void(exit_code = ReportError(o.status()));
    Status s = o->context->store().SetClcValidity(o->cluster, cv_days);
    if (!s.ok()) return void(exit_code = ReportError(s));
    std::cout << "client licensor certificates of " << o->cluster << ": " << cv_days << " days\n";
  });

  // subenroll-token, subenroll: the root cluster as issuer
  static Target st;
  auto* subtoken = cmd->add_subcommand(
      "subenroll-token", "Print a one-time token that lets a licensing-only cluster enroll");
  AddTarget(subtoken, st, true);
  subtoken->callback([&exit_code] {
    auto o = OpenTarget(st, true);
    if (!o.ok()) return void(exit_code = ReportError(o.status()));
    auto authority = o->context->clusters().SubordinateIssuer(o->cluster, *o->context->password());
    if (!authority.ok()) return void(exit_code = ReportError(authority.status()));
    enrollment::EnrollmentService issuer(std::move(authority).value(), o->context->database(),
                                         DefaultClock(), crypto::SystemRandom());
    auto t = issuer.NewToken({"cli", Actor()});
    if (!t.ok()) return void(exit_code = ReportError(t.status()));
    std::cout << "one-time subenrollment token: " << *t << "\n";
  });

  static Target se;
  static std::string se_request, se_out, se_token;
  static bool se_approve = false;
  auto* subenroll = cmd->add_subcommand(
      "subenroll", "Answer a licensing-only cluster's request file (offline SubEnroll)");
  AddTarget(subenroll, se, true);
  subenroll->add_option("REQUEST", se_request, "The request file")->required();
  subenroll->add_option("--out", se_out, "Where to write the certificate chain")->required();
  subenroll->add_option("--token", se_token, "A one-time subenrollment token");
  subenroll->add_flag("--approve", se_approve, "Approve a first enrollment as administrator");
  subenroll->callback([&exit_code] {
    auto o = OpenTarget(se, true);
    if (!o.ok()) return void(exit_code = ReportError(o.status()));
    auto text = ReadTextFile(se_request, protocol::kMaxRequestBytes);
    if (!text.ok()) return void(exit_code = ReportError(text.status()));
    auto authority = o->context->clusters().SubordinateIssuer(o->cluster, *o->context->password());
    if (!authority.ok()) return void(exit_code = ReportError(authority.status()));
    enrollment::EnrollmentService issuer(std::move(authority).value(), o->context->database(),
                                         DefaultClock(), crypto::SystemRandom());
    const enrollment::Requester who{"cli", Actor()};
    Result<enrollment::Issued> issued = Status(Code::kInternal, "unreachable");
    if (se_approve) {
      auto pending = issuer.SubmitForApproval(*text, who);
      issued = pending.ok() ? issuer.Approve(pending->id, who)
                            : Result<enrollment::Issued>(pending.status());
    } else {
      issued = issuer.Enroll(*text, who, se_token.empty() ? std::nullopt : std::optional(se_token));
    }
    if (!issued.ok()) return void(exit_code = ReportError(issued.status()));
    Status w = RealFileSystem().WriteFileAtomic(
        se_out, protocol::WriteEnrollResponse(issued->chain, protocol::RequestKind::kSubEnroll));
    if (!w.ok()) return void(exit_code = ReportError(w));
    std::cout << (issued->renewal ? "renewed" : "issued") << " SLC for "
              << issued->chain.front().principal()->object.name << ", valid until "
              << FormatHuman(*issued->chain.front().validity->until) << "\nwrote " << se_out
              << "\n";
  });
}

void RegisterSlcCommands(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("slc", "Look after a cluster's server licensor certificate");
  cmd->require_subcommand(1);

  static Target stt;
  static bool as_json = false;
  auto* status = cmd->add_subcommand("status", "Show the SLC: issuer, dates, state");
  AddTarget(status, stt, false);
  AddJsonFlag(status, as_json);
  status->callback([&exit_code] {
    auto o = OpenTarget(stt, false);
    if (!o.ok()) return void(exit_code = ReportError(o.status()));
    auto r = o->context->clusters().GetStatus(o->cluster);
    if (!r.ok()) return void(exit_code = ReportError(r.status()));
    if (as_json) {
      PrintJson(StatusJson(*r), std::cout);
    } else {
      PrintStatus(*r, std::cout);
    }
  });

  static Target rn;
  static bool online = false;
  static std::string rn_token;
  auto* renew = cmd->add_subcommand("renew", "Renew the SLC with its issuer");
  AddTarget(renew, rn, true);
  renew->add_flag("--online", online, "Renew online (offline: use export-request and import)")
      ->required();
  renew->add_option("--token", rn_token,
                    "A one-time token from the issuer, needed once the SLC has expired");
  renew->callback([&exit_code] {
    auto o = OpenTarget(rn, true);
    if (!o.ok()) return void(exit_code = ReportError(o.status()));
    auto s = o->context->clusters().RenewOnline(
        o->cluster, *o->context->password(), Actor(),
        rn_token.empty() ? std::nullopt : std::optional<std::string>(rn_token));
    if (!s.ok()) return void(exit_code = ReportError(s.status()));
    std::cout << "renewed the SLC of " << o->cluster << "\n";
    PrintSummary(*s, std::cout);
  });

  static Target rk;
  static bool rk_online = false;
  static std::string rk_offline, rk_token, rk_key;
  auto* rekey = cmd->add_subcommand(
      "rekey",
      "Make a new cluster key and enroll an SLC for it (the old key stays as a trusted "
      "publishing domain)");
  AddTarget(rekey, rk, true);
  auto* rk_on = rekey->add_flag("--online", rk_online, "Enroll the new key with the issuer now");
  auto* rk_off = rekey->add_option("--offline-request", rk_offline,
                                   "Write the request to this file; `slc import` the answer");
  rk_on->excludes(rk_off);
  rekey->add_option("--token", rk_token,
                    "A one-time token from the issuer (a new key is authorised as a first "
                    "enrollment: a token, or the operator's approval)");
  rekey->add_option("--key", rk_key,
                    "Make the new key in a PKCS#11 token, as this new object: "
                    "'pkcs11:token=T;object=O' (required when the key is in a token now)");
  rekey->callback([&exit_code] {
    if (!rk_online && rk_offline.empty()) {
      return void(exit_code = ReportError(
                      Status(Code::kInvalidArgument, "give --online or --offline-request FILE")));
    }
    auto o = OpenTarget(rk, true);
    if (!o.ok()) return void(exit_code = ReportError(o.status()));
    cluster::RekeyRequest r;
    r.name = o->cluster;
    r.offline = !rk_offline.empty();
    if (!rk_token.empty()) r.token = rk_token;
    r.key_uri = rk_key;
    r.actor = Actor();
    auto done = o->context->clusters().Rekey(r, *o->context->password());
    if (!done.ok()) return void(exit_code = ReportError(done.status()));
    if (!rk_key.empty()) {
      std::cout << (done->key_created ? "made a new non-extractable key in the token: "
                                      : "uses the key the token already holds: ")
                << rk_key << "\n";
    }
    if (r.offline) {
      Status w = RealFileSystem().WriteFileAtomic(rk_offline, done->request->request);
      if (!w.ok()) return void(exit_code = ReportError(w));
      std::cout << "wrote " << rk_offline << " for the new key " << done->new_fingerprint
                << "\ncarry it to the issuer, then `openrms slc import` the certificate it issues: "
                   "that switches the cluster to the new key\n";
      return;
    }
    std::cout << "rekeyed " << o->cluster << ": new key " << done->new_fingerprint
              << "\nthe old key " << done->old_fingerprint
              << " and its SLC stay as a retired trusted publishing domain\n";
    PrintSummary(*done->active, std::cout);
  });

  static Target ex;
  static std::string ex_out;
  auto* exp = cmd->add_subcommand("export-request", "Write the renewal request to a file");
  AddTarget(exp, ex, true);
  exp->add_option("--out", ex_out, "The file (default: <server_name>RenewalRequest.xml)");
  exp->callback([&exit_code] {
    auto o = OpenTarget(ex, true);
    if (!o.ok()) return void(exit_code = ReportError(o.status()));
    auto rec = o->context->clusters().ExportRequest(o->cluster, *o->context->password(), Actor());
    if (!rec.ok()) return void(exit_code = ReportError(rec.status()));
    const std::string path = ex_out.empty() ? rec->file_name : ex_out;
    Status w = RealFileSystem().WriteFileAtomic(path, rec->request);
    if (!w.ok()) return void(exit_code = ReportError(w));
    std::cout << "wrote " << path << "\ncarry it to the issuer's web site, then import the "
              << "certificate it issues with `openrms slc import FILE`\n";
  });

  static Target im;
  static std::string im_file;
  static bool yes = false;
  auto* imp = cmd->add_subcommand("import", "Validate and activate an issued certificate file");
  AddTarget(imp, im, false);
  imp->add_option("FILE", im_file, "The certificate chain file")->required();
  imp->add_flag("--yes", yes, "Do not ask for confirmation");
  imp->callback([&exit_code] {
    auto o = OpenTarget(im, false);
    if (!o.ok()) return void(exit_code = ReportError(o.status()));
    auto text = ReadTextFile(im_file, xrml::kMaxChainFileBytes);
    if (!text.ok()) return void(exit_code = ReportError(text.status()));
    auto preview = o->context->clusters().PreviewImport(o->cluster, *text);
    if (!preview.ok()) return void(exit_code = ReportError(preview.status()));
    std::cout << "certificate to activate:\n";
    PrintSummary(preview->incoming, std::cout);
    if (preview->new_key_fingerprint) {
      std::cout << "new key:      " << *preview->new_key_fingerprint
                << " (the rekey's; the old key stays as a trusted publishing domain)\n";
    }
    if (preview->current) {
      std::cout << "replacing the SLC that expires " << FormatHuman(preview->current->expires)
                << "\n";
    }
    if (!yes && !AskYesNo("Activate this certificate?")) {
      std::cout << "not activated: nothing changed (use --yes to confirm without a prompt)\n";
      exit_code = 1;
      return;
    }
    auto done = o->context->clusters().Import(o->cluster, *text, Actor());
    if (!done.ok()) return void(exit_code = ReportError(done.status()));
    std::cout << "activated: the SLC of " << o->cluster << " now expires "
              << FormatHuman(done->expires) << "\n";
  });

  static Target hi;
  static bool hi_json = false;
  auto* history = cmd->add_subcommand("history", "List every SLC the cluster has held");
  AddTarget(history, hi, false);
  AddJsonFlag(history, hi_json);
  history->callback([&exit_code] {
    auto o = OpenTarget(hi, false);
    if (!o.ok()) return void(exit_code = ReportError(o.status()));
    auto h = o->context->store().History(o->cluster);
    auto active = o->context->store().ActiveSlc(o->cluster);
    if (!h.ok()) return void(exit_code = ReportError(h.status()));
    if (!active.ok()) return void(exit_code = ReportError(active.status()));
    if (hi_json) {
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& r : *h) rows.push_back(HistoryJson(r, *active && (*active)->id == r.id));
      return PrintJson(rows, std::cout);
    }
    std::cout << "installed\tsource\tcertificate\tvalid from\tvalid until\tissuer\tactive\n";
    for (const auto& r : *h) {
      const bool is_active = active.ok() && *active && (*active)->id == r.id;
      std::cout << FormatHuman(r.installed_at) << "\t" << r.source << "\t" << r.certificate_id
                << "\t" << FormatHuman(r.valid_from) << "\t" << FormatHuman(r.valid_until) << "\t"
                << r.issuer << "\t" << (is_active ? "active" : "") << "\n";
    }
  });
}

void RegisterServeCommand(CLI::App& app, int& exit_code) {
  static node::NodeConfig flags;
  static std::string config_file;
  auto* serve = app.add_subcommand("serve", "Run a cluster node over HTTPS");
  serve->add_option("--config", config_file,
                    "The node's configuration file (TOML; deploy/openrms.toml shows every key); "
                    "flags override it");
  // Each option below overrides its key of the configuration file.
  std::vector<std::pair<CLI::Option*, void (*)(node::NodeConfig&)>> overrides;
  auto flag = [&](CLI::Option* option, void (*apply)(node::NodeConfig&)) {
    overrides.emplace_back(option, apply);
    return option;
  };
  flag(serve->add_option("--dir", flags.dir, "The server directory (node.dir)"),
       [](node::NodeConfig& c) { c.dir = flags.dir; });
  flag(serve->add_option("--name", flags.name,
                         "This node's name in the audit trail (node.name); default: the host "
                         "name and port"),
       [](node::NodeConfig& c) { c.name = flags.name; });
  flag(serve->add_option("--audit-syslog", flags.audit_syslog,
                         "Also stream the audit trail to this syslog collector, HOST:PORT, as "
                         "RFC 5424 over UDP (audit.syslog)"),
       [](node::NodeConfig& c) { c.audit_syslog = flags.audit_syslog; });
  flag(serve
           ->add_option("--audit-keep-days", flags.audit_keep_days,
                        "Days the audit trail keeps an entry, 0: forever (audit.keep_days)")
           ->check(CLI::Range(0, 36600))
           ->capture_default_str(),
       [](node::NodeConfig& c) { c.audit_keep_days = flags.audit_keep_days; });
  flag(serve->add_option("--store", flags.store_url,
                         "The store (store.url): postgresql://user@host/db, shared by several "
                         "nodes; default: the directory's"),
       [](node::NodeConfig& c) { c.store_url = flags.store_url; });
  flag(serve->add_option("--password-file", flags.key_password_file,
                         "File holding the key password (keys.password_file)"),
       [](node::NodeConfig& c) { c.key_password_file = flags.key_password_file; });
  flag(
      serve->add_option("--listen", flags.listen, "ADDR:PORT (node.listen)")->capture_default_str(),
      [](node::NodeConfig& c) { c.listen = flags.listen; });
  flag(serve->add_option("--pkcs11-module", flags.pkcs11_module,
                         "The PKCS#11 module of the token that holds cluster keys "
                         "(keys.pkcs11_module)"),
       [](node::NodeConfig& c) { c.pkcs11_module = flags.pkcs11_module; });
  flag(serve->add_option("--pin-file", flags.pkcs11_pin_file,
                         "File holding the token's user PIN, else $OPENRMS_PKCS11_PIN "
                         "(keys.pkcs11_pin_file)"),
       [](node::NodeConfig& c) { c.pkcs11_pin_file = flags.pkcs11_pin_file; });
  flag(serve
           ->add_option("--monitor-interval", flags.monitor_interval_seconds,
                        "Seconds between expiry checks, 0: off (node.monitor_interval_seconds)")
           ->capture_default_str(),
       [](node::NodeConfig& c) { c.monitor_interval_seconds = flags.monitor_interval_seconds; });
  flag(serve
           ->add_option("--admin-group", flags.admin_group,
                        "The group whose members may use the administration site (admin.group)")
           ->capture_default_str(),
       [](node::NodeConfig& c) { c.admin_group = flags.admin_group; });
  flag(serve->add_option("--metrics-token-file", flags.metrics_token_file,
                         "Serve /metrics only with this file's bearer token, or --metrics-allow "
                         "(metrics.token_file)"),
       [](node::NodeConfig& c) { c.metrics_token_file = flags.metrics_token_file; });
  flag(serve
           ->add_option("--metrics-allow", flags.metrics_allow,
                        "Serve /metrics without a token to these addresses, e.g. 127.0.0.1 "
                        "(metrics.allow)")
           ->delimiter(','),
       [](node::NodeConfig& c) { c.metrics_allow = flags.metrics_allow; });
  flag(serve
           ->add_option("--threads", flags.threads,
                        "Threads that serve requests, 0: one per core (node.threads); admin pages "
                        "and logons have 4 more of their own")
           ->check(CLI::Range(0, 256))
           ->capture_default_str(),
       [](node::NodeConfig& c) { c.threads = flags.threads; });
  flag(serve
           ->add_option("--trusted-proxy", flags.trusted_proxies,
                        "A load balancer that sends a PROXY protocol header naming each client "
                        "(send-proxy-v2): an address or ADDR/BITS network, repeatable or "
                        "comma-separated (node.trusted_proxies)")
           ->delimiter(','),
       [](node::NodeConfig& c) { c.trusted_proxies = flags.trusted_proxies; });
  flag(serve
           ->add_option("--max-connections-per-address", flags.max_connections_per_address,
                        "Connections one client address may hold at once, 0: no limit "
                        "(node.max_connections_per_address)")
           ->check(CLI::Range(0, 1000000))
           ->capture_default_str(),
       [](node::NodeConfig& c) {
         c.max_connections_per_address = flags.max_connections_per_address;
       });
  serve->callback([&exit_code, overrides] {
    auto fail = [&](const Status& s) { exit_code = ReportError(s); };
    node::NodeConfig config = flags;
    if (!config_file.empty()) {
      auto loaded = node::LoadNodeConfig(RealFileSystem(), config_file);
      if (!loaded.ok()) return fail(loaded.status());
      config = std::move(*loaded);
      for (const auto& [option, apply] : overrides) {
        if (option->count() > 0) apply(config);
      }
    }
    if (config.dir.empty()) {
      return fail(Status(Code::kInvalidArgument,
                         "no server directory: give --dir or node.dir in the --config file"));
    }
    WarnAboutOpenServerFiles(config.dir);
    if (!config.store_url.empty()) {
      Status url = node::CheckStoreUrl(config.store_url, "--store");
      if (!url.ok()) return fail(url);
    }
    auto pw = ReadKeyPassword(config.key_password_file, kPasswordEnv, false);
    if (!pw.ok()) return fail(pw.status());
    node::MetricsAccess metrics;
    metrics.addresses = config.metrics_allow;
    if (!config.metrics_token_file.empty()) {
      auto token = RealFileSystem().ReadFile(config.metrics_token_file, 4096);
      if (!token.ok()) return fail(token.status());
      metrics.bearer_token = std::string(Trim(*token));
      if (metrics.bearer_token.size() < 16) {
        return fail(Status(Code::kInvalidArgument,
                           "the metrics token in " + config.metrics_token_file +
                               " is shorter than 16 characters: use a long random one"));
      }
    }
    auto pkcs11 = ReadPkcs11Config({config.pkcs11_module, config.pkcs11_pin_file});
    if (!pkcs11.ok()) return fail(pkcs11.status());
    node::ContextOptions context_options;
    context_options.store_url = config.store_url;
    context_options.directory = config.directory;
    context_options.oidc = config.oidc;
    context_options.pkcs11 = std::move(*pkcs11);
    node::BlockTerminationSignals();  // before any thread starts: they inherit the mask
    // The TLS key is unsealed beside the store's opening and the key check.
    node::OpeningTlsKey tls_key = node::OpenServerTlsKey(node::ServerPaths(config.dir), *pw);
    auto ctx = node::ServerContext::Open(config.dir, *pw, false, context_options);
    if (!ctx.ok()) return fail(ctx.status());
    // Keys in a token: a missing module or a wrong PIN stops the node here,
    // not at its first license.
    Status keys = CheckTokenKeys(**ctx, *pw);
    if (!keys.ok()) return fail(keys);
    node::ClusterNodeOptions options;
    options.name = config.name;
    options.audit_keep_days = config.audit_keep_days;
    options.audit_syslog = config.audit_syslog;
    options.listen = config.listen;
    options.monitor_interval_seconds = config.monitor_interval_seconds;
    options.admin.admin_group = config.admin_group;
    options.metrics = std::move(metrics);
    options.io_threads = config.threads;
    options.trusted_proxies = config.trusted_proxies;
    options.max_connections_per_address = config.max_connections_per_address;
    options.tls_key = std::move(tls_key);
    auto host = node::ClusterNode::Start(**ctx, std::move(options));
    if (!host.ok()) return fail(host.status());
    std::cout << "server: " << (*host)->url() << "\n"
              << "admin-site: " << (*host)->url() << "/admin/\n"
              << "metrics: " << (*host)->url() << "/metrics\n"
              << "tls-ca: " << (*ctx)->paths().tls_ca << "\n"
              << std::flush;
    node::NotifyServiceManager("READY=1");
    node::WaitForTerminationSignal();
    node::NotifyServiceManager("STOPPING=1");
    (*host)->Stop();
  });
}

}  // namespace openrms::cli
