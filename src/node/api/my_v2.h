// The REST licensing protocol (/my/v2) as Microsoft's RMS SDK for portable
// devices speaks it: service discovery, templates, publishing licenses, use
// licenses (enduserlicenses) and the client log endpoints. This is where the
// JSON of the wire meets the licensing service. Every call first comes
// without Authorization and gets the bearer challenge.
//
// enduserlicenses remembers, for the last 4096 request bodies it answered,
// which publishing license each one carried (SHA-256 of the body -> the
// license's digest): the same body again skips its JSON and base64 and asks
// the licensing service by digest. Who the user is and what they may do
// are decided again every time.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "http/server.h"
#include "licensing/licensing.h"
#include "licensing/lru_cache.h"
#include "node/api/bearer.h"

namespace openrms::node::api {

class MyV2Api final {
 public:
  MyV2Api(licensing::LicensingService& licensing, const BearerAuth& bearer)
      : licensing_(licensing), bearer_(bearer), bodies_(4096) {}

  // `base` is the URL of /my/v2 ("https://host/cluster/my/v2"), `operation`
  // the path after it ("enduserlicenses").
  http::Response Handle(const std::string& cluster, const std::string& base,
                        const std::string& operation, const http::Request& request) const;

  const licensing::CacheCounters& body_cache_counters() const { return body_counters_; }

 private:
  http::Response EndUserLicense(const std::string& cluster, const accounts::Identity& who,
                                const http::Request& request) const;

  licensing::LicensingService& licensing_;
  const BearerAuth& bearer_;
  // SHA-256 of an enduserlicenses body -> the digest of its publishing license.
  mutable licensing::ShardedLruCache<std::string> bodies_;
  mutable licensing::CacheCounters body_counters_;
};

// The client's JSON body, depth-limited; nullopt after setting `error` to
// the protocol's 400.
std::optional<nlohmann::json> JsonBody(const http::Request& request, http::Response& error);

}  // namespace openrms::node::api
