#include "node/api/subenroll.h"

#include "base/clock.h"
#include "crypto/encoding.h"
#include "node/api/enroll.h"

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
  auto issuer = Issuer(name);
  if (!issuer.ok()) return SoapFault(issuer.status());
  return SoapEnroll(**issuer, req, protocol::RequestKind::kSubEnroll);
}

}  // namespace openrms::node::api
