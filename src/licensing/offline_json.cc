// Offline publishing as the RMS SDK's offline publisher does it
// (json_license.h): the server makes the client licensor key, hands its
// private half to the holder inside a thin CLC and keeps nothing; a copy of
// the key, sealed to the cluster's key, travels in the CLC's public part,
// which every license the holder writes carries back. Opening such a
// license checks the CLC against the cluster's keys, the license against
// the CLC's key, opens the session key with the CLC's key, and reads the
// content key and the policy under it.
#include <algorithm>

#include "base/text.h"
#include "crypto/content_cipher.h"
#include "crypto/password_hash.h"
#include "licensing/json_license.h"
#include "licensing/licensing.h"

namespace openrms::licensing {

std::pair<Time, Time> LicensingService::ClcValidity(const ClusterSnapshot& snapshot,
                                                    const cluster::ClusterConfig& config) const {
  const Time from = RoundToMinute(clock_.Now());
  Time until = from + Days(config.clc_days);
  // Content published under it must stay openable: the CLC ends with the SLC.
  if (snapshot.active && snapshot.active->valid_until < until) {
    until = snapshot.active->valid_until;
  }
  return {from, until};
}

Result<LicensingService::ThinClcIssued> LicensingService::IssueThinClc(
    const std::string& cluster, const accounts::Identity& who, const std::string& license_url) {
  ASSIGN_OR_RETURN(auto snapshot, CheckCanIssue(cluster));
  RETURN_IF_ERROR(snapshot->config_status);
  const cluster::ClusterConfig& config = *snapshot->config;
  ASSIGN_OR_RETURN(auto key, CurrentKey(config));
  ASSIGN_OR_RETURN(crypto::HandedOverKey made,
                   crypto::GenerateHandedOverKey(2048, key->public_key(), random_));
  ThinClcContent c{NewGuid(random_),
                   config.name,
                   key->public_key(),
                   license_url,
                   who.user,
                   made.public_key,
                   std::move(made.private_exponent_le),
                   std::move(made.sealed),
                   {},
                   {}};
  std::tie(c.issued, c.expires) = ClcValidity(*snapshot, config);
  auto text = WriteThinClc(c, *key);
  crypto::Wipe(c.holder_private_exponent_le);
  if (!text.ok()) return text.status();
  RETURN_IF_ERROR(Audit(cluster, who, "clc", c.id, "issued",
                        "valid until " + FormatHuman(c.expires) + ", key made by the server"));
  counters_.issued_clc.fetch_add(1, std::memory_order_relaxed);
  return ThinClcIssued{std::move(*text), c.expires};
}

Result<std::shared_ptr<LicensingService::OpenedLicense>> LicensingService::OpenJson(
    const std::string& cluster, std::string_view text) {
  ASSIGN_OR_RETURN(JsonLicense l, ReadJsonLicense(text));
  const ThinClcPublic& clc = l.creator;
  // Issued by this cluster: its key, or a trusted publishing domain's.
  auto issuer_key = crypto::PublicKey::FromModulus(clc.issuer_modulus_be, clc.issuer_exponent);
  if (!issuer_key.ok()) {
    return Status(Code::kMalformed,
                  "the client licensor certificate's issuer key: " + issuer_key.status().message());
  }
  ASSIGN_OR_RETURN(auto key, KeyForIssuer(cluster, *issuer_key, clc.issuer_name));
  Status s =
      key->public_key().Verify(crypto::DigestAlgorithm::kSha256, clc.signed_text, clc.signature);
  if (!s.ok()) {
    return Status(Code::kBadSignature,
                  "the client licensor certificate was changed: its signature does not hold");
  }
  auto holder_key = crypto::PublicKey::FromModulus(clc.holder_modulus_be, clc.holder_exponent);
  if (!holder_key.ok()) {
    return Status(Code::kMalformed,
                  "the client licensor certificate's key: " + holder_key.status().message());
  }
  s = holder_key->Verify(l.signature_algorithm, l.signed_text, l.signature);
  if (!s.ok()) {
    return Status(Code::kBadSignature,
                  "the publishing license was changed: its signature does not hold for the key "
                  "of its client licensor certificate");
  }
  // A client publishes only as itself.
  if (!EqualsIgnoreCase(l.owner, clc.holder)) {
    return Status(Code::kUntrusted, "the publishing license names " + l.owner +
                                        " as its owner but was signed with the client licensor "
                                        "certificate of " +
                                        clc.holder);
  }
  if (!EqualsIgnoreCase(l.cipher_mode, "CBC4K")) {
    return Status(Code::kUnsupported, "the publishing license's keys are in " + l.cipher_mode +
                                          " mode; only CBC4K is opened (publish without the "
                                          "SDK's deprecated algorithms)");
  }
  auto held = crypto::OpenHandedOverKey(*key, clc.sealed_holder_key);
  if (!held.ok() || !((*held)->public_key() == *holder_key)) {
    return Status(Code::kUntrusted,
                  "the client licensor certificate's sealed key does not open or is not its key");
  }
  auto session = (*held)->Decrypt(crypto::RsaPadding::kPkcs1v15, l.sealed_session_key);
  if (!session.ok() || (session->size() != 16 && session->size() != 32)) {
    return Status(Code::kUntrusted,
                  "the publishing license's session key is not sealed to its client licensor "
                  "certificate's key");
  }
  auto content_key = crypto::Cbc4kDecrypt(*session, l.content_key_cipher);
  auto policy_text = crypto::Cbc4kDecrypt(*session, l.encrypted_policy);
  crypto::Wipe(*session);
  if (!content_key.ok() || (content_key->size() != 16 && content_key->size() != 32)) {
    return Status(Code::kMalformed,
                  "the publishing license's content key does not open under its session key");
  }
  if (!policy_text.ok()) {
    crypto::Wipe(*content_key);
    return Status(Code::kMalformed,
                  "the publishing license's policy does not open under its session key");
  }
  auto read = ReadJsonPolicy(*policy_text);
  if (!read.ok()) {
    crypto::Wipe(*content_key);
    return read.status();
  }
  auto opened = std::make_shared<OpenedLicense>();
  opened->content_key = std::move(*content_key);
  opened->clc_holder = clc.holder;
  Policy& p = opened->policy;
  p.owner = l.owner;
  // The SDK writes its holder's address as "cid", the same in every
  // license: each license's own "id" names the content.
  p.content_id = l.license_id;
  p.name = "Restricted Access";
  p.description = "Published offline by " + l.owner;
  if (!read->template_id.empty()) {
    ASSIGN_OR_RETURN(auto templates, ListTemplates());
    auto it = std::find_if(templates.begin(), templates.end(), [&](const Template& t) {
      return EqualsIgnoreCase(t.id, read->template_id);
    });
    if (it == templates.end()) {
      return Status(Code::kNotFound, "the content was published with the rights policy template " +
                                         read->template_id + ", which this cluster does not have");
    }
    p.template_id = it->id;
    p.name = it->name;
    p.description = it->description;
    p.user_rights = it->user_rights;
    // The license states no time of its own: counted from the earliest it
    // can have been published, the CLC's issue.
    if (it->valid_days) p.valid_until = RoundToMinute(clc.issued + Days(*it->valid_days));
  } else {
    p.user_rights = std::move(read->user_rights);
    RETURN_IF_ERROR(CheckUserRights(p.user_rights));
  }
  return opened;
}

}  // namespace openrms::licensing
