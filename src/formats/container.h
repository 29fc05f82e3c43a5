// One idea, two containers: a publishing license and content encrypted
// under the key it seals. Which container a file is, and which one a
// document goes into, is read from the bytes (their magic), never from a
// file name.
//
// - PFILE (formats/pfile.h): any file; MICROSOFT.CBC4K.
// - Office (formats/office_irm.h): an ECMA-376 document (an OPC package: a
//   ZIP holding [Content_Types].xml), kept an Office document as Office
//   and Microsoft's RMS SDK keep it; AES-128, MICROSOFT.ECB.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace openrms::formats {

enum class Container { kPfile, kOffice };

std::string_view ContainerName(Container c);  // "PFILE", "Office"
// The content key's cipher mode, as the licensing protocol names it.
std::string_view CipherModeOf(Container c);  // "MICROSOFT.CBC4K", "MICROSOFT.ECB"
// The content key's size in bytes (0: any the cipher takes).
size_t ContentKeySizeOf(Container c);  // 0, 16

// The container for a document to protect. kFailedPrecondition for what is
// protected already (a PFILE, a protected Office document), kUnsupported
// for an Office 97-2003 binary document (a compound file).
Result<Container> ContainerFor(std::string_view plain);

// What a protected file holds, whichever its container.
struct ProtectedFile {
  Container container = Container::kPfile;
  std::string publishing_license;
  std::string extension;       // the original's (PFILE only; "" for Office)
  uint64_t original_size = 0;  // ~0: not recorded (older PFILEs)
  std::string content;         // encrypted
};

// Encrypts `plain` under `key` and wraps it with its license.
// `extension` (".txt") is kept by a PFILE.
Result<std::string> Seal(Container container, std::string_view plain,
                         const std::string& publishing_license, std::string_view key,
                         const std::string& extension);

// Reads either container, by its first bytes: ".pfile", or a compound
// file's D0 CF 11 E0. Anything else is refused, saying what it is.
Result<ProtectedFile> ReadProtected(std::string_view bytes);

// Decrypts the content with the key the license gave.
Result<std::string> Unseal(const ProtectedFile& file, std::string_view key);

}  // namespace openrms::formats
