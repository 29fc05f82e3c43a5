#include "cluster/tpd_file.h"

#include "base/json.h"
#include "crypto/content_cipher.h"
#include "crypto/keys.h"

namespace openrms::cluster {

namespace {

constexpr char kMagic[] = "ORMSTPD1";
constexpr size_t kHeaderSize = 60;
constexpr char kFormat[] = "openrms-tpd/1";
constexpr char kCheckLabel[] = "OpenRMS TPD password check";

std::string Be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

uint32_t ReadBe32(std::string_view b) {
  return (uint32_t{static_cast<uint8_t>(b[0])} << 24) |
         (uint32_t{static_cast<uint8_t>(b[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(b[2])} << 8) | uint32_t{static_cast<uint8_t>(b[3])};
}

Status Bad(const std::string& what) {
  return Status(Code::kMalformed, "the trusted publishing domain file is damaged: " + what);
}

Result<Time> TimeField(const nlohmann::json& j, std::string_view name) {
  ASSIGN_OR_RETURN(std::string text, StringField(j, name));
  auto t = ParseTime(text);
  if (!t) return Bad(std::string(name) + " is not a time");
  return *t;
}

}  // namespace

Result<TpdEnvelope> ParseTpdEnvelope(std::string_view file) {
  if (file.size() > kMaxTpdFileBytes) {
    return Status(Code::kTooLarge,
                  "the file is larger than a trusted publishing domain file can "
                  "be (" +
                      std::to_string(kMaxTpdFileBytes >> 20) + " MiB)");
  }
  if (file.size() < kHeaderSize || file.substr(0, 8) != kMagic) {
    return Status(Code::kMalformed,
                  "the file is not an OpenRMS trusted publishing domain file (made by `openrms "
                  "tpd export`)");
  }
  if (file[8] != 1) return Status(Code::kUnsupported, "the file's key derivation is not scrypt");
  TpdEnvelope e;
  e.cost = {static_cast<uint8_t>(file[9]), static_cast<uint8_t>(file[10]),
            static_cast<uint8_t>(file[11])};
  RETURN_IF_ERROR(crypto::CheckScryptCost(e.cost));
  e.salt = std::string(file.substr(12, 16));
  e.nonce = std::string(file.substr(28, 12));
  e.check = std::string(file.substr(40, 16));
  const uint32_t length = ReadBe32(file.substr(56, 4));
  if (length < 16 || length != file.size() - kHeaderSize) {
    return Bad("its length field says " + std::to_string(length) + " bytes, it holds " +
               std::to_string(file.size() - kHeaderSize));
  }
  e.header = std::string(file.substr(0, kHeaderSize));
  e.sealed = std::string(file.substr(kHeaderSize));
  return e;
}

Result<TpdContents> ParseTpdContents(std::string_view text) {
  auto parsed = ParseJson(text, {kMaxTpdFileBytes, 16});
  if (!parsed.ok()) return Bad(parsed.status().message());
  const nlohmann::json& j = *parsed;
  if (!j.is_object()) return Bad("its contents are not an object");
  ASSIGN_OR_RETURN(std::string format, StringField(j, "format"));
  if (format != kFormat) {
    return Status(Code::kUnsupported, "the file's format is \"" + format.substr(0, 64) +
                                          "\"; this OpenRMS reads " + kFormat);
  }
  TpdContents c;
  ASSIGN_OR_RETURN(c.cluster, StringField(j, "cluster"));
  ASSIGN_OR_RETURN(c.guid, StringField(j, "guid"));
  ASSIGN_OR_RETURN(c.exported_at, TimeField(j, "exported_at"));
  const auto domains = j.find("domains");
  if (domains == j.end() || !domains->is_array() || domains->empty() ||
      domains->size() > kMaxTpdDomains) {
    return Bad("it must hold 1 to " + std::to_string(kMaxTpdDomains) + " domains");
  }
  for (const nlohmann::json& d : *domains) {
    if (!d.is_object()) return Bad("a domain is not an object");
    TpdDomain out;
    ASSIGN_OR_RETURN(out.fingerprint, StringField(d, "fingerprint"));
    ASSIGN_OR_RETURN(out.public_key, StringField(d, "public_key"));
    ASSIGN_OR_RETURN(out.sealed_key, StringField(d, "sealed_key"));
    ASSIGN_OR_RETURN(out.chain, StringField(d, "chain", "", 8 << 20));
    ASSIGN_OR_RETURN(out.issued, TimeField(d, "issued"));
    ASSIGN_OR_RETURN(out.expires, TimeField(d, "expires"));
    ASSIGN_OR_RETURN(out.state, StringField(d, "state"));
    if (out.fingerprint.empty() || out.public_key.empty() || out.sealed_key.empty() ||
        out.chain.empty()) {
      return Bad("a domain lacks its key, fingerprint or chain");
    }
    c.domains.push_back(std::move(out));
  }
  const auto templates = j.find("templates");
  if (templates != j.end()) {
    if (!templates->is_array()) return Bad("templates is not an array");
    c.templates_json = WriteJson(*templates);
  }
  return c;
}

std::string WriteTpdContents(const TpdContents& c) {
  nlohmann::json domains = nlohmann::json::array();
  for (const TpdDomain& d : c.domains) {
    domains.push_back({{"fingerprint", d.fingerprint},
                       {"public_key", d.public_key},
                       {"sealed_key", d.sealed_key},
                       {"chain", d.chain},
                       {"issued", FormatIso8601(d.issued)},
                       {"expires", FormatIso8601(d.expires)},
                       {"state", d.state}});
  }
  auto templates = ParseJson(c.templates_json);
  nlohmann::json j = {
      {"format", kFormat},
      {"cluster", c.cluster},
      {"guid", c.guid},
      {"exported_at", FormatIso8601(c.exported_at)},
      {"domains", domains},
      {"templates",
       templates.ok() && templates->is_array() ? *templates : nlohmann::json::array()}};
  return WriteJson(j);
}

Result<std::string> SealTpdFile(const TpdContents& contents, std::string_view password,
                                Random& random, const crypto::ScryptCost& cost) {
  RETURN_IF_ERROR(crypto::CheckScryptCost(cost));
  const std::string salt = crypto::RandomBytes(random, 16);
  const std::string nonce = crypto::RandomBytes(random, 12);
  ASSIGN_OR_RETURN(crypto::PasswordFileKeys keys,
                   crypto::DerivePasswordFileKeys(password, salt, cost, kCheckLabel));
  const std::string plain = WriteTpdContents(contents);
  if (plain.size() + kHeaderSize + 16 > kMaxTpdFileBytes) {
    return Status(Code::kTooLarge, "the domains and templates are too large for one file");
  }
  std::string header = kMagic;
  header += static_cast<char>(1);
  header += static_cast<char>(cost.log2_n);
  header += static_cast<char>(cost.r);
  header += static_cast<char>(cost.p);
  header += salt + nonce + keys.check + Be32(static_cast<uint32_t>(plain.size() + 16));
  ASSIGN_OR_RETURN(std::string sealed, crypto::AeadSeal(keys.aead, nonce, header, plain));
  return header + sealed;
}

Result<TpdContents> OpenTpdFile(std::string_view file, std::string_view password) {
  ASSIGN_OR_RETURN(TpdEnvelope e, ParseTpdEnvelope(file));
  ASSIGN_OR_RETURN(crypto::PasswordFileKeys keys,
                   crypto::DerivePasswordFileKeys(password, e.salt, e.cost, kCheckLabel));
  if (keys.check != e.check) {
    return Status(Code::kPermissionDenied,
                  "the password does not open this trusted publishing domain file (or the "
                  "file's header was changed): nothing was imported");
  }
  auto plain = crypto::AeadOpen(keys.aead, e.nonce, e.header, e.sealed);
  if (!plain.ok()) {
    if (plain.status().code() != Code::kBadSignature) return plain.status();
    return Status(Code::kBadSignature,
                  "the trusted publishing domain file was changed after it was exported (its "
                  "AES-GCM tag does not hold): nothing was imported; export it again");
  }
  return ParseTpdContents(*plain);
}

}  // namespace openrms::cluster
