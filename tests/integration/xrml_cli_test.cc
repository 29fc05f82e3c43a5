// `openrms xrml show|verify`, run as a program, on Microsoft's examples.
#include <gtest/gtest.h>

#include <fstream>

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
