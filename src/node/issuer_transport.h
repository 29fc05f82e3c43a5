// How a cluster reaches its issuer (the enrollment service, or the root
// cluster of a licensing-only cluster): SOAP over HTTPS, and the
// enrollment service's renewal information (JSON over HTTPS).
#pragma once

#include <string>

#include "cluster/cluster.h"

namespace openrms::node {

class HttpsIssuerTransport final : public cluster::IssuerTransport {
 public:
  Result<std::string> PostSoap(const std::string& url, const std::string& soap_action,
                               const std::string& body, const std::string& tls_ca_pem) override;
  // GET <origin of issuer_url>/renewal-info/<certificate id> (see
  // node/enrollment_node.h).
  Result<RenewalInfoAnswer> GetRenewalInfo(const std::string& issuer_url,
                                           const std::string& certificate_id,
                                           const std::string& tls_ca_pem) override;
};

}  // namespace openrms::node
