// The enrollment service over HTTPS: the online SOAP endpoint and the web
// site where a person uploads a request file and downloads the issued
// certificate chain (the seed procedure's steps 10-11).
#pragma once

#include <string>

#include "enrollment/service.h"
#include "http/server.h"
#include "web/logon_gate.h"

namespace openrms::enrollment {

inline constexpr char kEnrollPath[] = "/EnrollmentService.asmx";

inline constexpr char kOperatorsGroup[] = "Operators";

struct SiteOptions {
  std::string trust_anchor_xml;  // served at /trust-anchor.xml
  std::string tls_ca_pem;        // served at /tls-ca.pem
  // The operators' pages (/operator/): approve or reject waiting first
  // enrollments, make one-time tokens. Absent: no operator pages.
  web::LogonGate* operator_gate = nullptr;
};

// Adds the service's routes to `router`. `service` must outlive it.
void AddSiteRoutes(http::Router& router, EnrollmentService& service, SiteOptions options);

// "<server name>ServerLicensorCertificate.xml", safe as a file name.
std::string CertificateFileName(std::string_view server_name);

}  // namespace openrms::enrollment
