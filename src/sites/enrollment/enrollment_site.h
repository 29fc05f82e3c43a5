// The enrollment service's web site, where a person uploads a request file
// and downloads the issued certificate chain (the seed procedure's steps
// 10-11), and where operators approve first enrollments. The online SOAP
// endpoint is node/api/enroll.h.
#pragma once

#include <string>

#include "enrollment/service.h"
#include "http/server.h"
#include "sites/logon_gate.h"

namespace openrms::sites {

inline constexpr char kOperatorsGroup[] = "Operators";

struct EnrollmentSiteOptions {
  std::string trust_anchor_xml;  // served at /trust-anchor.xml
  std::string tls_ca_pem;        // served at /tls-ca.pem
  // The operators' pages (/operator/): approve or reject waiting first
  // enrollments, make one-time tokens. Absent: no operator pages.
  sites::LogonGate* operator_gate = nullptr;
};

// Adds the service's routes to `router`. `service` must outlive it.
void AddEnrollmentSiteRoutes(http::Router& router, enrollment::EnrollmentService& service,
                             EnrollmentSiteOptions options);

// "<server name>ServerLicensorCertificate.xml", safe as a file name.
std::string CertificateFileName(std::string_view server_name);

}  // namespace openrms::sites
