#include "sites/enrollment/enrollment_site.h"

#include <map>
#include <memory>

#include "base/text.h"
#include "http/forms.h"
#include "sites/page.h"
#include "xrml/chain.h"

namespace openrms::sites {

namespace {

using http::Request;
using http::Response;

// Enough for a request file and a token, with room for multipart framing.
constexpr size_t kMaxUploadBytes = protocol::kMaxRequestBytes + 8192;

struct Site {
  enrollment::EnrollmentService& service;
  EnrollmentSiteOptions options;
};

std::string Frame(const Site& site, std::string title, std::string body_html) {
  return sites::Render({site.service.authority().name, std::move(title), std::move(body_html), ""});
}

std::string NoticeBody(NoticeKind kind, std::string title, std::string text) {
  return RenderTemplate("notice", Notice(kind, std::move(title), std::move(text)));
}

// Which advice templates/enrollment/refused.mustache gives.
const char* Advice(Code code) {
  switch (code) {
    case Code::kBadSignature:
      return "advice_signature";
    case Code::kMalformed:
    case Code::kTooLarge:
      return "advice_request_file";
    case Code::kNotFound:
    case Code::kAlreadyUsed:
    case Code::kPermissionDenied:
    case Code::kExpired:
      return "advice_token";
    default:
      return "advice_correct";
  }
}

Response RefusalPage(const Site& site, const Status& refusal) {
  const Status s = ForRemoteCaller(refusal);
  TemplateData data;
  data.set("message", s.message());
  data.set(Advice(s.code()), true);
  const int status = s.code() == Code::kInternal || s.code() == Code::kIo ? 500
                     : s.code() == Code::kTooLarge                        ? 413
                                                                          : 400;
  return Response::Html(status,
                        Frame(site, "Request refused", RenderTemplate("enrollment/refused", data)));
}

Response IssuedPage(const Site& site, const xrml::Document& slc, bool renewal) {
  const xrml::Party* p = slc.principal();
  TemplateData data;
  data.set("renewal", renewal);
  data.set("server_name", p ? p->object.name : "");
  data.set("server_guid", p ? p->object.id : "");
  data.set("server_url", p ? p->object.address : "");
  data.set("certificate_id", slc.descriptor.id);
  if (slc.validity && slc.validity->from) data.set("valid_from", FormatHuman(*slc.validity->from));
  if (slc.validity && slc.validity->until) {
    data.set("valid_until", FormatHuman(*slc.validity->until));
  }
  data.set("file_name", CertificateFileName(p ? p->object.name : "server"));
  return Response::Html(
      200, Frame(site, "Certificate issued", RenderTemplate("enrollment/issued", data)));
}

Response PendingPage(const Site& site, const enrollment::PendingRequest& pending) {
  if (pending.state == "issued") {
    auto chain = site.service.ChainForCertificate(pending.certificate_id);
    if (chain.ok()) return IssuedPage(site, chain->front(), false);
  }
  TemplateData data;
  data.set("rejected", pending.state == "rejected");
  data.set("server_name", pending.server_name);
  data.set("server_guid", pending.slc_guid);
  data.set("submitted", FormatHuman(pending.submitted_at));
  data.set("reference", std::to_string(pending.id));
  return Response::Html(
      200, Frame(site, "Enrollment request", RenderTemplate("enrollment/pending", data)));
}

Response Submit(const Site& site, const Request& req) {
  if (req.body.size() > kMaxUploadBytes) {
    return RefusalPage(
        site, Status(Code::kTooLarge, "the uploaded file is larger than " +
                                          std::to_string(protocol::kMaxRequestBytes / 1024) +
                                          " KiB; a request file is a few KiB"));
  }
  auto parts = http::ParseMultipart(req.Header("content-type").value_or(""), req.body);
  if (!parts.ok()) return RefusalPage(site, parts.status());
  std::optional<std::string> file;
  std::optional<std::string> token;
  for (const auto& part : *parts) {
    if (part.name == "request") file = part.data;
    if (part.name == "token" && !part.data.empty()) token = part.data;
  }
  if (!file || file->empty()) {
    return RefusalPage(site, Status(Code::kMalformed, "no request file was chosen"));
  }
  auto outcome = site.service.EnrollOrQueue(*file, {"web", req.remote_address}, token);
  if (!outcome.ok()) return RefusalPage(site, outcome.status());
  if (outcome->pending) return Response::Redirect("/requests/" + outcome->pending->reference);
  return IssuedPage(site, outcome->issued->chain.front(), outcome->issued->renewal);
}

Response Download(const Site& site, const Request& req) {
  const std::string id = req.path.substr(std::string("/certificates/").size());
  auto chain = site.service.ChainForCertificate(id);
  if (!chain.ok()) {
    return Response::Html(404, Frame(site, "Not found",
                                     NoticeBody(NoticeKind::kError, "No such certificate",
                                                chain.status().message())));
  }
  const std::string name = chain->front().principal()->object.name;
  Response r = Response::Xml(200, protocol::WriteEnrollResponse(*chain));
  r.SetHeader("Content-Disposition", "attachment; filename=\"" + CertificateFileName(name) + "\"");
  return r;
}

using OperatorVisitor = sites::LogonGate::Visitor;

// The operator's page. `data` may bring a "notice" (Notice()) or a new "token".
Response OperatorHome(const Site& site, const OperatorVisitor& v, TemplateData data = {}) {
  data.set("csrf", v.session.csrf_token);
  auto pending = site.service.ListPending();
  TemplateList pending_rows;
  for (const auto& p : pending.ok() ? *pending : std::vector<enrollment::PendingRequest>{}) {
    TemplateData row;
    row.set("id", std::to_string(p.id));
    row.set("server_name", p.server_name);
    row.set("guid", p.slc_guid);
    row.set("submitted", FormatHuman(p.submitted_at));
    row.set("requester", p.requester);
    row.set("state", p.state);
    row.set("waiting", p.state == "pending");
    pending_rows.push_back(std::move(row));
  }
  data.set("pending", pending_rows);
  data.set("nothing_waits", pending.ok() && pending->empty());
  auto issued = site.service.ListIssued();
  const size_t n = issued.ok() ? std::min<size_t>(issued->size(), 20) : 0;
  TemplateList issued_rows;
  for (size_t i = 0; i < n; ++i) {
    const auto& r = (*issued)[i];
    TemplateData row;
    row.set("issued_at", FormatHuman(r.issued_at));
    row.set("kind", r.kind);
    row.set("server_name", r.server_name);
    row.set("valid_until", FormatHuman(r.valid_until));
    row.set("channel", r.channel);
    issued_rows.push_back(std::move(row));
  }
  data.set("issued", issued_rows);
  return Response::Html(200, sites::Render({site.service.authority().name, "Operator",
                                            RenderTemplate("enrollment/operator", data),
                                            site.options.operator_gate->HeaderHtml(v)}));
}

TemplateData WithNotice(NoticeKind kind, std::string title, std::string text) {
  TemplateData data;
  data.set("notice", Notice(kind, std::move(title), std::move(text)));
  return data;
}

Response Operator(const Site& site, const Request& req) {
  sites::LogonGate& gate = *site.options.operator_gate;
  if (auto logon = gate.HandleLogon(req)) return *logon;
  auto visitor = gate.Require(req);
  if (auto* refused = std::get_if<Response>(&visitor)) return *refused;
  const OperatorVisitor& v = std::get<OperatorVisitor>(visitor);
  if (req.method == "GET" && (req.path == "/operator/" || req.path == "/operator")) {
    return OperatorHome(site, v);
  }
  if (req.method != "POST") return Response::Text(404, "not found\n");
  auto parsed = gate.Form(v, req);
  if (auto* refused = std::get_if<Response>(&parsed)) return *refused;
  const auto& form = std::get<std::map<std::string, std::string>>(parsed);
  const enrollment::Requester who{"operator", v.session.user};
  // Not a number: no request has id 0, so Approve/Reject say "no such request".
  const int64_t id = form.count("id") ? ParseInt(form.at("id")).value_or(0) : 0;
  if (req.path == "/operator/approve") {
    auto issued = site.service.Approve(id, who);
    if (!issued.ok()) {
      return OperatorHome(
          site, v, WithNotice(NoticeKind::kError, "Not approved", issued.status().message()));
    }
    return OperatorHome(
        site, v,
        WithNotice(NoticeKind::kSuccess, "Approved",
                   "Request " + std::to_string(id) + " (" +
                       issued->chain.front().principal()->object.name +
                       ") was issued; the requester downloads the certificate from the request's "
                       "page."));
  }
  if (req.path == "/operator/reject") {
    Status s = site.service.Reject(id, who);
    return OperatorHome(site, v,
                        s.ok() ? WithNotice(NoticeKind::kInfo, "Rejected",
                                            "Request " + std::to_string(id) + " was rejected.")
                               : WithNotice(NoticeKind::kError, "Not rejected", s.message()));
  }
  if (req.path == "/operator/token") {
    auto token = site.service.NewToken(who);
    if (!token.ok()) {
      return OperatorHome(site, v,
                          WithNotice(NoticeKind::kError, "No token", token.status().message()));
    }
    TemplateData data;
    data.set("token", *token);
    return OperatorHome(site, v, std::move(data));
  }
  return Response::Text(404, "not found\n");
}

}  // namespace

std::string CertificateFileName(std::string_view server_name) {
  return FileNameSafe(server_name) + "ServerLicensorCertificate.xml";
}

void AddEnrollmentSiteRoutes(http::Router& router, enrollment::EnrollmentService& service,
                             EnrollmentSiteOptions options) {
  auto site = std::make_shared<Site>(Site{service, std::move(options)});
  router.Add("GET", "/", [site](const Request&) {
    return Response::Html(200, Frame(*site, "Enrollment", RenderTemplate("enrollment/upload", {})));
  });
  router.Add("POST", "/submit", [site](const Request& r) { return Submit(*site, r); });
  router.Add("GET", "/certificates/*", [site](const Request& r) { return Download(*site, r); });
  router.Add("GET", "/requests/*", [site](const Request& r) {
    auto pending = site->service.FindPending(r.path.substr(std::string("/requests/").size()));
    if (!pending.ok()) {
      return Response::Html(404, Frame(*site, "Not found",
                                       NoticeBody(NoticeKind::kError, "No such request",
                                                  pending.status().message())));
    }
    return PendingPage(*site, *pending);
  });
  router.Add("GET", "/trust-anchor.xml", [site](const Request&) {
    return Response::Xml(200, site->options.trust_anchor_xml)
        .SetHeader("Content-Disposition", "attachment; filename=\"trust-anchor.xml\"");
  });
  router.Add("GET", "/tls-ca.pem", [site](const Request&) {
    Response r = Response::Text(200, site->options.tls_ca_pem);
    r.SetHeader("Content-Type", "application/x-pem-file");
    return r;
  });
  for (const char* method : {"GET", "HEAD"}) {  // others: 405
    router.Add(method, "/healthz", [](const Request&) { return Response::Text(200, "ok\n"); });
  }
  if (site->options.operator_gate != nullptr) {
    for (const char* method : {"GET", "POST"}) {
      router.Add(method, "/operator/*", [site](const Request& r) { return Operator(*site, r); });
      router.Add(method, "/operator", [site](const Request& r) { return Operator(*site, r); });
    }
  }
}

}  // namespace openrms::sites
