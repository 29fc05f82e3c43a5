// libFuzzer target: RSA public keys from untrusted bytes. The whole input is
// tried as a DER PKCS#1 RSAPublicKey (MS-RMPR aPublicKeyBytes, cluster
// records); its first four bytes as a little-endian exponent and the rest as
// a big-endian modulus (XrML PUBLICKEY). A key that is accepted must survive
// DER and modulus round trips and verify signatures without crashing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/keys.h"
#include "fuzz_check.h"

namespace {

using openrms::crypto::PublicKey;

void Check(const PublicKey& key, std::string_view bytes) {
  FUZZ_CHECK(openrms::crypto::IsSupportedRsaBits(key.bits()));
  FUZZ_CHECK(!key.modulus_be().empty() && key.modulus_be().front() != '\0');
  const std::string der = key.ToPkcs1Der();
  auto from_der = PublicKey::FromPkcs1Der(der);
  FUZZ_CHECK(from_der.ok());
  FUZZ_CHECK(*from_der == key);
  FUZZ_CHECK(from_der->ToPkcs1Der() == der);
  auto from_modulus = PublicKey::FromModulus(key.modulus_be(), key.exponent());
  FUZZ_CHECK(from_modulus.ok());
  FUZZ_CHECK(*from_modulus == key);
  // The input's bytes as a signature over the input (almost always wrong).
  (void)key.Verify(openrms::crypto::DigestAlgorithm::kSha256, bytes,
                   bytes.substr(0, key.modulus_be().size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto key = PublicKey::FromPkcs1Der(bytes); key.ok()) Check(*key, bytes);
  if (size >= 4) {
    const uint32_t exponent = uint32_t{data[0]} | uint32_t{data[1]} << 8 | uint32_t{data[2]} << 16 |
                              uint32_t{data[3]} << 24;
    if (auto key = PublicKey::FromModulus(bytes.substr(4), exponent); key.ok()) Check(*key, bytes);
  }
  return 0;
}
