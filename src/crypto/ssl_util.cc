#include "crypto/ssl_util.h"

#include <openssl/err.h>

namespace openrms::crypto {

Status SslError(Code code, std::string_view what) {
  std::string detail;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (detail.empty()) detail = buf;
  }
  std::string msg(what);
  if (!detail.empty()) msg += " (" + detail + ")";
  return Status(code, msg);
}

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

}  // namespace openrms::crypto
