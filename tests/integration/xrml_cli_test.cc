// `openrms xrml show|verify`, run as a program, on Microsoft's examples.
#include <gtest/gtest.h>

#include <fstream>

#include "base/clock.h"
#include "support/process.h"

namespace openrms::testing {
namespace {

const std::string kBin = OPENRMS_BINARY;
std::string Data(const std::string& name) { return std::string(OPENRMS_TEST_DATA) + "/" + name; }

TEST(XrmlCli, VerifiesMicrosoftExamples) {
  for (const char* f : {"spc.xml", "rac.xml", "clc.xml", "ul.xml"}) {
    CommandResult r = RunCommand({kBin, "xrml", "verify", Data(f)});
    EXPECT_EQ(r.exit_code, 0) << f << ": " << r.out << r.err;
    EXPECT_EQ(r.out, "valid\n") << f;
  }
}

TEST(XrmlCli, VerifiesPublishingLicenseWithItsChain) {
  CommandResult r = RunCommand({kBin, "xrml", "verify", Data("pl-offline.xml"), "--chain",
                                Data("clc.xml"), "--at", "2010-06-12T00:00"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "valid\n");
  // Today the CLC has long expired: the chain check says so.
  CommandResult now =
      RunCommand({kBin, "xrml", "verify", Data("pl-offline.xml"), "--chain", Data("rac.xml")});
  EXPECT_EQ(now.exit_code, 1);
  EXPECT_EQ(now.out.rfind("invalid: ", 0), 0u) << now.out;
}

// The test hooks exist in the test suite's program only: the program users
// run signs with real time whatever OPENRMS_FAKE_NOW says, and says so.
TEST(XrmlCli, OnlyTheTestBuildHonoursTheFakeClock) {
  TempDir dir;
  std::ofstream(dir.path() + "/pw") << "hooks test key password\n";
  auto init = [&](const std::string& bin, const std::string& name) {
    return RunCommand({bin, "enrollment", "init", "--dir", dir.path() + "/" + name,
                       "--password-file", dir.path() + "/pw"},
                      {"OPENRMS_FAKE_NOW=2036-06-01T00:00:00Z", "OPENRMS_CRASH_AT=100"});
  };
  auto valid_from = [&](const std::string& name) {
    CommandResult show =
        RunCommand({kBin, "xrml", "show", dir.path() + "/" + name + "/trust-anchor.xml"});
    const size_t at = show.out.find("valid from: ");
    return at == std::string::npos ? show.out : show.out.substr(at + 12, 4);
  };
  CommandResult test = init(kBin, "test");
  ASSERT_EQ(test.exit_code, 0) << test.err;
  EXPECT_EQ(test.err.find("warning"), std::string::npos) << test.err;
  EXPECT_EQ(valid_from("test"), "2036");  // a day's margin before the fake now

  CommandResult release = init(OPENRMS_RELEASE_BINARY, "release");
  ASSERT_EQ(release.exit_code, 0) << release.err;
  EXPECT_NE(release.err.find("warning: OPENRMS_FAKE_NOW is ignored: only test builds "
                             "(openrms-test) honour it\n"),
            std::string::npos)
      << release.err;
  EXPECT_NE(release.err.find("warning: OPENRMS_CRASH_AT is ignored"), std::string::npos);
  const std::string this_year = FormatHuman(SystemClock().Now() - Days(1)).substr(0, 4);
  EXPECT_EQ(valid_from("release"), this_year);
}

TEST(XrmlCli, ReportsTheTemplateExampleInvalid) {
  CommandResult r = RunCommand({kBin, "xrml", "verify", Data("rpt.xml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(
      r.out,
      "invalid: the BODY does not match its digest: the document was changed after signing\n");
}

TEST(XrmlCli, UnreadableInputIsAnError) {
  TempDir dir;
  const std::string junk = dir.path() + "/junk.xml";
  std::ofstream(junk) << "<XrML><BODY>";
  CommandResult r = RunCommand({kBin, "xrml", "verify", junk});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("error: " + junk + ": not well-formed XML", 0), 0u) << r.err;
  CommandResult missing = RunCommand({kBin, "xrml", "verify", dir.path() + "/nope.xml"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err, "error: no such file: " + dir.path() + "/nope.xml\n");
}

TEST(XrmlCli, ReadableButUnacceptableDocumentsAreInvalid) {
  TempDir dir;
  std::string text = ReadAll(Data("ul.xml"));
  const size_t at = text.find("<ALGORITHM>RSA</ALGORITHM>");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 26, "<ALGORITHM>DSA</ALGORITHM>");
  const std::string tampered = dir.path() + "/tampered.xml";
  std::ofstream(tampered) << text;
  CommandResult r = RunCommand({kBin, "xrml", "verify", tampered});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out,
            "invalid: " + tampered + ": ISSUER/PUBLICKEY: only RSA public keys are supported\n");
  EXPECT_EQ(r.err, "");
  // Well-formed XML that is no XrML at all is invalid too.
  const std::string other = dir.path() + "/other.xml";
  std::ofstream(other) << "<note>hello</note>";
  CommandResult o = RunCommand({kBin, "xrml", "verify", other});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.out.rfind("invalid: " + other + ": ", 0), 0u) << o.out;
  // So is a trust anchor that is not one.
  CommandResult t = RunCommand({kBin, "xrml", "verify", Data("ul.xml"), "--trust", tampered});
  EXPECT_EQ(t.exit_code, 1) << t.out << t.err;
}

TEST(XrmlCli, OverSizeInputIsAnError) {
  TempDir dir;
  const std::string big = dir.path() + "/big.xml";
  std::ofstream(big) << "<XrML>" << std::string((8 << 20) + 1, ' ') << "</XrML>";
  CommandResult r = RunCommand({kBin, "xrml", "verify", big});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
}

TEST(XrmlCli, ShowSummarisesADocument) {
  CommandResult r = RunCommand({kBin, "xrml", "show", Data("rac.xml")});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("type:       Group-Identity-Credential\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("guid:       {78647281-7120-4768-b635-087aadd4dfb6}\n"), std::string::npos);
  EXPECT_NE(r.out.find(
                "issuer:     CONTOSO-RMS {96c4ca87-b3ff-4ded-9c15-53272e26396f} [MS-DRM-Server]\n"),
            std::string::npos);
  EXPECT_NE(r.out.find("principal:  owner@contoso.com"), std::string::npos);
  EXPECT_NE(r.out.find("valid to:   2011-06-11 20:50 UTC\n"), std::string::npos);
  EXPECT_NE(r.out.find("signature:  RSA PKCS#1-V1.5, SHA-1 (mode 1), RSA-1024\n"),
            std::string::npos);
}

}  // namespace
}  // namespace openrms::testing
