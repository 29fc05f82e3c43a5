#include "crypto/encoding.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <cstdlib>

namespace openrms::crypto {

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/' && c != '=') {
      return std::nullopt;
    }
    clean += c;
  }
  if (clean.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  while (pad < clean.size() && pad < 3 && clean[clean.size() - 1 - pad] == '=') ++pad;
  if (pad > 2 || clean.find('=') < clean.size() - pad) return std::nullopt;
  std::string out(clean.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()),
                                static_cast<int>(clean.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pad);
  // Canonical (RFC 4648 section 3.5): the bits after the last byte are zero,
  // or "QQ==" and "Qq==" would both decode to "A".
  if (pad > 0 && Base64Encode(std::string_view(out).substr(out.size() - (3 - pad))) !=
                     std::string_view(clean).substr(clean.size() - 4)) {
    return std::nullopt;
  }
  return out;
}

namespace {
class OpenSslRandom final : public Random {
 public:
  void Fill(std::span<uint8_t> out) override {
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) std::abort();
  }
};
}  // namespace

Random& SystemRandom() {
  static OpenSslRandom random;
  return random;
}

}  // namespace openrms::crypto
