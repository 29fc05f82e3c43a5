#include "node/issuer_transport.h"

#include "http/client.h"

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

}  // namespace openrms::node
