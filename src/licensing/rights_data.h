// The Encrypted-Rights-Data of a publishing license (MS-RMPR 2.2.9.7.6 and
// 2.2.9.8): the rights the author grants, as an XrML document, encrypted
// under the content key and base64-encoded into the license's
// <AUTHENTICATEDDATA id="Encrypted-Rights-Data">. Pure functions.
//
// How a Policy maps onto it (docs/FORMATS.md has the whole table):
// - BODY type "Microsoft Official Rights Template" for a template's rights
//   (its DESCRIPTOR's ID is the template's GUID), else "Microsoft Rights
//   Template";
// - DESCRIPTOR NAME "LCID 1033:NAME <name>:DESCRIPTION <description>;";
// - WORK: the content's GUID, METADATA/OWNER, a PRECONDITIONLIST TIME
//   RANGETIME for the content's expiry, and one RIGHT (form 1) per right and
//   user, whose CONDITIONLIST holds INTERVALTIME days (the offline interval)
//   and one ACCESS PRINCIPAL: ID type "Internal" "Anyone" for ANYONE, else ID
//   type "Unspecified" and NAME the user or group;
// - AUTHENTICATEDDATA id="APPSPECIFIC" name="NOLICCACHE" 1 when the policy
//   allows no offline access.
#pragma once

#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/random.h"
#include "licensing/enabling_bits.h"
#include "licensing/licensing.h"
#include "xrml/element.h"

namespace openrms::licensing {

// The rights data's XrML for `policy`, issued at `issued`; `descriptor_id`
// names a custom policy's rights (a template's are named by its id).
xrml::Element RightsDataElement(const Policy& policy, Time issued,
                                const std::string& descriptor_id);

// Reads the rights of a rights-data document into a Policy: name,
// description, template id, user rights (known rights only; "Owner"
// principals mean `owner`), offline interval, expiry. Owner and content id
// are the publishing license's, not read here. kMalformed naming what is
// wrong.
Result<Policy> PolicyFromRightsData(const xrml::Element& xrml, const std::string& owner);

// The base64 text of AUTHENTICATEDDATA: the element's surface coding as
// UTF-16LE with a byte-order mark, encrypted under `key` in its cipher mode
// (ECB or CBC4K, both padded).
Result<std::string> SealRightsData(const xrml::Element& rights_data, const SymmetricKey& key);

// The largest rights data read, encrypted (the policy's 500 users fit).
inline constexpr size_t kMaxRightsData = 1 << 20;

// Decrypts and parses the text of AUTHENTICATEDDATA (base64). kMalformed
// "the license's rights cannot be read: ..." for anything that does not
// decrypt to an XrML rights document; kTooLarge over kMaxRightsData.
Result<xrml::Element> OpenRightsData(std::string_view base64, const SymmetricKey& key);

}  // namespace openrms::licensing
