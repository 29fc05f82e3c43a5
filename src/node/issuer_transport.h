// How a cluster reaches its issuer (the enrollment service, or the root
// cluster of a licensing-only cluster): SOAP over HTTPS.
#pragma once

#include <string>

#include "cluster/cluster.h"

namespace openrms::node {

class HttpsIssuerTransport final : public cluster::IssuerTransport {
 public:
  Result<std::string> PostSoap(const std::string& url, const std::string& soap_action,
                               const std::string& body, const std::string& tls_ca_pem) override;
};

}  // namespace openrms::node
