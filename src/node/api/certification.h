// POST <cluster>/certification: rights account certificates for logged-on
// users. {"PublicKey": base64 PKCS#1 DER, "Temporary": bool} ->
// {"Certificate": chain file text}.
#pragma once

#include <string>

#include "http/server.h"
#include "licensing/licensing.h"
#include "node/api/bearer.h"

namespace openrms::node::api {

class CertificationApi final {
 public:
  CertificationApi(licensing::LicensingService& licensing, const BearerAuth& bearer)
      : licensing_(licensing), bearer_(bearer) {}
  http::Response Handle(const std::string& cluster, const http::Request& request) const;

 private:
  licensing::LicensingService& licensing_;
  const BearerAuth& bearer_;
};

}  // namespace openrms::node::api
