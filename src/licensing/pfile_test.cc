#include "licensing/pfile.h"

#include <gtest/gtest.h>

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

TEST(LicenseDocuments, SplitsAtEachEndOfXrml) {
  using Parts = std::vector<std::string_view>;
  // Empty, one byte, text without a document: one part, for the parser.
  EXPECT_EQ(*SplitLicenseDocuments(""), Parts{""});
  EXPECT_EQ(*SplitLicenseDocuments("<"), Parts{"<"});
  EXPECT_EQ(*SplitLicenseDocuments("<XrML>"), Parts{"<XrML>"});
  EXPECT_EQ(*SplitLicenseDocuments("<XrML></XrML>\n"), Parts{"<XrML></XrML>"});
  EXPECT_EQ(*SplitLicenseDocuments("\xEF\xBB\xBF<?xml?><XrML>a</XrML>\r\n<?xml?>\n<XrML>b</XrML>"),
            (Parts{"\xEF\xBB\xBF<?xml?><XrML>a</XrML>", "<?xml?>\n<XrML>b</XrML>"}));
  std::string most;
  for (size_t i = 0; i < kMaxLicenseDocuments; ++i)
    most += "<XrML>" + std::to_string(i) + "</XrML>";
  auto parts = SplitLicenseDocuments(most);
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->size(), kMaxLicenseDocuments);
  EXPECT_EQ(parts->back(), "<XrML>15</XrML>");
  EXPECT_EQ(SplitLicenseDocuments(most + "<XrML></XrML>").status().message(),
            "the license carries more than 16 XrML documents");
  EXPECT_EQ(SplitLicenseDocuments("<XrML></XrML><XrML>").status().message(),
            "the license has bytes after its last </XrML>");
}

}  // namespace
}  // namespace openrms::licensing
