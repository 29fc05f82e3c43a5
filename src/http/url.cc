#include "http/url.h"

namespace openrms::http {

std::string UrlPath(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return "";
  std::string path = url.substr(slash);
  const size_t q = path.find_first_of("?#");
  if (q != std::string::npos) path.resize(q);
  while (!path.empty() && path.back() == '/') path.pop_back();
  return path;
}

std::string UrlHost(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t end = url.find('/', start);
  std::string authority =
      url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (!authority.empty() && authority.front() == '[') {
    return authority.substr(1, authority.find(']') - 1);
  }
  return authority.substr(
      0, authority.rfind(':') == std::string::npos ? authority.size() : authority.rfind(':'));
}

}  // namespace openrms::http
