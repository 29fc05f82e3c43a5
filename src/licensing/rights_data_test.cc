// Encrypted-Rights-Data (MS-RMPR 2.2.9.8): the XrML OpenRMS writes for a
// policy, byte for byte; documents in the forms other writers use; the
// encryption under the content key and its refusals.
#include "licensing/rights_data.h"

#include <gtest/gtest.h>

#include "base/text.h"
#include "crypto/content_cipher.h"
#include "crypto/encoding.h"

namespace openrms::licensing {
namespace {

Time At(const char* text) { return *ParseTime(text); }

Policy Custom() {
  Policy p;
  p.content_id = "{11111111-2222-3333-4444-555555555555}";
  p.owner = "alice@contoso.com";
  p.name = "Board";
  p.description = "Board members only";
  p.user_rights = {{{"bob@contoso.com", "ANYONE"}, {"VIEW"}}, {{"carol"}, {"EDIT", "PRINT"}}};
  p.interval_days = 7;
  p.valid_until = At("2027-06-01T00:00:00Z");
  return p;
}

TEST(RightsData, ACustomPolicyIsWrittenByteForByte) {
  const xrml::Element e = RightsDataElement(Custom(), At("2026-12-05T10:00:00Z"),
                                            "{aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee}");
  const std::string right_head =
      "<CONDITIONLIST><TIME><INTERVALTIME days=\"7\" /></TIME><ACCESS><PRINCIPAL><OBJECT>";
  EXPECT_EQ(
      xrml::SerializeSurface(e),
      "<XrML xmlns=\"\" version=\"1.2\"><BODY type=\"Microsoft Rights Template\">"
      "<ISSUEDTIME>2026-12-05T10:00</ISSUEDTIME>"
      "<DESCRIPTOR><OBJECT><ID type=\"MS-GUID\">{aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee}</ID>"
      "<NAME>LCID 1033:NAME Board:DESCRIPTION Board members only;</NAME></OBJECT></DESCRIPTOR>"
      "<WORK><OBJECT><ID type=\"MS-GUID\">{11111111-2222-3333-4444-555555555555}</ID></OBJECT>"
      "<METADATA><OWNER><OBJECT><ID type=\"Unspecified\" /><NAME>alice@contoso.com</NAME>"
      "</OBJECT></OWNER></METADATA>"
      "<PRECONDITIONLIST><TIME><RANGETIME><FROM>2026-12-05T10:00</FROM>"
      "<UNTIL>2027-06-01T00:00</UNTIL></RANGETIME></TIME></PRECONDITIONLIST>"
      "<RIGHTSGROUP name=\"Main-Rights\"><RIGHTSLIST>"
      "<RIGHT name=\"VIEW\">" +
          right_head +
          "<ID type=\"Unspecified\" /><NAME>bob@contoso.com</NAME>"
          "</OBJECT></PRINCIPAL></ACCESS></CONDITIONLIST></RIGHT>"
          "<RIGHT name=\"VIEW\">" +
          right_head +
          "<ID type=\"Internal\">Anyone</ID>"
          "</OBJECT></PRINCIPAL></ACCESS></CONDITIONLIST></RIGHT>"
          "<RIGHT name=\"EDIT\">" +
          right_head +
          "<ID type=\"Unspecified\" /><NAME>carol</NAME>"
          "</OBJECT></PRINCIPAL></ACCESS></CONDITIONLIST></RIGHT>"
          "<RIGHT name=\"PRINT\">" +
          right_head +
          "<ID type=\"Unspecified\" /><NAME>carol</NAME>"
          "</OBJECT></PRINCIPAL></ACCESS></CONDITIONLIST></RIGHT>"
          "</RIGHTSLIST></RIGHTSGROUP></WORK></BODY></XrML>");
}

TEST(RightsData, APolicyReadsBackAsItWasWritten) {
  Policy p = Custom();
  auto read =
      PolicyFromRightsData(RightsDataElement(p, At("2026-12-05T10:00:00Z"), "{x}"), p.owner);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->name, "Board");
  EXPECT_EQ(read->description, "Board members only");
  EXPECT_EQ(read->template_id, "");
  EXPECT_EQ(read->owner, p.owner);
  ASSERT_EQ(read->user_rights.size(), 3u);
  EXPECT_EQ(read->user_rights[0].users, std::vector<std::string>{"bob@contoso.com"});
  EXPECT_EQ(read->user_rights[0].rights, std::vector<std::string>{"VIEW"});
  EXPECT_EQ(read->user_rights[1].users, std::vector<std::string>{"ANYONE"});
  EXPECT_EQ(read->user_rights[2].users, std::vector<std::string>{"carol"});
  EXPECT_EQ(read->user_rights[2].rights, (std::vector<std::string>{"EDIT", "PRINT"}));
  EXPECT_TRUE(read->allow_offline);
  EXPECT_EQ(read->interval_days, 7);
  EXPECT_EQ(read->valid_until, p.valid_until);
}

TEST(RightsData, ATemplatesRightsAreOfficialAndNamedByTheTemplate) {
  Policy p = Custom();
  p.template_id = "{99999999-8888-7777-6666-555555555555}";
  p.valid_until.reset();
  p.allow_offline = false;
  const xrml::Element e = RightsDataElement(p, At("2026-12-05T10:00:00Z"), "{unused}");
  const std::string surface = xrml::SerializeSurface(e);
  EXPECT_NE(surface.find("<BODY type=\"Microsoft Official Rights Template\">"), std::string::npos);
  EXPECT_NE(surface.find("<ID type=\"MS-GUID\">{99999999-8888-7777-6666-555555555555}</ID>"),
            std::string::npos);
  EXPECT_EQ(surface.find("PRECONDITIONLIST"), std::string::npos);
  EXPECT_EQ(surface.find("INTERVALTIME"), std::string::npos);
  EXPECT_NE(surface.find("<AUTHENTICATEDDATA name=\"NOLICCACHE\" id=\"APPSPECIFIC\">1"
                         "</AUTHENTICATEDDATA></BODY>"),
            std::string::npos);
  auto read = PolicyFromRightsData(e, p.owner);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->template_id, p.template_id);
  EXPECT_FALSE(read->allow_offline);
  EXPECT_FALSE(read->valid_until.has_value());
}

TEST(RightsData, OtherWritersFormsAreRead) {
  // Form 2 rights, Internal Owner and Anyone, a Windows SID without a name
  // (matches nobody), an unknown right (ignored), expiry as INTERVALTIME.
  const std::string xml =
      "<XrML version=\"1.2\"><BODY type=\"Microsoft Rights Template\">"
      "<ISSUEDTIME>2026-01-01T00:00</ISSUEDTIME>"
      "<DESCRIPTOR><OBJECT><ID type=\"MS-GUID\">{d}</ID><NAME>LCID 1033:NAME Plan:DESCRIPTION "
      "A: plan;LCID 1031:NAME Plan:DESCRIPTION Ein Plan;</NAME></OBJECT></DESCRIPTOR>"
      "<WORK><OBJECT><ID type=\"MS-GUID\">{w}</ID></OBJECT>"
      "<PRECONDITIONLIST><TIME><INTERVALTIME days=\"10\" /></TIME></PRECONDITIONLIST>"
      "<RIGHTSGROUP name=\"Main-Rights\"><RIGHTSLIST>"
      "<VIEW><CONDITIONLIST><ACCESS><PRINCIPAL><OBJECT><ID type=\"Internal\">Owner</ID></OBJECT>"
      "</PRINCIPAL><PRINCIPAL><OBJECT><ID type=\"Internal\">Anyone</ID></OBJECT></PRINCIPAL>"
      "</ACCESS></CONDITIONLIST></VIEW>"
      "<RIGHT name=\"print\"><CONDITIONLIST><ACCESS><PRINCIPAL><OBJECT><ID type=\"Windows\">"
      "S-1-5-21-1</ID></OBJECT></PRINCIPAL></ACCESS></CONDITIONLIST></RIGHT>"
      "<RIGHT name=\"SECRET-HANDSHAKE\"><CONDITIONLIST><ACCESS><PRINCIPAL><OBJECT>"
      "<ID type=\"Unspecified\" /><NAME>eve</NAME></OBJECT></PRINCIPAL></ACCESS></CONDITIONLIST>"
      "</RIGHT></RIGHTSLIST></RIGHTSGROUP></WORK></BODY></XrML>";
  auto e = xrml::ParseXml(xml);
  ASSERT_TRUE(e.ok()) << e.status().message();
  auto read = PolicyFromRightsData(*e, "olivia");
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->name, "Plan");
  EXPECT_EQ(read->description, "A: plan");
  ASSERT_EQ(read->user_rights.size(), 3u);
  EXPECT_EQ(read->user_rights[0].users, std::vector<std::string>{"olivia"});
  EXPECT_EQ(read->user_rights[1].users, std::vector<std::string>{"ANYONE"});
  EXPECT_EQ(read->user_rights[2].users, std::vector<std::string>{"S-1-5-21-1"});
  EXPECT_EQ(read->user_rights[2].rights, std::vector<std::string>{"PRINT"});
  EXPECT_EQ(read->valid_until, At("2026-01-11T00:00:00Z"));
  EXPECT_EQ(read->interval_days, 30) << "no interval in the rights: OpenRMS's default";
}

TEST(RightsData, WhatIsNotRightsDataIsRefused) {
  auto refuse = [](const std::string& xml, const std::string& message) {
    auto e = xrml::ParseXml(xml);
    ASSERT_TRUE(e.ok());
    auto read = PolicyFromRightsData(*e, "o");
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), Code::kMalformed);
    EXPECT_EQ(read.status().message(), "the license's rights cannot be read: " + message);
  };
  refuse("<BODY />", "the rights data is not an XrML document");
  refuse("<XrML />", "the rights data has no BODY");
  refuse("<XrML><BODY type=\"LICENSE\" /></XrML>",
         "the rights data's BODY type is \"LICENSE\", not \"Microsoft Rights Template\" or "
         "\"Microsoft Official Rights Template\"");
  refuse("<XrML><BODY type=\"Microsoft Rights Template\" /></XrML>", "the rights data has no WORK");
  refuse("<XrML><BODY type=\"Microsoft Rights Template\"><WORK /></BODY></XrML>",
         "the rights data has no RIGHTSGROUP/RIGHTSLIST");
  refuse(
      "<XrML><BODY type=\"Microsoft Rights Template\"><WORK><PRECONDITIONLIST><TIME><RANGETIME>"
      "<UNTIL>soon</UNTIL></RANGETIME></TIME></PRECONDITIONLIST></WORK></BODY></XrML>",
      "the content's expiry is not a time");
}

TEST(RightsData, SealedUnderTheContentKeyInItsModeAndOpenedBack) {
  const xrml::Element e = RightsDataElement(Custom(), At("2026-12-05T10:00:00Z"), "{x}");
  for (KeyCipherMode mode : {KeyCipherMode::kCbc4k, KeyCipherMode::kEcb}) {
    SymmetricKey key;
    key.bytes = std::string(32, '\x42');
    key.mode = mode;
    auto sealed = SealRightsData(e, key);
    ASSERT_TRUE(sealed.ok());
    auto bytes = crypto::Base64Decode(*sealed);
    ASSERT_TRUE(bytes.has_value());
    auto plain = mode == KeyCipherMode::kEcb ? crypto::EcbDecrypt(key.bytes, *bytes, true)
                                             : crypto::Cbc4kDecrypt(key.bytes, *bytes);
    ASSERT_TRUE(plain.ok());
    // UTF-16LE with a byte-order mark.
    EXPECT_EQ(plain->substr(0, 6), std::string("\xFF\xFE<\0X\0", 6));
    EXPECT_EQ(*Utf16LeToUtf8(plain->substr(2)), xrml::SerializeSurface(e));
    auto opened = OpenRightsData(*sealed, key);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    EXPECT_EQ(xrml::SerializeSurface(*opened), xrml::SerializeSurface(e));

    SymmetricKey wrong = key;
    wrong.bytes[0] ^= 1;
    auto refused = OpenRightsData(*sealed, wrong);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), Code::kMalformed);
  }
}

TEST(RightsData, UnmarkedUtf16AndUtf8RightsDataRead) {
  SymmetricKey key;
  key.bytes = std::string(16, '\x07');
  key.mode = KeyCipherMode::kEcb;
  const std::string xml =
      "<XrML><BODY type=\"Microsoft Rights Template\"><WORK><RIGHTSGROUP><RIGHTSLIST />"
      "</RIGHTSGROUP></WORK></BODY></XrML>";
  for (const std::string& plain : {*Utf8ToUtf16Le(xml), xml}) {
    auto sealed = crypto::EcbEncrypt(key.bytes, plain, true);
    auto opened = OpenRightsData(crypto::Base64Encode(*sealed), key);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    EXPECT_EQ(xrml::SerializeSurface(*opened), xml);
  }
}

TEST(RightsData, DamagedAndOversizedTextIsRefused) {
  SymmetricKey key;
  key.bytes = std::string(32, '\x01');
  key.mode = KeyCipherMode::kCbc4k;
  auto expect = [&](std::string_view text, Code code, const std::string& message) {
    auto r = OpenRightsData(text, key);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), code);
    EXPECT_EQ(r.status().message(), message);
  };
  expect("", Code::kMalformed,
         "the license's rights cannot be read: it does not decrypt under the content key");
  expect("not base64!", Code::kMalformed,
         "the license's rights cannot be read: the rights data is not base64");
  expect(crypto::Base64Encode(std::string(17, 'x')), Code::kMalformed,
         "the license's rights cannot be read: it does not decrypt under the content key");
  expect(std::string(kMaxRightsData * 2, 'A'), Code::kTooLarge,
         "the license's rights data is over 1048576 bytes");
  auto garbage = crypto::Cbc4kEncrypt(key.bytes, "not xml at all");
  auto r = OpenRightsData(crypto::Base64Encode(*garbage), key);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("the license's rights cannot be read: ", 0), 0u);
  SymmetricKey odd = key;
  odd.mode = KeyCipherMode::kCbc512NoPadding;
  auto mode = OpenRightsData(crypto::Base64Encode(*garbage), odd);
  EXPECT_EQ(mode.status().message(),
            "the license's rights cannot be read: the content key's cipher mode is not one "
            "rights data is encrypted in");
}

}  // namespace
}  // namespace openrms::licensing
