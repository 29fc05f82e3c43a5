#include "formats/pfile.h"

#include <gtest/gtest.h>

namespace openrms::formats {
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

}  // namespace
}  // namespace openrms::formats
