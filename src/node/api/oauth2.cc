#include "node/api/oauth2.h"

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "http/forms.h"
#include "node/api/bearer.h"

namespace openrms::node::api {

http::Response TokenEndpoint::Handle(const http::Request& req) const {
  if (req.method != "POST") return http::Response::Text(405, "use POST\n");
  auto form = http::ParseUrlEncoded(req.body);
  auto error = [](const std::string& code, const std::string& text) {
    // The text may quote a user name as sent (any bytes): written without throwing.
    return http::Response::Json(400, WriteJson({{"error", code}, {"error_description", text}}));
  };
  if (!form.ok()) return error("invalid_request", form.status().message());
  if (form->count("grant_type") == 0 || form->at("grant_type") != "password") {
    return error("unsupported_grant_type", "use grant_type=password");
  }
  // The store or the directory did not answer: the password may well be
  // right, so the client is told to come back, not that it is wrong.
  auto outage = [](const Status& s) {
    http::Response r =
        http::Response::Json(503, WriteJson({{"error", "temporarily_unavailable"},
                                             {"error_description", ForRemoteCaller(s).message()}}));
    r.SetHeader("Retry-After", std::to_string(http::kRetryAfterSeconds));
    return r;
  };
  auto id = logon_.LogOn(form->count("username") ? form->at("username") : "",
                         form->count("password") ? form->at("password") : "", req.remote_address);
  if (!id.ok()) {
    if (id.status().code() == Code::kUnavailable) return outage(id.status());
    return error("invalid_grant", id.status().message());
  }
  auto token = tokens_.Create(*id);
  if (!token.ok()) {
    if (token.status().code() == Code::kUnavailable) return outage(token.status());
    return JsonError(500, "InternalError", ForRemoteCaller(token.status()).message());
  }
  http::Response r = http::Response::Json(
      200, WriteJson({{"access_token", *token}, {"token_type", "Bearer"}, {"expires_in", 1800}}));
  r.SetHeader("Cache-Control", "no-store");
  return r;
}

}  // namespace openrms::node::api
