#include <gtest/gtest.h>

#include "sites/page.h"
#include "sites/template_files.h"

namespace openrms::sites {
namespace {

TEST(Templates, EveryTemplateParsesAndRendersWithoutData) {
  ASSERT_FALSE(TemplateFiles().empty());
  for (const TemplateFile& file : TemplateFiles()) {
    kainjow::mustache::mustache tmpl{std::string(file.text)};
    EXPECT_TRUE(tmpl.is_valid()) << file.name << ": " << tmpl.error_message();
    const std::string html = RenderTemplate(file.name, {});
    EXPECT_EQ(html.find("cannot be rendered"), std::string::npos) << file.name << ": " << html;
  }
}

TEST(Templates, DataIsEscapedAndNeverParsedAsATemplate) {
  const std::string nasty = "<script>alert('x')</script> & \"{{site}}\" {{> frame}} {{#a}}";
  const std::string html = Render({nasty, nasty, "<p>body</p>", ""});
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(
      html.find("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; &quot;{{site}}&quot; "
                "{{&gt; frame}} {{#a}}"),
      std::string::npos)
      << html;
  EXPECT_NE(html.find("<main>\n<h1>&lt;script&gt;"), std::string::npos) << html;
  EXPECT_NE(html.find("<p>body</p>"), std::string::npos);  // HTML from another template
}

TEST(Templates, NoticeAndPartials) {
  EXPECT_EQ(
      RenderTemplate("notice", Notice(NoticeKind::kError, "Refused", "a < b")),
      "<div class=\"notice error\" role=\"alert\"><strong>Refused</strong><p>a &lt; b</p></div>");
  EXPECT_EQ(RenderTemplate("notice", Notice(NoticeKind::kSuccess, "Done", "")),
            "<div class=\"notice success\" role=\"status\"><strong>Done</strong><p></p></div>");
  TemplateData slc;
  slc.set("state", "renewal due");
  slc.set("state_class", "warn");
  EXPECT_EQ(RenderTemplate("admin/state_badge", slc),
            "<span class=\"badge warn\">renewal due</span>");
}

TEST(Templates, UnknownTemplateIsReportedNotThrown) {
  EXPECT_EQ(RenderTemplate("no/such", {}),
            "[template no/such cannot be rendered: no such template]");
}

}  // namespace
}  // namespace openrms::sites
