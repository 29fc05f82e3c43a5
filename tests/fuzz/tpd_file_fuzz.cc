// libFuzzer target: the trusted publishing domain file (`openrms tpd
// import` reads files an administrator carries from another server). The
// header reader takes the raw bytes; the contents reader takes the JSON a
// file decrypts to (fuzzing through scrypt would test nothing but scrypt).
// Contents that read must write back to JSON that reads the same.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cluster/tpd_file.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace openrms::cluster;
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    auto envelope = ParseTpdEnvelope(bytes);
    if (!envelope.ok()) return 0;
    FUZZ_CHECK(envelope->header.size() + envelope->sealed.size() == bytes.size());
    FUZZ_CHECK(envelope->salt.size() == 16 && envelope->nonce.size() == 12);
    FUZZ_CHECK(envelope->sealed.size() >= 16);
    return 0;
  }
  auto contents = ParseTpdContents(bytes);
  if (!contents.ok()) return 0;
  FUZZ_CHECK(!contents->domains.empty() && contents->domains.size() <= kMaxTpdDomains);
  const std::string written = WriteTpdContents(*contents);
  auto again = ParseTpdContents(written);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->domains.size() == contents->domains.size());
  FUZZ_CHECK(WriteTpdContents(*again) == written);
  return 0;
}
