#include "licensing/rights_data.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "base/text.h"
#include "crypto/content_cipher.h"
#include "crypto/encoding.h"
#include "crypto/password_hash.h"

namespace openrms::licensing {

namespace {

constexpr std::string_view kOfficial = "Microsoft Official Rights Template";
constexpr std::string_view kCustom = "Microsoft Rights Template";
constexpr char kUtf16Bom[] = "\xFF\xFE";

xrml::Element Text(std::string name, std::string text) {
  xrml::Element e(std::move(name));
  e.Text(std::move(text));
  return e;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

Status Bad(const std::string& why) {
  return Status(Code::kMalformed, "the license's rights cannot be read: " + why);
}

xrml::Element Principal(const std::string& user) {
  xrml::Element principal("PRINCIPAL");
  xrml::Element& object = principal.Add("OBJECT");
  if (EqualsIgnoreCase(user, "ANYONE")) {
    object.Add(Text("ID", "Anyone")).Attr("type", "Internal");
  } else {
    object.Add(xrml::Element("ID").Attr("type", "Unspecified"));
    object.Add(Text("NAME", user));
  }
  return principal;
}

// "LCID 1033:NAME <name>:DESCRIPTION <description>;" (2.2.9.8.1), the first
// of its entries.
void ReadDescriptorName(std::string_view text, Policy& p) {
  const size_t name = text.find(":NAME ");
  const size_t description = text.find(":DESCRIPTION ", name == text.npos ? 0 : name);
  if (name == text.npos || description == text.npos) {
    p.name = std::string(text);
    return;
  }
  p.name = std::string(text.substr(name + 6, description - name - 6));
  std::string_view rest = text.substr(description + 13);
  // Entries are separated by ";": the next one starts "LCID ".
  if (const size_t next = rest.find(";LCID "); next != rest.npos) rest = rest.substr(0, next);
  if (!rest.empty() && rest.back() == ';') rest.remove_suffix(1);
  p.description = std::string(rest);
}

// Form 1 (<RIGHT name="VIEW">) or form 2 (<VIEW>) of 2.2.9.8.5.3.
std::string RightName(const xrml::Element& right) {
  if (right.name == "RIGHT") return right.Attribute("name").value_or("");
  return right.name;
}

std::optional<int> IntervalDays(const xrml::Element& time) {
  const xrml::Element* interval = time.Child("INTERVALTIME");
  if (interval == nullptr) return std::nullopt;
  const auto days = ParseInt(interval->Attribute("days").value_or(""));
  if (!days || *days < 0 || *days > kMaxIntervalDays) return std::nullopt;
  return static_cast<int>(*days);
}

}  // namespace

xrml::Element RightsDataElement(const Policy& policy, Time issued,
                                const std::string& descriptor_id) {
  const bool official = !policy.template_id.empty();
  xrml::Element root("XrML");
  root.Attr("xmlns", "").Attr("version", "1.2");
  xrml::Element& body = root.Add("BODY");
  body.Attr("type", std::string(official ? kOfficial : kCustom));
  body.Add(Text("ISSUEDTIME", FormatXrmlTime(issued)));
  xrml::Element& descriptor = body.Add("DESCRIPTOR").Add("OBJECT");
  descriptor.Add(Text("ID", official ? policy.template_id : descriptor_id)).Attr("type", "MS-GUID");
  descriptor.Add(
      Text("NAME", "LCID 1033:NAME " + policy.name + ":DESCRIPTION " + policy.description + ";"));
  xrml::Element& work = body.Add("WORK");
  work.Add("OBJECT").Add(Text("ID", policy.content_id)).Attr("type", "MS-GUID");
  xrml::Element& owner = work.Add("METADATA").Add("OWNER").Add("OBJECT");
  owner.Add(xrml::Element("ID").Attr("type", "Unspecified"));
  owner.Add(Text("NAME", policy.owner));
  if (policy.valid_until) {
    xrml::Element& range = work.Add("PRECONDITIONLIST").Add("TIME").Add("RANGETIME");
    range.Add(Text("FROM", FormatXrmlTime(issued)));
    range.Add(Text("UNTIL", FormatXrmlTime(*policy.valid_until)));
  }
  xrml::Element& list = work.Add("RIGHTSGROUP").Attr("name", "Main-Rights").Add("RIGHTSLIST");
  for (const UserRights& ur : policy.user_rights) {
    for (const std::string& right : ur.rights) {
      for (const std::string& user : ur.users) {
        xrml::Element& conditions = list.Add("RIGHT").Attr("name", right).Add("CONDITIONLIST");
        if (policy.allow_offline) {
          conditions.Add("TIME").Add(
              xrml::Element("INTERVALTIME").Attr("days", std::to_string(policy.interval_days)));
        }
        conditions.Add("ACCESS").Add(Principal(user));
      }
    }
  }
  if (!policy.allow_offline) {
    body.Add(Text("AUTHENTICATEDDATA", "1")).Attr("name", "NOLICCACHE").Attr("id", "APPSPECIFIC");
  }
  return root;
}

Result<Policy> PolicyFromRightsData(const xrml::Element& xrml, const std::string& owner) {
  if (xrml.name != "XrML") return Bad("the rights data is not an XrML document");
  const xrml::Element* body = xrml.Child("BODY");
  if (body == nullptr) return Bad("the rights data has no BODY");
  const std::string type = body->Attribute("type").value_or("");
  if (type != kOfficial && type != kCustom) {
    return Bad("the rights data's BODY type is \"" + type.substr(0, 64) + "\", not \"" +
               std::string(kCustom) + "\" or \"" + std::string(kOfficial) + "\"");
  }
  const xrml::Element* work = body->Child("WORK");
  if (work == nullptr) return Bad("the rights data has no WORK");
  Policy p;
  p.owner = owner;
  if (const xrml::Element* d = body->Find({"DESCRIPTOR", "OBJECT"})) {
    if (const xrml::Element* name = d->Child("NAME")) ReadDescriptorName(name->text, p);
    if (const xrml::Element* id = d->Child("ID"); id != nullptr && type == kOfficial) {
      p.template_id = id->text;
    }
  }
  std::optional<Time> issued;
  if (const xrml::Element* t = body->Child("ISSUEDTIME")) issued = ParseTime(t->text);
  if (const xrml::Element* time = work->Find({"PRECONDITIONLIST", "TIME"})) {
    if (const xrml::Element* until = time->Find({"RANGETIME", "UNTIL"})) {
      p.valid_until = ParseTime(until->text);
      if (!p.valid_until) return Bad("the content's expiry is not a time");
    } else if (auto days = IntervalDays(*time)) {
      if (!issued) return Bad("the rights data's expiry counts from an ISSUEDTIME it lacks");
      p.valid_until = *issued + Days(*days);
    }
  }
  // Users in the order they first appear, each with every right named for
  // them.
  std::vector<std::string> order;
  std::map<std::string, std::set<std::string>> rights_of;
  std::optional<int> interval;
  const xrml::Element* list = work->Find({"RIGHTSGROUP", "RIGHTSLIST"});
  if (list == nullptr) return Bad("the rights data has no RIGHTSGROUP/RIGHTSLIST");
  for (const xrml::Element& right : list->children) {
    const std::string name = Upper(RightName(right));
    if (!IsKnownRight(name)) continue;
    const xrml::Element* conditions = right.Child("CONDITIONLIST");
    if (conditions == nullptr) continue;
    if (const xrml::Element* time = conditions->Child("TIME")) {
      if (auto days = IntervalDays(*time)) interval = std::min(interval.value_or(*days), *days);
    }
    const xrml::Element* access = conditions->Child("ACCESS");
    if (access == nullptr) continue;
    for (const xrml::Element* principal : access->Children("PRINCIPAL")) {
      const xrml::Element* object = principal->Child("OBJECT");
      if (object == nullptr) continue;
      std::string user;
      const xrml::Element* id = object->Child("ID");
      const std::string id_type = id != nullptr ? id->Attribute("type").value_or("") : "";
      if (id_type == "Internal" && id != nullptr && EqualsIgnoreCase(id->text, "Anyone")) {
        user = "ANYONE";
      } else if (id_type == "Internal" && id != nullptr && EqualsIgnoreCase(id->text, "Owner")) {
        user = owner;
      } else if (const xrml::Element* n = object->Child("NAME")) {
        user = n->text;
      } else if (id != nullptr) {
        user = id->text;
      }
      if (user.empty() || user.size() > 256) continue;
      if (!rights_of.count(user)) order.push_back(user);
      rights_of[user].insert(name);
    }
  }
  for (const std::string& user : order) {
    const auto& r = rights_of[user];
    p.user_rights.push_back({{user}, {r.begin(), r.end()}});
  }
  for (const xrml::Element* data : body->Children("AUTHENTICATEDDATA")) {
    if (data->Attribute("id") == "APPSPECIFIC" && data->Attribute("name") == "NOLICCACHE" &&
        Trim(data->text) == "1") {
      p.allow_offline = false;
    }
  }
  if (interval) p.interval_days = *interval;
  return p;
}

Result<std::string> SealRightsData(const xrml::Element& rights_data, const SymmetricKey& key) {
  ASSIGN_OR_RETURN(std::string utf16, Utf8ToUtf16Le(xrml::SerializeSurface(rights_data)));
  const std::string plain = kUtf16Bom + utf16;
  Result<std::string> sealed = key.mode == KeyCipherMode::kEcb
                                   ? crypto::EcbEncrypt(key.bytes, plain, true)
                                   : crypto::Cbc4kEncrypt(key.bytes, plain);
  if (!sealed.ok()) return sealed.status();
  return crypto::Base64Encode(*sealed);
}

Result<xrml::Element> OpenRightsData(std::string_view base64, const SymmetricKey& key) {
  if (base64.size() > kMaxRightsData * 4 / 3 + 4) {
    return Status(Code::kTooLarge,
                  "the license's rights data is over " + std::to_string(kMaxRightsData) + " bytes");
  }
  auto sealed = crypto::Base64Decode(base64);
  if (!sealed) return Bad("the rights data is not base64");
  Result<std::string> plain = Status(Code::kMalformed, "");
  switch (key.mode) {
    case KeyCipherMode::kEcb:
      plain = crypto::EcbDecrypt(key.bytes, *sealed, true);
      break;
    case KeyCipherMode::kCbc4k:
      plain = crypto::Cbc4kDecrypt(key.bytes, *sealed);
      break;
    default:
      return Bad("the content key's cipher mode is not one rights data is encrypted in");
  }
  if (!plain.ok()) return Bad("it does not decrypt under the content key");
  std::string text = std::move(*plain);
  // UTF-16LE without a byte-order mark reads as UTF-16LE too.
  if (text.size() >= 2 && text[0] == '<' && text[1] == '\0') text.insert(0, kUtf16Bom);
  // Inside the signed license, and never checked against a signature of
  // its own: how its elements were written need not be kept.
  xrml::ParseLimits limits;
  limits.keep_written = false;
  auto parsed = xrml::ParseXml(text, limits);
  crypto::Wipe(text);
  if (!parsed.ok()) return Bad(parsed.status().message());
  return std::move(*parsed);
}

}  // namespace openrms::licensing
