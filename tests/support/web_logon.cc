#include "support/web_logon.h"

#include "http/forms.h"

namespace openrms::testing {

std::string HiddenField(const std::string& html, const std::string& name) {
  const std::string marker = "name=\"" + name + "\" value=\"";
  const size_t at = html.find(marker);
  if (at == std::string::npos) return "";
  const size_t start = at + marker.size();
  return html.substr(start, html.find('"', start) - start);
}

std::string CookiePair(const http::ClientResponse& response) {
  const std::string cookie = response.Header("set-cookie").value_or("");
  return cookie.substr(0, cookie.find(';'));
}

Result<http::ClientResponse> WebLogOn(const std::string& prefix, const std::string& ca_pem,
                                      const std::string& user, const std::string& password,
                                      const std::string& local_address, const std::string& next) {
  http::ClientRequest get;
  get.url = prefix + "/logon";
  get.ca_pem = ca_pem;
  get.local_address = local_address;
  ASSIGN_OR_RETURN(http::ClientResponse form, http::Fetch(get));
  const std::string csrf = HiddenField(form.body, "csrf");
  http::ClientRequest post;
  post.method = "POST";
  post.url = prefix + "/logon";
  post.ca_pem = ca_pem;
  post.local_address = local_address;
  post.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                  {"Cookie", CookiePair(form)}};
  post.body = "csrf=" + csrf + "&user=" + http::PercentEncode(user) +
              "&password=" + http::PercentEncode(password);
  if (!next.empty()) post.body += "&next=" + http::PercentEncode(next);
  return http::Fetch(post);
}

}  // namespace openrms::testing
