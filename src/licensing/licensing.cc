#include "licensing/licensing.h"

#include <algorithm>
#include <set>

#include "base/json.h"
#include "base/text.h"
#include "crypto/content_cipher.h"
#include "crypto/encoding.h"
#include "crypto/password_hash.h"
#include "licensing/enabling_bits.h"
#include "licensing/json_license.h"
#include "licensing/license_documents.h"
#include "licensing/rights_data.h"
#include "xrml/chain.h"

namespace openrms::licensing {

namespace {

// A fresh content key: AES-256 for MICROSOFT.CBC4K, or with the deprecated
// algorithms AES-128 for MICROSOFT.ECB (what Office documents take,
// MS-OFFCRYPTO 2.2.10; the SDK asks with PreferDeprecatedAlgorithms).
SymmetricKey NewContentKey(Random& random, bool prefer_deprecated_algorithms) {
  SymmetricKey key;
  key.bytes = crypto::RandomBytes(random, prefer_deprecated_algorithms ? 16 : 32);
  key.mode = prefer_deprecated_algorithms ? KeyCipherMode::kEcb : KeyCipherMode::kCbc4k;
  return key;
}

using nlohmann::json;

constexpr char kBom[] = "\xEF\xBB\xBF";
constexpr size_t kMaxPolicyUsers = 500;

const std::set<std::string, std::less<>>& KnownRights() {
  static const std::set<std::string, std::less<>> rights = {
      "OWNER",   "VIEW",     "EDIT",           "PRINT",          "EXTRACT",
      "EXPORT",  "COMMENT",  "FORWARD",        "REPLY",          "REPLYALL",
      "DOCEDIT", "OBJMODEL", "VIEWRIGHTSDATA", "EDITRIGHTSDATA", "AUDITEDEXTRACT"};
  return rights;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

Status Invalid(std::string message) { return Status(Code::kInvalidArgument, std::move(message)); }

// Storage, not the wire: the user rights of each template, and the policy
// sealed into the publishing licenses OpenRMS wrote before the spec's
// format (read only: OpenOldFormat), are JSON with our field names. Read
// with the checked readers of base/json.h: a damaged value is an error,
// never an exception.

json UserRightsJson(const std::vector<UserRights>& urs) {
  json a = json::array();
  for (const auto& ur : urs) a.push_back({{"Users", ur.users}, {"Rights", ur.rights}});
  return a;
}

Result<std::vector<UserRights>> UserRightsFromJson(const json& object) {
  const auto it = object.find("UserRights");
  if (it == object.end() || !it->is_array()) return Invalid("UserRights must be an array");
  std::vector<UserRights> out;
  for (const json& entry : *it) {
    UserRights ur;
    ASSIGN_OR_RETURN(ur.users, StringArrayField(entry, "Users"));
    ASSIGN_OR_RETURN(ur.rights, StringArrayField(entry, "Rights"));
    out.push_back(std::move(ur));
  }
  RETURN_IF_ERROR(CheckUserRights(out));
  return out;
}

Result<Policy> PolicyFromJson(const json& j) {
  Policy p;
  ASSIGN_OR_RETURN(p.content_id, StringField(j, "ContentId"));
  ASSIGN_OR_RETURN(p.owner, StringField(j, "Owner"));
  ASSIGN_OR_RETURN(p.name, StringField(j, "Name"));
  ASSIGN_OR_RETURN(p.description, StringField(j, "Description"));
  ASSIGN_OR_RETURN(p.template_id, StringField(j, "TemplateId"));
  ASSIGN_OR_RETURN(p.user_rights, UserRightsFromJson(j));
  ASSIGN_OR_RETURN(p.allow_offline, BoolField(j, "AllowOfflineAccess", true));
  ASSIGN_OR_RETURN(const int64_t interval,
                   IntField(j, "IntervalTimeInDays", 30, 0, kMaxIntervalDays));
  p.interval_days = static_cast<int>(interval);
  ASSIGN_OR_RETURN(const std::string until, StringField(j, "LicenseValidUntil"));
  if (!until.empty()) {
    p.valid_until = ParseTime(until);
    if (!p.valid_until) return Invalid("LicenseValidUntil must be a time");
  }
  return p;
}

// A publishing license OpenRMS wrote before it wrote the spec's format:
// ENABLINGBITS hold the content key alone, RSA-OAEP (SHA-256) sealed to the
// cluster key, and Encrypted-Rights-Data AES-256-GCM-sealed JSON
// (PolicyJson) under that key.
Result<Policy> OpenOldFormat(const crypto::PrivateKey& key, std::string_view sealed_key,
                             std::string_view sealed_policy_base64, std::string& content_key) {
  auto sealed_policy = crypto::Base64Decode(sealed_policy_base64);
  if (!sealed_policy) return Status(Code::kMalformed, "the license's rights are not base64");
  auto decrypted = key.Decrypt(sealed_key);
  if (!decrypted.ok()) {
    return Status(Code::kPermissionDenied, "the content key is not sealed to this cluster's key");
  }
  content_key = std::move(*decrypted);
  ASSIGN_OR_RETURN(std::string policy_text, crypto::GcmOpen(content_key, *sealed_policy));
  auto policy = ParseJson(policy_text);
  crypto::Wipe(policy_text);
  if (!policy.ok()) return Status(Code::kMalformed, "the license's rights cannot be read");
  auto read = PolicyFromJson(*policy);
  if (!read.ok()) {
    return Status(Code::kMalformed,
                  "the license's rights cannot be read: " + read.status().message());
  }
  return read;
}

xrml::Element Text(std::string name, std::string text) {
  xrml::Element e(std::move(name));
  e.Text(std::move(text));
  return e;
}

xrml::Object ServerParty(const cluster::ClusterConfig& c) {
  return {xrml::kObjectServer, "MS-GUID", c.guid, c.name, "URL", c.url};
}

// ISSUER: the cluster and its key.
xrml::Element ClusterIssuer(const cluster::ClusterConfig& config, const crypto::PublicKey& key) {
  xrml::Element issuer("ISSUER");
  issuer.Add(xrml::ObjectElement(ServerParty(config)));
  issuer.Add(xrml::PublicKeyElement(key));
  return issuer;
}

// DISTRIBUTIONPOINT: where licenses for this content are asked for.
xrml::Element LicenseAcquisitionPoint(const std::string& url, Random& random) {
  xrml::Element dp("DISTRIBUTIONPOINT");
  xrml::Element& o = dp.Add("OBJECT");
  o.Attr("type", "License-Acquisition-URL");
  o.Add(Text("ID", NewGuid(random))).Attr("type", "MS-GUID");
  o.Add(Text("NAME", "DRM Server Cluster"));
  o.Add(Text("ADDRESS", url)).Attr("type", "URL");
  return dp;
}

// ISSUEDPRINCIPALS/PRINCIPAL of a RAC or CLC: the user and the user's key.
xrml::Element UserPrincipal(const accounts::Identity& who, const crypto::PublicKey& key) {
  xrml::Element principal("PRINCIPAL");
  principal.Attr("internal-id", "1");
  xrml::Element& object = principal.Add("OBJECT");
  object.Attr("type", "Group-Identity");
  object.Add(Text("ID", who.user)).Attr("type", who.source.empty() ? "OpenRMS-User" : who.source);
  object.Add(Text("NAME", who.user));
  principal.Add(xrml::PublicKeyElement(key));
  return principal;
}

// The rights `who` holds under `policy` (owner and super users hold all).
std::vector<std::string> RightsOf(const Policy& policy, const accounts::Identity& who,
                                  const std::string& super_users) {
  if (EqualsIgnoreCase(policy.owner, who.user) || who.InGroup(super_users)) return {"OWNER"};
  std::set<std::string> rights;
  for (const auto& ur : policy.user_rights) {
    const bool named = std::any_of(ur.users.begin(), ur.users.end(), [&](const std::string& u) {
      return EqualsIgnoreCase(u, who.user) || EqualsIgnoreCase(u, "ANYONE") || who.InGroup(u);
    });
    if (named) rights.insert(ur.rights.begin(), ur.rights.end());
  }
  if (rights.count("OWNER")) return {"OWNER"};
  return {rights.begin(), rights.end()};
}

}  // namespace

bool IsKnownRight(std::string_view right) { return KnownRights().count(right) > 0; }

Status CheckUserRights(std::vector<UserRights>& user_rights) {
  if (user_rights.empty()) {
    return Invalid("Policy.UserRights must be a non-empty array of {Users, Rights}");
  }
  size_t users = 0;
  for (size_t i = 0; i < user_rights.size(); ++i) {
    const std::string where = "UserRights[" + std::to_string(i) + "]";
    for (const std::string& u : user_rights[i].users) {
      if (u.empty() || u.size() > 256) {
        return Invalid(where + ".Users holds an empty or invalid name");
      }
    }
    for (std::string& r : user_rights[i].rights) {
      // Quoted cut to 64 bytes, maybe mid-character: the protocol's error
      // writer replaces invalid UTF-8.
      if (r.size() > 64 || !IsKnownRight(Upper(r))) {
        return Invalid("unknown right " + r.substr(0, 64) +
                       " (use OWNER, VIEW, EDIT, PRINT, EXTRACT, EXPORT, ...)");
      }
      r = Upper(std::move(r));
    }
    users += user_rights[i].users.size();
  }
  if (users > kMaxPolicyUsers) return Invalid("the policy names too many users");
  return Status::Ok();
}

std::string EncodeLicense(const std::string& xml) { return kBom + xml; }

Result<std::string> DecodeLicense(std::string_view bytes) {
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
      static_cast<unsigned char>(bytes[1]) == 0xFE) {
    return Utf16LeToUtf8(bytes);
  }
  if (bytes.substr(0, 3) == kBom) bytes.remove_prefix(3);
  return std::string(bytes);
}

Result<std::string> WritePublishingLicense(const Policy& policy, Time now,
                                           const LicenseParties& parties,
                                           const crypto::PrivateKey& signer,
                                           const SymmetricKey& content_key, Random& random) {
  if (!parties.issuer.public_key || !parties.server.public_key) {
    return Status(Code::kInvalidArgument,
                  "a publishing license needs its issuer's and server's keys");
  }
  const std::string label =
      "LCID 1033:NAME " + policy.name + ":DESCRIPTION " + policy.description + ";";
  xrml::Element body("BODY");
  body.Attr("type", "Microsoft Rights Label").Attr("version", "3.0");
  body.Add(Text("ISSUEDTIME", FormatXrmlTime(now)));
  xrml::Element& descriptor = body.Add("DESCRIPTOR").Add("OBJECT");
  descriptor.Add(Text("ID", NewGuid(random))).Attr("type", "MS-GUID");
  descriptor.Add(Text("NAME", label));
  body.Add(xrml::PartyElement("ISSUER", parties.issuer));
  body.Add(LicenseAcquisitionPoint(parties.license_url, random));
  xrml::Element& principals = body.Add("ISSUEDPRINCIPALS");
  xrml::Party server = parties.server;
  server.security_levels.clear();
  xrml::Element& principal = principals.Add(xrml::PartyElement("PRINCIPAL", server));
  principal.attributes.insert(principal.attributes.begin(), {"internal-id", "1"});
  ASSIGN_OR_RETURN(std::string bound, EnablingBitsBinding(principals));
  ASSIGN_OR_RETURN(std::string sealed_key,
                   SealEnablingBits(*parties.server.public_key, SealedKeyVersion::kV2, content_key,
                                    bound, random));
  principal.Add(xrml::Element("ENABLINGBITS").Attr("type", "sealed-key-v2"))
      .Add(Text("VALUE", crypto::Base64Encode(sealed_key)))
      .Attr("encoding", "base64")
      .Attr("size", std::to_string(sealed_key.size() * 8));
  xrml::Element& work = body.Add("WORK");
  work.Add("OBJECT").Add(Text("ID", policy.content_id)).Attr("type", "MS-GUID");
  xrml::Element& owner = work.Add("METADATA").Add("OWNER").Add("OBJECT");
  owner.Add(xrml::Element("ID").Attr("type", "Windows"));
  owner.Add(Text("NAME", policy.owner));
  ASSIGN_OR_RETURN(std::string rights_data,
                   SealRightsData(RightsDataElement(policy, now, NewGuid(random)), content_key));
  body.Add(Text("AUTHENTICATEDDATA", std::move(rights_data))).Attr("id", "Encrypted-Rights-Data");
  ASSIGN_OR_RETURN(xrml::Element pl, xrml::SignElement(std::move(body), signer));
  return EncodeLicense(xrml::SerializePretty(pl));
}

Result<PublishedLicense> PublishOffline(const xrml::Document& clc,
                                        const crypto::PrivateKey& clc_key, Policy policy, Time now,
                                        Random& random, bool prefer_deprecated_algorithms) {
  const xrml::Party* holder = clc.principal();
  const xrml::Right* issue = clc.FindRight(xrml::kRightIssue);
  if (clc.Kind() != kTypeClientLicensorCertificate || holder == nullptr || !holder->public_key ||
      !clc.issuer.public_key || issue == nullptr || !issue->range) {
    return Status(Code::kInvalidArgument,
                  "that is a " + clc.Kind() + ", not a client licensor certificate");
  }
  if (!(*holder->public_key == clc_key.public_key())) {
    return Status(Code::kMismatch, "the key is not the client licensor certificate's key");
  }
  if (!issue->range->Contains(now)) {
    return Status(Code::kExpired,
                  "the client licensor certificate is valid from " +
                      (issue->range->from ? FormatHuman(*issue->range->from) : "any time") +
                      " until " +
                      (issue->range->until ? FormatHuman(*issue->range->until) : "any time") +
                      "; get a new one (openrms certify --clc)");
  }
  const xrml::Element* url = nullptr;
  for (const xrml::Element* dp : clc.body().Children("DISTRIBUTIONPOINT")) {
    const xrml::Element* o = dp->Child("OBJECT");
    if (o != nullptr && o->Attribute("type") == "License-Acquisition-URL")
      url = o->Child("ADDRESS");
  }
  if (url == nullptr || url->text.empty()) {
    return Status(Code::kInvalidArgument,
                  "the client licensor certificate names no License-Acquisition-URL");
  }
  RETURN_IF_ERROR(CheckUserRights(policy.user_rights));
  policy.owner = holder->object.name;
  policy.content_id = NewGuid(random);
  if (policy.valid_until) policy.valid_until = RoundToMinute(*policy.valid_until);
  if (policy.name.empty()) policy.name = "Protected by OpenRMS";
  if (policy.description.empty()) policy.description = "Rights set by " + policy.owner;
  LicenseParties parties;
  parties.issuer.object = holder->object;
  parties.issuer.public_key = holder->public_key;
  parties.server.object = clc.issuer.object;
  parties.server.public_key = clc.issuer.public_key;
  parties.license_url = url->text;
  const SymmetricKey content_key = NewContentKey(random, prefer_deprecated_algorithms);
  ASSIGN_OR_RETURN(std::string pl,
                   WritePublishingLicense(policy, now, parties, clc_key, content_key, random));
  // The CLC follows the license: the server that opens it checks both.
  pl += xrml::WriteDocument(clc);
  return PublishedLicense{std::move(policy), std::move(pl), content_key.bytes, content_key.mode};
}

Status LicensingService::Migrate(store::Database& db) {
  return store::Migrate(
      db, "licensing",
      {"CREATE TABLE rights_templates (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
       "description TEXT NOT NULL, policy TEXT NOT NULL, created_at INTEGER NOT NULL)",
       "CREATE TABLE license_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, cluster TEXT NOT NULL, "
       "at INTEGER NOT NULL, user_name TEXT NOT NULL, kind TEXT NOT NULL, content_id TEXT NOT "
       "NULL, result TEXT NOT NULL, detail TEXT NOT NULL)",
       "CREATE TABLE revocations (cluster TEXT NOT NULL, content_id TEXT NOT NULL, revoked_by "
       "TEXT NOT NULL, revoked_at INTEGER NOT NULL, PRIMARY KEY (cluster, content_id))",
       "CREATE INDEX license_audit_content ON license_audit (content_id)",
       // The structured record (audit.h): which node answered, and the
       // client's address. Rows from before read "".
       "ALTER TABLE license_audit ADD COLUMN node TEXT NOT NULL DEFAULT ''; "
       "ALTER TABLE license_audit ADD COLUMN address TEXT NOT NULL DEFAULT ''; "
       "ALTER TABLE license_audit ADD COLUMN owner TEXT NOT NULL DEFAULT ''; "
       "CREATE INDEX license_audit_at ON license_audit (at); "
       "CREATE INDEX license_audit_user ON license_audit (user_name); "
       "CREATE INDEX license_audit_owner ON license_audit (owner); "
       // One node at a time deletes what [audit] keep_days no longer keeps
       // (audit_retention.h).
       "CREATE TABLE audit_retention_lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, "
       "expires_at INTEGER NOT NULL)"});
}

ProtocolError LicensingService::ToProtocolError(const Status& s) {
  switch (s.code()) {
    case Code::kExpired:
      return {503, "ServerLicensorCertificateExpired", s.message()};
    case Code::kNotYetValid:
      return {503, "ServerLicensorCertificateNotYetValid", s.message()};
    case Code::kFailedPrecondition:
      return {503, "ServerNotReady", s.message()};
    case Code::kMismatch:
    case Code::kUntrusted:
    case Code::kBadSignature:
    case Code::kMalformed:
    case Code::kTooLarge:
      return {400, "InvalidPublishingLicense", s.message()};
    case Code::kNotFound:
      return {400, "TemplateNotFound", s.message()};
    case Code::kAlreadyUsed:
      return {409, "Conflict", s.message()};
    case Code::kInvalidArgument:
    case Code::kUnsupported:
      return {400, "InvalidRequest", s.message()};
    case Code::kPermissionDenied:
      return {403, "AccessDenied", s.message()};
    case Code::kUnavailable:
      // The store or the key store did not answer: the caller's token and
      // request are good, and a retry soon will do.
      return {503, "ServiceUnavailable", ForRemoteCaller(s).message()};
    default:
      return {500, "InternalError", ForRemoteCaller(s).message()};
  }
}

LicensingService::OpenedLicense::~OpenedLicense() { crypto::Wipe(content_key); }

void LicensingService::SplitChainFile(const std::vector<xrml::Document>& slc_chain,
                                      std::string& head, std::string& tail) {
  head.clear();
  tail.clear();
  if (slc_chain.empty()) return;
  // The chain file of a RAC is the SLC chain's file with one more <string>
  // in front: written once around a marker (letters only, which escaping
  // leaves whole), each RAC's file is then its own text between the halves
  // instead of the whole chain written again.
  const std::string marker = "OpenRmsRightsAccountCertificateGoesHere";
  xrml::Element root("CertificateChain");
  root.Attr("xmlns", "urn:openrms:certificate-chain");
  root.Add("string").Text(marker);
  for (const auto& doc : slc_chain) root.Add("string").Text(xrml::WriteDocument(doc));
  const std::string file =
      "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n" + xrml::SerializePretty(root);
  const size_t at = file.find(marker);
  if (at == std::string::npos) return;
  std::string h = file.substr(0, at);
  std::string t = file.substr(at + marker.size());
  // Only if this gives what xrml::WriteChainFile writes (checked with the
  // SLC standing in for the RAC); otherwise every RAC's file is written whole.
  std::vector<xrml::Document> check = {slc_chain[0]};
  check.insert(check.end(), slc_chain.begin(), slc_chain.end());
  if (h + XmlEscape(xrml::WriteDocument(slc_chain[0])) + t != xrml::WriteChainFile(check)) return;
  head = std::move(h);
  tail = std::move(t);
}

Result<std::shared_ptr<const LicensingService::ClusterSnapshot>> LicensingService::Snapshot(
    const std::string& cluster) {
  const Time now = clock_.Now();
  std::shared_ptr<const ClusterSnapshot> old;
  {
    std::shared_lock lock(snapshots_mu_);
    auto it = snapshots_.find(cluster);
    if (it != snapshots_.end()) old = it->second;
  }
  if (old && now >= old->read_at && now - old->read_at < options_.cluster_refresh) {
    counters_.clusters.hits.fetch_add(1, std::memory_order_relaxed);
    return old;
  }
  counters_.clusters.misses.fetch_add(1, std::memory_order_relaxed);
  // Two indexed reads once per bound; the chain is parsed again only when
  // another SLC became active.
  ASSIGN_OR_RETURN(auto active, clusters_.store().ActiveSlc(cluster));
  auto fresh = std::make_shared<ClusterSnapshot>();
  fresh->read_at = now;
  if (active) {
    if (old && old->active && old->active->id == active->id) {
      fresh->chain_status = old->chain_status;
      fresh->slc_chain = old->slc_chain;
      fresh->chain_file_head = old->chain_file_head;
      fresh->chain_file_tail = old->chain_file_tail;
    } else {
      auto chain = xrml::ParseChain(active->chain);
      fresh->chain_status = chain.status();
      if (chain.ok()) {
        fresh->slc_chain = std::make_shared<const std::vector<xrml::Document>>(std::move(*chain));
        SplitChainFile(*fresh->slc_chain, fresh->chain_file_head, fresh->chain_file_tail);
      }
    }
    active->chain.clear();
    fresh->active = std::move(active);
  }
  auto config = clusters_.store().Find(cluster);
  fresh->config_status = config.status();
  if (config.ok()) fresh->config = std::move(*config);
  // Revocations are only ever added: the rows are read again only when
  // their number changed.
  auto count = db_.Query("SELECT COUNT(*) FROM revocations WHERE cluster = $1", {cluster});
  fresh->revocations_status = count.status();
  fresh->revocation_count = count.ok() && !count->empty() ? (*count)[0].Int(0) : -1;
  if (old && old->revocations_status.ok() && old->revocation_count == fresh->revocation_count) {
    fresh->revocations = old->revocations;
  } else {
    auto revoked = db_.Query(
        "SELECT content_id, revoked_by, revoked_at FROM revocations WHERE cluster = $1", {cluster});
    if (fresh->revocations_status.ok()) fresh->revocations_status = revoked.status();
    auto revocations = std::make_shared<std::map<std::string, std::string>>();
    if (revoked.ok()) {
      for (const auto& r : *revoked) {
        (*revocations)[r.Text(0)] =
            "revoked by " + r.Text(1) + " at " + FormatHuman(Time(Duration(r.Int(2))));
      }
    }
    fresh->revocations = std::move(revocations);
  }
  std::unique_lock lock(snapshots_mu_);
  snapshots_[cluster] = fresh;
  return std::shared_ptr<const ClusterSnapshot>(std::move(fresh));
}

Result<std::shared_ptr<const LicensingService::ClusterSnapshot>> LicensingService::CheckCanIssue(
    const std::string& cluster) {
  ASSIGN_OR_RETURN(auto snapshot, Snapshot(cluster));
  const auto& active = snapshot->active;
  if (!active) {
    return Status(Code::kFailedPrecondition,
                  "cluster " + cluster + " has no server licensor certificate yet");
  }
  if (clock_.Now() < active->valid_from) {
    return Status(Code::kNotYetValid, "the server licensor certificate of cluster " + cluster +
                                          " is not valid before " +
                                          FormatHuman(active->valid_from) +
                                          ": licensing is refused until then");
  }
  if (clock_.Now() >= active->valid_until) {
    return Status(Code::kExpired, "the server licensor certificate of cluster " + cluster +
                                      " expired on " + FormatHuman(active->valid_until) +
                                      ": licensing is refused until it is renewed");
  }
  return snapshot;
}

Status LicensingService::Audit(const std::string& cluster, const accounts::Identity& who,
                               const std::string& kind, const std::string& content_id,
                               const std::string& result, const std::string& detail,
                               const std::string& owner) {
  return audit_.Append({cluster, clock_.Now(), who.user, kind, content_id, result, detail,
                        options_.node, who.address, owner});
}

Result<PublishedLicense> LicensingService::Publish(const std::string& cluster,
                                                   const accounts::Identity& who,
                                                   const PublishRequest& request,
                                                   const std::string& license_url) {
  ASSIGN_OR_RETURN(auto snapshot, CheckCanIssue(cluster));
  Policy policy;
  policy.owner = who.user;
  policy.content_id = NewGuid(random_);
  const Time now = clock_.Now();
  if (request.template_id) {
    const std::string& id = *request.template_id;
    ASSIGN_OR_RETURN(auto templates, ListTemplates());
    auto it = std::find_if(templates.begin(), templates.end(),
                           [&](const Template& t) { return EqualsIgnoreCase(t.id, id); });
    if (it == templates.end()) {
      return Status(Code::kNotFound, "there is no rights policy template " + id);
    }
    policy.template_id = it->id;
    policy.name = it->name;
    policy.description = it->description;
    policy.user_rights = it->user_rights;
    if (it->valid_days) policy.valid_until = now + Days(*it->valid_days);
  } else if (request.custom) {
    const Policy& custom = *request.custom;
    policy.user_rights = custom.user_rights;
    RETURN_IF_ERROR(CheckUserRights(policy.user_rights));
    if (custom.interval_days < 0 || custom.interval_days > kMaxIntervalDays) {
      return Invalid("IntervalTimeInDays must be a whole number from 0 to " +
                     std::to_string(kMaxIntervalDays));
    }
    policy.name = custom.name;
    policy.description = custom.description;
    policy.allow_offline = custom.allow_offline;
    policy.interval_days = custom.interval_days;
    policy.valid_until = custom.valid_until;
  } else {
    return Invalid("the request needs a TemplateId or a Policy");
  }
  // XrML times have minute precision (MS-RMPR 2.2.9.1.1): the expiry the
  // license carries is the minute it falls in, never later than asked.
  if (policy.valid_until) policy.valid_until = RoundToMinute(*policy.valid_until);
  if (policy.name.empty()) policy.name = "Protected by OpenRMS";
  if (policy.description.empty()) policy.description = "Rights set by " + who.user;

  RETURN_IF_ERROR(snapshot->config_status);
  const cluster::ClusterConfig& config = *snapshot->config;
  ASSIGN_OR_RETURN(auto key, CurrentKey(config));
  const SymmetricKey content_key = NewContentKey(random_, request.prefer_deprecated_algorithms);

  LicenseParties parties;
  parties.issuer.object = ServerParty(config);
  parties.issuer.public_key = key->public_key();
  parties.server = parties.issuer;
  parties.license_url = license_url;
  ASSIGN_OR_RETURN(std::string pl_bytes,
                   WritePublishingLicense(policy, now, parties, *key, content_key, random_));

  RETURN_IF_ERROR(Audit(cluster, who, "publish", policy.content_id, "issued",
                        policy.template_id.empty() ? "custom rights" : "template " + policy.name,
                        policy.owner));
  counters_.issued_publish.fetch_add(1, std::memory_order_relaxed);
  return PublishedLicense{std::move(policy), pl_bytes, content_key.bytes, content_key.mode};
}

Result<std::shared_ptr<const LicensingService::OpenedLicense>> LicensingService::Open(
    const std::string& cluster, const std::string& xml) {
  // The license's bytes decide everything it proves: once its signature
  // held for this cluster's key, the same bytes prove the same again.
  std::string digest = crypto::Sha256(xml);
  const std::string id = cluster + '\n' + digest;
  if (auto hit = opened_.Get(id)) {
    counters_.publishing_licenses.hits.fetch_add(1, std::memory_order_relaxed);
    return *hit;
  }
  counters_.publishing_licenses.misses.fetch_add(1, std::memory_order_relaxed);
  if (IsJsonLicense(xml)) {
    ASSIGN_OR_RETURN(std::shared_ptr<OpenedLicense> json_opened, OpenJson(cluster, xml));
    json_opened->digest = std::move(digest);
    std::shared_ptr<const OpenedLicense> shared = std::move(json_opened);
    opened_.Put(id, shared);
    return shared;
  }
  ASSIGN_OR_RETURN(std::vector<std::string_view> documents, SplitLicenseDocuments(xml));
  auto pl = xrml::ParseDocument(documents[0]);
  if (!pl.ok())
    return Status(Code::kMalformed, "not a publishing license: " + pl.status().message());
  if (pl->body_type != "Microsoft Rights Label") {
    return Status(Code::kMalformed, "not a publishing license (BODY type " + pl->body_type + ")");
  }
  std::shared_ptr<crypto::PrivateKey> key;
  std::string holder;
  if (pl->issuer.object.type == xrml::kObjectServer) {
    ASSIGN_OR_RETURN(key, KeyForLicense(cluster, *pl));
    Status signature = xrml::VerifySignature(*pl);
    if (!signature.ok()) {
      return Status(Code::kBadSignature,
                    "the publishing license was changed: " + signature.message());
    }
  } else {
    ASSIGN_OR_RETURN(key, CheckOfflineSigned(cluster, *pl, documents, holder));
  }
  const xrml::Element* bits = nullptr;
  if (const xrml::Element* principals = pl->body().Child("ISSUEDPRINCIPALS")) {
    if (const xrml::Element* p = principals->Child("PRINCIPAL")) bits = p->Child("ENABLINGBITS");
  }
  const xrml::Element* value = bits != nullptr ? bits->Child("VALUE") : nullptr;
  const xrml::Element* data = pl->body().Child("AUTHENTICATEDDATA");
  if (value == nullptr || data == nullptr) {
    return Status(Code::kMalformed, "the publishing license carries no content key or rights");
  }
  const auto version = SealedKeyVersionOf(bits->Attribute("type").value_or(""));
  if (!version) {
    return Status(Code::kMalformed,
                  "the publishing license's ENABLINGBITS type is not sealed-key or sealed-key-v2");
  }
  if (value->text.size() > kMaxEnablingBits * 4 / 3 + 4) {
    return Status(Code::kTooLarge, "the publishing license's enabling bits are too large");
  }
  auto sealed_key = crypto::Base64Decode(value->text);
  if (!sealed_key) return Status(Code::kMalformed, "the license's key is not base64");
  auto opened = std::make_shared<OpenedLicense>();
  opened->digest = std::move(digest);
  opened->clc_holder = std::move(holder);
  // OpenRMS's old format was only ever written by its servers.
  if (opened->clc_holder.empty() && *version == SealedKeyVersion::kV2 &&
      sealed_key->size() == key->public_key().modulus_be().size()) {
    ASSIGN_OR_RETURN(opened->policy,
                     OpenOldFormat(*key, *sealed_key, data->text, opened->content_key));
  } else {
    const xrml::Element* owner = pl->body().Find({"WORK", "METADATA", "OWNER", "OBJECT", "NAME"});
    const xrml::Element* content = pl->body().Find({"WORK", "OBJECT", "ID"});
    if (owner == nullptr || owner->text.empty() || content == nullptr || content->text.empty()) {
      return Status(Code::kMalformed,
                    "the publishing license names no owner or content (WORK/METADATA/OWNER, "
                    "WORK/OBJECT/ID)");
    }
    // A client publishes only as itself.
    if (!opened->clc_holder.empty() && !EqualsIgnoreCase(owner->text, opened->clc_holder)) {
      return Status(Code::kUntrusted, "the publishing license names " + owner->text +
                                          " as its owner but was signed with the client licensor "
                                          "certificate of " +
                                          opened->clc_holder);
    }
    ASSIGN_OR_RETURN(OpenedEnablingBits bits_opened, OpenEnablingBits(*key, *version, *sealed_key));
    ASSIGN_OR_RETURN(xrml::Element rights, OpenRightsData(data->text, bits_opened.key));
    ASSIGN_OR_RETURN(opened->policy, PolicyFromRightsData(rights, owner->text));
    opened->policy.content_id = content->text;
    opened->content_key = bits_opened.key.bytes;
    opened->content_key_mode = bits_opened.key.mode;
  }
  std::shared_ptr<const OpenedLicense> shared = std::move(opened);
  opened_.Put(id, shared);
  return shared;
}

Result<std::shared_ptr<crypto::PrivateKey>> LicensingService::CheckOfflineSigned(
    const std::string& cluster, const xrml::Document& pl,
    const std::vector<std::string_view>& documents, std::string& holder) {
  const std::string signer = pl.issuer.object.name.empty() ? "a client" : pl.issuer.object.name;
  if (documents.size() < 2) {
    return Status(Code::kUntrusted, "the publishing license was signed by " + signer +
                                        ", not by a server, and carries no client licensor "
                                        "certificate");
  }
  auto clc = xrml::ParseDocument(documents[1]);
  if (!clc.ok()) {
    return Status(Code::kMalformed, "the publishing license's client licensor certificate: " +
                                        clc.status().message());
  }
  if (clc->Kind() != kTypeClientLicensorCertificate) {
    return Status(Code::kUntrusted, "the publishing license was signed by " + signer +
                                        " and is followed by a " + clc->Kind() +
                                        ", not a client licensor certificate");
  }
  // Issued by this cluster (its key or a trusted publishing domain's):
  // kMismatch names the cluster that did.
  ASSIGN_OR_RETURN(auto key, KeyForLicense(cluster, *clc));
  Status s = xrml::VerifySignature(*clc, key->public_key());
  if (!s.ok()) {
    return Status(Code::kBadSignature,
                  "the client licensor certificate was changed: " + s.message());
  }
  const xrml::Party* clc_holder = clc->principal();
  if (clc_holder == nullptr || !clc_holder->public_key || !pl.issuer.public_key ||
      !(*clc_holder->public_key == *pl.issuer.public_key)) {
    return Status(Code::kUntrusted,
                  "the publishing license was not signed with its client licensor certificate's "
                  "key");
  }
  s = xrml::VerifySignature(pl, *clc_holder->public_key);
  if (!s.ok()) {
    return Status(Code::kBadSignature, "the publishing license was changed: " + s.message());
  }
  const xrml::Right* issue = clc->FindRight(xrml::kRightIssue);
  if (issue == nullptr || !issue->range || !pl.issued_time) {
    return Status(Code::kUntrusted,
                  "the client licensor certificate or its license states no time of issue");
  }
  if (!issue->range->Contains(*pl.issued_time)) {
    return Status(Code::kUntrusted,
                  "the publishing license was signed on " + FormatHuman(*pl.issued_time) +
                      " by the client licensor certificate of " + clc_holder->object.name +
                      ", which was valid only from " +
                      (issue->range->from ? FormatHuman(*issue->range->from) : "any time") +
                      " until " +
                      (issue->range->until ? FormatHuman(*issue->range->until) : "any time"));
  }
  holder = clc_holder->object.name;
  return key;
}

Result<UseLicense> LicensingService::EndUserLicense(const std::string& cluster,
                                                    const accounts::Identity& who,
                                                    const EndUserLicenseRequest& request) {
  RETURN_IF_ERROR(CheckCanIssue(cluster).status());
  ASSIGN_OR_RETURN(std::string xml, DecodeLicense(request.publishing_license));
  ASSIGN_OR_RETURN(std::shared_ptr<const OpenedLicense> opened, Open(cluster, xml));
  return Decide(cluster, who, *opened);
}

Result<std::optional<UseLicense>> LicensingService::EndUserLicenseOfOpened(
    const std::string& cluster, const accounts::Identity& who, const std::string& license_digest) {
  RETURN_IF_ERROR(CheckCanIssue(cluster).status());
  auto hit = opened_.Get(cluster + '\n' + license_digest);
  if (!hit) return std::optional<UseLicense>();
  counters_.publishing_licenses.hits.fetch_add(1, std::memory_order_relaxed);
  ASSIGN_OR_RETURN(UseLicense answer, Decide(cluster, who, **hit));
  return std::optional<UseLicense>(std::move(answer));
}

Result<UseLicense> LicensingService::Decide(const std::string& cluster,
                                            const accounts::Identity& who,
                                            const OpenedLicense& opened) {
  if (!opened.clc_holder.empty() && options_.account_exists) {
    ASSIGN_OR_RETURN(bool exists, options_.account_exists(opened.clc_holder));
    if (!exists) {
      const std::string why = "the content was published offline by " + opened.clc_holder +
                              ", whose account has been removed";
      RETURN_IF_ERROR(Audit(cluster, who, "use", opened.policy.content_id, "refused", why,
                            opened.policy.owner));
      return Status(Code::kPermissionDenied, why + "; ask an administrator");
    }
  }
  ASSIGN_OR_RETURN(auto snapshot, Snapshot(cluster));
  // Without the revocations a revoked document would open: refuse instead.
  RETURN_IF_ERROR(snapshot->revocations_status);
  const Time now = clock_.Now();
  UseLicense answer;
  answer.policy = opened.policy;
  answer.license_digest = opened.digest;
  answer.issued_to = who.user;
  const Policy& p = answer.policy;
  if (auto it = snapshot->revocations->find(p.content_id); it != snapshot->revocations->end()) {
    answer.access = AccessStatus::kDenied;
    answer.reason = it->second;
    RETURN_IF_ERROR(Audit(cluster, who, "use", p.content_id, "AccessDenied", it->second, p.owner));
    return answer;
  }
  if (p.valid_until && now >= *p.valid_until) {
    answer.access = AccessStatus::kContentExpired;
    RETURN_IF_ERROR(Audit(cluster, who, "use", p.content_id, "ContentExpired",
                          "expired on " + FormatHuman(*p.valid_until), p.owner));
    return answer;
  }
  answer.rights = RightsOf(p, who, options_.super_users_group);
  if (answer.rights.empty()) {
    answer.access = AccessStatus::kDenied;
    RETURN_IF_ERROR(
        Audit(cluster, who, "use", p.content_id, "AccessDenied", "no right granted", p.owner));
    return answer;
  }
  Time until = now + (p.allow_offline ? Days(p.interval_days) : kOnlineOnlyLicense);
  if (p.valid_until && *p.valid_until < until) until = *p.valid_until;
  answer.access = AccessStatus::kGranted;
  answer.valid_until = until;
  answer.content_key = opened.content_key;
  answer.content_key_mode = opened.content_key_mode;
  std::string joined;
  for (const auto& r : answer.rights) joined += (joined.empty() ? "" : ",") + r;
  RETURN_IF_ERROR(Audit(cluster, who, "use", p.content_id, "AccessGranted", joined, p.owner));
  counters_.issued_use.fetch_add(1, std::memory_order_relaxed);
  return answer;
}

Result<std::vector<xrml::Document>> LicensingService::Certify(const std::string& cluster,
                                                              const accounts::Identity& who,
                                                              const crypto::PublicKey& user_key,
                                                              bool temporary) {
  std::shared_ptr<const ClusterSnapshot> snapshot;
  ASSIGN_OR_RETURN(xrml::Document rac, IssueRac(cluster, who, user_key, temporary, snapshot));
  std::vector<xrml::Document> chain = {std::move(rac)};
  chain.insert(chain.end(), snapshot->slc_chain->begin(), snapshot->slc_chain->end());
  return chain;
}

Result<std::string> LicensingService::CertifyChainFile(const std::string& cluster,
                                                       const accounts::Identity& who,
                                                       const crypto::PublicKey& user_key,
                                                       bool temporary) {
  std::shared_ptr<const ClusterSnapshot> snapshot;
  ASSIGN_OR_RETURN(xrml::Document rac, IssueRac(cluster, who, user_key, temporary, snapshot));
  if (snapshot->chain_file_head.empty()) {
    std::vector<xrml::Document> chain = {std::move(rac)};
    chain.insert(chain.end(), snapshot->slc_chain->begin(), snapshot->slc_chain->end());
    return xrml::WriteChainFile(chain);
  }
  return snapshot->chain_file_head + XmlEscape(xrml::WriteDocument(rac)) +
         snapshot->chain_file_tail;
}

Result<xrml::Document> LicensingService::IssueRac(
    const std::string& cluster, const accounts::Identity& who, const crypto::PublicKey& user_key,
    bool temporary, std::shared_ptr<const ClusterSnapshot>& snapshot) {
  ASSIGN_OR_RETURN(snapshot, CheckCanIssue(cluster));
  // The configuration of the snapshot: an administrator's change of the RAC
  // validity applies within its refresh bound (2 s), on every node.
  RETURN_IF_ERROR(snapshot->config_status);
  const cluster::ClusterConfig& config = *snapshot->config;
  if (config.kind != cluster::ClusterKind::kRoot) {
    return Status(Code::kPermissionDenied,
                  "cluster " + cluster +
                      " is licensing-only: rights account certificates come "
                      "from the root cluster");
  }
  if (user_key.bits() < 2048) {
    return Status(Code::kUnsupported, "the user key must have 2048 bits or more");
  }
  RETURN_IF_ERROR(snapshot->chain_status);
  // The key of the snapshot's SLC, which the RAC's chain carries.
  ASSIGN_OR_RETURN(auto key, CurrentKey(config));
  const Time now = clock_.Now();
  const Time from = RoundToMinute(now);
  const Time until = temporary ? from + std::chrono::minutes(config.rac_temporary_minutes)
                               : from + Days(config.rac_standard_days);
  xrml::Element body("BODY");
  body.Attr("type", "LICENSE").Attr("version", "3.0");
  body.Add(Text("ISSUEDTIME", FormatXrmlTime(from)));
  xrml::Element& validity = body.Add("VALIDITYTIME");
  validity.Add(Text("FROM", FormatXrmlTime(from)));
  validity.Add(Text("UNTIL", FormatXrmlTime(until)));
  xrml::Element& descriptor = body.Add("DESCRIPTOR").Add("OBJECT");
  descriptor.Attr("type", "Group-Identity-Credential");
  descriptor.Add(Text("ID", NewGuid(random_))).Attr("type", "MS-GUID");
  body.Add(ClusterIssuer(config, key->public_key()));
  xrml::Element& principal = body.Add("ISSUEDPRINCIPALS").Add(UserPrincipal(who, user_key));
  principal.Add(xrml::Element("SECURITYLEVEL")
                    .Attr("name", "Group-Identity-Credential-Type")
                    .Attr("value", temporary ? "Temporary" : "Persistent"));
  ASSIGN_OR_RETURN(xrml::Document rac, xrml::SignDocument(std::move(body), *key));
  RETURN_IF_ERROR(Audit(cluster, who, temporary ? "rac-temporary" : "rac", rac.descriptor.id,
                        "issued", "valid until " + FormatHuman(until)));
  (temporary ? counters_.issued_rac_temporary : counters_.issued_rac)
      .fetch_add(1, std::memory_order_relaxed);
  return rac;
}

Result<std::vector<xrml::Document>> LicensingService::IssueClc(const std::string& cluster,
                                                               const accounts::Identity& who,
                                                               const crypto::PublicKey& user_key,
                                                               const std::string& license_url) {
  ASSIGN_OR_RETURN(auto snapshot, CheckCanIssue(cluster));
  RETURN_IF_ERROR(snapshot->config_status);
  const cluster::ClusterConfig& config = *snapshot->config;
  if (user_key.bits() < 2048) {
    return Status(Code::kUnsupported, "the client licensor key must have 2048 bits or more");
  }
  RETURN_IF_ERROR(snapshot->chain_status);
  ASSIGN_OR_RETURN(auto key, CurrentKey(config));
  const auto [from, until] = ClcValidity(*snapshot, config);
  const std::string id = NewGuid(random_);
  xrml::Element body("BODY");
  body.Attr("type", "LICENSE").Attr("version", "3.0");
  body.Add(Text("ISSUEDTIME", FormatXrmlTime(from)));
  xrml::Element& descriptor = body.Add("DESCRIPTOR").Add("OBJECT");
  descriptor.Attr("type", kTypeClientLicensorCertificate);
  descriptor.Add(Text("ID", id)).Attr("type", "MS-GUID");
  body.Add(ClusterIssuer(config, key->public_key()));
  body.Add(LicenseAcquisitionPoint(license_url, random_));
  body.Add("ISSUEDPRINCIPALS").Add(UserPrincipal(who, user_key));
  // The right to issue publishing licenses, for the CLC's lifetime. The
  // caller holds the private key, so no ENABLINGBITS carry it.
  xrml::Element& work = body.Add("WORK");
  work.Add("OBJECT")
      .Attr("type", kTypeClientLicensorCertificate)
      .Add(Text("ID", id))
      .Attr("type", "MS-GUID");
  xrml::Element& range = work.Add(xrml::Element("RIGHTSGROUP").Attr("name", "Main-Rights"))
                             .Add("RIGHTSLIST")
                             .Add(xrml::Element("RIGHT").Attr("name", xrml::kRightIssue))
                             .Add("CONDITIONLIST")
                             .Add("TIME")
                             .Add("RANGETIME");
  range.Add(Text("FROM", FormatXrmlTime(from)));
  range.Add(Text("UNTIL", FormatXrmlTime(until)));
  ASSIGN_OR_RETURN(xrml::Document clc, xrml::SignDocument(std::move(body), *key));
  RETURN_IF_ERROR(Audit(cluster, who, "clc", id, "issued", "valid until " + FormatHuman(until)));
  counters_.issued_clc.fetch_add(1, std::memory_order_relaxed);
  std::vector<xrml::Document> chain = {std::move(clc)};
  chain.insert(chain.end(), snapshot->slc_chain->begin(), snapshot->slc_chain->end());
  return chain;
}

Status LicensingService::Revoke(const std::string& cluster, const std::string& content_id,
                                const accounts::Identity& by, const std::string& owner) {
  if (content_id.empty() || content_id.size() > 256) {
    return Invalid("a content ID has 1 to 256 characters");
  }
  RETURN_IF_ERROR(clusters_.store().Find(cluster).status());
  auto inserted = db_.Execute(
      "INSERT INTO revocations (cluster, content_id, revoked_by, revoked_at) VALUES ($1, $2, $3, "
      "$4)",
      {cluster, content_id, by.user, clock_.Now().time_since_epoch().count()});
  if (!inserted.ok() && inserted.status().code() == Code::kAlreadyUsed) {
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT revoked_by, revoked_at FROM revocations WHERE "
                                          "cluster = $1 AND content_id = $2",
                                          {cluster, content_id}));
    if (rows.empty()) return inserted.status();
    return Status(Code::kAlreadyUsed, "content " + content_id + " was already revoked by " +
                                          rows[0].Text(0) + " at " +
                                          FormatHuman(Time(Duration(rows[0].Int(1)))));
  }
  RETURN_IF_ERROR(inserted.status());
  return Audit(cluster, by, "revoke", content_id, "revoked", "", owner);
}

Result<std::string> LicensingService::RevokeAs(const std::string& cluster,
                                               const accounts::Identity& who,
                                               const std::string& content_id,
                                               const std::string& publishing_license) {
  std::string id = content_id;
  std::string owner;
  if (!publishing_license.empty()) {
    RETURN_IF_ERROR(CheckCanIssue(cluster).status());
    ASSIGN_OR_RETURN(std::string xml, DecodeLicense(publishing_license));
    ASSIGN_OR_RETURN(std::shared_ptr<const OpenedLicense> opened, Open(cluster, xml));
    if (!id.empty() && id != opened->policy.content_id) {
      return Invalid("ContentId " + id + " is not the content of that publishing license (" +
                     opened->policy.content_id + ")");
    }
    id = opened->policy.content_id;
    owner = opened->policy.owner;
  } else {
    if (id.empty()) return Invalid("the body needs ContentId or SerializedPublishingLicense");
    ASSIGN_OR_RETURN(auto rows,
                     db_.Query("SELECT user_name FROM license_audit WHERE content_id = $1 AND "
                               "cluster = $2 AND kind = 'publish' ORDER BY id LIMIT 1",
                               {id, cluster}));
    if (rows.empty()) {
      return Invalid("no content " + id + " was published online through cluster " + cluster +
                     "; send its SerializedPublishingLicense");
    }
    owner = rows[0].Text(0);
  }
  if (!EqualsIgnoreCase(owner, who.user) && !who.InGroup(options_.super_users_group)) {
    return Status(Code::kPermissionDenied, "only the owner of content " + id + " (" + owner +
                                               ") or a member of " + options_.super_users_group +
                                               " may revoke it");
  }
  RETURN_IF_ERROR(Revoke(cluster, id, who, owner));
  return id;
}

Result<std::vector<Template>> LicensingService::ListTemplates() {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT id, name, description, policy FROM "
                                        "rights_templates ORDER BY name"));
  std::vector<Template> out;
  for (const auto& r : rows) {
    Template t{r.Text(0), r.Text(1), r.Text(2), {}, std::nullopt};
    // A damaged row is the operator's to see, not a template that quietly
    // grants less or never expires.
    auto damaged = [&](const Status& s) {
      return Status(Code::kDataLoss, "rights policy template " + t.name + " (" + t.id +
                                         ") cannot be read: " + s.message());
    };
    auto p = ParseJson(r.Text(3));
    if (!p.ok()) return damaged(p.status());
    auto urs = UserRightsFromJson(*p);
    if (!urs.ok()) return damaged(urs.status());
    t.user_rights = std::move(*urs);
    auto days = IntField(*p, "ValidDays", 0, 1, kMaxIntervalDays);
    if (!days.ok()) return damaged(days.status());
    if (*days != 0) t.valid_days = static_cast<int>(*days);
    out.push_back(std::move(t));
  }
  return out;
}

Result<Template> LicensingService::AddTemplate(Template t) {
  if (t.name.empty() || t.name.size() > 128)
    return Invalid("a template needs a name (1 to 128 characters)");
  if (t.description.empty()) return Invalid("a template needs a description");
  RETURN_IF_ERROR(CheckUserRights(t.user_rights));
  if (t.valid_days && (*t.valid_days < 1 || *t.valid_days > kMaxIntervalDays)) {
    return Invalid("a template's content expiry must be 1 to " + std::to_string(kMaxIntervalDays) +
                   " days");
  }
  t.id = NewGuid(random_);
  json policy = {{"UserRights", UserRightsJson(t.user_rights)}};
  if (t.valid_days) policy["ValidDays"] = *t.valid_days;
  auto r = db_.Execute(
      "INSERT INTO rights_templates (id, name, description, policy, created_at) VALUES ($1, $2, "
      "$3, $4, $5)",
      {t.id, t.name, t.description, WriteJson(policy), clock_.Now().time_since_epoch().count()});
  if (!r.ok() && r.status().code() == Code::kAlreadyUsed) {
    return Status(Code::kAlreadyUsed, "a template named \"" + t.name + "\" already exists");
  }
  if (!r.ok()) return r.status();
  return t;
}

Status LicensingService::DeleteTemplate(const std::string& id) {
  ASSIGN_OR_RETURN(int64_t n, db_.Execute("DELETE FROM rights_templates WHERE id = $1", {id}));
  if (n == 0) return Status(Code::kNotFound, "there is no template " + id);
  return Status::Ok();
}

}  // namespace openrms::licensing
