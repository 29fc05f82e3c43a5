// libFuzzer target: the readers of the RMS SDK's offline publishing
// license and its policy (licensing/json_license.h), on any bytes.
// Invariants: nothing throws or crashes, the size limit holds, and a
// license that reads has every field its reader promises.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "licensing/json_license.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)openrms::licensing::IsJsonLicense(bytes);
  auto l = openrms::licensing::ReadJsonLicense(bytes);
  if (l.ok()) {
    if (size > openrms::licensing::kMaxJsonLicense) std::abort();
    if (l->owner.empty() || l->license_id.empty() || l->creator.holder.empty() ||
        l->creator.sealed_holder_key.empty() || l->signature.empty()) {
      std::abort();
    }
  }
  auto p = openrms::licensing::ReadJsonPolicy(bytes);
  if (p.ok() && p->template_id.empty() && p->user_rights.empty()) std::abort();
  return 0;
}
