#include "formats/office_irm.h"

#include <vector>

#include "formats/compound_file.h"
#include "formats/little_endian.h"
#include "formats/pfile.h"

namespace openrms::formats {

namespace {

using Path = std::vector<std::string>;

const std::string kDataSpaces =
    "\x06"
    "DataSpaces";
const Path kVersionPath = {kDataSpaces, "Version"};
const Path kMapPath = {kDataSpaces, "DataSpaceMap"};
const Path kDefinitionPath = {kDataSpaces, "DataSpaceInfo", "DRMEncryptedDataSpace"};
const Path kPrimaryPath = {kDataSpaces, "TransformInfo", "DRMEncryptedTransform", "\x06Primary"};
const Path kPackagePath = {"EncryptedPackage"};
constexpr std::string_view kDataSpaceName = "DRMEncryptedDataSpace";
constexpr std::string_view kTransformName = "DRMEncryptedTransform";

void Put16(std::string& out, uint16_t v) { PutLittle(out, v); }
void Put32(std::string& out, uint32_t v) { PutLittle(out, v); }
void PadTo4(std::string& out, size_t written) { out.append((4 - written % 4) % 4, '\0'); }

// UNICODE-LP-P4 (2.1.2) of ASCII text.
void PutUnicode(std::string& out, std::string_view ascii) {
  Put32(out, static_cast<uint32_t>(ascii.size() * 2));
  for (char c : ascii) {
    out += c;
    out += '\0';
  }
  PadTo4(out, ascii.size() * 2);
}
size_t UnicodeSize(std::string_view ascii) { return 4 + (ascii.size() * 2 + 3) / 4 * 4; }

// Version (2.1.4) 1.0, three times: reader, updater, writer.
void PutVersions(std::string& out) {
  for (int i = 0; i < 3; ++i) {
    Put16(out, 1);
    Put16(out, 0);
  }
}

// Reads one stream's structures, naming the stream in every refusal.
class Cursor {
 public:
  Cursor(const CompoundStream& s) : data_(s.data), name_(PathText(s.path)) {}

  Status Bad(const std::string& what) const {
    return Status(
        Code::kMalformed,
        "the protected Office document's " + name_ + " stream " + what +
            " (MS-OFFCRYPTO 2.1, 2.2); it is damaged, or was not written by an RMS client");
  }
  Result<uint32_t> U32(std::string_view field) {
    if (data_.size() - at_ < 4) return Bad("is cut short in its " + std::string(field));
    const uint32_t v = GetLittle<uint32_t>(data_, at_);
    at_ += 4;
    return v;
  }
  Result<uint16_t> U16(std::string_view field) {
    if (data_.size() - at_ < 2) return Bad("is cut short in its " + std::string(field));
    const uint16_t v = GetLittle<uint16_t>(data_, at_);
    at_ += 2;
    return v;
  }
  // A UNICODE-LP-P4 that must read `expected`.
  Status Expect(std::string_view field, std::string_view expected) {
    ASSIGN_OR_RETURN(std::string text, Unicode(field));
    if (text != expected) {
      return Bad("names \"" + text + "\" as its " + std::string(field) + ", not \"" +
                 std::string(expected) + "\"");
    }
    return Status::Ok();
  }
  Result<std::string> Unicode(std::string_view field) {
    ASSIGN_OR_RETURN(uint32_t length, U32(field));
    if (length % 2 != 0 || length > 1024) {
      return Bad("gives its " + std::string(field) + " a length of " + std::to_string(length) +
                 " bytes");
    }
    const size_t padded = (length + 3) / 4 * 4;
    if (data_.size() - at_ < padded) return Bad("is cut short in its " + std::string(field));
    std::string text;
    for (size_t i = 0; i < length; i += 2) {
      const unsigned char lo = data_[at_ + i], hi = data_[at_ + i + 1];
      text += hi == 0 && lo >= 0x20 && lo < 0x7f ? static_cast<char>(lo) : '?';
    }
    at_ += padded;
    return text;
  }
  Status Versions() {
    static constexpr std::string_view kNames[] = {"reader", "updater", "writer"};
    for (std::string_view who : kNames) {
      ASSIGN_OR_RETURN(uint16_t major, U16(std::string(who) + " version"));
      RETURN_IF_ERROR(U16(std::string(who) + " version").status());
      if (major != 1) {
        return Status(Code::kUnsupported, "the protected Office document's " + name_ +
                                              " stream needs a " + std::string(who) +
                                              " of version " + std::to_string(major) +
                                              ".x; OpenRMS reads version 1");
      }
    }
    return Status::Ok();
  }
  Result<std::string_view> Bytes(size_t n, std::string_view field) {
    if (data_.size() - at_ < n) return Bad("is cut short in its " + std::string(field));
    std::string_view out = data_.substr(at_, n);
    at_ += n;
    return out;
  }

 private:
  std::string_view data_;
  std::string name_;
  size_t at_ = 0;
};

Result<const CompoundStream*> Need(const CompoundFile& file, const Path& path) {
  const CompoundStream* s = file.Find(path);
  if (s == nullptr) {
    return Status(Code::kMalformed, "the compound file has no " + PathText(path) +
                                        " stream, so it is not an Office document protected "
                                        "with rights management (MS-OFFCRYPTO 1.3.2)");
  }
  return s;
}

Status CheckVersion(const CompoundStream& s) {
  Cursor c(s);
  RETURN_IF_ERROR(c.Expect("feature", kDataSpacesFeature));
  return c.Versions();
}

Status CheckMap(const CompoundStream& s) {
  Cursor c(s);
  ASSIGN_OR_RETURN(uint32_t header, c.U32("header length"));
  if (header != 8) return c.Bad("gives a header length of " + std::to_string(header) + ", not 8");
  ASSIGN_OR_RETURN(uint32_t entries, c.U32("entry count"));
  if (entries == 0 || entries > 64) return c.Bad("lists " + std::to_string(entries) + " entries");
  for (uint32_t e = 0; e < entries; ++e) {
    RETURN_IF_ERROR(c.U32("entry length").status());
    ASSIGN_OR_RETURN(uint32_t components, c.U32("reference component count"));
    if (components == 0 || components > 16) {
      return c.Bad("gives an entry " + std::to_string(components) + " reference components");
    }
    uint32_t type = 0;
    std::string component;
    for (uint32_t i = 0; i < components; ++i) {
      ASSIGN_OR_RETURN(type, c.U32("reference component type"));
      ASSIGN_OR_RETURN(component, c.Unicode("reference component"));
    }
    ASSIGN_OR_RETURN(std::string space, c.Unicode("data space name"));
    if (components == 1 && type == 0 && component == "EncryptedPackage") {
      if (space == "StrongEncryptionDataSpace") {
        return Status(Code::kUnsupported,
                      "this Office document is encrypted with a password (MS-OFFCRYPTO 2.3.4), "
                      "not protected with rights management; open it in Office with its password");
      }
      if (space != kDataSpaceName) {
        return c.Bad("maps EncryptedPackage to the data space \"" + space + "\", not \"" +
                     std::string(kDataSpaceName) + "\"");
      }
      return Status::Ok();
    }
  }
  return c.Bad("maps no data space to the EncryptedPackage stream");
}

Status CheckDefinition(const CompoundStream& s) {
  Cursor c(s);
  ASSIGN_OR_RETURN(uint32_t header, c.U32("header length"));
  if (header != 8) return c.Bad("gives a header length of " + std::to_string(header) + ", not 8");
  ASSIGN_OR_RETURN(uint32_t count, c.U32("transform reference count"));
  if (count != 1) return c.Bad("names " + std::to_string(count) + " transforms, not 1");
  return c.Expect("transform", kTransformName);
}

Result<std::string> ReadPrimary(const CompoundStream& s) {
  Cursor c(s);
  ASSIGN_OR_RETURN(uint32_t length, c.U32("transform length"));
  if (length != 8 + UnicodeSize(kDrmTransformId)) {
    return c.Bad("gives a transform length of " + std::to_string(length));
  }
  ASSIGN_OR_RETURN(uint32_t type, c.U32("transform type"));
  if (type != 1) return c.Bad("gives the transform type " + std::to_string(type) + ", not 1");
  RETURN_IF_ERROR(c.Expect("transform ID", kDrmTransformId));
  RETURN_IF_ERROR(c.Expect("transform name", kDrmTransformName));
  RETURN_IF_ERROR(c.Versions());
  ASSIGN_OR_RETURN(uint32_t extensibility, c.U32("extensibility header"));
  if (extensibility != 4) {
    return c.Bad("gives an extensibility header of " + std::to_string(extensibility) + ", not 4");
  }
  ASSIGN_OR_RETURN(uint32_t pl_length, c.U32("license length"));
  if (pl_length == 0) return c.Bad("holds an empty publishing license");
  if (pl_length > kMaxOfficeLicenseBytes) {
    return Status(Code::kTooLarge, "the protected Office document's publishing license is " +
                                       std::to_string(pl_length) + " bytes, more than " +
                                       std::to_string(kMaxOfficeLicenseBytes));
  }
  ASSIGN_OR_RETURN(std::string_view pl, c.Bytes(pl_length, "publishing license"));
  return std::string(pl);
}

// What `bytes` are when they are not a compound file, for the refusal.
Status NotCompound(std::string_view bytes) {
  if (bytes.empty()) {
    return Status(Code::kMalformed, "the file is empty (0 bytes), not a protected Office document");
  }
  if (bytes.substr(0, 6) == ".pfile") {
    return Status(Code::kMalformed,
                  "this is a PFILE, not a protected Office document; open it as a PFILE");
  }
  if (bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4)) {
    return Status(Code::kMalformed,
                  "this is an Office document that is not protected (a ZIP package), not a "
                  "protected one; it needs no opening");
  }
  return Status(Code::kMalformed,
                "not a protected Office document: a compound file (MS-CFB) starts with D0 CF 11 "
                "E0 A1 B1 1A E1");
}

}  // namespace

Result<std::string> WriteOfficeIrm(const OfficeIrm& f) {
  if (f.publishing_license.empty() || f.publishing_license.size() > kMaxOfficeLicenseBytes) {
    return Status(Code::kInvalidArgument, "a publishing license of 1 to " +
                                              std::to_string(kMaxOfficeLicenseBytes) +
                                              " bytes is needed");
  }
  if (f.content.size() % 16 != 0 || f.content.size() < f.original_size ||
      f.content.size() - f.original_size >= 16) {
    return Status(Code::kInvalidArgument,
                  "the encrypted content must be the document's size rounded up to 16 bytes");
  }
  CompoundFile file;
  std::string version;
  PutUnicode(version, kDataSpacesFeature);
  PutVersions(version);

  std::string map;
  Put32(map, 8);  // header length
  Put32(map, 1);  // one entry
  Put32(map, static_cast<uint32_t>(8 + 4 + UnicodeSize("EncryptedPackage") +
                                   UnicodeSize(kDataSpaceName)));
  Put32(map, 1);  // one reference component
  Put32(map, 0);  // a stream
  PutUnicode(map, "EncryptedPackage");
  PutUnicode(map, kDataSpaceName);

  std::string definition;
  Put32(definition, 8);
  Put32(definition, 1);
  PutUnicode(definition, kTransformName);

  std::string primary;
  Put32(primary, static_cast<uint32_t>(8 + UnicodeSize(kDrmTransformId)));
  Put32(primary, 1);  // TransformType
  PutUnicode(primary, kDrmTransformId);
  PutUnicode(primary, kDrmTransformName);
  PutVersions(primary);
  Put32(primary, 4);  // ExtensibilityHeader
  Put32(primary, static_cast<uint32_t>(f.publishing_license.size()));
  primary += f.publishing_license;
  PadTo4(primary, f.publishing_license.size());

  std::string package;
  package.reserve(8 + f.content.size());
  PutLittle(package, f.original_size);
  package += f.content;

  file.streams = {{kVersionPath, std::move(version)},
                  {kMapPath, std::move(map)},
                  {kDefinitionPath, std::move(definition)},
                  {kPrimaryPath, std::move(primary)},
                  {kPackagePath, std::move(package)}};
  return WriteCompoundFile(file);
}

Result<OfficeIrm> ReadOfficeIrm(std::string_view bytes) {
  if (!LooksLikeCompoundFile(bytes)) return NotCompound(bytes);
  ASSIGN_OR_RETURN(CompoundFile file, ReadCompoundFile(bytes));
  if (file.Find({"EncryptionInfo"}) != nullptr ||
      file.HasStorage({kDataSpaces, "TransformInfo", "StrongEncryptionTransform"})) {
    return Status(Code::kUnsupported,
                  "this Office document is encrypted with a password (MS-OFFCRYPTO 2.3.4), not "
                  "protected with rights management; open it in Office with its password");
  }
  if (file.Find({"\x09"
                 "DRMContent"}) != nullptr) {
    return Status(Code::kUnsupported,
                  "this is a protected Office 97-2003 binary document (.doc, .xls, .ppt; "
                  "MS-OFFCRYPTO 2.2.3), which OpenRMS does not open yet; open it in Office");
  }
  if (!file.HasStorage({kDataSpaces}) && file.Find(kPackagePath) == nullptr) {
    return Status(Code::kMalformed,
                  "this compound file holds no IRM data spaces (\\x06DataSpaces) and no "
                  "EncryptedPackage, so it is not a protected Office document; perhaps an Office "
                  "97-2003 document that is not protected");
  }
  ASSIGN_OR_RETURN(const CompoundStream* version, Need(file, kVersionPath));
  RETURN_IF_ERROR(CheckVersion(*version));
  ASSIGN_OR_RETURN(const CompoundStream* map, Need(file, kMapPath));
  RETURN_IF_ERROR(CheckMap(*map));
  ASSIGN_OR_RETURN(const CompoundStream* definition, Need(file, kDefinitionPath));
  RETURN_IF_ERROR(CheckDefinition(*definition));
  ASSIGN_OR_RETURN(const CompoundStream* primary, Need(file, kPrimaryPath));
  OfficeIrm out;
  ASSIGN_OR_RETURN(out.publishing_license, ReadPrimary(*primary));
  ASSIGN_OR_RETURN(const CompoundStream* package, Need(file, kPackagePath));
  Cursor c(*package);
  ASSIGN_OR_RETURN(uint32_t low, c.U32("length"));
  ASSIGN_OR_RETURN(uint32_t high, c.U32("length"));
  out.original_size = uint64_t{high} << 32 | low;
  const size_t held = package->data.size() - 8;
  // The spec lets the stream run past the last block (2.3.4.4); what is
  // past it is not content.
  if (out.original_size > held || (out.original_size + 15) / 16 * 16 > held) {
    return Status(Code::kMalformed,
                  "the protected Office document's EncryptedPackage says it holds " +
                      std::to_string(out.original_size) + " bytes, but it has room for only " +
                      std::to_string(held / 16 * 16) +
                      "; the file is cut short or damaged, so it cannot be opened");
  }
  out.content = package->data.substr(8, (out.original_size + 15) / 16 * 16);
  return out;
}

}  // namespace openrms::formats
