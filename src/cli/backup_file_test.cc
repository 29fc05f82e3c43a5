#include "cli/backup_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/file_system.h"
#include "base/json.h"
#include "crypto/encoding.h"

namespace openrms::cli {
namespace {

// A cheap cost, so that every byte of a file can be tried (2 MiB a guess).
constexpr crypto::ScryptCost kCheap{14, 1, 1};
constexpr char kPassword[] = "a backup password";

BackupContents Sample() {
  BackupContents c;
  c.created_at = *ParseTime("2027-01-02T03:04:05Z");
  c.source_dir = "/srv/openrms";
  c.database = std::string("SQLite format 3\0", 16) + std::string(200, '\x01') + "\xff\x00tail";
  c.files = {{"tls-ca.pem", "-----BEGIN CERTIFICATE-----\nca\n"},
             {"keys/tls-server.key", std::string("sealed\0key", 10)}};
  return c;
}

std::string Sealed(const BackupContents& c = Sample()) {
  auto file = SealBackupFile(c, kPassword, crypto::SystemRandom(), kCheap);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  return file.ok() ? *file : "";
}

TEST(BackupFileTest, RoundTrip) {
  const std::string file = Sealed();
  EXPECT_EQ(file.substr(0, 8), "ORMSBAK1");
  EXPECT_EQ(file.find("SQLite format 3"), std::string::npos) << "not encrypted";
  auto opened = OpenBackupFile(file, kPassword);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  const BackupContents want = Sample();
  EXPECT_EQ(opened->created_at, want.created_at);
  EXPECT_EQ(opened->source_dir, want.source_dir);
  EXPECT_EQ(opened->database, want.database);
  ASSERT_EQ(opened->files.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(opened->files[i].path, want.files[i].path);
    EXPECT_EQ(opened->files[i].bytes, want.files[i].bytes);
  }
  // Two files of the same contents share nothing but the magic and cost.
  EXPECT_NE(Sealed().substr(12), file.substr(12));
}

TEST(BackupFileTest, ADatabaseAloneRoundTrips) {
  BackupContents c = Sample();
  c.files.clear();
  auto opened = OpenBackupFile(Sealed(c), kPassword);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->database, c.database);
  EXPECT_TRUE(opened->files.empty());
}

TEST(BackupFileTest, AWrongPasswordIsRefusedWithItsOwnMessage) {
  auto opened = OpenBackupFile(Sealed(), "not the password");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(opened.status().message(),
            "the password does not open this backup file (or the file's header was changed): "
            "nothing was restored");
}

TEST(BackupFileTest, OneFlippedByteAnywhereIsRefused) {
  const std::string file = Sealed();
  for (size_t at = 0; at < file.size(); ++at) {
    for (const uint8_t bit : {0x01, 0x80}) {
      std::string changed = file;
      changed[at] = static_cast<char>(changed[at] ^ bit);
      auto opened = OpenBackupFile(changed, kPassword);
      ASSERT_FALSE(opened.ok()) << "byte " << at << " bit " << int{bit};
      const Code code = opened.status().code();
      if (at >= kBackupHeaderBytes || (at >= 28 && at < 40)) {
        // The ciphertext, the tag, the nonce: only the tag can tell.
        EXPECT_EQ(code, Code::kBadSignature) << "byte " << at;
        EXPECT_EQ(opened.status().message(),
                  "the backup file was changed after it was written (its AES-GCM tag does not "
                  "hold): nothing was restored");
      } else if (at >= 12 && at < 56) {
        EXPECT_EQ(code, Code::kPermissionDenied) << "byte " << at;  // salt, check
      } else if (at >= 56) {
        EXPECT_TRUE(code == Code::kMalformed || code == Code::kTooLarge) << "byte " << at;
      } else {
        EXPECT_TRUE(code == Code::kMalformed || code == Code::kUnsupported ||
                    code == Code::kPermissionDenied)
            << "byte " << at << ": " << opened.status().ToString();
      }
    }
  }
}

TEST(BackupFileTest, ACutShortFileIsRefused) {
  const std::string file = Sealed();
  for (const size_t size : {size_t{0}, size_t{1}, size_t{7}}) {
    auto e = ParseBackupEnvelope(file.substr(0, size));
    ASSERT_FALSE(e.ok()) << size;
    EXPECT_EQ(e.status().code(), Code::kMalformed);
    EXPECT_EQ(e.status().message(),
              "the file is not an OpenRMS backup file (made by `openrms backup`)");
  }
  auto header_less_one = ParseBackupEnvelope(file.substr(0, kBackupHeaderBytes - 1));
  ASSERT_FALSE(header_less_one.ok());
  EXPECT_EQ(header_less_one.status().code(), Code::kMalformed);
  EXPECT_EQ(header_less_one.status().message(),
            "the backup file is damaged: it is cut short: 63 bytes, shorter than its 64-byte "
            "header");
  for (const size_t size : {kBackupHeaderBytes, kBackupHeaderBytes + 1, file.size() - 1}) {
    auto opened = OpenBackupFile(file.substr(0, size), kPassword);
    ASSERT_FALSE(opened.ok()) << size;
    EXPECT_EQ(opened.status().code(), Code::kMalformed) << size;
    EXPECT_NE(opened.status().message().find("the backup file is damaged: it is cut short or too "
                                             "long: its header says "),
              std::string::npos)
        << opened.status().message();
  }
  auto longer = OpenBackupFile(file + "x", kPassword);
  EXPECT_EQ(longer.status().code(), Code::kMalformed);
}

TEST(BackupFileTest, AFileOverTheLimitIsRefusedBeforeItIsRead) {
  const std::string file = Sealed();
  auto e = ParseBackupEnvelope(file, file.size() - 1);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Code::kTooLarge);
  EXPECT_TRUE(ParseBackupEnvelope(file, file.size()).ok());

  // A header that claims more than the limit: refused from its 64 bytes.
  std::string header = file.substr(0, kBackupHeaderBytes);
  header.replace(56, 8, std::string("\x00\x00\x00\x01\x00\x00\x00\x00", 8));  // 4 GiB
  auto claimed = ParseBackupEnvelope(header);
  ASSERT_FALSE(claimed.ok());
  EXPECT_EQ(claimed.status().code(), Code::kTooLarge);
  EXPECT_NE(claimed.status().message().find("more than a backup file can"), std::string::npos);

  // `openrms restore` reads the file with the limit: a sparse file one
  // byte over it is refused from its size, without reading it.
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("openrms-backup-limit-" + std::to_string(::getpid())))
                               .string();
  {
    std::ofstream out(path, std::ios::binary);
    out.seekp(static_cast<std::streamoff>(kMaxBackupFileBytes));
    out.put('x');
  }
  auto read = RealFileSystem().ReadFile(path, kMaxBackupFileBytes);
  std::filesystem::remove(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Code::kTooLarge);
}

TEST(BackupFileTest, AnExpensiveKdfCostIsRefused) {
  std::string file = Sealed();
  file[9] = 24;  // N = 2^24
  auto opened = OpenBackupFile(file, kPassword);
  EXPECT_EQ(opened.status().code(), Code::kUnsupported);
}

// The manifest is authenticated; still, the parser trusts none of it.
std::string Contents(const nlohmann::json& manifest, std::string_view body) {
  const std::string m = WriteJson(manifest);
  std::string out(4, '\0');
  out[2] = static_cast<char>(m.size() >> 8);
  out[3] = static_cast<char>(m.size());
  return out + m + std::string(body);
}

nlohmann::json Manifest(nlohmann::json files) {
  return {{"format", "openrms-backup/1"},
          {"created_at", "2027-01-02T03:04:05Z"},
          {"source_dir", "/srv"},
          {"files", std::move(files)}};
}

TEST(BackupFileTest, TheContentsParserRefusesWhatABackupCannotHold) {
  const nlohmann::json db = {{"path", "openrms.db"}, {"size", 3}};
  EXPECT_TRUE(ParseBackupContents(Contents(Manifest({db}), "abc")).ok());
  struct Case {
    std::string contents;
    std::string message;
  };
  const std::vector<Case> cases = {
      {Contents(Manifest({db}), "ab"), "openrms.db is cut short"},
      {Contents(Manifest({db}), "abcd"), "1 bytes follow its last file"},
      {Contents(Manifest({{{"path", "tls-ca.pem"}, {"size", 0}}}), ""),
       "names the file \"tls-ca.pem\" where the database belongs"},
      {Contents(Manifest({db, {{"path", "../../etc/passwd"}, {"size", 0}}}), "abc"),
       "names the file \"../../etc/passwd\" that a backup does not hold"},
      {Contents(
           Manifest(
               {db, {{"path", "tls-ca.pem"}, {"size", 0}}, {{"path", "tls-ca.pem"}, {"size", 0}}}),
           "abc"),
       "names tls-ca.pem twice"},
      {Contents(Manifest({db, {{"path", "tls-ca.pem"}}}), "abc"), "gives no size for tls-ca.pem"},
      {Contents(Manifest({db, {{"path", "tls-ca.pem"}, {"size", 2 << 20}}}), "abc"), "size"},
      {Contents(Manifest(nlohmann::json::array()), ""), "must list 1 to 5 files"},
      {std::string("\x00\x01\x00\x01", 4), "its manifest is larger than 65536 bytes"},
      {std::string("\x00\x00\x00\x09{}", 6), "its manifest is cut short"},
      {std::string("\x00\x00", 2), "its contents are cut short"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseBackupContents(c.contents);
    ASSERT_FALSE(parsed.ok()) << c.message;
    EXPECT_EQ(parsed.status().code(), Code::kMalformed) << c.message;
    EXPECT_NE(parsed.status().message().find(c.message), std::string::npos)
        << parsed.status().message();
  }
  nlohmann::json other = Manifest({db});
  other["format"] = "openrms-backup/2";
  auto newer = ParseBackupContents(Contents(other, "abc"));
  EXPECT_EQ(newer.status().code(), Code::kUnsupported);
}

TEST(BackupFileTest, WrittenContentsReadBackTheSame) {
  const std::string written = WriteBackupContents(Sample());
  auto parsed = ParseBackupContents(written);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(WriteBackupContents(*parsed), written);
}

}  // namespace
}  // namespace openrms::cli
