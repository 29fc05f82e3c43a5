// libFuzzer target: the JSON bodies of the licensing protocol, as a node
// reads them: the depth-limited parse, the typed fields, then the codec of
// node/api (every request it reads, a publishing request's custom policy
// above all). Invariants: a parsed document can be dumped (no deep
// recursion gets past the limit), nothing throws, and an accepted policy
// stays inside the bounds the readers promise; and the short way of reading
// an enduserlicenses body gives what the whole JSON reading gives, whenever
// it takes a body at all; and any bytes quote as WriteJson quotes them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/json.h"
#include "node/api/my_v2_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using openrms::ParseJson;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // Any bytes quote as WriteJson quotes them (certification's answer).
  if (openrms::JsonQuoted(bytes) != openrms::WriteJson(nlohmann::json(std::string(bytes)))) {
    std::abort();
  }
  auto j = ParseJson(bytes);
  const auto sole = openrms::node::api::ReadSoleEndUserLicenseRequest(bytes);
  if (sole) {
    if (!j.ok()) std::abort();  // the short way took what is not JSON
    const auto whole = openrms::node::api::ReadEndUserLicenseRequest(*j);
    if (whole.ok() != sole->ok()) std::abort();
    if (whole.ok() && whole->publishing_license != (*sole)->publishing_license) std::abort();
    if (!whole.ok() && (whole.status().code() != sole->status().code() ||
                        whole.status().message() != sole->status().message())) {
      std::abort();
    }
  }
  if (!j.ok()) return 0;
  (void)j->dump();  // recursion is bounded by the depth limit
  (void)openrms::StringField(*j, "SerializedPublishingLicense");
  (void)openrms::StringField(*j, "TemplateId", "", 256);
  (void)openrms::BoolField(*j, "Temporary", false);
  (void)openrms::StringField(*j, "PublicKey", "", 16 << 10);
  (void)openrms::node::api::ReadPublishRequest(*j);
  (void)openrms::node::api::ReadEndUserLicenseRequest(*j);
  (void)openrms::node::api::ReadCertificationRequest(*j);
  const nlohmann::json& policy = j->is_object() && j->contains("Policy") ? (*j)["Policy"] : *j;
  auto p = openrms::node::api::CustomPolicyFromRequest(policy);
  if (p.ok()) {
    if (p->interval_days < 0 || p->interval_days > 36500) std::abort();
    if (p->interval_days == 0 && p->allow_offline) std::abort();
    if (p->user_rights.empty()) std::abort();
    for (const auto& ur : p->user_rights) {
      for (const auto& r : ur.rights) {
        if (r.empty() || r.size() > 64) std::abort();
      }
    }
  }
  return 0;
}
