#include "node/api/certification.h"

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "crypto/keys.h"
#include "node/api/my_v2.h"
#include "node/api/my_v2_codec.h"

namespace openrms::node::api {

http::Response CertificationApi::Handle(const std::string& cluster,
                                        const http::Request& req) const {
  if (req.method != "POST") return http::Response::Text(405, "use POST\n");
  const auto found = bearer_.SessionOf(req);
  if (!found.ok()) return bearer_.Refusal(cluster, found.status());
  const std::optional<accounts::Session>& session = *found;
  if (!session) return bearer_.Challenge(cluster);
  http::Response error;
  const auto body = JsonBody(req, error);
  if (!body) return error;
  auto request = ReadCertificationRequest(*body);
  if (!request.ok()) return JsonError(400, "InvalidRequest", request.status().message());
  auto key = crypto::PublicKey::FromPkcs1Der(request->public_key_der);
  if (!key.ok()) return JsonError(400, "InvalidRequest", key.status().message());
  auto chain = licensing_.CertifyChainFile(
      cluster, {session->user, session->groups, "", req.remote_address}, *key, request->temporary);
  if (!chain.ok()) return ProtocolErrorResponse(chain.status());
  // The user's name is in the chain: written without throwing.
  return http::Response::Json(200, CertificationJson(*chain));
}

}  // namespace openrms::node::api
