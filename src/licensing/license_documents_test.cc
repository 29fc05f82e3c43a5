#include "licensing/license_documents.h"

#include <gtest/gtest.h>

namespace openrms::licensing {
namespace {

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
