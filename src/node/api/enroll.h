// The SOAP endpoints that issue SLCs: Enroll on the enrollment service
// (MS-RMPR 3.6, POST /EnrollmentService.asmx) and SubEnroll on a root
// cluster (MS-RMPRS 3.3.4.1). Both read one request and answer with the
// chain or a SOAP fault.
#pragma once

#include "enrollment/service.h"
#include "http/server.h"
#include "protocol/enrollment_messages.h"

namespace openrms::node::api {

// Issues through `issuer`. A request over protocol::kMaxRequestBytes gets
// 413; a refusal, a SOAP 1.1 fault with status 500 whose text is safe for
// a remote caller.
http::Response SoapEnroll(enrollment::EnrollmentService& issuer, const http::Request& request,
                          protocol::RequestKind kind);
// The fault alone, for errors before an issuer is at hand.
http::Response SoapFault(const Status& status);

}  // namespace openrms::node::api
