#include "licensing/json_license.h"

#include <algorithm>
#include <charconv>

#include "base/json.h"
#include "base/text.h"
#include "crypto/encoding.h"
#include "crypto/password_hash.h"

namespace openrms::licensing {

namespace {

using nlohmann::json;

constexpr char kVersion[] = "1.0.0.0";

Status Bad(const std::string& what) {
  return Status(Code::kMalformed, "the JSON publishing license's " + what);
}

std::string Reversed(std::string_view bytes) { return std::string(bytes.rbegin(), bytes.rend()); }

json KeyJson(const crypto::PublicKey& key) {
  return {{"kty", "RSA"},
          {"e", std::to_string(key.exponent())},
          {"n", crypto::Base64Encode(Reversed(key.modulus_be()))}};
}

Result<json> Signed(const json& payload_or_text, const std::string& text,
                    const crypto::PrivateKey& signer) {
  ASSIGN_OR_RETURN(std::string sig, signer.Sign(crypto::DigestAlgorithm::kSha256, text));
  return json{{"pld", payload_or_text},
              {"sig", {{"alg", "SHA256"}, {"penc", "utf-8"}, {"dig", crypto::Base64Encode(sig)}}}};
}

// The member `name` of `object`, an object itself.
Result<const json*> Object(const json& object, const char* name, const std::string& where) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_object()) {
    return Bad(where + (where.empty() ? "" : ".") + name + " is missing or not an object");
  }
  return &*it;
}

Result<std::string> Text(const json& object, const char* name, const std::string& where,
                         size_t max_bytes = 4096) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return Bad(where + (where.empty() ? "" : ".") + name + " is missing or not a string");
  }
  const std::string& s = it->get_ref<const std::string&>();
  if (s.size() > max_bytes) return Bad(where + "." + name + " is too long");
  return s;
}

Result<std::string> Base64(const json& object, const char* name, const std::string& where,
                           size_t max_bytes = 4096) {
  ASSIGN_OR_RETURN(std::string text, Text(object, name, where, max_bytes * 4 / 3 + 4));
  auto bytes = crypto::Base64Decode(text);
  if (!bytes) return Bad(where + "." + name + " is not base64");
  return std::move(*bytes);
}

Result<Time> TimeOf(const json& object, const char* name, const std::string& where) {
  ASSIGN_OR_RETURN(std::string text, Text(object, name, where, 64));
  auto t = ParseTime(text);
  if (!t) return Bad(where + "." + name + " is not a time (" + text + ")");
  return *t;
}

// {"kty": "RSA", "e": "65537", "n": base64 little-endian}.
Status ReadKey(const json& object, const char* name, const std::string& where,
               std::string& modulus_be, uint32_t& exponent) {
  ASSIGN_OR_RETURN(const json* key, Object(object, name, where));
  const std::string at = where + "." + name;
  ASSIGN_OR_RETURN(std::string n, Base64(*key, "n", at, 1024));
  ASSIGN_OR_RETURN(std::string e, Text(*key, "e", at, 10));
  const auto parsed = std::from_chars(e.data(), e.data() + e.size(), exponent);
  if (parsed.ec != std::errc() || parsed.ptr != e.data() + e.size()) {
    return Bad(at + ".e is not a decimal number");
  }
  modulus_be = Reversed(n);
  return Status::Ok();
}

Result<crypto::DigestAlgorithm> Algorithm(const std::string& name, const std::string& where) {
  if (EqualsIgnoreCase(name, "SHA1")) return crypto::DigestAlgorithm::kSha1;
  if (EqualsIgnoreCase(name, "SHA256")) return crypto::DigestAlgorithm::kSha256;
  return Bad(where + ".alg " + name + " is not SHA1 or SHA256");
}

Result<ThinClcPublic> ReadCreator(const json& cre) {
  json parsed;
  const json* pub = &cre;
  if (cre.is_string()) {
    auto j = ParseJson(cre.get_ref<const std::string&>(), {kMaxJsonLicense, 16});
    if (!j.ok()) return Bad("lic.cre is not JSON: " + j.status().message());
    parsed = std::move(*j);
    pub = &parsed;
  }
  if (!pub->is_object()) return Bad("lic.cre is not an object");
  ThinClcPublic c;
  ASSIGN_OR_RETURN(const json* pld, Object(*pub, "pld", "lic.cre"));
  ASSIGN_OR_RETURN(const json* sig, Object(*pub, "sig", "lic.cre"));
  ASSIGN_OR_RETURN(std::string alg, Text(*sig, "alg", "lic.cre.sig", 16));
  if (!EqualsIgnoreCase(alg, "SHA256")) return Bad("lic.cre.sig.alg " + alg + " is not SHA256");
  ASSIGN_OR_RETURN(c.signature, Base64(*sig, "dig", "lic.cre.sig", 1024));
  c.signed_text = WriteJson(*pld);
  const std::string at = "lic.cre.pld";
  ASSIGN_OR_RETURN(c.id, Text(*pld, "id", at, 64));
  ASSIGN_OR_RETURN(const json* iss, Object(*pld, "iss", at));
  ASSIGN_OR_RETURN(c.issuer_name, Text(*iss, "fname", at + ".iss", 256));
  RETURN_IF_ERROR(ReadKey(*iss, "pubk", at + ".iss", c.issuer_modulus_be, c.issuer_exponent));
  ASSIGN_OR_RETURN(const json* to, Object(*pld, "issto", at));
  ASSIGN_OR_RETURN(c.holder, Text(*to, "fname", at + ".issto", 256));
  ASSIGN_OR_RETURN(c.holder_email, Text(*to, "em", at + ".issto", 256));
  RETURN_IF_ERROR(ReadKey(*to, "pubk", at + ".issto", c.holder_modulus_be, c.holder_exponent));
  ASSIGN_OR_RETURN(c.sealed_holder_key, Base64(*pld, "sealk", at, 16 << 10));
  ASSIGN_OR_RETURN(c.issued, TimeOf(*pld, "issd", at));
  ASSIGN_OR_RETURN(c.expires, TimeOf(*pld, "exp", at));
  return c;
}

}  // namespace

Result<std::string> WriteThinClc(const ThinClcContent& c, const crypto::PrivateKey& signer) {
  // The SDK takes its certificate apart by text: it removes every backslash
  // and mends quotes around braces. Names must come through that unchanged.
  for (const std::string* name : {&c.holder, &c.issuer_name, &c.license_url}) {
    if (std::any_of(name->begin(), name->end(), [](char ch) {
          return ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20;
        })) {
      return Status(Code::kInvalidArgument,
                    "the name " + *name +
                        " holds a quote, a backslash or a control character, which the RMS "
                        "SDK's offline publisher cannot read back: send PublicKey for an XrML "
                        "client licensor certificate instead");
    }
  }
  const json pub_payload = {
      {"ver", kVersion},
      {"id", c.id},
      {"iss", {{"fname", c.issuer_name}, {"eurl", c.license_url}, {"pubk", KeyJson(c.issuer_key)}}},
      {"issto", {{"em", c.holder}, {"fname", c.holder}, {"pubk", KeyJson(c.holder_key)}}},
      {"issd", FormatIso8601(c.issued)},
      {"exp", FormatIso8601(c.expires)},
      {"sealk", crypto::Base64Encode(c.sealed_holder_key)}};
  const std::string pub_text = WriteJson(pub_payload);
  ASSIGN_OR_RETURN(json pub, Signed(pub_payload, pub_text, signer));
  json payload = {
      {"pub", std::move(pub)},
      {"pri",
       {{"issd", FormatIso8601(c.issued)},
        {"exp", FormatIso8601(c.expires)},
        {"prik", {{"kty", "RSA"}, {"d", crypto::Base64Encode(c.holder_private_exponent_le)}}}}}};
  std::string text = WriteJson(payload);
  payload.clear();
  ASSIGN_OR_RETURN(json outer, Signed(text, text, signer));
  std::string out = WriteJson(outer);
  crypto::Wipe(text);
  outer.clear();
  return out;
}

bool IsJsonLicense(std::string_view text) {
  const size_t at = text.find_first_not_of(" \t\r\n");
  return at != std::string_view::npos && text[at] == '{';
}

Result<JsonLicense> ReadJsonLicense(std::string_view text) {
  if (text.size() > kMaxJsonLicense) {
    return Status(Code::kTooLarge, "a JSON publishing license has at most " +
                                       std::to_string(kMaxJsonLicense) + " bytes");
  }
  auto outer = ParseJson(text, {kMaxJsonLicense, 16});
  if (!outer.ok()) return Bad("text is not JSON: " + outer.status().message());
  if (!outer->is_object()) return Bad("text is not a JSON object");
  JsonLicense l;
  ASSIGN_OR_RETURN(l.signed_text, Text(*outer, "pld", "", kMaxJsonLicense));
  ASSIGN_OR_RETURN(const json* sig, Object(*outer, "sig", ""));
  ASSIGN_OR_RETURN(std::string alg, Text(*sig, "alg", "sig", 16));
  ASSIGN_OR_RETURN(l.signature_algorithm, Algorithm(alg, "sig"));
  ASSIGN_OR_RETURN(l.signature, Base64(*sig, "dig", "sig", 1024));
  auto payload = ParseJson(l.signed_text, {kMaxJsonLicense, 16});
  if (!payload.ok()) return Bad("pld is not JSON: " + payload.status().message());
  if (!payload->is_object()) return Bad("pld is not a JSON object");
  ASSIGN_OR_RETURN(const json* lic, Object(*payload, "lic", "pld"));
  ASSIGN_OR_RETURN(l.license_id, Text(*lic, "id", "lic", 256));
  ASSIGN_OR_RETURN(l.owner, Text(*lic, "o", "lic", 256));
  ASSIGN_OR_RETURN(l.content_id, Text(*lic, "cid", "lic", 256));
  auto cre = lic->find("cre");
  if (cre == lic->end()) return Bad("lic.cre is missing");
  ASSIGN_OR_RETURN(l.creator, ReadCreator(*cre));
  ASSIGN_OR_RETURN(const json* sk, Object(*lic, "sk", "lic"));
  ASSIGN_OR_RETURN(std::string sk_alg, Text(*sk, "alg", "lic.sk", 16));
  if (!EqualsIgnoreCase(sk_alg, "AES")) return Bad("lic.sk.alg " + sk_alg + " is not AES");
  ASSIGN_OR_RETURN(l.cipher_mode, Text(*sk, "cm", "lic.sk", 16));
  ASSIGN_OR_RETURN(l.sealed_session_key, Base64(*sk, "sk", "lic.sk", 1024));
  // "eck" is base64 of the JSON {"alg","cm","k"}; "k" the content key
  // encrypted under the session key.
  ASSIGN_OR_RETURN(std::string eck_text, Base64(*sk, "eck", "lic.sk", 1024));
  auto eck = ParseJson(eck_text, {4096, 4});
  if (!eck.ok() || !eck->is_object()) return Bad("lic.sk.eck is not a JSON object");
  ASSIGN_OR_RETURN(l.content_key_cipher, Base64(*eck, "k", "lic.sk.eck", 256));
  ASSIGN_OR_RETURN(l.encrypted_policy, Base64(*lic, "enp", "lic", 128 << 10));
  if (auto sad = lic->find("sad"); sad != lic->end() && !sad->is_null()) {
    if (!sad->is_object() || sad->size() > 64) return Bad("lic.sad is not an object of strings");
    for (const auto& [name, value] : sad->items()) {
      if (!value.is_string() || name.size() > 256 ||
          value.get_ref<const std::string&>().size() > 4096) {
        return Bad("lic.sad is not an object of strings");
      }
      l.signed_application_data[name] = value.get<std::string>();
    }
  }
  return l;
}

Result<JsonPolicy> ReadJsonPolicy(std::string_view text) {
  auto j = ParseJson(text, {128 << 10, 8});
  if (!j.ok() || !j->is_object()) return Bad("policy (enp) is not a JSON object");
  JsonPolicy p;
  if (auto crem = j->find("crem"); crem != j->end() && crem->is_string()) {
    p.creator = crem->get<std::string>();
  }
  if (auto tid = j->find("tid"); tid != j->end()) {
    if (!tid->is_string() || tid->get_ref<const std::string&>().empty()) {
      return Bad("policy's tid is not a template ID");
    }
    p.template_id = tid->get<std::string>();
    return p;
  }
  ASSIGN_OR_RETURN(const json* cp, Object(*j, "cp", "policy"));
  auto users = cp->find("usrs");
  if (users == cp->end() || !users->is_array() || users->empty()) {
    return Bad("policy.cp.usrs is missing or not a list of users and rights");
  }
  for (size_t i = 0; i < users->size(); ++i) {
    const json& entry = (*users)[i];
    const std::string at = "policy.cp.usrs[" + std::to_string(i) + "]";
    if (!entry.is_object()) return Bad(at + " is not an object");
    UserRights ur;
    auto names = StringArrayField(entry, "usrs", 500, 256);
    if (!names.ok()) return Bad(at + ": " + names.status().message());
    // The SDK writes "rghts"; its constants name it "rhts".
    const char* rights_name = entry.contains("rghts") ? "rghts" : "rhts";
    auto rights = StringArrayField(entry, rights_name, 64, 64);
    if (!rights.ok()) return Bad(at + ": " + rights.status().message());
    ur.users = std::move(*names);
    ur.rights = std::move(*rights);
    p.user_rights.push_back(std::move(ur));
  }
  return p;
}

}  // namespace openrms::licensing
