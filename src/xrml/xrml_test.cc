#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "base/file_system.h"
#include "base/text.h"
#include "crypto/encoding.h"
#include "crypto/keys.h"
#include "xrml/chain.h"
#include "xrml/document.h"

namespace openrms::xrml {
namespace {

std::string ReadTestFile(const std::string& name) {
  auto data = RealFileSystem().ReadFile(std::string(OPENRMS_TEST_DATA) + "/" + name, 1 << 22);
  EXPECT_TRUE(data.ok()) << data.status().ToString();
  return data.ok() ? data.value() : "";
}

Document Parse(const std::string& text) {
  auto doc = ParseDocument(text);
  EXPECT_TRUE(doc.ok()) << doc.status().ToString();
  return std::move(doc).value();
}

// MS-RMPR 4.5: documents signed by Microsoft's own software.
class MicrosoftExamples : public ::testing::TestWithParam<const char*> {};

TEST_P(MicrosoftExamples, SignatureVerifies) {
  Document doc = Parse(ReadTestFile(GetParam()));
  ASSERT_TRUE(doc.signature.has_value());
  EXPECT_EQ(doc.signature->digest_algorithm, crypto::DigestAlgorithm::kSha1);
  Status s = VerifySignature(doc);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

INSTANTIATE_TEST_SUITE_P(Rmpr45, MicrosoftExamples,
                         ::testing::Values("spc.xml", "rac.xml", "clc.xml", "pl-offline.xml",
                                           "ul.xml"));

// The pretty form, byte for byte: two spaces a level, an element without
// children on one line (empty ones closed with " />"), escapes in text and
// attributes, and the indent a caller starts from.
TEST(Serialize, PrettyFormByteForByte) {
  Element root("ROOT");
  root.Attr("a", "x&y\"z").Attr("b", "");
  root.Add(Element("EMPTY"));
  Element& mid = root.Add(Element("MID").Attr("k", "<v>"));
  mid.Add(Element("LEAF")).text = "1 < 2 & 3 > \"0\"";
  mid.Add(Element("DEEP")).Add(Element("DEEPER")).text = "d";
  EXPECT_EQ(SerializePretty(root, 0),
            "<ROOT a=\"x&amp;y&quot;z\" b=\"\">\n"
            "  <EMPTY />\n"
            "  <MID k=\"&lt;v&gt;\">\n"
            "    <LEAF>1 &lt; 2 &amp; 3 &gt; &quot;0&quot;</LEAF>\n"
            "    <DEEP>\n"
            "      <DEEPER>d</DEEPER>\n"
            "    </DEEP>\n"
            "  </MID>\n"
            "</ROOT>\n");
  EXPECT_EQ(SerializePretty(Element("ONE"), 2), "    <ONE />\n");
  EXPECT_EQ(SerializeSurface(root),
            "<ROOT a=\"x&amp;y&quot;z\" b=\"\"><EMPTY /><MID k=\"&lt;v&gt;\">"
            "<LEAF>1 &lt; 2 &amp; 3 &gt; &quot;0&quot;</LEAF><DEEP><DEEPER>d</DEEPER></DEEP>"
            "</MID></ROOT>");
}

TEST(Xrml, RightsPolicyTemplateExampleIsReportedInvalid) {
  Document doc = Parse(ReadTestFile("rpt.xml"));
  Status s = VerifySignature(doc);
  EXPECT_EQ(s.code(), Code::kBadSignature);
  EXPECT_NE(s.message().find("digest"), std::string::npos) << s.message();
}

TEST(Xrml, OfflinePublishingLicenseChainsToItsClc) {
  std::vector<Document> chain = {Parse(ReadTestFile("pl-offline.xml")),
                                 Parse(ReadTestFile("clc.xml"))};
  ChainPolicy policy;
  policy.at = ParseTime("2010-06-12T00:00");
  Status s = VerifyChain(chain, policy);
  EXPECT_TRUE(s.ok()) << s.ToString();
  // A use license did not issue the publishing license: the keys do not link.
  chain[1] = Parse(ReadTestFile("ul.xml"));
  Status broken = VerifyChain(chain, policy);
  EXPECT_EQ(broken.code(), Code::kUntrusted);
  EXPECT_EQ(broken.message(),
            "certificate 1 of 2 (Microsoft Rights Label) was not issued by certificate 2 of 2 "
            "(Content-License): the issuer's key differs");
}

TEST(Xrml, ExpiredChainIsRefusedWithTheDate) {
  std::vector<Document> chain = {Parse(ReadTestFile("rac.xml"))};
  ChainPolicy policy;
  policy.at = ParseTime("2030-01-01T00:00");
  Status s = VerifyChain(chain, policy);
  EXPECT_EQ(s.code(), Code::kExpired) << s.ToString();
  EXPECT_EQ(s.message(), "Group-Identity-Credential expired on 2011-06-11 20:50 UTC");
  policy.at = ParseTime("2010-06-01T00:00");
  EXPECT_EQ(VerifyChain(chain, policy).code(), Code::kNotYetValid);
}

TEST(Xrml, OneCharacterChangeInsideBodyIsInvalid) {
  std::string text = ReadTestFile("ul.xml");
  const size_t pos = text.find("user@contoso.com");
  ASSERT_NE(pos, std::string::npos);
  text[pos] = 'U';
  Document doc = Parse(text);
  EXPECT_EQ(VerifySignature(doc).code(), Code::kBadSignature);
}

TEST(Xrml, WhiteSpaceBetweenTagsDoesNotMatter) {
  std::string text = ReadTestFile("rac.xml");
  std::string squeezed;
  // Remove every blank line and indent; then add some in other places.
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) squeezed += line;
  }
  Document a = Parse(squeezed);
  EXPECT_TRUE(VerifySignature(a).ok());
  std::string spaced;
  for (size_t i = 0; i < squeezed.size(); ++i) {
    spaced += squeezed[i];
    if (squeezed[i] == '>' && i + 1 < squeezed.size() && squeezed[i + 1] == '<') {
      spaced += "\n   \t";
    }
  }
  Document b = Parse(spaced);
  EXPECT_TRUE(VerifySignature(b).ok());
}

TEST(Xrml, TypedViewOfRac) {
  Document doc = Parse(ReadTestFile("rac.xml"));
  EXPECT_EQ(doc.Kind(), "Group-Identity-Credential");
  EXPECT_EQ(doc.descriptor.id, "{78647281-7120-4768-b635-087aadd4dfb6}");
  EXPECT_EQ(doc.issuer.object.name, "CONTOSO-RMS");
  EXPECT_EQ(doc.issuer.public_key->bits(), 1024);
  ASSERT_NE(doc.principal(), nullptr);
  EXPECT_EQ(doc.principal()->object.name, "owner@contoso.com");
  EXPECT_EQ(FormatXrmlTime(*doc.validity->until), "2011-06-11T20:50");
  EXPECT_EQ(doc.issuer.SecurityLevelValue("Server-SKU"), "RMS 2.0");
}

TEST(Xrml, ReadsRightsOfUseLicense) {
  Document doc = Parse(ReadTestFile("ul.xml"));
  const Right* view = doc.FindRight("VIEW");
  ASSERT_NE(view, nullptr);
  ASSERT_TRUE(view->range.has_value());
  EXPECT_EQ(FormatXrmlTime(*view->range->until), "2010-07-12T06:59");
}

TEST(Xrml, WrittenDocumentParsesBackAndStillVerifies) {
  Document doc = Parse(ReadTestFile("clc.xml"));
  Document again = Parse(WriteDocument(doc));
  EXPECT_TRUE(VerifySignature(again).ok());
  EXPECT_EQ(SerializeSurface(again.root), SerializeSurface(doc.root));
}

TEST(Xrml, Mode2SignAndVerify) {
  auto pair = crypto::GenerateSealedRsaKey(2048, "pw");
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  const auto& key = *pair->key;
  IssuingCertificate spec;
  spec.descriptor_type = kTypeCaCertificate;
  spec.certificate_id = "{00000000-0000-4000-8000-000000000001}";
  spec.issued = *ParseTime("2026-01-01T00:00");
  spec.validity = {spec.issued, spec.issued + Days(365)};
  spec.issuer.object = {"MS-DRM-Server", "MS-GUID", "{00000000-0000-4000-8000-000000000002}",
                        "Test & <CA>",   "URL",     "https://ca.example/"};
  spec.issuer.public_key = key.public_key();
  spec.principal = spec.issuer;
  auto doc = SignDocument(BuildIssuingCertificateBody(spec), key);
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_TRUE(VerifySignature(*doc).ok());
  Document reread = Parse(WriteDocument(*doc));
  EXPECT_EQ(reread.signature->digest_algorithm, crypto::DigestAlgorithm::kSha256);
  EXPECT_EQ(reread.issuer.object.name, "Test & <CA>");
  EXPECT_TRUE(VerifySignature(reread).ok());
  auto anchor = TrustAnchorKey(reread);
  ASSERT_TRUE(anchor.ok());
  EXPECT_TRUE(*anchor == key.public_key());
  ASSERT_NE(reread.FindRight(kRightIssue), nullptr);
  EXPECT_EQ(reread.FindRight(kRightIssue)->range->until, spec.issued + Days(365));
}

// Surface coding is the BODY as written (MS-RMPR 2.2.9.1.12), white space
// between tags aside. Each case writes one construct that OpenRMS's own
// writer spells otherwise, signs the bytes a reference coder makes (the
// text with the white space between tags cut out, written here
// independently of the library), and checks the parsed document verifies,
// before and after a round trip through WriteDocument.
std::string CutSpaceBetweenTags(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] != '>') continue;
    size_t j = i + 1;
    while (j < text.size() && std::string(" \t\r\n").find(text[j]) != std::string::npos) ++j;
    if (j < text.size() && text[j] == '<') i = j - 1;
  }
  return out;
}

struct WrittenCase {
  const char* name;
  const char* from;  // in the BODY OpenRMS writes
  const char* to;    // as another writer spells it
};

class WrittenAsIs : public ::testing::TestWithParam<WrittenCase> {
 protected:
  static void SetUpTestSuite() {
    auto pair = crypto::GenerateSealedRsaKey(2048, "pw");
    ASSERT_TRUE(pair.ok()) << pair.status().ToString();
    key_ = pair->key.release();
  }
  static void TearDownTestSuite() { delete key_; }

  // A CA certificate BODY as SerializePretty writes it.
  static std::string BodyText() {
    IssuingCertificate spec;
    spec.descriptor_type = kTypeCaCertificate;
    spec.certificate_id = "{00000000-0000-4000-8000-000000000001}";
    spec.issued = *ParseTime("2026-01-01T00:00");
    spec.validity = {spec.issued, spec.issued + Days(365)};
    spec.issuer.object = {"MS-DRM-Server", "MS-GUID", "{00000000-0000-4000-8000-000000000002}",
                          "Test & <CA>",   "URL",     "https://ca.example/"};
    spec.issuer.public_key = key_->public_key();
    spec.principal = spec.issuer;
    return SerializePretty(BuildIssuingCertificateBody(spec), 1);
  }

  // The document with `body` signed over the reference coding of it.
  static std::string SignedAsWritten(const std::string& body) {
    auto utf16 = Utf8ToUtf16Le(CutSpaceBetweenTags(std::string(Trim(body))));
    EXPECT_TRUE(utf16.ok());
    auto sig = key_->Sign(crypto::DigestAlgorithm::kSha256, *utf16);
    EXPECT_TRUE(sig.ok());
    return "<XrML xmlns=\"\" version=\"1.2\">\n" + body +
           "<SIGNATURE><DIGEST><ALGORITHM>SHA256</ALGORITHM>"
           "<PARAMETER name=\"codingtype\"><VALUE encoding=\"string\">surface-coding</VALUE>"
           "</PARAMETER><VALUE encoding=\"base64\" size=\"256\">" +
           crypto::Base64Encode(crypto::Sha256(*utf16)) +
           "</VALUE></DIGEST><ALGORITHM>RSA PKCS#1-V1.5</ALGORITHM>"
           "<VALUE encoding=\"base64\" size=\"2048\">" +
           crypto::Base64Encode(*sig) + "</VALUE></SIGNATURE></XrML>\n";
  }

  static crypto::PrivateKey* key_;
};
crypto::PrivateKey* WrittenAsIs::key_ = nullptr;

void ForgetWrittenForms(Element& e) {
  e.written.reset();
  for (auto& c : e.children) ForgetWrittenForms(c);
}

TEST_P(WrittenAsIs, VerifiesAsWrittenAndAfterARoundTrip) {
  std::string body = BodyText();
  const size_t at = body.find(GetParam().from);
  ASSERT_NE(at, std::string::npos) << GetParam().from << " not in\n" << body;
  body.replace(at, std::string_view(GetParam().from).size(), GetParam().to);
  Document doc = Parse(SignedAsWritten(body));
  Status s = VerifySignature(doc);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(SerializeSurface(doc.body()), CutSpaceBetweenTags(std::string(Trim(body))));
  Document again = Parse(WriteDocument(doc));
  s = VerifySignature(again);
  EXPECT_TRUE(s.ok()) << s.ToString();
  // The construct matters: written the way OpenRMS writes it, it no longer
  // matches the signature.
  ForgetWrittenForms(doc.root);
  EXPECT_EQ(VerifySignature(doc).code(), Code::kBadSignature);
}

INSTANTIATE_TEST_SUITE_P(
    Constructs, WrittenAsIs,
    ::testing::Values(
        WrittenCase{"EmptyWithEndTag", "<PRINCIPAL internal-id=\"1\" />",
                    "<PRINCIPAL internal-id=\"1\"></PRINCIPAL>"},
        WrittenCase{"SelfClosedWithoutSpace", "<PRINCIPAL internal-id=\"1\" />",
                    "<PRINCIPAL internal-id=\"1\"/>"},
        WrittenCase{"SpacesAroundEquals", "<RIGHT name=\"ISSUE\">", "<RIGHT name = \"ISSUE\">"},
        WrittenCase{"SingleQuotes", "<RIGHT name=\"ISSUE\">", "<RIGHT name='ISSUE'>"},
        WrittenCase{"SpaceBeforeTheTagEnds", "<RIGHT name=\"ISSUE\">", "<RIGHT name=\"ISSUE\" >"},
        WrittenCase{"GreaterThanUnescaped", "&lt;CA&gt;", "&lt;CA>"},
        WrittenCase{"CharacterReference", "Test &amp;", "T&#101;st &#38;"},
        WrittenCase{"CarriageReturnInText", "Test &amp; ", "Test\r\n&amp; "},
        WrittenCase{"EndTagWithSpace", "</NAME>", "</NAME >"},
        WrittenCase{"Prefix", "<NAME>Test &amp; &lt;CA&gt;</NAME>",
                    "<x:NAME xmlns:x=\"urn:x\">Test &amp; &lt;CA&gt;</x:NAME>"}),
    [](const auto& info) { return std::string(info.param.name); });

// The tags and text as written, byte for byte, with the white space
// between tags (here "\r\n ") left out.
TEST(Serialize, SurfaceKeepsTagsAsWritten) {
  const std::string written = "<A  x = 'v' ><B></B><C/>\r\n <D>a>b&amp;</D></A>";
  const std::string surface = "<A  x = 'v' ><B></B><C/><D>a>b&amp;</D></A>";
  auto parsed = ParseXml(written);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(SerializeSurface(*parsed), surface);
  // UTF-16LE with a byte-order mark: the same surface.
  auto utf16 = Utf8ToUtf16Le(written);
  ASSERT_TRUE(utf16.ok());
  auto wide = ParseXml("\xFF\xFE" + *utf16);
  ASSERT_TRUE(wide.ok()) << wide.status().ToString();
  EXPECT_EQ(SerializeSurface(*wide), surface);
  // The same with a UTF-8 byte-order mark.
  auto bom = ParseXml("\xEF\xBB\xBF" + written);
  ASSERT_TRUE(bom.ok()) << bom.status().ToString();
  EXPECT_EQ(SerializeSurface(*bom), surface);
}

// UTF-16LE is converted before libxml2 sees it: a declaration that says
// utf-16, text beyond ASCII and beyond the BMP read the same as in UTF-8,
// and a broken surrogate is still refused.
TEST(Parse, Utf16DocumentsReadAsTheirUtf8) {
  const std::string written =
      "<?xml version=\"1.0\" encoding=\"utf-16\"?><A n='\xC3\xA9'>\xE2\x82\xAC "
      "\xF0\x9F\x98\x80</A>";
  auto utf16 = Utf8ToUtf16Le(written);
  ASSERT_TRUE(utf16.ok());
  auto wide = ParseXml("\xFF\xFE" + *utf16);
  ASSERT_TRUE(wide.ok()) << wide.status().ToString();
  EXPECT_EQ(wide->text, "\xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(wide->Attribute("n"), "\xC3\xA9");
  EXPECT_EQ(SerializeSurface(*wide), "<A n='\xC3\xA9'>\xE2\x82\xAC \xF0\x9F\x98\x80</A>");
  // Without the written forms the element is written canonically.
  ParseLimits limits;
  limits.keep_written = false;
  auto plain = ParseXml("\xFF\xFE" + *utf16, limits);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(SerializeSurface(*plain), "<A n=\"\xC3\xA9\">\xE2\x82\xAC \xF0\x9F\x98\x80</A>");
  // A lone high surrogate.
  auto broken = ParseXml(std::string("\xFF\xFE<\0A\0>\0\x00\xD8<\0/\0A\0>\0", 18));
  EXPECT_FALSE(broken.ok());
}

// A changed element is written canonically; its unchanged children keep
// their written form.
TEST(Serialize, ChangedElementIsWrittenCanonically) {
  auto parsed = ParseXml("<A  x = 'v' ><B></B><C/><D>a>b&amp;</D></A>");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  parsed->attributes[0].second = "w";
  EXPECT_EQ(SerializeSurface(*parsed), "<A x=\"w\"><B></B><C/><D>a>b&amp;</D></A>");
  parsed->children[2].text = "a>c";
  EXPECT_EQ(SerializeSurface(*parsed), "<A x=\"w\"><B></B><C/><D>a&gt;c</D></A>");
  parsed->children[0].name = "E";
  EXPECT_EQ(SerializeSurface(*parsed), "<A x=\"w\"><E /><C/><D>a&gt;c</D></A>");
}

// Documents written and signed by Microsoft's RMS sharing application
// (tests/data/ms-rms-sdk/README.md): an offline publishing license signed
// by a CLC, and a Content-License, each over the chain CLC, SLC,
// enrollment service, server enrollment CA, production root.
class MicrosoftOffline : public ::testing::TestWithParam<const char*> {};

TEST_P(MicrosoftOffline, ChainVerifies) {
  std::vector<Document> chain;
  for (const char* name : {GetParam(), "clc.xml", "slc.xml", "enrollment-service.xml",
                           "server-enrollment-ca.xml", "production-ca.xml"}) {
    chain.push_back(Parse(ReadTestFile(std::string("ms-rms-sdk/") + name)));
  }
  ChainPolicy policy;
  policy.at = ParseTime("2017-01-01T00:00");
  Status s = VerifyChain(chain, policy);
  EXPECT_TRUE(s.ok()) << s.ToString();
  // What made it fail before: written the way OpenRMS writes tags, the
  // BODY no longer matches its digest.
  ForgetWrittenForms(chain[0].root);
  EXPECT_EQ(VerifySignature(chain[0]).code(), Code::kBadSignature);
}

INSTANTIATE_TEST_SUITE_P(SharingApp, MicrosoftOffline,
                         ::testing::Values("publishing-license.xml", "content-license.xml"),
                         [](const auto& info) {
                           std::string n = info.param;
                           return n == "publishing-license.xml" ? std::string("PublishingLicense")
                                                                : std::string("ContentLicense");
                         });

TEST(Xrml, RefusesDtdAndEntities) {
  const std::string xml =
      "<?xml version=\"1.0\"?><!DOCTYPE XrML [<!ENTITY x \"boom\">]><XrML><BODY>&x;</BODY></XrML>";
  auto doc = ParseDocument(xml);
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), Code::kMalformed);
}

TEST(Xrml, RefusesOversizedAndDeepDocuments) {
  std::string big = "<XrML><BODY>" + std::string(kMaxDocumentBytes, 'a') + "</BODY></XrML>";
  EXPECT_EQ(ParseDocument(big).status().code(), Code::kTooLarge);
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "<A>";
  for (int i = 0; i < 200; ++i) deep += "</A>";
  EXPECT_EQ(ParseDocument(deep).status().code(), Code::kTooLarge);
}

TEST(Xrml, MalformedInputNamesTheProblem) {
  auto doc = ParseDocument("<XrML><BODY></XrML>");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), Code::kMalformed);
  EXPECT_NE(doc.status().message().find("line 1"), std::string::npos) << doc.status().message();
  auto other = ParseDocument("<html><body/></html>");
  EXPECT_EQ(other.status().message(),
            "the root element is <html>, not <XrML>: not an XrML document");
}

}  // namespace
}  // namespace openrms::xrml
