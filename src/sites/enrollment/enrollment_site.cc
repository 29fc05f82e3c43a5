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
using sites::E;
using sites::NoticeKind;

// Enough for a request file and a token, with room for multipart framing.
constexpr size_t kMaxUploadBytes = protocol::kMaxRequestBytes + 8192;

struct Site {
  enrollment::EnrollmentService& service;
  EnrollmentSiteOptions options;
};

std::string Frame(const Site& site, std::string title, std::string body) {
  return sites::Render({site.service.authority().name, std::move(title), std::move(body), ""});
}

std::string UploadForm() {
  return R"(<section class="card"><h2>Submit an enrollment or renewal request</h2>
<ol class="steps">
<li>On your RMS cluster, export the request file (for a renewal:
<em>Cluster resources</em>, <em>Renew</em>, <em>Offline</em>, <em>Export</em>; it is named
<code>&lt;server name&gt;RenewalRequest.xml</code>).</li>
<li>Choose that file below, unchanged, and submit it.</li>
<li>Download the certificate file this site issues and import it on the cluster.</li>
</ol>
<form method="post" action="/submit" enctype="multipart/form-data">
<label for="request">Request file</label>
<input type="file" id="request" name="request" accept=".xml,text/xml" required>
<p class="hint">The XML file exported by the cluster. Any change to it makes it invalid.</p>
<label for="token">Enrollment token (first enrollment only)</label>
<input type="text" id="token" name="token" autocomplete="off" spellcheck="false">
<p class="hint">Renewals need no token: they are signed with the key of the certificate they
renew. Without a token, a first enrollment waits for the operator's approval.</p>
<div class="actions"><button type="submit">Submit request</button></div>
</form></section>
<section class="card"><h2>Trust</h2>
<p>Clusters pin this service's <a href="/trust-anchor.xml">trust anchor</a> (its CA
certificate). Browsers and tools reach this site through the
<a href="/tls-ca.pem">TLS root certificate</a>.</p></section>)";
}

std::string IssuedSummary(const xrml::Document& slc) {
  const xrml::Party* p = slc.principal();
  std::string html = "<table>";
  auto row = [&](const char* k, const std::string& v) {
    html += "<tr><th>" + std::string(k) + "</th><td>" + E(v) + "</td></tr>";
  };
  row("Server name", p ? p->object.name : "");
  row("Server GUID", p ? p->object.id : "");
  row("Server URL", p ? p->object.address : "");
  row("Certificate ID", slc.descriptor.id);
  if (slc.validity && slc.validity->from) row("Valid from", FormatHuman(*slc.validity->from));
  if (slc.validity && slc.validity->until) row("Expires", FormatHuman(*slc.validity->until));
  return html + "</table>";
}

std::string WhatToDo(Code code) {
  switch (code) {
    case Code::kBadSignature:
      return "Export the request from the cluster again and submit the file exactly as it was "
             "saved: do not open it in an editor.";
    case Code::kMalformed:
    case Code::kTooLarge:
      return "Choose the request file that the cluster exported "
             "(<code>&lt;server name&gt;RenewalRequest.xml</code>).";
    case Code::kNotFound:
    case Code::kAlreadyUsed:
    case Code::kPermissionDenied:
    case Code::kExpired:
      return "Ask the operator of this enrollment service for a new one-time token, or submit "
             "without a token and wait for approval.";
    default:
      return "Correct the request on the cluster, export it again and submit it.";
  }
}

Response RefusalPage(const Site& site, const Status& refusal) {
  const Status s = ForRemoteCaller(refusal);
  std::string body =
      sites::Notice(NoticeKind::kError, "The request was refused",
                    "<p>" + E(s.message()) + "</p><p>" + WhatToDo(s.code()) + "</p>");
  body += "<div class=\"actions\"><a class=\"button secondary\" href=\"/\">Back</a></div>";
  const int status = s.code() == Code::kInternal || s.code() == Code::kIo ? 500
                     : s.code() == Code::kTooLarge                        ? 413
                                                                          : 400;
  return Response::Html(status, Frame(site, "Request refused", body));
}

Response IssuedPage(const Site& site, const xrml::Document& slc, bool renewal) {
  const std::string name = slc.principal() ? slc.principal()->object.name : "server";
  std::string body = sites::Notice(
      NoticeKind::kSuccess,
      renewal ? "Server licensor certificate renewed" : "Server licensor certificate issued",
      "<p>Download the certificate file and carry it back to the cluster. Import it there: "
      "<em>Cluster resources</em>, <em>Renew</em>, <em>Browse</em>, <em>Import</em>.</p>");
  body +=
      "<section class=\"card\">" + IssuedSummary(slc) +
      "<div class=\"actions\"><a class=\"button\" id=\"download\" download href=\"/certificates/" +
      E(slc.descriptor.id) + "\">Download " + E(CertificateFileName(name)) +
      "</a><a class=\"button secondary\" href=\"/\">Submit another request</a></div></section>";
  return Response::Html(200, Frame(site, "Certificate issued", body));
}

Response PendingPage(const Site& site, const enrollment::PendingRequest& pending) {
  std::string body;
  if (pending.state == "issued") {
    auto chain = site.service.ChainForCertificate(pending.certificate_id);
    if (chain.ok()) return IssuedPage(site, chain->front(), false);
  }
  if (pending.state == "rejected") {
    body = sites::Notice(NoticeKind::kError, "The operator rejected this request",
                         "<p>Contact the operator of this enrollment service.</p>");
  } else {
    body = sites::Notice(NoticeKind::kInfo, "Waiting for the operator's approval",
                         "<p>A first enrollment without a token needs the operator's approval. "
                         "Keep this page's address: once the request is approved, the certificate "
                         "can be downloaded here.</p>");
  }
  body += "<section class=\"card\"><table><tr><th>Server name</th><td>" + E(pending.server_name) +
          "</td></tr><tr><th>Server GUID</th><td>" + E(pending.slc_guid) +
          "</td></tr><tr><th>Submitted</th><td>" + E(FormatHuman(pending.submitted_at)) +
          "</td></tr><tr><th>Reference</th><td class=\"mono\">" + E(std::to_string(pending.id)) +
          "</td></tr></table></section>";
  return Response::Html(200, Frame(site, "Enrollment request", body));
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
                                     sites::Notice(NoticeKind::kError, "No such certificate",
                                                   "<p>" + E(chain.status().message()) + "</p>")));
  }
  const std::string name = chain->front().principal()->object.name;
  Response r = Response::Xml(200, protocol::WriteEnrollResponse(*chain));
  r.SetHeader("Content-Disposition", "attachment; filename=\"" + CertificateFileName(name) + "\"");
  return r;
}

Response Online(const Site& site, const Request& req) {
  if (req.body.size() > protocol::kMaxRequestBytes) {
    return Response::Xml(
        413, protocol::WriteSoapFault(Status(Code::kTooLarge, "the request is too large")));
  }
  auto issued = site.service.Enroll(req.body, {"online", req.remote_address});
  if (!issued.ok()) {
    // SOAP 1.1 faults travel with status 500.
    return Response::Xml(500, protocol::WriteSoapFault(ForRemoteCaller(issued.status())));
  }
  return Response::Xml(200, protocol::WriteEnrollResponse(issued->chain));
}

using OperatorVisitor = sites::LogonGate::Visitor;

std::string OperatorFrame(const Site& site, const OperatorVisitor& v, std::string title,
                          std::string body) {
  return sites::Render({site.service.authority().name, std::move(title), std::move(body),
                        site.options.operator_gate->HeaderHtml(v)});
}

Response OperatorHome(const Site& site, const OperatorVisitor& v, const Request& req,
                      const std::string& notice) {
  sites::LogonGate& gate = *site.options.operator_gate;
  std::string body = notice;
  body +=
      "<section class=\"card\"><h2>Waiting first enrollments</h2><table class=\"list\" "
      "id=\"pending\"><thead><tr><th>Reference</th><th>Server</th><th>GUID</th><th>Submitted"
      "</th><th>From</th><th>State</th><th></th></tr></thead><tbody>";
  auto pending = site.service.ListPending();
  for (const auto& p : pending.ok() ? *pending : std::vector<enrollment::PendingRequest>{}) {
    body += "<tr><td>" + E(std::to_string(p.id)) + "</td><td>" + E(p.server_name) +
            "</td><td class=\"mono\">" + E(p.slc_guid) + "</td><td>" +
            E(FormatHuman(p.submitted_at)) + "</td><td>" + E(p.requester) + "</td><td>" +
            E(p.state) + "</td><td>";
    if (p.state == "pending") {
      for (const char* action : {"approve", "reject"}) {
        body += "<form method=\"post\" action=\"/operator/" + std::string(action) +
                "\" class=\"inline\">" + gate.CsrfField(v) +
                sites::Hidden("id", std::to_string(p.id)) + "<button type=\"submit\"" +
                (std::string(action) == "reject" ? " class=\"secondary\"" : "") + ">" +
                (std::string(action) == "approve" ? "Approve" : "Reject") + "</button></form> ";
      }
    }
    body += "</td></tr>";
  }
  if (pending.ok() && pending->empty()) body += "<tr><td colspan=\"7\">Nothing waits.</td></tr>";
  body +=
      "</tbody></table></section><section class=\"card\"><h2>One-time tokens</h2><p>A token "
      "lets one first enrollment through without approval.</p><form method=\"post\" "
      "action=\"/operator/token\">" +
      gate.CsrfField(v) +
      "<button type=\"submit\" id=\"new-token\">New one-time token</button></form></section>";
  body +=
      "<section class=\"card\"><h2>Recently issued</h2><table class=\"list\"><thead><tr>"
      "<th>enrollment::Issued</th><th>Kind</th><th>Server</th><th>Valid "
      "until</th><th>Channel</th></tr>"
      "</thead><tbody>";
  auto issued = site.service.ListIssued();
  const size_t n = issued.ok() ? std::min<size_t>(issued->size(), 20) : 0;
  for (size_t i = 0; i < n; ++i) {
    const auto& r = (*issued)[i];
    body += "<tr><td>" + E(FormatHuman(r.issued_at)) + "</td><td>" + E(r.kind) + "</td><td>" +
            E(r.server_name) + "</td><td>" + E(FormatHuman(r.valid_until)) + "</td><td>" +
            E(r.channel) + "</td></tr>";
  }
  body += "</tbody></table></section>";
  (void)req;
  return Response::Html(200, OperatorFrame(site, v, "Operator", body));
}

Response Operator(const Site& site, const Request& req) {
  sites::LogonGate& gate = *site.options.operator_gate;
  if (auto logon = gate.HandleLogon(req)) return *logon;
  auto visitor = gate.Require(req);
  if (auto* refused = std::get_if<Response>(&visitor)) return *refused;
  const OperatorVisitor& v = std::get<OperatorVisitor>(visitor);
  if (req.method == "GET" && (req.path == "/operator/" || req.path == "/operator")) {
    return OperatorHome(site, v, req, "");
  }
  if (req.method != "POST") return Response::Text(404, "not found\n");
  auto parsed = gate.Form(v, req);
  if (auto* refused = std::get_if<Response>(&parsed)) return *refused;
  const auto& form = std::get<std::map<std::string, std::string>>(parsed);
  const enrollment::Requester who{"operator", v.session.user};
  int64_t id = 0;
  try {
    id = form.count("id") ? std::stoll(form.at("id")) : 0;
  } catch (...) {
  }
  if (req.path == "/operator/approve") {
    auto issued = site.service.Approve(id, who);
    if (!issued.ok()) {
      return OperatorHome(site, v, req,
                          sites::Notice(NoticeKind::kError, "Not approved",
                                        "<p>" + E(issued.status().message()) + "</p>"));
    }
    return OperatorHome(
        site, v, req,
        sites::Notice(
            NoticeKind::kSuccess, "Approved",
            "<p>Request " + E(std::to_string(id)) + " (" +
                E(issued->chain.front().principal()->object.name) +
                ") was issued; the requester downloads the certificate from the request's "
                "page.</p>"));
  }
  if (req.path == "/operator/reject") {
    Status s = site.service.Reject(id, who);
    return OperatorHome(
        site, v, req,
        s.ok()
            ? sites::Notice(NoticeKind::kInfo, "Rejected",
                            "<p>Request " + E(std::to_string(id)) + " was rejected.</p>")
            : sites::Notice(NoticeKind::kError, "Not rejected", "<p>" + E(s.message()) + "</p>"));
  }
  if (req.path == "/operator/token") {
    auto token = site.service.NewToken(who);
    if (!token.ok()) {
      return OperatorHome(site, v, req,
                          sites::Notice(NoticeKind::kError, "No token",
                                        "<p>" + E(token.status().message()) + "</p>"));
    }
    return OperatorHome(site, v, req,
                        sites::Notice(NoticeKind::kSuccess, "New one-time token",
                                      "<p>Give it to the cluster's administrator: <code "
                                      "id=\"token\">" +
                                          E(*token) + "</code></p>"));
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
    return Response::Html(200, Frame(*site, "Enrollment", UploadForm()));
  });
  router.Add("POST", "/submit", [site](const Request& r) { return Submit(*site, r); });
  router.Add("GET", "/certificates/*", [site](const Request& r) { return Download(*site, r); });
  router.Add("GET", "/requests/*", [site](const Request& r) {
    auto pending = site->service.FindPending(r.path.substr(std::string("/requests/").size()));
    if (!pending.ok()) {
      return Response::Html(404,
                            Frame(*site, "Not found",
                                  sites::Notice(NoticeKind::kError, "No such request",
                                                "<p>" + E(pending.status().message()) + "</p>")));
    }
    return PendingPage(*site, *pending);
  });
  router.Add("POST", protocol::kEnrollPath, [site](const Request& r) { return Online(*site, r); });
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
