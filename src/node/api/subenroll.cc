#include "node/api/subenroll.h"

#include "base/clock.h"
#include "crypto/encoding.h"
#include "protocol/enrollment_messages.h"

namespace openrms::node::api {

Result<std::shared_ptr<enrollment::EnrollmentService>> SubEnrollApi::Issuer(
    const std::string& name) {
  ASSIGN_OR_RETURN(auto active, clusters_.store().ActiveSlc(name));
  const int64_t active_id = active ? active->id : 0;
  {
    std::lock_guard lock(mu_);
    auto it = issuers_.find(name);
    if (it != issuers_.end() && it->second.first == active_id) return it->second.second;
  }
  ASSIGN_OR_RETURN(enrollment::Authority authority, clusters_.SubordinateIssuer(name, password_));
  auto issuer = std::make_shared<enrollment::EnrollmentService>(
      std::move(authority), db_, DefaultClock(), crypto::SystemRandom());
  std::lock_guard lock(mu_);
  issuers_[name] = {active_id, issuer};
  return issuer;
}

http::Response SubEnrollApi::Handle(const std::string& name, const http::Request& req) {
  if (req.method != "POST") return http::Response::Text(405, "use POST\n");
  auto fault = [](const Status& s) {
    return http::Response::Xml(500, protocol::WriteSoapFault(ForRemoteCaller(s)));
  };
  if (req.body.size() > protocol::kMaxRequestBytes) {
    return fault(Status(Code::kTooLarge, "the request is too large"));
  }
  auto issuer = Issuer(name);
  if (!issuer.ok()) return fault(issuer.status());
  auto issued = (*issuer)->Enroll(req.body, {"online", req.remote_address});
  if (!issued.ok()) return fault(issued.status());
  return http::Response::Xml(
      200, protocol::WriteEnrollResponse(issued->chain, protocol::RequestKind::kSubEnroll));
}

}  // namespace openrms::node::api
