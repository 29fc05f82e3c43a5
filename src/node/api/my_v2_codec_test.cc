#include "node/api/my_v2_codec.h"

#include <gtest/gtest.h>

#include "base/json.h"
#include "crypto/encoding.h"
#include "node/api/bearer.h"

namespace openrms::node::api {
namespace {

using licensing::AccessStatus;
using licensing::Policy;

nlohmann::json Parse(const std::string& text) { return *ParseJson(text); }

Policy CustomPolicy() {
  Policy p;
  p.content_id = "{c0ffee}";
  p.owner = "alice";
  p.name = "Protected report.txt";
  p.description = "Protected by alice";
  p.user_rights = {{{"bob", "Staff"}, {"VIEW", "PRINT"}}, {{"carol"}, {"OWNER"}}};
  p.allow_offline = true;
  p.interval_days = 30;
  p.valid_until = *ParseTime("2099-01-01T00:00:00Z");
  return p;
}

Policy TemplatePolicy() {
  Policy p;
  p.content_id = "{c0ffee}";
  p.owner = "alice";
  p.name = "Confidential";
  p.description = "Staff may view";
  p.template_id = "{7e3a1a7e}";
  p.user_rights = {{{"carol"}, {"VIEW"}}};
  p.allow_offline = false;
  p.interval_days = 30;
  return p;
}

// The answers, byte for byte as licensing.cc wrote them before the codec
// (same field names, types and sorted order); the RMS SDK parses these.
TEST(MyV2Codec, PublishedLicenseIsTheSdksJsonByteForByte) {
  licensing::PublishedLicense custom{CustomPolicy(), "\xEF\xBB\xBF<XrML/>", "0123456789abcdef"};
  EXPECT_EQ(WriteJson(PublishedLicenseJson(custom)),
            R"({"ContentId":"{c0ffee}","Description":"Protected by alice","Id":"{c0ffee}",)"
            R"("Key":{"Algorithm":"AES","CipherMode":"MICROSOFT.CBC4K",)"
            R"("Value":"MDEyMzQ1Njc4OWFiY2RlZg=="},"Name":"Protected report.txt",)"
            R"("Owner":"alice","Referrer":"","SerializedPublishingLicense":"77u/PFhyTUwvPg=="})");
  licensing::PublishedLicense from_template{TemplatePolicy(), "PL", "K"};
  EXPECT_EQ(WriteJson(PublishedLicenseJson(from_template)),
            R"({"ContentId":"{c0ffee}","Description":"Staff may view","Id":"{7e3a1a7e}",)"
            R"("Key":{"Algorithm":"AES","CipherMode":"MICROSOFT.CBC4K","Value":"Sw=="},)"
            R"("Name":"Confidential","Owner":"alice","Referrer":"",)"
            R"("SerializedPublishingLicense":"UEw="})");
}

// The answer as the node writes it: the same bytes as through the JSON
// writer, for an empty license, one byte, one whose base64 needs padding,
// names beyond ASCII and quotes, and a license of the size the node issues.
TEST(MyV2Codec, PublishedLicenseAnswerIsTheJsonWritersBytes) {
  std::vector<licensing::PublishedLicense> licenses = {
      {CustomPolicy(), "", "0123456789abcdef"},
      {TemplatePolicy(), "P", "K"},
      {TemplatePolicy(), "PL", ""},
      {CustomPolicy(), std::string(7000, '\xff'), std::string(32, '\0')}};
  licenses[1].policy.name = "Vertraulich \xc3\xa4\"quoted\"\n";
  licenses[2].policy.owner = "\\back\\slash";
  for (const auto& license : licenses) {
    EXPECT_EQ(PublishedLicenseAnswer(license), WriteJson(PublishedLicenseJson(license)));
  }
  EXPECT_TRUE(PublishedLicenseAnswer(licenses[0]).starts_with(R"({"ContentId":"{c0ffee}",)"));
  EXPECT_TRUE(
      PublishedLicenseAnswer(licenses[0]).ends_with(R"(,"SerializedPublishingLicense":""})"));
}

TEST(MyV2Codec, UseLicenseIsTheSdksJsonByteForByte) {
  licensing::UseLicense granted;
  granted.policy = CustomPolicy();
  granted.issued_to = "bob";
  granted.access = AccessStatus::kGranted;
  granted.rights = {"PRINT", "VIEW"};
  granted.valid_until = *ParseTime("2030-02-03T04:05:06Z");
  granted.content_key = "0123456789abcdef";
  EXPECT_EQ(WriteJson(UseLicenseJson(granted)),
            R"({"AccessStatus":"AccessGranted","ContentId":"{c0ffee}",)"
            R"("ContentValidUntil":"2099-01-01T00:00:00Z","Description":"Protected by alice",)"
            R"("FromTemplate":false,"Id":"{c0ffee}","IssuedTo":"bob",)"
            R"("Key":{"Algorithm":"AES","CipherMode":"MICROSOFT.CBC4K",)"
            R"("Value":"MDEyMzQ1Njc4OWFiY2RlZg=="},"LicenseValidUntil":"2030-02-03T04:05:06Z",)"
            R"("Name":"Protected report.txt","Owner":"alice",)"
            R"("Policy":{"AllowAuditedExtraction":false,"IntervalTimeInDays":30,)"
            R"("UserRights":[{"Rights":["VIEW","PRINT"],"Users":["bob","Staff"]},)"
            R"({"Rights":["OWNER"],"Users":["carol"]}]},"Rights":["PRINT","VIEW"],)"
            R"("allowOfflineAccess":true})");

  licensing::UseLicense denied;
  denied.policy = TemplatePolicy();
  denied.issued_to = "bob";
  denied.access = AccessStatus::kDenied;
  EXPECT_EQ(WriteJson(UseLicenseJson(denied)),
            R"({"AccessStatus":"AccessDenied","ContentId":"{c0ffee}",)"
            R"("Description":"Staff may view","FromTemplate":true,"Id":"{7e3a1a7e}",)"
            R"("IssuedTo":"bob","Name":"Confidential","Owner":"alice",)"
            R"("allowOfflineAccess":false})");
  // A revocation says why.
  denied.reason = "revoked by alice at 2027-01-02 10:00 UTC";
  EXPECT_EQ(WriteJson(UseLicenseJson(denied)),
            R"({"AccessStatus":"AccessDenied","ContentId":"{c0ffee}",)"
            R"("Description":"Staff may view","FromTemplate":true,"Id":"{7e3a1a7e}",)"
            R"("IssuedTo":"bob","Name":"Confidential","Owner":"alice",)"
            R"("Reason":"revoked by alice at 2027-01-02 10:00 UTC","allowOfflineAccess":false})");

  // Without offline access the SDK is told an interval of 0.
  licensing::UseLicense expired;
  expired.policy = CustomPolicy();
  expired.policy.allow_offline = false;
  expired.policy.user_rights = {{{"bob"}, {"VIEW"}}};
  expired.issued_to = "bob";
  expired.access = AccessStatus::kContentExpired;
  EXPECT_EQ(WriteJson(UseLicenseJson(expired)),
            R"({"AccessStatus":"ContentExpired","ContentId":"{c0ffee}",)"
            R"("ContentValidUntil":"2099-01-01T00:00:00Z","Description":"Protected by alice",)"
            R"("FromTemplate":false,"Id":"{c0ffee}","IssuedTo":"bob",)"
            R"("Name":"Protected report.txt","Owner":"alice",)"
            R"("Policy":{"AllowAuditedExtraction":false,"IntervalTimeInDays":0,)"
            R"("UserRights":[{"Rights":["VIEW"],"Users":["bob"]}]},"allowOfflineAccess":false})");
}

TEST(MyV2Codec, OtherAnswers) {
  EXPECT_EQ(WriteJson(TemplatesJson({{"{1}", "Confidential", "Staff may view", {}, 7}})),
            R"([{"Description":"Staff may view","Id":"{1}","Name":"Confidential"}])");
  EXPECT_EQ(WriteJson(ServiceDiscoveryJson("https://h/c/my/v2")),
            R"([{"Name":"enduserlicenses","Uri":"https://h/c/my/v2/enduserlicenses"},)"
            R"({"Name":"publishinglicenses","Uri":"https://h/c/my/v2/publishinglicenses"},)"
            R"({"Name":"templates","Uri":"https://h/c/my/v2/templates"},)"
            R"({"Name":"clientlicensorcertificates",)"
            R"("Uri":"https://h/c/my/v2/clientlicensorcertificates"},)"
            R"({"Name":"clientdebuglogs","Uri":"https://h/c/my/v2/clientdebuglogs"},)"
            R"({"Name":"clientperformancelogs","Uri":"https://h/c/my/v2/clientperformancelogs"}])");
  EXPECT_EQ(CertificationJson("<chain/>"), R"({"Certificate":"<chain/>"})");
  EXPECT_EQ(ClientLicensorJson("<chain/>", *ParseTime("2027-01-31T12:00")),
            R"({"ClientLicensorCertificate":"<chain/>","ValidUntil":"2027-01-31T12:00:00Z"})");
  // The SDK's offline publisher names no key: the server makes one.
  auto sdk = ReadClientLicensorRequest(nlohmann::json::parse(R"({"SignatureEncoding":"utf-8"})"));
  ASSERT_TRUE(sdk.ok());
  EXPECT_FALSE(*sdk);
  EXPECT_FALSE(*ReadClientLicensorRequest(nlohmann::json::parse(R"({"PublicKey":""})")));
  EXPECT_EQ(ReadClientLicensorRequest(nlohmann::json::parse("[]")).status().message(),
            "the body is not a JSON object");
  EXPECT_EQ(ThinClientLicensorJson(R"({"pld":"x"})", *ParseTime("2027-01-31T12:00")),
            R"({"SerializedThinCLC":"{\"pld\":\"x\"}","ValidUntil":"2027-01-31T12:00:00Z"})");
  EXPECT_EQ(**ReadClientLicensorRequest(nlohmann::json::parse(R"({"PublicKey":"AAEC"})")),
            std::string("\x00\x01\x02", 3));
  EXPECT_EQ(
      ReadClientLicensorRequest(nlohmann::json::parse(R"({"PublicKey":"!"})")).status().message(),
      "PublicKey is not base64");
  auto by_id = ReadRevocationRequest(nlohmann::json::parse(R"({"ContentId":"{c0ffee}"})"));
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->content_id, "{c0ffee}");
  EXPECT_EQ(by_id->publishing_license, "");
  auto by_pl =
      ReadRevocationRequest(nlohmann::json::parse(R"({"SerializedPublishingLicense":"AAEC"})"));
  ASSERT_TRUE(by_pl.ok());
  EXPECT_EQ(by_pl->publishing_license, std::string("\x00\x01\x02", 3));
  EXPECT_EQ(ReadRevocationRequest(nlohmann::json::parse("{}")).status().message(),
            "the body needs ContentId or SerializedPublishingLicense");
  EXPECT_EQ(ReadRevocationRequest(nlohmann::json::parse(R"({"SerializedPublishingLicense":"!"})"))
                .status()
                .message(),
            "SerializedPublishingLicense is not base64");
  EXPECT_EQ(ReadRevocationRequest(
                nlohmann::json::parse("{\"ContentId\":\"" + std::string(257, 'x') + "\"}"))
                .status()
                .code(),
            Code::kInvalidArgument);
  // As the JSON writer writes it: escapes, a user's name beyond ASCII, and
  // bytes that are not UTF-8 (replaced).
  for (const std::string& chain : {std::string("<c a=\"1\">\r\n\\</c>"),
                                   std::string("<c>J\xC3\xB6rg</c>"), std::string("<c>\xC3</c>")}) {
    EXPECT_EQ(CertificationJson(chain), WriteJson({{"Certificate", chain}}));
  }
}

// The key's cipher mode as the SDK names it: MICROSOFT.ECB for the AES-128
// keys of Office documents, in both answers; a CBC512 key as
// MICROSOFT.CBC512.NOPADDING, any other as MICROSOFT.CBC4K.
TEST(MyV2Codec, TheKeysCipherModeIsTheLicensesMode) {
  using licensing::KeyCipherMode;
  const std::vector<std::pair<KeyCipherMode, std::string>> modes = {
      {KeyCipherMode::kEcb, "MICROSOFT.ECB"},
      {KeyCipherMode::kCbc4k, "MICROSOFT.CBC4K"},
      {KeyCipherMode::kCbc4kNoPadding, "MICROSOFT.CBC4K"},
      {KeyCipherMode::kCbc512NoPadding, "MICROSOFT.CBC512.NOPADDING"}};
  for (const auto& [mode, name] : modes) {
    SCOPED_TRACE(name);
    licensing::PublishedLicense published{TemplatePolicy(), "PL", "0123456789abcdef", mode};
    const std::string key = R"("Key":{"Algorithm":"AES","CipherMode":")" + name +
                            R"(","Value":"MDEyMzQ1Njc4OWFiY2RlZg=="})";
    EXPECT_EQ(WriteJson(PublishedLicenseJson(published)),
              R"({"ContentId":"{c0ffee}","Description":"Staff may view","Id":"{7e3a1a7e}",)" + key +
                  R"(,"Name":"Confidential","Owner":"alice","Referrer":"",)"
                  R"("SerializedPublishingLicense":"UEw="})");
    EXPECT_EQ(PublishedLicenseAnswer(published), WriteJson(PublishedLicenseJson(published)));

    licensing::UseLicense granted;
    granted.policy = TemplatePolicy();
    granted.issued_to = "bob";
    granted.access = AccessStatus::kGranted;
    granted.rights = {"VIEW"};
    granted.valid_until = *ParseTime("2030-02-03T04:05:06Z");
    granted.content_key = "0123456789abcdef";
    granted.content_key_mode = mode;
    EXPECT_EQ(WriteJson(UseLicenseJson(granted)),
              R"({"AccessStatus":"AccessGranted","ContentId":"{c0ffee}",)"
              R"("Description":"Staff may view","FromTemplate":true,"Id":"{7e3a1a7e}",)"
              R"("IssuedTo":"bob",)" +
                  key +
                  R"(,"LicenseValidUntil":"2030-02-03T04:05:06Z","Name":"Confidential",)"
                  R"("Owner":"alice","Rights":["VIEW"],"allowOfflineAccess":false})");
  }
}

// PreferDeprecatedAlgorithms: true asks for an ECB key; false or absent not.
TEST(MyV2Codec, ReadsPreferDeprecatedAlgorithms) {
  auto yes = ReadPublishRequest(
      Parse(R"({"TemplateId": "{7e3a1a7e}", "PreferDeprecatedAlgorithms": true})"));
  ASSERT_TRUE(yes.ok()) << yes.status().ToString();
  EXPECT_TRUE(yes->prefer_deprecated_algorithms);
  auto no = ReadPublishRequest(
      Parse(R"({"TemplateId": "{7e3a1a7e}", "PreferDeprecatedAlgorithms": false})"));
  ASSERT_TRUE(no.ok()) << no.status().ToString();
  EXPECT_FALSE(no->prefer_deprecated_algorithms);
  auto absent = ReadPublishRequest(Parse(R"({"TemplateId": "{7e3a1a7e}"})"));
  ASSERT_TRUE(absent.ok()) << absent.status().ToString();
  EXPECT_FALSE(absent->prefer_deprecated_algorithms);
}

TEST(MyV2Codec, ReadsTheSdksPublishRequest) {
  auto r = ReadPublishRequest(Parse(R"({
      "PreferDeprecatedAlgorithms": false, "AllowAuditedExtraction": false,
      "Policy": {"Descriptors": [{"Name": "Protected", "Description": "By the SDK",
                                  "Language": "en-us"}],
                 "UserRights": [{"Users": ["bob"], "Rights": ["view", "EXTRACT"]}],
                 "allowOfflineAccess": true, "IntervalTimeInDays": 30,
                 "LicenseValidUntil": "2099-01-01T00:00:00"}})"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->template_id);
  ASSERT_TRUE(r->custom);
  EXPECT_EQ(r->custom->name, "Protected");
  EXPECT_EQ(r->custom->description, "By the SDK");
  ASSERT_EQ(r->custom->user_rights.size(), 1u);
  EXPECT_EQ(r->custom->user_rights[0].rights, (std::vector<std::string>{"VIEW", "EXTRACT"}));
  EXPECT_TRUE(r->custom->allow_offline);
  EXPECT_EQ(r->custom->interval_days, 30);
  EXPECT_EQ(r->custom->valid_until, ParseTime("2099-01-01T00:00:00Z"));

  auto t = ReadPublishRequest(Parse(R"({"TemplateId": "{7e3a1a7e}"})"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->template_id, "{7e3a1a7e}");
  EXPECT_FALSE(t->custom);
  // Offline interval 0 means no offline access, whatever else was sent.
  auto online =
      CustomPolicyFromRequest(Parse(R"({"UserRights": [{"Users": ["bob"], "Rights": ["VIEW"]}],
                "allowOfflineAccess": true, "IntervalTimeInDays": 0})"));
  ASSERT_TRUE(online.ok());
  EXPECT_FALSE(online->allow_offline);
  // Neither: the service refuses it.
  auto neither = ReadPublishRequest(Parse(R"({"Policy": 42})"));
  ASSERT_TRUE(neither.ok());
  EXPECT_FALSE(neither->template_id || neither->custom);
}

// Every field of the wrong type is a 400 that names it, never a throw.
TEST(MyV2Codec, WrongTypedPublishFieldsAreA400NamingTheField) {
  const std::string rights = R"("UserRights": [{"Users": ["bob"], "Rights": ["VIEW"]}])";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"([1, 2])", "the request body must be a JSON object"},
      {R"({"TemplateId": 5})", "TemplateId must be a string"},
      {R"({"TemplateId": ["x"]})", "TemplateId must be a string"},
      {R"({"Policy": {"UserRights": "bob"}})",
       "Policy.UserRights must be a non-empty array of {Users, Rights}"},
      {R"({"Policy": {"UserRights": []}})",
       "Policy.UserRights must be a non-empty array of {Users, Rights}"},
      {R"({"Policy": {"UserRights": [5]}})", "UserRights[0] needs Users and Rights arrays"},
      {R"({"Policy": {"UserRights": [{"Users": ["bob"], "Rights": "VIEW"}]}})",
       "UserRights[0] needs Users and Rights arrays"},
      {R"({"Policy": {"UserRights": [{"Users": ["bob"], "Rights": ["VIEW"]},
                                     {"Users": [7], "Rights": ["VIEW"]}]}})",
       "UserRights[1].Users holds an empty or invalid name"},
      {R"({"Policy": {"UserRights": [{"Users": [""], "Rights": ["VIEW"]}]}})",
       "UserRights[0].Users holds an empty or invalid name"},
      {R"({"Policy": {"UserRights": [{"Users": ["u"], "Rights": [[1, 2]]}]}})",
       "UserRights[0].Rights must hold strings"},
      {R"({"Policy": {"UserRights": [{"Users": ["u"], "Rights": ["FLY"]}]}})",
       "unknown right FLY (use OWNER, VIEW, EDIT, PRINT, EXTRACT, EXPORT, ...)"},
      {R"({"Policy": {)" + rights + R"(, "allowOfflineAccess": "yes"}})",
       "allowOfflineAccess must be true or false"},
      {R"({"Policy": {)" + rights + R"(, "IntervalTimeInDays": "30"}})",
       "IntervalTimeInDays must be a whole number from 0 to 36500"},
      {R"({"Policy": {)" + rights + R"(, "IntervalTimeInDays": 30.5}})",
       "IntervalTimeInDays must be a whole number from 0 to 36500"},
      {R"({"Policy": {)" + rights + R"(, "IntervalTimeInDays": 9223372036854775808}})",
       "IntervalTimeInDays must be a whole number from 0 to 36500"},
      {R"({"Policy": {)" + rights + R"(, "Descriptors": {"Name": "x"}}})",
       "Policy.Descriptors must be an array"},
      {R"({"Policy": {)" + rights + R"(, "Descriptors": [42]}})",
       "Policy.Descriptors[0] must be an object"},
      {R"({"Policy": {)" + rights + R"(, "Descriptors": [{"Name": 1}]}})",
       "Policy.Descriptors[0].Name must be a string"},
      {R"({"Policy": {)" + rights + R"(, "Descriptors": [{"Description": false}]}})",
       "Policy.Descriptors[0].Description must be a string"},
      {R"({"Policy": {)" + rights + R"(, "LicenseValidUntil": 20990101}})",
       "LicenseValidUntil must be a date"},
      {R"({"Policy": {)" + rights + R"(, "LicenseValidUntil": "tomorrow"}})",
       "LicenseValidUntil must be a UTC time like 2027-01-31T00:00:00Z"},
      {R"({"TemplateId": "x", "PreferDeprecatedAlgorithms": "true"})",
       "PreferDeprecatedAlgorithms must be true or false"},
      {R"({"TemplateId": "x", "PreferDeprecatedAlgorithms": 1})",
       "PreferDeprecatedAlgorithms must be true or false"},
  };
  for (const auto& [body, message] : cases) {
    SCOPED_TRACE(body);
    auto r = ReadPublishRequest(Parse(body));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message(), message);
    const auto e = licensing::LicensingService::ToProtocolError(r.status());
    EXPECT_EQ(e.http_status, 400);
    EXPECT_EQ(e.code, "InvalidRequest");
  }
}

TEST(MyV2Codec, WrongTypedEndUserLicenseFieldsAreA400NamingTheField) {
  for (const char* body : {R"({})", R"({"SerializedPublishingLicense": 5})",
                           R"({"SerializedPublishingLicense": null})",
                           R"({"SerializedPublishingLicense": ["AAAA"]})", R"(["AAAA"])"}) {
    SCOPED_TRACE(body);
    auto r = ReadEndUserLicenseRequest(Parse(body));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "the request needs SerializedPublishingLicense (base64)");
    EXPECT_EQ(licensing::LicensingService::ToProtocolError(r.status()).http_status, 400);
  }
  auto junk = ReadEndUserLicenseRequest(Parse(R"({"SerializedPublishingLicense": "**"})"));
  EXPECT_EQ(junk.status().code(), Code::kMalformed);
  EXPECT_EQ(junk.status().message(), "SerializedPublishingLicense is not base64");
  EXPECT_EQ(licensing::LicensingService::ToProtocolError(junk.status()).code,
            "InvalidPublishingLicense");
  auto ok = ReadEndUserLicenseRequest(Parse(R"({"SerializedPublishingLicense": "UEw="})"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->publishing_license, "PL");
}

// The short way reads the SDK's body and nothing else; whatever it reads,
// it reads as the JSON way does.
TEST(MyV2Codec, TheSdksEndUserLicenseBodyReadsTheSameTheShortWay) {
  const std::string license(4096 * 3, 'x');  // exact base64 blocks: no padding
  const std::string base64 = crypto::Base64Encode(license);
  for (const std::string& body :
       {"{\"SerializedPublishingLicense\":\"" + base64 + "\"}",
        " \r\n{ \"SerializedPublishingLicense\" :\t\"" + base64 + "\" }\n",
        std::string(R"({"SerializedPublishingLicense":"UEw="})"),
        std::string(R"({"SerializedPublishingLicense":""})"),
        std::string(R"({"SerializedPublishingLicense":"**"})"),
        std::string(R"({"SerializedPublishingLicense":"UEw"})")}) {
    SCOPED_TRACE(body.substr(0, 80));
    const auto sole = ReadSoleEndUserLicenseRequest(body);
    ASSERT_TRUE(sole.has_value());
    const auto whole = ReadEndUserLicenseRequest(Parse(body));
    ASSERT_EQ(sole->ok(), whole.ok());
    if (whole.ok()) {
      EXPECT_EQ((*sole)->publishing_license, whole->publishing_license);
    } else {
      EXPECT_EQ(sole->status().code(), Code::kMalformed);
      EXPECT_EQ(sole->status().message(), whole.status().message());
    }
  }
  const auto ok =
      ReadSoleEndUserLicenseRequest("{\"SerializedPublishingLicense\":\"" + base64 + "\"}");
  ASSERT_TRUE(ok && ok->ok());
  EXPECT_EQ((*ok)->publishing_license, license);
  // Anything else takes the JSON way: escapes, other members, another name,
  // several objects, a byte-order mark, bytes outside printable ASCII, a
  // cut body, the empty body, one byte.
  for (const std::string& body :
       {std::string(R"({"SerializedPublishingLicense":"UE\/w"})"),
        std::string(R"({"SerializedPublishingLicense":"UEw=","x":1})"),
        std::string(R"({"x":1,"SerializedPublishingLicense":"UEw="})"),
        std::string(R"({"serializedPublishingLicense":"UEw="})"),
        std::string(R"({"SerializedPublishingLicenseX":"UEw="})"),
        std::string(R"({"SerializedPublishingLicense":"UEw="}{})"),
        std::string(R"({"SerializedPublishingLicense":5})"),
        std::string("\xEF\xBB\xBF{\"SerializedPublishingLicense\":\"UEw=\"}"),
        std::string("{\"SerializedPublishingLicense\":\"UE\x01w\"}"),
        std::string("{\"SerializedPublishingLicense\":\"\xC3\xA9\"}"),
        std::string(R"({"SerializedPublishingLicense":"UEw=")"),
        std::string(R"({"SerializedPublishingLicense":"UEw=)"), std::string(""),
        std::string("{")}) {
    SCOPED_TRACE(body);
    EXPECT_FALSE(ReadSoleEndUserLicenseRequest(body).has_value());
  }
  // Over ParseJson's limit: the JSON way refuses it, with its message.
  const std::string huge =
      "{\"SerializedPublishingLicense\":\"" + std::string(4 << 20, 'A') + "\"}";
  EXPECT_FALSE(ReadSoleEndUserLicenseRequest(huge).has_value());
}

TEST(MyV2Codec, WrongTypedCertificationFieldsAreA400NamingTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({})", "the body needs PublicKey (base64 DER PKCS#1)"},
      {R"({"PublicKey": 5})", "the body needs PublicKey (base64 DER PKCS#1)"},
      {R"({"PublicKey": ""})", "the body needs PublicKey (base64 DER PKCS#1)"},
      {R"({"PublicKey": "AAAA", "Temporary": "yes"})", "Temporary must be true or false"},
      {R"({"PublicKey": "AAAA", "Temporary": 1})", "Temporary must be true or false"},
      {R"({"PublicKey": "**"})", "PublicKey is not base64"},
  };
  for (const auto& [body, message] : cases) {
    SCOPED_TRACE(body);
    auto r = ReadCertificationRequest(Parse(body));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), message);
  }
  auto ok = ReadCertificationRequest(Parse(R"({"PublicKey": "UEs=", "Temporary": true})"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->public_key_der, "PK");
  EXPECT_TRUE(ok->temporary);
}

// A message that quotes a client's string cut mid-character is still
// written (dump() alone would throw and the server answer 500).
TEST(MyV2Codec, ErrorsQuotingInvalidUtf8AreStillWritten) {
  std::string right = "A";
  for (int i = 0; i < 40; ++i) right += "\xC3\xA9";  // é: byte 64 splits one
  auto r = ReadPublishRequest(
      Parse(R"({"Policy": {"UserRights": [{"Users": ["u"], "Rights": [")" + right + R"("]}]}})"));
  ASSERT_FALSE(r.ok());
  const http::Response response = JsonError(400, "InvalidRequest", r.status().message());
  EXPECT_EQ(response.status, 400);
  const auto body = ParseJson(response.body);
  ASSERT_TRUE(body.ok()) << response.body;
  EXPECT_EQ((*body)["Message"].get<std::string>().rfind("unknown right A\xC3\xA9", 0), 0u);
}

// A refusal of the licensing service keeps its own code and message: a
// licensing-only cluster asked for a RAC says so with a 403, not as an
// internal error.
TEST(MyV2Codec, RefusalsKeepTheirCodeAndMessage) {
  const http::Response denied =
      ProtocolErrorResponse(Status(Code::kPermissionDenied, "cluster LIC is licensing-only"));
  EXPECT_EQ(denied.status, 403);
  auto body = ParseJson(denied.body);
  ASSERT_TRUE(body.ok()) << denied.body;
  EXPECT_EQ((*body)["Code"], "AccessDenied");
  EXPECT_EQ((*body)["Message"], "cluster LIC is licensing-only");
  const http::Response expired = ProtocolErrorResponse(Status(Code::kExpired, "the SLC expired"));
  EXPECT_EQ(expired.status, 503);
  body = ParseJson(expired.body);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ((*body)["Code"], "ServerLicensorCertificateExpired");
}

}  // namespace
}  // namespace openrms::node::api
