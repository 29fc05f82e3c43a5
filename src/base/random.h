// Randomness, injected. Production uses the operating system's CSPRNG (via
// OpenSSL, in crypto/); tests may use a seeded DeterministicRandom.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace openrms {

// Thread-safe.
class Random {
 public:
  virtual ~Random() = default;
  virtual void Fill(std::span<uint8_t> out) = 0;
};

// Not for keys: a reproducible stream for tests (splitmix64). Not thread-safe.
class DeterministicRandom final : public Random {
 public:
  explicit DeterministicRandom(uint64_t seed) : state_(seed) {}
  void Fill(std::span<uint8_t> out) override;

 private:
  uint64_t state_;
};

// "{8-4-4-4-12}" lower-case version-4 GUID, as MS-RMPR writes MS-GUID IDs.
std::string NewGuid(Random& random);
// True for "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}" (hex, any case).
bool IsGuid(std::string_view text);
// A URL-safe random token of `bytes` random bytes, hex-encoded.
std::string NewToken(Random& random, size_t bytes = 20);

}  // namespace openrms
