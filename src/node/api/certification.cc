#include "node/api/certification.h"

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "crypto/encoding.h"
#include "node/api/my_v2.h"
#include "xrml/chain.h"

namespace openrms::node::api {

http::Response CertificationApi::Handle(const std::string& cluster,
                                        const http::Request& req) const {
  if (req.method != "POST") return http::Response::Text(405, "use POST\n");
  const auto session = bearer_.SessionOf(req);
  if (!session) return bearer_.Challenge(cluster);
  http::Response error;
  const auto body = JsonBody(req, error);
  if (!body) return error;
  auto public_key = StringField(*body, "PublicKey", "", 16 << 10);
  if (!public_key.ok() || public_key->empty()) {
    return JsonError(400, "InvalidRequest", "the body needs PublicKey (base64 DER PKCS#1)");
  }
  auto temporary = BoolField(*body, "Temporary", false);
  if (!temporary.ok()) return JsonError(400, "InvalidRequest", temporary.status().message());
  auto der = crypto::Base64Decode(*public_key);
  auto key = der ? crypto::PublicKey::FromPkcs1Der(*der)
                 : Result<crypto::PublicKey>(Status(Code::kMalformed, "PublicKey is not base64"));
  if (!key.ok()) return JsonError(400, "InvalidRequest", key.status().message());
  auto chain = licensing_.Certify(cluster, {session->user, session->groups, ""}, *key, *temporary);
  if (!chain.ok()) {
    const licensing::ProtocolError e = licensing::LicensingService::ToProtocolError(chain.status());
    return JsonError(chain.status().code() == Code::kPermissionDenied ? 403 : e.http_status, e.code,
                     e.message);
  }
  return http::Response::Json(200,
                              nlohmann::json{{"Certificate", xrml::WriteChainFile(*chain)}}.dump());
}

}  // namespace openrms::node::api
