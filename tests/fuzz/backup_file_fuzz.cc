// libFuzzer target: the backup file (`openrms restore` reads a file that
// was kept somewhere, maybe changed). The header reader takes the raw
// bytes; the contents reader takes what a file decrypts to (fuzzing through
// scrypt would test nothing but scrypt). Contents that read must write back
// to bytes that read the same.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cli/backup_file.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace openrms::cli;
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    auto envelope = ParseBackupEnvelope(bytes);
    if (!envelope.ok()) return 0;
    FUZZ_CHECK(envelope->header.size() == kBackupHeaderBytes);
    FUZZ_CHECK(envelope->header.size() + envelope->sealed.size() == bytes.size());
    FUZZ_CHECK(envelope->salt.size() == 16 && envelope->nonce.size() == 12);
    FUZZ_CHECK(envelope->check.size() == 16 && envelope->sealed.size() >= 16);
    return 0;
  }
  auto contents = ParseBackupContents(bytes);
  if (!contents.ok()) return 0;
  FUZZ_CHECK(contents->files.size() <= kBackupDirectoryFiles.size());
  size_t total = contents->database.size();
  for (const auto& f : contents->files) total += f.bytes.size();
  FUZZ_CHECK(total <= bytes.size());
  const std::string written = WriteBackupContents(*contents);
  auto again = ParseBackupContents(written);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->database == contents->database);
  FUZZ_CHECK(again->files.size() == contents->files.size());
  FUZZ_CHECK(WriteBackupContents(*again) == written);
  return 0;
}
