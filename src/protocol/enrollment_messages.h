// The enrollment request and response (MS-RMPR 3.6): a SOAP 1.1 Enroll
// message whose body is EnrollParameters (3.6.4.1.4.1), and an
// EnrollResponse whose LicensorCertificateChain holds the SLC chain
// (3.6.4.1.4.7). The offline ("air-gap") file is the same message as text.
//
// OpenRMS additions, in their own namespace (kOpenRmsNamespace) so a reader
// of the original schema recognises the rest:
//   - oInput/RequestedValidityDays: a validity shorter than the maximum;
//   - oInput/EnrollmentToken: the one-time token of a first enrollment;
//   - Header/RequestSignature: an RSA signature over oInput made with the
//     key being enrolled (proof of possession), so any change is refused.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "crypto/keys.h"
#include "xrml/document.h"
#include "xrml/element.h"

namespace openrms::protocol {

inline constexpr char kEnrollmentNamespace[] = "http://microsoft.com/DRM/EnrollmentService";
inline constexpr char kSubEnrollmentNamespace[] = "http://microsoft.com/DRM/SubEnrollmentService";
inline constexpr char kOpenRmsNamespace[] = "urn:openrms:enrollment:2026";
inline constexpr char kSoapNamespace[] = "http://schemas.xmlsoap.org/soap/envelope/";
inline constexpr char kEnrollSoapAction[] = "http://microsoft.com/DRM/EnrollmentService/Enroll";
inline constexpr char kSubEnrollSoapAction[] =
    "http://microsoft.com/DRM/SubEnrollmentService/SubEnroll";
// The enrollment service's SOAP endpoint, below its URL.
inline constexpr char kEnrollPath[] = "/EnrollmentService.asmx";
// Below a cluster's URL (MS-RMPRS 3.3.4.1).
inline constexpr char kSubEnrollPath[] = "/Certification/SubEnrollService.asmx";
inline constexpr size_t kMaxRequestBytes = 64 << 10;

// EnrollParameters (3.6.4.1.4.1) and our additions.
struct EnrollParameters {
  std::string revocation_type = "StandardRevocation";  // or "CustomRevocation"
  std::vector<std::string> revocation_authority_keys;  // base64 PKCS#1 keys
  std::optional<crypto::PublicKey> public_key;         // CertificatePublicKey/aPublicKeyBytes
  std::string guid;                                    // CertificatePublicKey/Guid
  std::string sku;                                     // EnrolleeInformation
  std::string version;
  std::string name;
  std::string url;
  std::optional<int> requested_validity_days;
  std::optional<std::string> token;
};

struct EnrollRequest {
  EnrollParameters parameters;
  xrml::Element input;    // oInput as received, what the signature covers
  std::string signature;  // empty when unsigned
};

// Builds the SOAP request text, signed with `key` (which must be the key
// whose public half is in the parameters).
// Enroll goes to the enrollment service (MS-RMPR 3.6); SubEnroll from a
// licensing-only cluster to its root cluster (MS-RMPRS 3.3.4.1).
enum class RequestKind { kEnroll, kSubEnroll };

Result<std::string> WriteEnrollRequest(const EnrollParameters& parameters,
                                       const crypto::PrivateKey& key,
                                       RequestKind kind = RequestKind::kEnroll);

// Reads a request. kTooLarge, or kMalformed naming the element that is
// missing or wrong. Does not check the signature.
Result<EnrollRequest> ParseEnrollRequest(std::string_view bytes);

// Checks the proof of possession: the signature over oInput verifies with
// the key in CertificatePublicKey. kBadSignature otherwise.
Status VerifyRequestSignature(const EnrollRequest& request);

// The response with the chain, leaf first.
std::string WriteEnrollResponse(const std::vector<xrml::Document>& chain,
                                RequestKind kind = RequestKind::kEnroll);
// A SOAP fault; `code` is carried in detail/Code so clients can map it back.
std::string WriteSoapFault(const Status& status);
// Reads a response: the chain, or the Status of a SOAP fault.
Result<std::vector<xrml::Document>> ParseEnrollResponse(std::string_view bytes);

}  // namespace openrms::protocol
