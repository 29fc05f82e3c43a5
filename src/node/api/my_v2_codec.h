// The JSON of the licensing protocol as Microsoft's RMS SDK writes and reads
// it (/my/v2, and the /certification body), to and from the typed values
// of licensing/. Field names, types and order are the SDK's contract (order:
// nlohmann::json keeps object keys sorted, and the answers have always been
// written that way), so an answer must stay byte for byte what it is.
//
// Pure functions that never throw: every field is read through the checked
// readers of base/json.h, and a field of the wrong type or out of range is
// kInvalidArgument whose message names it (kMalformed for bytes that are
// not base64).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "licensing/licensing.h"

namespace openrms::node::api {

// The rights of a publishing request's "Policy" object (the SDK's
// custom-policy JSON): user rights, descriptors, offline access, content
// expiry, checked against licensing::CheckUserRights. Owner, content id and
// template are the service's.
Result<licensing::Policy> CustomPolicyFromRequest(const nlohmann::json& policy);

// POST publishinglicenses: {"TemplateId"} or {"Policy"}. A body with
// neither reads as a request with neither (the service refuses it).
Result<licensing::PublishRequest> ReadPublishRequest(const nlohmann::json& body);
// POST enduserlicenses: {"SerializedPublishingLicense": base64}.
Result<licensing::EndUserLicenseRequest> ReadEndUserLicenseRequest(const nlohmann::json& body);
// The same from the body's bytes when they are that member alone, as the
// SDK sends it (base/json.h SoleStringMember): the same answer as ParseJson
// then ReadEndUserLicenseRequest, without a JSON document. nullopt for any
// other body, which goes that longer way.
std::optional<Result<licensing::EndUserLicenseRequest>> ReadSoleEndUserLicenseRequest(
    std::string_view body);

nlohmann::json PublishedLicenseJson(const licensing::PublishedLicense& license);
// WriteJson(PublishedLicenseJson(license)), byte for byte, written without
// passing the license through the JSON writer.
std::string PublishedLicenseAnswer(const licensing::PublishedLicense& license);
nlohmann::json UseLicenseJson(const licensing::UseLicense& license);
// GET templates: [{Id, Name, Description}].
nlohmann::json TemplatesJson(const std::vector<licensing::Template>& templates);
// GET servicediscovery: the operations below `base` (the /my/v2 URL).
nlohmann::json ServiceDiscoveryJson(const std::string& base);

// POST /certification: {"PublicKey": base64 DER PKCS#1, "Temporary": bool}.
struct CertificationRequest {
  std::string public_key_der;
  bool temporary = false;
};
Result<CertificationRequest> ReadCertificationRequest(const nlohmann::json& body);
// {"Certificate": the RAC chain file}, written (as WriteJson writes it).
std::string CertificationJson(const std::string& chain_file);

// POST /my/v2/clientlicensorcertificates, two ways:
// - {"PublicKey": base64 DER PKCS#1} of a key the client holds (openrms
//   certify --clc): the answer is {"ClientLicensorCertificate": the XrML
//   CLC chain file, "ValidUntil": ISO 8601};
// - the RMS SDK's offline publisher sends no key ({"SignatureEncoding":
//   "utf-8"}): nullopt here, and the answer is {"SerializedThinCLC": the
//   JSON CLC with a key the server made, "ValidUntil"}.
Result<std::optional<std::string>> ReadClientLicensorRequest(const nlohmann::json& body);
std::string ClientLicensorJson(const std::string& chain_file, Time valid_until);
std::string ThinClientLicensorJson(const std::string& serialized, Time valid_until);

// POST /my/v2/revocations: {"ContentId": GUID} and/or
// {"SerializedPublishingLicense": base64}; answered {"ContentId", "RevokedBy"}.
struct RevocationRequest {
  std::string content_id;
  std::string publishing_license;  // decoded bytes
};
Result<RevocationRequest> ReadRevocationRequest(const nlohmann::json& body);

// Tracking, for owners (README, "Tracking and revocation"):
//   GET /my/v2/documents     -> {"Documents": [Document, ...]}, newest first
//   GET /my/v2/documents/ID  -> {"Document": Document, "Requests": [Request, ...]}
// Document: {"ContentId", "Owner", "PublishedAt", "Granted", "Refused",
// "LastRequestAt", "Revoked": null or {"By", "At"}}; Request: {"Time",
// "User", "Address", "Node", "Operation", "Result", "Reason"}, newest
// first. Times are ISO 8601 UTC, or null. Names came from users: written
// without throwing.
std::string DocumentsJson(const std::vector<licensing::DocumentSummary>& documents);
std::string TrackingJson(const licensing::LicensingService::Tracking& tracking);

}  // namespace openrms::node::api
