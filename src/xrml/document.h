// The typed model of an XrML 1.2 certificate or license (MS-RMPR 2.2.9).
//
// A Document keeps the whole element tree (so unknown parts such as
// FEDERATIONPRINCIPALS survive a round trip) and typed views of the common
// elements of 2.2.9.1, read once at parse time.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "xrml/element.h"

namespace openrms::xrml {

// Descriptor and principal object types used by OpenRMS (2.2.9.3, 2.2.9.5).
inline constexpr char kTypeServerLicensorCertificate[] = "Server-Licensor-Certificate";
inline constexpr char kTypeCaCertificate[] = "DRM-CA-Certificate";
inline constexpr char kTypeEnrollmentCaCertificate[] = "Enrollment-CA-Certificate";
inline constexpr char kTypeEnrollmentServiceCertificate[] = "Enrollment-Service-Certificate";
inline constexpr char kObjectServer[] = "MS-DRM-Server";
inline constexpr char kRightIssue[] = "ISSUE";

// OBJECT (2.2.9.1.4): type, ID (with its type), NAME, ADDRESS.
struct Object {
  std::string type;
  std::string id_type;
  std::string id;
  std::string name;
  std::string address_type;
  std::string address;
};

struct SecurityLevel {
  std::string name;
  std::string value;
};

// An ISSUER or a PRINCIPAL: who, their key, and their SECURITYLEVELs.
struct Party {
  Object object;
  std::optional<crypto::PublicKey> public_key;
  std::vector<SecurityLevel> security_levels;

  std::optional<std::string> SecurityLevelValue(std::string_view name) const;
};

// FROM/UNTIL, UTC. Either end may be open. Half-open: [from, until).
struct TimeRange {
  std::optional<Time> from;
  std::optional<Time> until;

  bool Contains(Time t) const { return (!from || t >= *from) && (!until || t < *until); }
};

// A right in WORK/RIGHTSGROUP/RIGHTSLIST: either <RIGHT name="ISSUE"> or a
// named element such as <VIEW>, with the RANGETIME of its CONDITIONLIST.
struct Right {
  std::string name;
  std::optional<TimeRange> range;
};

// SIGNATURE (2.2.9.1.12).
struct Signature {
  crypto::DigestAlgorithm digest_algorithm = crypto::DigestAlgorithm::kSha256;
  std::string digest;     // raw bytes
  std::string algorithm;  // "RSA PKCS#1-V1.5"
  std::string value;      // raw big-endian bytes
};

struct Document {
  Element root;           // <XrML>
  std::string body_type;  // BODY@type: "LICENSE", "Microsoft Rights Label", ...
  std::optional<Time> issued_time;
  std::optional<TimeRange> validity;
  Object descriptor;
  Party issuer;
  std::vector<Party> principals;  // ISSUEDPRINCIPALS
  std::vector<Right> rights;
  std::optional<Signature> signature;

  const Element& body() const { return *root.Child("BODY"); }
  // The single issued principal of a certificate, or nullptr.
  const Party* principal() const { return principals.size() == 1 ? &principals[0] : nullptr; }
  const Right* FindRight(std::string_view name) const;
  // "Server-Licensor-Certificate", or the BODY type for licenses without a
  // DESCRIPTOR.
  std::string Kind() const;
};

// Limits for one XrML document.
inline constexpr size_t kMaxDocumentBytes = 1 << 20;

// Parses one XrML document. kMalformed names the missing or bad element.
Result<Document> ParseDocument(std::string_view bytes);
// Reads the typed views from an element tree (used by ParseDocument and by
// code that builds documents).
Result<Document> DocumentFromElement(Element root);

// The bytes a signature covers: BODY in surface-coding, UTF-16LE.
Result<std::string> SignedBytes(const Document& document);

// Checks the DIGEST and the RSA signature against the key in ISSUER (or
// `issuer_key` when given). kBadSignature with a reason when they do not
// hold; kUnsupported for unknown algorithms.
Status VerifySignature(const Document& document,
                       const std::optional<crypto::PublicKey>& issuer_key = std::nullopt);

// Signs `body` (a <BODY> element) with `key` and returns the complete
// document: <XrML version="1.2" xmlns=""> BODY SIGNATURE </XrML>. Mode 2
// is SHA-256 with a 2048-bit key; mode 1 (SHA-1) is verify-only.
Result<Document> SignDocument(Element body, const crypto::PrivateKey& key,
                              crypto::DigestAlgorithm algorithm = crypto::DigestAlgorithm::kSha256);
// SignDocument's document as its root element alone, for a caller that only
// writes it out (reading it back into a Document costs as much as writing).
Result<Element> SignElement(Element body, const crypto::PrivateKey& key,
                            crypto::DigestAlgorithm algorithm = crypto::DigestAlgorithm::kSha256);

// The document as a file: UTF-8 text, one element per line.
std::string WriteDocument(const Document& document);

// XrML PUBLICKEY element (2.2.9.1.9): exponent as integer32, modulus as
// base64 of the little-endian bytes with its size in bits.
Element PublicKeyElement(const crypto::PublicKey& key);
Result<crypto::PublicKey> ParsePublicKeyElement(const Element& publickey);

}  // namespace openrms::xrml
