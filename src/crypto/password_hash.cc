#include "crypto/password_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <vector>

#include "crypto/encoding.h"
#include "crypto/ssl_util.h"

namespace openrms::crypto {

namespace {

constexpr uint64_t kN = 1 << 15;
constexpr uint64_t kR = 8;
constexpr uint64_t kP = 1;
constexpr size_t kHashBytes = 32;
constexpr uint64_t kMaxMem = 64ull << 20;

bool Scrypt(std::string_view password, std::string_view salt, uint64_t n, uint64_t r, uint64_t p,
            std::string& out) {
  out.assign(kHashBytes, '\0');
  return EVP_PBE_scrypt(password.data(), password.size(),
                        reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), n, r, p,
                        kMaxMem, reinterpret_cast<unsigned char*>(out.data()), out.size()) == 1;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t at = s.find(sep, start);
    parts.emplace_back(s.substr(start, at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return parts;
}

}  // namespace

Result<std::string> HashPassword(std::string_view password) {
  unsigned char salt[16];
  if (RAND_bytes(salt, sizeof salt) != 1) return SslError(Code::kInternal, "RAND_bytes");
  const std::string salt_s(reinterpret_cast<char*>(salt), sizeof salt);
  std::string hash;
  if (!Scrypt(password, salt_s, kN, kR, kP, hash)) {
    return SslError(Code::kInternal, "scrypt failed");
  }
  return "scrypt$" + std::to_string(kN) + "$" + std::to_string(kR) + "$" + std::to_string(kP) +
         "$" + Base64Encode(salt_s) + "$" + Base64Encode(hash);
}

bool VerifyPassword(std::string_view password, std::string_view stored) {
  const auto parts = Split(stored, '$');
  if (parts.size() != 6 || parts[0] != "scrypt") return false;
  const uint64_t n = std::strtoull(parts[1].c_str(), nullptr, 10);
  const uint64_t r = std::strtoull(parts[2].c_str(), nullptr, 10);
  const uint64_t p = std::strtoull(parts[3].c_str(), nullptr, 10);
  if (n < 2 || n > (1u << 20) || r == 0 || r > 32 || p == 0 || p > 16) return false;
  auto salt = Base64Decode(parts[4]);
  auto expected = Base64Decode(parts[5]);
  if (!salt || !expected || expected->size() != kHashBytes) return false;
  std::string actual;
  if (!Scrypt(password, *salt, n, r, p, actual)) return false;
  return CRYPTO_memcmp(actual.data(), expected->data(), kHashBytes) == 0;
}

bool SecretEquals(std::string_view a, std::string_view b) {
  if (a.empty() || b.empty() || a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void Wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

Result<std::string> ReadSecretFile(FileSystem& fs, const std::string& path, std::string_view what) {
  ASSIGN_OR_RETURN(std::string text, fs.ReadFile(path, 4096));
  size_t end = text.size();
  while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r')) --end;
  std::string secret = text.substr(0, end);
  Wipe(text);
  if (secret.empty()) {
    return Status(Code::kFailedPrecondition, "the " + std::string(what) + " " + path + " is empty");
  }
  return secret;
}

}  // namespace openrms::crypto
