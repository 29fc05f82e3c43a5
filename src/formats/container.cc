#include "formats/container.h"

#include "crypto/content_cipher.h"
#include "crypto/password_hash.h"
#include "formats/compound_file.h"
#include "formats/office_irm.h"
#include "formats/pfile.h"

namespace openrms::formats {

namespace {

constexpr char kNotice[] =
    "This document is protected by OpenRMS (rights management). Open it with an RMS client, "
    "for example `openrms open`.";

bool IsPfile(std::string_view bytes) { return bytes.substr(0, 6) == ".pfile"; }

// An OPC package (ECMA-376 Part 2): a ZIP whose parts include
// [Content_Types].xml. The name is stored uncompressed in the ZIP's
// headers, so finding it needs no unzipping.
bool IsOpcPackage(std::string_view bytes) {
  return bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4) &&
         bytes.find("[Content_Types].xml") != std::string_view::npos;
}

}  // namespace

std::string_view ContainerName(Container c) { return c == Container::kOffice ? "Office" : "PFILE"; }

std::string_view CipherModeOf(Container c) {
  return c == Container::kOffice ? "MICROSOFT.ECB" : "MICROSOFT.CBC4K";
}

size_t ContentKeySizeOf(Container c) { return c == Container::kOffice ? 16 : 0; }

Result<Container> ContainerFor(std::string_view plain) {
  if (IsPfile(plain)) {
    return Status(Code::kFailedPrecondition,
                  "this file is protected already (a PFILE); open it first to protect it again");
  }
  if (LooksLikeCompoundFile(plain)) {
    auto irm = ReadOfficeIrm(plain);
    if (irm.ok()) {
      return Status(Code::kFailedPrecondition,
                    "this Office document is protected already; open it first to protect it "
                    "again");
    }
    return Status(Code::kUnsupported,
                  "this is a compound file (an Office 97-2003 .doc, .xls or .ppt, or another OLE "
                  "file); OpenRMS protects only Office 2007 and later documents (.docx, .xlsx, "
                  ".pptx, ...) as Office does; save it in that format, or protect it as a PFILE "
                  "(--container pfile)");
  }
  return IsOpcPackage(plain) ? Container::kOffice : Container::kPfile;
}

Result<std::string> Seal(Container container, std::string_view plain,
                         const std::string& publishing_license, std::string_view key,
                         const std::string& extension) {
  if (container == Container::kOffice) {
    if (key.size() != 16) {
      return Status(Code::kInvalidArgument,
                    "an Office document's content key is AES-128 (16 bytes; MS-OFFCRYPTO 2.2.10), "
                    "not " +
                        std::to_string(key.size()) + " bytes");
    }
    // ECB over the document zero-padded to whole blocks; Length says where
    // the document ends. Only the last block is copied to pad it.
    const size_t whole = plain.size() / 16 * 16;
    OfficeIrm file;
    file.publishing_license = publishing_license;
    file.original_size = plain.size();
    ASSIGN_OR_RETURN(file.content, crypto::EcbEncrypt(key, plain.substr(0, whole), false));
    if (whole < plain.size()) {
      std::string last(plain.substr(whole));
      last.resize(16, '\0');
      auto encrypted = crypto::EcbEncrypt(key, last, false);
      crypto::Wipe(last);
      if (!encrypted.ok()) return encrypted.status();
      file.content += *encrypted;
    }
    return WriteOfficeIrm(file);
  }
  ASSIGN_OR_RETURN(std::string content, crypto::Cbc4kEncrypt(key, plain));
  Pfile file;
  file.notice = kNotice;
  file.extension = extension;
  file.publishing_license = publishing_license;
  file.original_size = plain.size();
  file.content = std::move(content);
  return WritePfile(file);
}

Result<ProtectedFile> ReadProtected(std::string_view bytes) {
  ProtectedFile out;
  if (IsPfile(bytes)) {
    ASSIGN_OR_RETURN(Pfile file, ReadPfile(bytes));
    out.container = Container::kPfile;
    out.publishing_license = std::move(file.publishing_license);
    out.extension = std::move(file.extension);
    out.original_size = file.original_size;
    out.content = std::move(file.content);
    return out;
  }
  if (LooksLikeCompoundFile(bytes)) {
    ASSIGN_OR_RETURN(OfficeIrm file, ReadOfficeIrm(bytes));
    out.container = Container::kOffice;
    out.publishing_license = std::move(file.publishing_license);
    out.original_size = file.original_size;
    out.content = std::move(file.content);
    return out;
  }
  if (bytes.empty()) {
    return Status(Code::kMalformed, "the file is empty (0 bytes), not a protected file");
  }
  if (IsOpcPackage(bytes)) {
    return Status(Code::kMalformed,
                  "this Office document is not protected (a ZIP package); it needs no opening");
  }
  return Status(Code::kMalformed,
                "not a protected file: neither a PFILE (it would start with \".pfile\") nor a "
                "protected Office document (an OLE compound file)");
}

Result<std::string> Unseal(const ProtectedFile& file, std::string_view key) {
  if (file.container == Container::kOffice) {
    if (key.size() != 16) {
      return Status(Code::kMalformed, "the server's key for an Office document is " +
                                          std::to_string(key.size()) + " bytes, not AES-128's 16");
    }
    ASSIGN_OR_RETURN(std::string plain, crypto::EcbDecrypt(key, file.content, false));
    plain.resize(file.original_size);
    return plain;
  }
  ASSIGN_OR_RETURN(std::string plain, crypto::Cbc4kDecrypt(key, file.content));
  if (file.original_size != kUnknownOriginalSize && file.original_size < plain.size()) {
    plain.resize(file.original_size);
  }
  return plain;
}

}  // namespace openrms::formats
