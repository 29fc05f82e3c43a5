// POST <cluster>/Certification/SubEnrollService.asmx (MS-RMPRS 3.3.4.1): a
// root cluster issues SLCs to its licensing-only clusters, signed with its
// own active SLC's key.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "cluster/cluster.h"
#include "enrollment/service.h"
#include "http/server.h"

namespace openrms::node::api {

class SubEnrollApi final {
 public:
  SubEnrollApi(cluster::ClusterService& clusters, store::Database& db, std::string key_password)
      : clusters_(clusters), db_(db), password_(std::move(key_password)) {}
  http::Response Handle(const std::string& cluster, const http::Request& request);

 private:
  // The issuer built from the root cluster's active SLC, rebuilt when
  // another SLC becomes active.
  Result<std::shared_ptr<enrollment::EnrollmentService>> Issuer(const std::string& cluster);

  cluster::ClusterService& clusters_;
  store::Database& db_;
  const std::string password_;
  std::mutex mu_;
  // Per root cluster: (active SLC row id, issuer).
  std::map<std::string, std::pair<int64_t, std::shared_ptr<enrollment::EnrollmentService>>>
      issuers_;
};

}  // namespace openrms::node::api
