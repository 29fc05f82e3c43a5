// The REST licensing protocol (/my/v2) as Microsoft's RMS SDK for portable
// devices speaks it: service discovery, templates, publishing licenses, use
// licenses (enduserlicenses) and the client log endpoints. This is where the
// JSON of the wire meets the licensing service. Every call first comes
// without Authorization and gets the bearer challenge.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "http/server.h"
#include "licensing/licensing.h"
#include "node/api/bearer.h"

namespace openrms::node::api {

class MyV2Api final {
 public:
  MyV2Api(licensing::LicensingService& licensing, const BearerAuth& bearer)
      : licensing_(licensing), bearer_(bearer) {}

  // `base` is the URL of /my/v2 ("https://host/cluster/my/v2"), `operation`
  // the path after it ("enduserlicenses").
  http::Response Handle(const std::string& cluster, const std::string& base,
                        const std::string& operation, const http::Request& request) const;

 private:
  licensing::LicensingService& licensing_;
  const BearerAuth& bearer_;
};

// The client's JSON body, depth-limited; nullopt after setting `error` to
// the protocol's 400.
std::optional<nlohmann::json> JsonBody(const http::Request& request, http::Response& error);

}  // namespace openrms::node::api
