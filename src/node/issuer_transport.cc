#include "node/issuer_transport.h"

#include "http/client.h"
#include "http/forms.h"
#include "http/url.h"
#include "node/enrollment_node.h"

namespace openrms::node {

Result<std::string> HttpsIssuerTransport::PostSoap(const std::string& url,
                                                   const std::string& soap_action,
                                                   const std::string& body,
                                                   const std::string& tls_ca_pem) {
  http::ClientRequest req;
  req.method = "POST";
  req.url = url;
  req.body = body;
  req.ca_pem = tls_ca_pem;
  req.headers = {{"Content-Type", "text/xml; charset=utf-8"},
                 {"SOAPAction", "\"" + soap_action + "\""}};
  ASSIGN_OR_RETURN(http::ClientResponse resp, http::Fetch(req));
  // SOAP 1.1 faults come with status 500 and are read by the caller.
  if (resp.status == 200 || (resp.status == 500 && resp.body.find("Fault") != std::string::npos)) {
    return resp.body;
  }
  return Status(Code::kUnavailable, "the issuer at " + url + " answered HTTP " +
                                        std::to_string(resp.status) + "; check the issuer URL");
}

Result<cluster::IssuerTransport::RenewalInfoAnswer> HttpsIssuerTransport::GetRenewalInfo(
    const std::string& issuer_url, const std::string& certificate_id,
    const std::string& tls_ca_pem) {
  ASSIGN_OR_RETURN(http::ParsedUrl issuer, http::ParseHttpUrl(issuer_url));
  http::ClientRequest req;
  req.method = "GET";
  req.url = issuer.Origin() + kRenewalInfoPath + http::PercentEncode(certificate_id);
  req.ca_pem = tls_ca_pem;
  req.timeout_seconds = 10;
  req.max_response_bytes = 64 << 10;
  req.headers = {{"Accept", "application/json"}};
  ASSIGN_OR_RETURN(http::ClientResponse resp, http::Fetch(req));
  if (resp.status == 404) {
    return Status(Code::kNotFound, "the issuer at " + issuer.Origin() +
                                       " has no renewal information for certificate " +
                                       certificate_id);
  }
  if (resp.status != 200) {
    return Status(Code::kUnavailable, "the issuer's renewal information at " + req.url +
                                          " answered HTTP " + std::to_string(resp.status));
  }
  RenewalInfoAnswer answer;
  ASSIGN_OR_RETURN(answer.info, enrollment::ParseRenewalInfo(resp.body));
  if (auto retry = resp.Header("retry-after"))
    answer.retry_after = enrollment::ParseRetryAfter(*retry);
  return answer;
}

}  // namespace openrms::node
