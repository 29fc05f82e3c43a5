#include "crypto/encoding.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace openrms::crypto {

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

namespace {

// What each byte is to base64: not of it, a digit of its alphabet, white
// space (as C's isspace: skipped), or the padding '='. A table, because
// licenses of several kilobytes arrive as base64 on every request.
enum : uint8_t { kNotBase64, kDigit, kSpace, kPad };
constexpr std::array<uint8_t, 256> kBase64Class = [] {
  std::array<uint8_t, 256> table{};
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = kDigit;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = kDigit;
  for (int c = '0'; c <= '9'; ++c) table[c] = kDigit;
  table['+'] = table['/'] = kDigit;
  for (char c : {' ', '\t', '\n', '\v', '\f', '\r'}) table[static_cast<uint8_t>(c)] = kSpace;
  table['='] = kPad;
  return table;
}();

}  // namespace

std::optional<std::string> Base64Decode(std::string_view text) {
  bool has_space = false;
  for (char c : text) {
    const uint8_t kind = kBase64Class[static_cast<uint8_t>(c)];
    if (kind == kNotBase64) return std::nullopt;
    has_space |= kind == kSpace;
  }
  std::string clean;
  std::string_view digits = text;
  if (has_space) {
    clean.reserve(text.size());
    for (char c : text) {
      if (kBase64Class[static_cast<uint8_t>(c)] != kSpace) clean += c;
    }
    digits = clean;
  }
  if (digits.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  while (pad < digits.size() && pad < 3 && digits[digits.size() - 1 - pad] == '=') ++pad;
  if (pad > 2 || digits.find('=') < digits.size() - pad) return std::nullopt;
  std::string out(digits.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(digits.data()),
                                static_cast<int>(digits.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pad);
  // Canonical (RFC 4648 section 3.5): the bits after the last byte are zero,
  // or "QQ==" and "Qq==" would both decode to "A".
  if (pad > 0 && Base64Encode(std::string_view(out).substr(out.size() - (3 - pad))) !=
                     digits.substr(digits.size() - 4)) {
    return std::nullopt;
  }
  return out;
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string s = Base64Encode(bytes);
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  std::string standard(text);
  for (char& c : standard) {
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return std::nullopt;
    }
  }
  while (standard.size() % 4 != 0) standard += '=';
  return Base64Decode(standard);
}

namespace {

// Bumped in a child after fork(): the child must not hand out the bytes its
// parent drew, or both would make the same keys.
std::atomic<uint64_t> fork_generation{0};

// RAND_bytes costs about 2 us a call here, however few bytes it gives (its
// DRBG re-keys AES and checks the process id on every call), and a license
// takes five to eight small draws: a content key, a nonce, GUIDs. Each
// thread draws kPoolBytes at a time and hands each byte out once, wiping it
// as it goes.
class OpenSslRandom final : public Random {
 public:
  OpenSslRandom() {
    pthread_atfork(nullptr, nullptr,
                   [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
  }

  void Fill(std::span<uint8_t> out) override {
    if (out.size() > kPoolBytes / 8) return Draw(out);
    thread_local Pool pool;
    const uint64_t generation = fork_generation.load(std::memory_order_relaxed);
    if (pool.generation != generation || pool.next + out.size() > kPoolBytes) {
      Draw(pool.bytes);
      pool.next = 0;
      pool.generation = generation;
    }
    uint8_t* from = pool.bytes.data() + pool.next;
    std::memcpy(out.data(), from, out.size());
    OPENSSL_cleanse(from, out.size());
    pool.next += out.size();
  }

 private:
  static constexpr size_t kPoolBytes = 4096;
  struct Pool {
    std::array<uint8_t, kPoolBytes> bytes{};
    size_t next = kPoolBytes;  // empty until the first draw
    uint64_t generation = 0;
    ~Pool() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
  };

  static void Draw(std::span<uint8_t> out) {
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) std::abort();
  }
};

}  // namespace

Random& SystemRandom() {
  static OpenSslRandom random;
  return random;
}

}  // namespace openrms::crypto
