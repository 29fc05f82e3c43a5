// Offline publishing (MS-RMPR 2.2.9.6, 2.2.9.7): a publishing license a
// client writes with a client licensor certificate's key. The CLC here is
// written by the test, as a cluster would issue it; the license is read
// back with the cluster's key only.
#include <gtest/gtest.h>

#include "crypto/encoding.h"
#include "licensing/enabling_bits.h"
#include "licensing/license_documents.h"
#include "licensing/licensing.h"
#include "licensing/rights_data.h"
#include "xrml/chain.h"

namespace openrms::licensing {
namespace {

const Time kFrom = *ParseTime("2027-03-01T10:00");
const Time kUntil = *ParseTime("2027-03-31T10:00");

class OfflinePublishingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::move(crypto::GenerateSealedRsaKey(2048, "pw")->key).release();
    holder_ = std::move(crypto::GenerateSealedRsaKey(2048, "pw")->key).release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    delete holder_;
  }

  // A CLC of the cluster for the holder's key, valid [kFrom, kUntil).
  static xrml::Document Clc(const std::string& kind = kTypeClientLicensorCertificate,
                            bool with_url = true) {
    xrml::Element body("BODY");
    body.Attr("type", "LICENSE").Attr("version", "3.0");
    body.Add("ISSUEDTIME").Text(FormatXrmlTime(kFrom));
    xrml::Element& d = body.Add("DESCRIPTOR").Add("OBJECT");
    d.Attr("type", kind);
    d.Add("ID").Attr("type", "MS-GUID").Text("{00000000-0000-4000-8000-0000000000c1}");
    xrml::Party server{{xrml::kObjectServer, "MS-GUID", "{00000000-0000-4000-8000-0000000000a1}",
                        "CONTOSO", "URL", "https://rms.example/_wmcs"},
                       cluster_->public_key(),
                       {}};
    body.Add(xrml::PartyElement("ISSUER", server));
    if (with_url) {
      xrml::Element& dp = body.Add("DISTRIBUTIONPOINT").Add("OBJECT");
      dp.Attr("type", "License-Acquisition-URL");
      dp.Add("ADDRESS").Attr("type", "URL").Text("https://rms.example/_wmcs/my/v2");
    }
    xrml::Party holder{
        {"Group-Identity", "OpenRMS-User", "alice", "alice", "", ""}, holder_->public_key(), {}};
    xrml::Element& p = body.Add("ISSUEDPRINCIPALS").Add(xrml::PartyElement("PRINCIPAL", holder));
    p.attributes.insert(p.attributes.begin(), {"internal-id", "1"});
    xrml::Element& range = body.Add("WORK")
                               .Add(xrml::Element("RIGHTSGROUP").Attr("name", "Main-Rights"))
                               .Add("RIGHTSLIST")
                               .Add(xrml::Element("RIGHT").Attr("name", "ISSUE"))
                               .Add("CONDITIONLIST")
                               .Add("TIME")
                               .Add("RANGETIME");
    range.Add("FROM").Text(FormatXrmlTime(kFrom));
    range.Add("UNTIL").Text(FormatXrmlTime(kUntil));
    auto doc = xrml::SignDocument(std::move(body), *cluster_);
    EXPECT_TRUE(doc.ok()) << doc.status().ToString();
    return std::move(doc).value();
  }

  static Policy BobMayView() {
    Policy p;
    p.user_rights = {{{"bob"}, {"VIEW"}}};
    p.name = "Report";
    p.description = "For Bob";
    return p;
  }

  static crypto::PrivateKey* cluster_;
  static crypto::PrivateKey* holder_;
  DeterministicRandom random_{11};
};
crypto::PrivateKey* OfflinePublishingTest::cluster_ = nullptr;
crypto::PrivateKey* OfflinePublishingTest::holder_ = nullptr;

TEST_F(OfflinePublishingTest, SignedByTheHolderSealedToTheCluster) {
  const xrml::Document clc = Clc();
  const Time now = kFrom + Days(3);
  auto published = PublishOffline(clc, *holder_, BobMayView(), now, random_);
  ASSERT_TRUE(published.ok()) << published.status().ToString();
  EXPECT_EQ(published->policy.owner, "alice");
  EXPECT_EQ(published->content_key.size(), 32u);
  EXPECT_EQ(published->publishing_license.substr(0, 3), "\xEF\xBB\xBF");

  auto parts = SplitLicenseDocuments(published->publishing_license);
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 2u);
  auto pl = xrml::ParseDocument((*parts)[0]);
  ASSERT_TRUE(pl.ok()) << pl.status().ToString();
  auto carried = xrml::ParseDocument((*parts)[1]);
  ASSERT_TRUE(carried.ok());
  EXPECT_EQ(xrml::SerializeSurface(carried->body()), xrml::SerializeSurface(clc.body()));
  // The holder signs: the PL verifies under the CLC's principal key, and
  // the chain PL -> CLC holds at the time of issue.
  EXPECT_EQ(pl->body_type, "Microsoft Rights Label");
  EXPECT_EQ(pl->issuer.object.type, "Group-Identity");
  EXPECT_EQ(pl->issuer.object.name, "alice");
  EXPECT_TRUE(xrml::VerifySignature(*pl, holder_->public_key()).ok());
  EXPECT_EQ(xrml::VerifySignature(*pl, cluster_->public_key()).code(), Code::kBadSignature);
  xrml::ChainPolicy at;
  at.at = now;
  EXPECT_TRUE(xrml::VerifyChain({*pl, *carried}, at).ok());
  EXPECT_EQ(*pl->issued_time, RoundToMinute(now));
  // The cluster opens it: its principal is the CLC's issuer, the enabling
  // bits open with the cluster's key to the content key, and the rights
  // data with that key.
  const xrml::Element* principal = pl->body().Find({"ISSUEDPRINCIPALS", "PRINCIPAL"});
  ASSERT_NE(principal, nullptr);
  EXPECT_EQ(principal->Find({"OBJECT", "NAME"})->text, "CONTOSO");
  const xrml::Element* bits = principal->Child("ENABLINGBITS");
  ASSERT_NE(bits, nullptr);
  EXPECT_EQ(bits->Attribute("type"), "sealed-key-v2");
  auto raw = crypto::Base64Decode(bits->Child("VALUE")->text);
  ASSERT_TRUE(raw);
  auto opened = OpenEnablingBits(*cluster_, SealedKeyVersion::kV2, *raw);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->key.bytes, published->content_key);
  EXPECT_EQ(OpenEnablingBits(*holder_, SealedKeyVersion::kV2, *raw).status().message(),
            "the content key is not sealed to this cluster's key");
  auto rights = OpenRightsData(pl->body().Child("AUTHENTICATEDDATA")->text, opened->key);
  ASSERT_TRUE(rights.ok()) << rights.status().ToString();
  auto policy = PolicyFromRightsData(*rights, "alice");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  ASSERT_EQ(policy->user_rights.size(), 1u);
  EXPECT_EQ(policy->user_rights[0].users, std::vector<std::string>{"bob"});
  EXPECT_EQ(policy->user_rights[0].rights, std::vector<std::string>{"VIEW"});
  EXPECT_EQ(pl->body().Find({"DISTRIBUTIONPOINT", "OBJECT", "ADDRESS"})->text,
            "https://rms.example/_wmcs/my/v2");
}

TEST_F(OfflinePublishingTest, RefusesWhatItCannotSignWith) {
  const xrml::Document clc = Clc();
  // The edges of the CLC's validity: its first minute, and its end (open).
  EXPECT_TRUE(PublishOffline(clc, *holder_, BobMayView(), kFrom, random_).ok());
  EXPECT_TRUE(
      PublishOffline(clc, *holder_, BobMayView(), kUntil - std::chrono::seconds(1), random_).ok());
  const std::string expired =
      "the client licensor certificate is valid from 2027-03-01 10:00 UTC until 2027-03-31 10:00 "
      "UTC; get a new one (openrms certify --clc)";
  EXPECT_EQ(PublishOffline(clc, *holder_, BobMayView(), kUntil, random_).status().message(),
            expired);
  EXPECT_EQ(PublishOffline(clc, *holder_, BobMayView(), kFrom - std::chrono::seconds(1), random_)
                .status()
                .message(),
            expired);
  EXPECT_EQ(PublishOffline(clc, *cluster_, BobMayView(), kFrom, random_).status().message(),
            "the key is not the client licensor certificate's key");
  EXPECT_EQ(PublishOffline(Clc("Group-Identity-Credential"), *holder_, BobMayView(), kFrom, random_)
                .status()
                .message(),
            "that is a Group-Identity-Credential, not a client licensor certificate");
  EXPECT_EQ(PublishOffline(Clc(kTypeClientLicensorCertificate, false), *holder_, BobMayView(),
                           kFrom, random_)
                .status()
                .message(),
            "the client licensor certificate names no License-Acquisition-URL");
  Policy nobody;
  EXPECT_EQ(PublishOffline(clc, *holder_, nobody, kFrom, random_).status().message(),
            "Policy.UserRights must be a non-empty array of {Users, Rights}");
}

}  // namespace
}  // namespace openrms::licensing
