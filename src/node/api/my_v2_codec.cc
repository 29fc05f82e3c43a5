#include "node/api/my_v2_codec.h"

#include "base/json.h"
#include "crypto/encoding.h"

namespace openrms::node::api {

namespace {

using licensing::Policy;
using licensing::UserRights;
using nlohmann::json;

Status Invalid(std::string message) { return Status(Code::kInvalidArgument, std::move(message)); }

// A member of `object`, absent or null as nullptr (as base/json.h reads it).
const json* Field(const json& object, std::string_view name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

// A reader's error ("Name must be a string") with the path of the object
// that holds the field in front of it.
Status Within(std::string_view path, const Status& status) {
  return Status(status.code(), std::string(path) + "." + status.message());
}

// The SDK's "UserRights": [{"Users": [...], "Rights": [...]}]. Types are
// checked here, the rules for names and rights by licensing.
Result<std::vector<UserRights>> ReadUserRights(const json& policy) {
  const json* array = Field(policy, "UserRights");
  if (array == nullptr || !array->is_array() || array->empty()) {
    return Invalid("Policy.UserRights must be a non-empty array of {Users, Rights}");
  }
  std::vector<UserRights> out;
  for (size_t i = 0; i < array->size(); ++i) {
    const json& entry = (*array)[i];
    const std::string where = "UserRights[" + std::to_string(i) + "]";
    const json* users = Field(entry, "Users");
    const json* rights = Field(entry, "Rights");
    if (users == nullptr || rights == nullptr || !users->is_array() || !rights->is_array()) {
      return Invalid(where + " needs Users and Rights arrays");
    }
    UserRights ur;
    for (const json& u : *users) {
      if (!u.is_string()) return Invalid(where + ".Users holds an empty or invalid name");
      ur.users.push_back(u.get<std::string>());
    }
    for (const json& r : *rights) {
      // Never dump() what a client sent: its structure is theirs.
      if (!r.is_string()) return Invalid(where + ".Rights must hold strings");
      ur.rights.push_back(r.get<std::string>());
    }
    out.push_back(std::move(ur));
  }
  RETURN_IF_ERROR(licensing::CheckUserRights(out));
  return out;
}

json UserRightsJson(const std::vector<UserRights>& urs) {
  json a = json::array();
  for (const auto& ur : urs) a.push_back({{"Users", ur.users}, {"Rights", ur.rights}});
  return a;
}

// The cipher mode a content key is sealed with, as the SDK names it
// (its ProtectionPolicy maps these three).
std::string_view CipherModeName(licensing::KeyCipherMode mode) {
  switch (mode) {
    case licensing::KeyCipherMode::kEcb:
      return "MICROSOFT.ECB";
    case licensing::KeyCipherMode::kCbc512NoPadding:
      return "MICROSOFT.CBC512.NOPADDING";
    default:
      return "MICROSOFT.CBC4K";
  }
}

json KeyJson(const std::string& content_key, licensing::KeyCipherMode mode) {
  return {{"Value", crypto::Base64Encode(content_key)},
          {"Algorithm", "AES"},
          {"CipherMode", CipherModeName(mode)}};
}

// The SDK's "Id" of protected content: its template's, else the content's.
const std::string& SdkId(const Policy& p) {
  return p.template_id.empty() ? p.content_id : p.template_id;
}

// An enduserlicenses request from its SerializedPublishingLicense, however
// the body was read.
Result<licensing::EndUserLicenseRequest> EndUserLicenseRequestOf(std::string_view base64) {
  auto raw = crypto::Base64Decode(base64);
  if (!raw) return Status(Code::kMalformed, "SerializedPublishingLicense is not base64");
  return licensing::EndUserLicenseRequest{std::move(*raw)};
}

}  // namespace

Result<Policy> CustomPolicyFromRequest(const json& p) {
  if (!p.is_object()) return Invalid("Policy must be an object");
  Policy policy;
  ASSIGN_OR_RETURN(policy.user_rights, ReadUserRights(p));
  if (const json* descriptors = Field(p, "Descriptors")) {
    if (!descriptors->is_array()) return Invalid("Policy.Descriptors must be an array");
    // The first descriptor names the content; the SDK sends one per language.
    if (!descriptors->empty() && !(*descriptors)[0].is_null()) {
      const json& first = (*descriptors)[0];
      if (!first.is_object()) return Invalid("Policy.Descriptors[0] must be an object");
      auto name = StringField(first, "Name", "", 1024);
      if (!name.ok()) return Within("Policy.Descriptors[0]", name.status());
      auto description = StringField(first, "Description", "", 4096);
      if (!description.ok()) return Within("Policy.Descriptors[0]", description.status());
      policy.name = std::move(*name);
      policy.description = std::move(*description);
    }
  }
  ASSIGN_OR_RETURN(policy.allow_offline, BoolField(p, "allowOfflineAccess", true));
  ASSIGN_OR_RETURN(const int64_t interval,
                   IntField(p, "IntervalTimeInDays", 30, 0, licensing::kMaxIntervalDays));
  policy.interval_days = static_cast<int>(interval);
  // The RMS SDK sends 30 when offline access is allowed and 0 when it is
  // not (some older builds sent 9125, 25 years); any value up to 100
  // years is honoured.
  if (policy.interval_days == 0) policy.allow_offline = false;
  if (const json* until = Field(p, "LicenseValidUntil")) {
    if (!until->is_string()) return Invalid("LicenseValidUntil must be a date");
    policy.valid_until = ParseTime(until->get_ref<const std::string&>());
    if (!policy.valid_until) {
      return Invalid("LicenseValidUntil must be a UTC time like 2027-01-31T00:00:00Z");
    }
  }
  return policy;
}

Result<licensing::PublishRequest> ReadPublishRequest(const json& body) {
  if (!body.is_object()) return Invalid("the request body must be a JSON object");
  licensing::PublishRequest request;
  // A TemplateId, even null, asks for a template (a null one is not found).
  if (body.contains("TemplateId")) {
    ASSIGN_OR_RETURN(request.template_id, StringField(body, "TemplateId", "", 256));
  } else if (const json* policy = Field(body, "Policy"); policy && policy->is_object()) {
    ASSIGN_OR_RETURN(request.custom, CustomPolicyFromRequest(*policy));
  }
  ASSIGN_OR_RETURN(request.prefer_deprecated_algorithms,
                   BoolField(body, "PreferDeprecatedAlgorithms", false));
  return request;
}

Result<licensing::EndUserLicenseRequest> ReadEndUserLicenseRequest(const json& body) {
  const json* pl = Field(body, "SerializedPublishingLicense");
  if (pl == nullptr || !pl->is_string()) {
    return Invalid("the request needs SerializedPublishingLicense (base64)");
  }
  return EndUserLicenseRequestOf(pl->get_ref<const std::string&>());
}

std::optional<Result<licensing::EndUserLicenseRequest>> ReadSoleEndUserLicenseRequest(
    std::string_view body) {
  if (body.size() > JsonLimits{}.max_bytes) return std::nullopt;
  const auto pl = SoleStringMember(body, "SerializedPublishingLicense");
  if (!pl) return std::nullopt;
  return EndUserLicenseRequestOf(*pl);
}

namespace {
// Every member of a publishing license's answer but the license itself.
json PublishedLicenseFields(const licensing::PublishedLicense& license) {
  const Policy& p = license.policy;
  return {{"Id", SdkId(p)},
          {"Name", p.name},
          {"Description", p.description},
          {"Referrer", ""},
          {"Owner", p.owner},
          {"ContentId", p.content_id},
          {"Key", KeyJson(license.content_key, license.content_key_mode)}};
}
constexpr char kSerializedPublishingLicense[] = "SerializedPublishingLicense";
}  // namespace

json PublishedLicenseJson(const licensing::PublishedLicense& license) {
  json answer = PublishedLicenseFields(license);
  answer[kSerializedPublishingLicense] = crypto::Base64Encode(license.publishing_license);
  return answer;
}

std::string PublishedLicenseAnswer(const licensing::PublishedLicense& license) {
  // The license's base64 (6 KB and more) is most of the answer and needs no
  // escaping; its member sorts last, so it is written after the others.
  std::string out = WriteJson(PublishedLicenseFields(license));
  out.pop_back();  // the object's closing brace
  out += ",\"";
  out += kSerializedPublishingLicense;
  out += "\":\"";
  out += crypto::Base64Encode(license.publishing_license);
  out += "\"}";
  return out;
}

json UseLicenseJson(const licensing::UseLicense& license) {
  const Policy& p = license.policy;
  json answer = {{"Id", SdkId(p)},
                 {"ContentId", p.content_id},
                 {"Name", p.name},
                 {"Description", p.description},
                 {"Owner", p.owner},
                 {"IssuedTo", license.issued_to},
                 {"allowOfflineAccess", p.allow_offline},
                 // The SDK shows content without it as a custom policy.
                 {"FromTemplate", !p.template_id.empty()}};
  if (p.template_id.empty()) {
    answer["Policy"] = {{"UserRights", UserRightsJson(p.user_rights)},
                        {"IntervalTimeInDays", p.allow_offline ? p.interval_days : 0},
                        {"AllowAuditedExtraction", false}};
  }
  if (p.valid_until) answer["ContentValidUntil"] = FormatIso8601(*p.valid_until);
  switch (license.access) {
    case licensing::AccessStatus::kContentExpired:
      answer["AccessStatus"] = "ContentExpired";
      break;
    case licensing::AccessStatus::kDenied:
      answer["AccessStatus"] = "AccessDenied";
      // Not the SDK's: why, when it is not the rights (a revocation).
      if (!license.reason.empty()) answer["Reason"] = license.reason;
      break;
    case licensing::AccessStatus::kGranted:
      answer["AccessStatus"] = "AccessGranted";
      answer["Rights"] = license.rights;
      answer["LicenseValidUntil"] = FormatIso8601(license.valid_until);
      answer["Key"] = KeyJson(license.content_key, license.content_key_mode);
      break;
  }
  return answer;
}

json TemplatesJson(const std::vector<licensing::Template>& templates) {
  json out = json::array();
  for (const auto& t : templates) {
    out.push_back({{"Id", t.id}, {"Name", t.name}, {"Description", t.description}});
  }
  return out;
}

json ServiceDiscoveryJson(const std::string& base) {
  json services = json::array();
  for (const char* name :
       {"enduserlicenses", "publishinglicenses", "templates", "clientlicensorcertificates",
        "clientdebuglogs", "clientperformancelogs"}) {
    services.push_back({{"Name", name}, {"Uri", base + "/" + name}});
  }
  return services;
}

Result<CertificationRequest> ReadCertificationRequest(const json& body) {
  auto public_key = StringField(body, "PublicKey", "", 16 << 10);
  if (!public_key.ok() || public_key->empty()) {
    return Invalid("the body needs PublicKey (base64 DER PKCS#1)");
  }
  CertificationRequest request;
  ASSIGN_OR_RETURN(request.temporary, BoolField(body, "Temporary", false));
  auto der = crypto::Base64Decode(*public_key);
  if (!der) return Status(Code::kMalformed, "PublicKey is not base64");
  request.public_key_der = std::move(*der);
  return request;
}

Result<std::optional<std::string>> ReadClientLicensorRequest(const json& body) {
  if (!body.is_object()) return Invalid("the body is not a JSON object");
  ASSIGN_OR_RETURN(std::string public_key, StringField(body, "PublicKey", "", 16 << 10));
  if (public_key.empty()) return std::optional<std::string>();
  auto der = crypto::Base64Decode(public_key);
  if (!der) return Status(Code::kMalformed, "PublicKey is not base64");
  return std::optional<std::string>(std::move(*der));
}

std::string ClientLicensorJson(const std::string& chain_file, Time valid_until) {
  return "{\"ClientLicensorCertificate\":" + JsonQuoted(chain_file) + ",\"ValidUntil\":\"" +
         FormatIso8601(valid_until) + "\"}";
}

std::string ThinClientLicensorJson(const std::string& serialized, Time valid_until) {
  return "{\"SerializedThinCLC\":" + JsonQuoted(serialized) + ",\"ValidUntil\":\"" +
         FormatIso8601(valid_until) + "\"}";
}

Result<RevocationRequest> ReadRevocationRequest(const json& body) {
  RevocationRequest r;
  ASSIGN_OR_RETURN(r.content_id, StringField(body, "ContentId", "", 256));
  ASSIGN_OR_RETURN(std::string pl, StringField(body, "SerializedPublishingLicense", "", 8 << 20));
  if (!pl.empty()) {
    auto bytes = crypto::Base64Decode(pl);
    if (!bytes) return Status(Code::kMalformed, "SerializedPublishingLicense is not base64");
    r.publishing_license = std::move(*bytes);
  }
  if (r.content_id.empty() && r.publishing_license.empty()) {
    return Invalid("the body needs ContentId or SerializedPublishingLicense");
  }
  return r;
}

std::string CertificationJson(const std::string& chain_file) {
  return "{\"Certificate\":" + JsonQuoted(chain_file) + "}";
}

namespace {

json TimeOrNull(const std::optional<Time>& t) { return t ? json(FormatIso8601(*t)) : json(); }

json DocumentJson(const licensing::DocumentSummary& d) {
  json revoked;
  if (!d.revoked_by.empty()) revoked = {{"By", d.revoked_by}, {"At", TimeOrNull(d.revoked_at)}};
  return {{"ContentId", d.content_id},
          {"Owner", d.owner},
          {"PublishedAt", TimeOrNull(d.published)},
          {"Granted", d.granted},
          {"Refused", d.refused},
          {"LastRequestAt", TimeOrNull(d.last_request)},
          {"Revoked", revoked}};
}

}  // namespace

std::string DocumentsJson(const std::vector<licensing::DocumentSummary>& documents) {
  json list = json::array();
  for (const auto& d : documents) list.push_back(DocumentJson(d));
  return WriteJson({{"Documents", list}});
}

std::string TrackingJson(const licensing::LicensingService::Tracking& t) {
  json requests = json::array();
  for (const auto& e : t.requests) {
    const licensing::AuditRecord& r = e.record;
    requests.push_back({{"Time", FormatIso8601(r.at)},
                        {"User", r.user},
                        {"Address", r.address},
                        {"Node", r.node},
                        {"Operation", r.kind},
                        {"Result", r.result},
                        {"Reason", r.detail}});
  }
  return WriteJson({{"Document", DocumentJson(t.document)}, {"Requests", requests}});
}

}  // namespace openrms::node::api
