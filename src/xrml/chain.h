// Certificate chains (MS-RMPR 2.2.9.2): leaf first, each document signed by
// the key of the next one's issued principal, up to a trusted root.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "xrml/document.h"

namespace openrms::xrml {

inline constexpr size_t kMaxChainFileBytes = 8 << 20;
inline constexpr size_t kMaxChainLength = 16;

// Reads one XrML document, or a file that carries a chain as a list of
// <string> elements holding XrML text (the enrollment response
// LicensorCertificateChain, 3.6.4.1.4.7, or SubEnrollResult).
Result<std::vector<Document>> ParseChain(std::string_view bytes);

struct ChainPolicy {
  // The trust anchor's key; when set the chain must end at it.
  std::optional<crypto::PublicKey> trusted_root;
  // When set, each document's VALIDITYTIME must contain this instant, and
  // each document must have been issued within its issuer's ISSUE right.
  std::optional<Time> at;
};

// kBadSignature, kUntrusted, kExpired or kNotYetValid, naming the document
// ("certificate 2 of 4 (Enrollment-Service-Certificate)") and the reason.
Status VerifyChain(const std::vector<Document>& chain, const ChainPolicy& policy);

// The key a trust-anchor document certifies: a self-signed CA certificate
// whose signature holds. kUntrusted if it is not self-signed.
Result<crypto::PublicKey> TrustAnchorKey(const Document& anchor);

// A chain as a file OpenRMS writes (and ParseChain reads): each document as
// the text of a <string> element, leaf first.
std::string WriteChainFile(const std::vector<Document>& chain);

// A human-readable name for position `index` of `chain`.
std::string DescribeInChain(const std::vector<Document>& chain, size_t index);

// An OBJECT element (2.2.9.1.3), and an ISSUER or PRINCIPAL element: its
// object, public key and security levels.
Element ObjectElement(const Object& object);
Element PartyElement(std::string name, const Party& party);

// The template of an issuing certificate (2.2.9.3): CA certificates, the
// enrollment certificates and SLCs.
struct IssuingCertificate {
  std::string descriptor_type;  // kTypeServerLicensorCertificate, ...
  std::string certificate_id;   // a GUID, new for every issuance
  Time issued;
  TimeRange validity;  // both ends set
  Party issuer;        // object, public key, security levels
  Party principal;     // the subject and its key
};
Element BuildIssuingCertificateBody(const IssuingCertificate& spec);

}  // namespace openrms::xrml
