// Office documents protected with rights management, as Office and
// Microsoft's RMS SDK write them: the IRM data spaces of MS-OFFCRYPTO
// (1.3.2, 2.1, 2.2.1-2.2.6, 2.2.10) in an OLE compound file. For an ECMA-376 document
// (.docx, .xlsx, .pptx and their macro and template variants):
//
//   \x06DataSpaces/Version                  DataSpaceVersionInfo (2.1.5),
//                                           "Microsoft.Container.DataSpaces" 1.0
//   \x06DataSpaces/DataSpaceMap             DataSpaceMap (2.1.6): EncryptedPackage
//                                           -> DRMEncryptedDataSpace
//   \x06DataSpaces/DataSpaceInfo/DRMEncryptedDataSpace
//                                           DataSpaceDefinition (2.1.7):
//                                           DRMEncryptedTransform
//   \x06DataSpaces/TransformInfo/DRMEncryptedTransform/\x06Primary
//                                           IRMDSTransformInfo (2.2.6): the
//                                           transform {C73DFACD-...}
//                                           "Microsoft.Metadata.DRMTransform"
//                                           1.0, then the publishing license
//   EncryptedPackage                        Length (u64, the document's
//                                           size), then the document under
//                                           AES-128 ECB (2.2.10)
//
// All integers little-endian; names are UNICODE-LP-P4 (a byte length, then
// UTF-16LE, padded to 4 bytes), the license UTF-8-LP-P4. docs/FORMATS.md
// has the sections and the choices the spec leaves open.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace openrms::formats {

inline constexpr std::string_view kDrmTransformId = "{C73DFACD-061F-43B0-8B64-0C620D2A8B50}";
inline constexpr std::string_view kDrmTransformName = "Microsoft.Metadata.DRMTransform";
inline constexpr std::string_view kDataSpacesFeature = "Microsoft.Container.DataSpaces";
inline constexpr size_t kMaxOfficeLicenseBytes = 16 << 20;

struct OfficeIrm {
  std::string publishing_license;  // exactly as the server returned it
  uint64_t original_size = 0;      // the document's bytes before encryption
  std::string content;             // the encrypted document, whole 16-byte blocks
};

Result<std::string> WriteOfficeIrm(const OfficeIrm& file);

// Refuses, each with what it is and what to do: what is not a compound
// file (a PFILE, an unprotected Office document, 0 bytes), a damaged
// compound file, a password-encrypted document, and streams that do not
// say what MS-OFFCRYPTO says they must (kMalformed / kUnsupported /
// kTooLarge). The content is checked to hold the stated Length.
Result<OfficeIrm> ReadOfficeIrm(std::string_view bytes);

}  // namespace openrms::formats
