#include "node/api/enroll.h"

namespace openrms::node::api {

http::Response SoapFault(const Status& status) {
  // SOAP 1.1 faults travel with status 500.
  return http::Response::Xml(500, protocol::WriteSoapFault(ForRemoteCaller(status)));
}

http::Response SoapEnroll(enrollment::EnrollmentService& issuer, const http::Request& req,
                          protocol::RequestKind kind) {
  if (req.body.size() > protocol::kMaxRequestBytes) {
    return http::Response::Xml(
        413, protocol::WriteSoapFault(Status(Code::kTooLarge, "the request is too large")));
  }
  auto issued = issuer.Enroll(req.body, {"online", req.remote_address});
  if (!issued.ok()) return SoapFault(issued.status());
  return http::Response::Xml(200, protocol::WriteEnrollResponse(issued->chain, kind));
}

}  // namespace openrms::node::api
