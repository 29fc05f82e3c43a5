#include "licensing/pfile.h"

#include <gtest/gtest.h>

#include "crypto/content_cipher.h"

namespace openrms::licensing {
namespace {

// Hand-assembled bytes of a PFILE, field by field.
std::string Expected() {
  std::string b = ".pfile";
  b += std::string("\x03\x00\x00\x00", 4);                  // major 3
  b += std::string("\x00\x00\x00\x00", 4);                  // minor 0
  b += std::string("\x02\x00\x00\x00", 4);                  // notice length
  b += "Hi";                                                // notice; the header starts at 20
  b += std::string("\x28\x00\x00\x00", 4);                  // header size 40
  b += std::string("\x3c\x00\x00\x00", 4);                  // extension offset 60
  b += std::string("\x04\x00\x00\x00", 4);                  // extension length
  b += std::string("\x40\x00\x00\x00", 4);                  // PL offset 64
  b += std::string("\x03\x00\x00\x00", 4);                  // PL length
  b += std::string("\x45\x00\x00\x00", 4);                  // content offset 69
  b += std::string("\x05\x00\x00\x00\x00\x00\x00\x00", 8);  // original size 5
  b += std::string("\x43\x00\x00\x00", 4);                  // metadata offset 67
  b += std::string("\x02\x00\x00\x00", 4);                  // metadata length
  b += ".txt";
  b += "<P>";
  b += "md";
  b += "CIPHER";
  return b;
}

TEST(Pfile, WritesAndReadsHeadersByteForByte) {
  Pfile f;
  f.notice = "Hi";
  f.extension = ".txt";
  f.publishing_license = "<P>";
  f.metadata = "md";
  f.original_size = 5;
  f.content = "CIPHER";
  EXPECT_EQ(WritePfile(f), Expected());
  auto back = ReadPfile(Expected());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->major_version, 3u);
  EXPECT_EQ(back->notice, "Hi");
  EXPECT_EQ(back->extension, ".txt");
  EXPECT_EQ(back->publishing_license, "<P>");
  EXPECT_EQ(back->metadata, "md");
  EXPECT_EQ(back->original_size, 5u);
  EXPECT_EQ(back->content, "CIPHER");
}

TEST(Pfile, RefusesWhatIsNotAPfile) {
  EXPECT_EQ(ReadPfile("hello").status().message(),
            "the file is not a protected file (no .pfile preamble)");
  std::string bad = Expected();
  bad[6] = 9;  // major version 9
  EXPECT_EQ(ReadPfile(bad).status().code(), Code::kUnsupported);
  std::string cut = Expected().substr(0, 30);
  EXPECT_EQ(ReadPfile(cut).status().code(), Code::kMalformed);
  std::string wild = Expected();
  wild[32] = 0x7f;  // PL offset far outside
  EXPECT_EQ(ReadPfile(wild).status().message(),
            "the protected file's publishing license lies outside the file");
}

TEST(Cbc4k, RoundTripsAcrossBlocksAndPadsOnlyTheLast) {
  DeterministicRandom random(3);
  const std::string key = crypto::RandomBytes(random, 16);
  const std::string plain = crypto::RandomBytes(random, 4096 * 2 + 100);
  auto enc = crypto::Cbc4kEncrypt(key, plain);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(enc->size(), 4096u * 2 + 112);  // whole blocks unpadded, the last padded
  EXPECT_EQ(*crypto::Cbc4kDecrypt(key, *enc), plain);
  // Blocks are independent: the second block decrypts on its own.
  auto exact = crypto::Cbc4kEncrypt(key, std::string(4096, 'a'));
  EXPECT_EQ(exact->size(), 4096u + 16);
  EXPECT_FALSE(crypto::Cbc4kDecrypt(crypto::RandomBytes(random, 16), *enc).ok());
}

}  // namespace
}  // namespace openrms::licensing
