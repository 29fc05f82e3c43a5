// libFuzzer target: bearer tokens shaped as JWTs, which anyone can send to
// /my/v2 (accounts::OidcVerifier). The issuer's keys come from a fixed
// discovery document and JWKS (an RSA and an EC key, as a provider serves
// them); the input is the token. Nothing it holds may be accepted: no
// input can carry the issuer's signature.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "accounts/oidc.h"
#include "fuzz_check.h"

namespace {

constexpr char kIssuer[] = "https://idp.example.test";

openrms::Result<openrms::accounts::FetchResponse> Serve(const openrms::accounts::FetchRequest& r) {
  openrms::accounts::FetchResponse answer;
  answer.status = 200;
  if (r.url == std::string(kIssuer) + "/.well-known/openid-configuration") {
    answer.body =
        R"({"issuer":"https://idp.example.test","jwks_uri":"https://idp.example.test/k"})";
  } else {
    // Public keys made for this target (openssl genrsa 2048; prime256v1).
    answer.body =
        R"({"keys":[{"kty":"RSA","kid":"r","use":"sig","alg":"RS256","e":"AQAB","n":")"
        "ulr68kp1fvrVyuQ2mGdqsQ4bBRZ-3ej_g_-3KBJEV4jMP86aZHp1P7i_8vO38ji0GcL8Hn3aEQI0q0norx1OPumWg"
        "hHVt8TlpMqcjksbvVKE_Wpbytcbk-tpDvkmszbGbN9b8nrdgB7t5Mmd29pq8a-EgAKYiDF2-B14QWrs6J1dvvALJg"
        "dPNX_2SknM-EMyNMpinCPbmFhuDwO8BvsV_X_ICulvzq_IVa0FT8Vs85xOOZ0LjSYs6QNNk8wCOIt00F09jmLBMjX"
        "jZioaAKrRTb0VhKGQa0fP4zlkaq90A2VMhbVm9dfBIaa_gT5UVEciJj5r_SaMccfQ8PrwJ-Cmpw"
        R"("},{"kty":"EC","kid":"e","crv":"P-256","x":"LHYxD-G2ZsVX3YATOlDcmgzcf6kDKbkBjU8Ji30XcqA",)"
        R"("y":"h22x5pPy1Bbr9p1qBsUZVK7IDgy0fdSZvK5bLRbdEbk"}]})";
  }
  return answer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace openrms;
  static FakeClock clock(*ParseTime("2026-06-01T12:00"));
  static accounts::OidcVerifier* verifier = [] {
    accounts::OidcIssuerConfig c;
    c.issuer = kIssuer;
    c.audience = "openrms";
    return new accounts::OidcVerifier({c}, clock, Serve);
  }();
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  auto r = verifier->Verify(token);
  FUZZ_CHECK(!r.ok());
  FUZZ_CHECK(r.status().code() == Code::kUnauthenticated);
  FUZZ_CHECK(!r.status().message().empty());
  if (accounts::OidcVerifier::LooksLikeJwt(token)) {
    FUZZ_CHECK(token.find('.') != std::string_view::npos);
  }
  return 0;
}
