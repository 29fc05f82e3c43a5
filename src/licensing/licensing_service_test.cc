// The licensing service on real provisioned clusters (SQLite, an enrollment
// service answered in-process: a fake transport only, the enrollment
// service itself is the real one): offline publishing under both kinds of
// client licensor certificate, and each refusal with its exact message.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/file_system.h"
#include "base/text.h"
#include "cluster/cluster.h"
#include "crypto/encoding.h"
#include "enrollment/authority.h"
#include "enrollment/service.h"
#include "licensing/licensing.h"
#include "licensing/rights_data.h"
#include "licensing/testing/sdk_offline_publisher.h"
#include "protocol/enrollment_messages.h"
#include "xrml/chain.h"

namespace openrms::licensing {
namespace {

using nlohmann::json;

constexpr char kPassword[] = "test password";

class InProcessIssuer final : public cluster::IssuerTransport {
 public:
  explicit InProcessIssuer(enrollment::EnrollmentService& service) : service_(service) {}
  Result<std::string> PostSoap(const std::string&, const std::string&, const std::string& body,
                               const std::string&) override {
    auto issued = service_.Enroll(body, {"test", "local"});
    if (!issued.ok()) return protocol::WriteSoapFault(issued.status());
    return protocol::WriteEnrollResponse(issued->chain);
  }

 private:
  enrollment::EnrollmentService& service_;
};

const accounts::Identity kAlice{"alice@contoso.com", {}, "local"};
const accounts::Identity kBob{"bob@contoso.com", {}, "local"};
const accounts::Identity kCarol{"carol@contoso.com", {}, "local"};

class LicensingServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(
        (std::filesystem::temp_directory_path() / ("openrms-licensing-" + std::to_string(getpid())))
            .string());
    std::filesystem::remove_all(*dir_);
    clock_ = new FakeClock(RoundToMinute(SystemClock().Now()));
    ASSERT_TRUE(enrollment::InitializeAuthority(RealFileSystem(), *dir_ + "/enrollment", kPassword,
                                                {}, *clock_, crypto::SystemRandom())
                    .ok());
    db_ = std::move(store::OpenSqlite(*dir_ + "/openrms.db")).value().release();
    ASSERT_TRUE(enrollment::EnrollmentService::Migrate(*db_).ok());
    ASSERT_TRUE(cluster::ClusterStore::Migrate(*db_).ok());
    ASSERT_TRUE(LicensingService::Migrate(*db_).ok());
    enroll_ = new enrollment::EnrollmentService(
        std::move(enrollment::LoadAuthority(RealFileSystem(), *dir_ + "/enrollment", kPassword))
            .value(),
        *db_, *clock_, crypto::SystemRandom());
    transport_ = new InProcessIssuer(*enroll_);
    store_ = new cluster::ClusterStore(*db_);
    clusters_ = new cluster::ClusterService(
        *store_, cluster::Environment{*clock_, crypto::SystemRandom(), *transport_});
    for (const char* name : {"CONTOSO", "FABRIKAM"}) {
      cluster::ProvisionRequest r;
      r.name = name;
      r.url = std::string("https://127.0.0.1:1/") + name + "/_wmcs";
      r.trust_anchor_xml =
          *RealFileSystem().ReadFile(*dir_ + "/enrollment/trust-anchor.xml", 1 << 20);
      r.issuer_url = "https://in-process";
      r.token = *enroll_->NewToken({"test", "local"});
      auto provisioned = clusters_->Provision(r, kPassword);
      ASSERT_TRUE(provisioned.ok()) << provisioned.status().ToString();
    }
    service_ = new LicensingService(
        *clusters_, *db_, *clock_, crypto::SystemRandom(), kPassword,
        LicensingOptions{.account_exists = [](const std::string& user) -> Result<bool> {
          return user != removed_;
        }});
  }
  static void TearDownTestSuite() {
    delete service_;
    delete clusters_;
    delete store_;
    delete transport_;
    delete enroll_;
    delete db_;
    delete clock_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  void SetUp() override { removed_.clear(); }

  // A thin CLC of `cluster` for alice, as the SDK receives it.
  static std::string Thin(const std::string& cluster = "CONTOSO") {
    auto issued = service_->IssueThinClc(cluster, kAlice, "https://rms.example/my/v2");
    EXPECT_TRUE(issued.ok()) << issued.status().ToString();
    return issued.ok() ? issued->serialized : "";
  }
  static std::string SdkLicense(const std::string& thin) {
    auto published = testing::SdkPublishOffline(thin, {{{kBob.user}, {"VIEW", "PRINT"}}});
    EXPECT_TRUE(published.ok()) << published.status().ToString();
    return published.ok() ? published->license : "";
  }
  static Result<UseLicense> Open(const accounts::Identity& who, const std::string& license,
                                 const std::string& cluster = "CONTOSO") {
    return service_->EndUserLicense(cluster, who, {license});
  }
  // An XrML CLC of `cluster` for alice's key, and that key.
  struct XrmlClc {
    std::vector<xrml::Document> chain;
    std::unique_ptr<crypto::PrivateKey> key;
  };
  static XrmlClc Clc(const std::string& cluster = "CONTOSO") {
    XrmlClc c;
    c.key = std::move(crypto::GenerateSealedRsaKey(2048, "pw")->key);
    auto chain = service_->IssueClc(cluster, kAlice, c.key->public_key(), "https://rms.example");
    EXPECT_TRUE(chain.ok()) << chain.status().ToString();
    if (chain.ok()) c.chain = std::move(*chain);
    return c;
  }
  static Policy BobMayView() {
    Policy p;
    p.user_rights = {{{kBob.user}, {"VIEW"}}};
    return p;
  }

  static std::string* dir_;
  static FakeClock* clock_;
  static store::Database* db_;
  static enrollment::EnrollmentService* enroll_;
  static InProcessIssuer* transport_;
  static cluster::ClusterStore* store_;
  static cluster::ClusterService* clusters_;
  static LicensingService* service_;
  static std::string removed_;
};
std::string* LicensingServiceTest::dir_ = nullptr;
FakeClock* LicensingServiceTest::clock_ = nullptr;
store::Database* LicensingServiceTest::db_ = nullptr;
enrollment::EnrollmentService* LicensingServiceTest::enroll_ = nullptr;
InProcessIssuer* LicensingServiceTest::transport_ = nullptr;
cluster::ClusterStore* LicensingServiceTest::store_ = nullptr;
cluster::ClusterService* LicensingServiceTest::clusters_ = nullptr;
LicensingService* LicensingServiceTest::service_ = nullptr;
std::string LicensingServiceTest::removed_;

// The SDK's offline publisher: a CLC with a key the server made, a license
// the SDK writes with it, and use licenses by the rights it states.
TEST_F(LicensingServiceTest, TheSdksOfflineLicenseOpensByItsRights) {
  const std::string thin = Thin();
  auto published = testing::SdkPublishOffline(thin, {{{kBob.user}, {"VIEW", "PRINT"}}});
  ASSERT_TRUE(published.ok()) << published.status().ToString();
  auto bob = Open(kBob, published->license);
  ASSERT_TRUE(bob.ok()) << bob.status().ToString();
  EXPECT_EQ(bob->access, AccessStatus::kGranted);
  EXPECT_EQ(bob->rights, (std::vector<std::string>{"PRINT", "VIEW"}));
  EXPECT_EQ(bob->content_key, published->content_key);
  EXPECT_EQ(bob->policy.owner, kAlice.user);
  EXPECT_EQ(bob->policy.content_id, published->license_id);
  auto carol = Open(kCarol, published->license);
  ASSERT_TRUE(carol.ok());
  EXPECT_EQ(carol->access, AccessStatus::kDenied);
  EXPECT_EQ(carol->content_key, "");
  auto alice = Open(kAlice, published->license);
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->rights, std::vector<std::string>{"OWNER"});
  // Issuing is audited.
  auto rows = db_->Query("SELECT user_name, result FROM license_audit WHERE kind = 'clc'");
  ASSERT_TRUE(rows.ok());
  ASSERT_FALSE(rows->empty());
  EXPECT_EQ((*rows)[0].Text(0), kAlice.user);
  EXPECT_EQ((*rows)[0].Text(1), "issued");
  // Its owner revokes it by its license; then no one opens it.
  auto revoked = service_->RevokeAs("CONTOSO", kAlice, "", published->license);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(*revoked, published->license_id);
  clock_->Advance(std::chrono::seconds(3));  // past the 2 s cluster refresh
  bob = Open(kBob, published->license);
  ASSERT_TRUE(bob.ok());
  EXPECT_EQ(bob->access, AccessStatus::kDenied);
  EXPECT_EQ(bob->reason.substr(0, 30), "revoked by alice@contoso.com a");
  // The CLC lasts the cluster's clc_days (30 by default).
  const json payload = json::parse(json::parse(thin)["pld"].get<std::string>());
  EXPECT_EQ(*ParseTime(payload["pri"]["exp"].get<std::string>()) -
                *ParseTime(payload["pri"]["issd"].get<std::string>()),
            Days(30));
}

TEST_F(LicensingServiceTest, AChangedSdkLicenseIsRefused) {
  std::string license = SdkLicense(Thin());
  // A byte of the sealed policy (base64 in the signed payload).
  const size_t enp = license.find("enp\\\":\\\"");
  ASSERT_NE(enp, std::string::npos);
  license[enp + 10] = license[enp + 10] == 'A' ? 'B' : 'A';
  auto changed = Open(kBob, license);
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.status().code(), Code::kBadSignature);
  EXPECT_EQ(changed.status().message(),
            "the publishing license was changed: its signature does not hold for the key of its "
            "client licensor certificate");
  EXPECT_EQ(LicensingService::ToProtocolError(changed.status()).http_status / 100, 4);
}

TEST_F(LicensingServiceTest, AnSdkLicenseUnderAnotherClustersClcIsRefused) {
  auto other = Open(kBob, SdkLicense(Thin("FABRIKAM")));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), Code::kMismatch);
  EXPECT_EQ(other.status().message(),
            "this content was published through another cluster (FABRIKAM); ask that cluster "
            "for a license");
}

TEST_F(LicensingServiceTest, AnSdkLicenseOfARemovedHolderIsRefused) {
  const std::string license = SdkLicense(Thin());
  ASSERT_TRUE(Open(kBob, license).ok());
  removed_ = kAlice.user;
  auto gone = Open(kBob, license);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(gone.status().message(),
            "the content was published offline by alice@contoso.com, whose account has been "
            "removed; ask an administrator");
}

// A certificate whose public part was changed (here: its holder) no longer
// carries the cluster's signature.
TEST_F(LicensingServiceTest, AChangedThinClcIsRefused) {
  std::string thin = Thin();
  const std::string from = R"(\"fname\":\"alice@contoso.com\")";
  const size_t at = thin.find(from);
  ASSERT_NE(at, std::string::npos);
  thin.replace(at, from.size(), R"(\"fname\":\"mallory@contoso.com\")");
  auto published = testing::SdkPublishOffline(thin, {{{kBob.user}, {"VIEW"}}});
  ASSERT_TRUE(published.ok());
  auto changed = Open(kBob, published->license);
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.status().code(), Code::kBadSignature);
  EXPECT_EQ(changed.status().message(),
            "the client licensor certificate was changed: its signature does not hold");
}

// XrML, both signers: the cluster's own license and a CLC-signed one.
TEST_F(LicensingServiceTest, SpecFormatLicensesOfBothSignersOpen) {
  auto online = service_->Publish("CONTOSO", kAlice, {std::nullopt, BobMayView()}, "https://x");
  ASSERT_TRUE(online.ok()) << online.status().ToString();
  auto bob = Open(kBob, online->publishing_license);
  ASSERT_TRUE(bob.ok()) << bob.status().ToString();
  EXPECT_EQ(bob->access, AccessStatus::kGranted);
  EXPECT_EQ(bob->content_key, online->content_key);

  XrmlClc clc = Clc();
  auto offline =
      PublishOffline(clc.chain[0], *clc.key, BobMayView(), clock_->Now(), crypto::SystemRandom());
  ASSERT_TRUE(offline.ok()) << offline.status().ToString();
  bob = Open(kBob, offline->publishing_license);
  ASSERT_TRUE(bob.ok()) << bob.status().ToString();
  EXPECT_EQ(bob->access, AccessStatus::kGranted);
  EXPECT_EQ(bob->content_key, offline->content_key);
  EXPECT_EQ(bob->policy.owner, kAlice.user);
  auto carol = Open(kCarol, offline->publishing_license);
  ASSERT_TRUE(carol.ok());
  EXPECT_EQ(carol->access, AccessStatus::kDenied);
}

// PreferDeprecatedAlgorithms (Office documents, MS-OFFCRYPTO 2.2.10): an
// AES-128 key for MICROSOFT.ECB, sealed so in the license and given back
// so; without it AES-256 for MICROSOFT.CBC4K. A second service, with no
// cache of opened licenses, reads the mode from the license alone.
TEST_F(LicensingServiceTest, DeprecatedAlgorithmsGiveAnEcbKeyTheLicenseCarries) {
  LicensingService fresh(*clusters_, *db_, *clock_, crypto::SystemRandom(), kPassword,
                         LicensingOptions{});
  for (const bool deprecated : {true, false}) {
    SCOPED_TRACE(deprecated ? "deprecated" : "default");
    const size_t size = deprecated ? 16 : 32;
    const KeyCipherMode mode = deprecated ? KeyCipherMode::kEcb : KeyCipherMode::kCbc4k;
    PublishRequest request{std::nullopt, BobMayView()};
    request.prefer_deprecated_algorithms = deprecated;
    auto online = service_->Publish("CONTOSO", kAlice, request, "https://x");
    ASSERT_TRUE(online.ok()) << online.status().ToString();
    EXPECT_EQ(online->content_key.size(), size);
    EXPECT_EQ(online->content_key_mode, mode);

    XrmlClc clc = Clc();
    auto offline = PublishOffline(clc.chain[0], *clc.key, BobMayView(), clock_->Now(),
                                  crypto::SystemRandom(), deprecated);
    ASSERT_TRUE(offline.ok()) << offline.status().ToString();
    EXPECT_EQ(offline->content_key.size(), size);
    EXPECT_EQ(offline->content_key_mode, mode);

    for (const PublishedLicense* published : {&*online, &*offline}) {
      for (LicensingService* service : {service_, &fresh}) {
        auto bob = service->EndUserLicense("CONTOSO", kBob, {published->publishing_license});
        ASSERT_TRUE(bob.ok()) << bob.status().ToString();
        EXPECT_EQ(bob->access, AccessStatus::kGranted);
        EXPECT_EQ(HexEncode(bob->content_key), HexEncode(published->content_key));
        EXPECT_EQ(bob->content_key_mode, mode);
      }
    }
  }
}

TEST_F(LicensingServiceTest, AnXrmlLicenseUnderAnotherClustersClcIsRefused) {
  XrmlClc clc = Clc("FABRIKAM");
  auto offline =
      PublishOffline(clc.chain[0], *clc.key, BobMayView(), clock_->Now(), crypto::SystemRandom());
  ASSERT_TRUE(offline.ok());
  auto other = Open(kBob, offline->publishing_license);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), Code::kMismatch);
  EXPECT_EQ(other.status().message(),
            "this content was published through another cluster (FABRIKAM); ask that cluster "
            "for a license");
}

// Signed after its CLC ended: the license's own time says so.
TEST_F(LicensingServiceTest, AnXrmlLicenseSignedByAnExpiredClcIsRefused) {
  XrmlClc clc = Clc();
  const xrml::Right* issue = clc.chain[0].FindRight(xrml::kRightIssue);
  ASSERT_TRUE(issue != nullptr && issue->range && issue->range->until);
  const Time late = *issue->range->until + Days(1);
  const xrml::Party* holder = clc.chain[0].principal();
  Policy policy = BobMayView();
  policy.owner = kAlice.user;
  policy.content_id = "{00000000-0000-4000-8000-00000000e001}";
  LicenseParties parties{*holder, clc.chain[0].issuer, "https://rms.example"};
  SymmetricKey content_key;
  content_key.bytes = std::string(32, 'k');
  auto pl =
      WritePublishingLicense(policy, late, parties, *clc.key, content_key, crypto::SystemRandom());
  ASSERT_TRUE(pl.ok()) << pl.status().ToString();
  auto expired = Open(kBob, *pl + xrml::WriteDocument(clc.chain[0]));
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().code(), Code::kUntrusted);
  EXPECT_EQ(expired.status().message(),
            "the publishing license was signed on " + FormatHuman(RoundToMinute(late)) +
                " by the client licensor certificate of alice@contoso.com, which was valid only "
                "from " +
                FormatHuman(*issue->range->from) + " until " + FormatHuman(*issue->range->until));
}

TEST_F(LicensingServiceTest, AnXrmlLicenseOfARemovedHolderIsRefused) {
  XrmlClc clc = Clc();
  auto offline =
      PublishOffline(clc.chain[0], *clc.key, BobMayView(), clock_->Now(), crypto::SystemRandom());
  ASSERT_TRUE(offline.ok());
  removed_ = kAlice.user;
  auto gone = Open(kBob, offline->publishing_license);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(gone.status().message(),
            "the content was published offline by alice@contoso.com, whose account has been "
            "removed; ask an administrator");
}

// Enabling bits sealed to a key other than the cluster's: the license's
// signature holds (the CLC signed it), the content key does not open.
TEST_F(LicensingServiceTest, EnablingBitsSealedToAnotherKeyAreRefused) {
  XrmlClc clc = Clc();
  const xrml::Party* holder = clc.chain[0].principal();
  auto stranger = crypto::GenerateSealedRsaKey(2048, "pw");
  ASSERT_TRUE(stranger.ok());
  xrml::Party server = clc.chain[0].issuer;
  server.public_key = stranger->key->public_key();
  Policy policy = BobMayView();
  policy.owner = kAlice.user;
  policy.content_id = "{00000000-0000-4000-8000-00000000e002}";
  SymmetricKey content_key;
  content_key.bytes = std::string(32, 'k');
  auto pl = WritePublishingLicense(policy, clock_->Now(), {*holder, server, "https://x"}, *clc.key,
                                   content_key, crypto::SystemRandom());
  ASSERT_TRUE(pl.ok());
  auto refused = Open(kBob, *pl + xrml::WriteDocument(clc.chain[0]));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(LicensingService::ToProtocolError(refused.status()).http_status / 100, 4);
  EXPECT_EQ(refused.status().message(), "the content key is not sealed to this cluster's key");
}

// A changed rights-data block: the signature over the BODY no longer holds.
TEST_F(LicensingServiceTest, ATamperedRightsDataBlockIsRefused) {
  XrmlClc clc = Clc();
  for (const bool online : {true, false}) {
    Result<PublishedLicense> published =
        online ? service_->Publish("CONTOSO", kAlice, {std::nullopt, BobMayView()}, "https://x")
               : PublishOffline(clc.chain[0], *clc.key, BobMayView(), clock_->Now(),
                                crypto::SystemRandom());
    ASSERT_TRUE(published.ok());
    std::string pl = published->publishing_license;
    const size_t data = pl.find("<AUTHENTICATEDDATA");
    ASSERT_NE(data, std::string::npos);
    const size_t text = pl.find('>', data) + 1;
    pl[text + 4] = pl[text + 4] == 'A' ? 'B' : 'A';
    auto refused = Open(kBob, pl);
    ASSERT_FALSE(refused.ok()) << online;
    EXPECT_EQ(refused.status().code(), Code::kBadSignature);
    EXPECT_EQ(refused.status().message(),
              "the publishing license was changed: the BODY does not match its digest: the "
              "document was changed after signing")
        << online;
  }
}

}  // namespace
}  // namespace openrms::licensing
