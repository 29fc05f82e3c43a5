#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "base/file_system.h"
#include "crypto/encoding.h"
#include "enrollment/authority.h"
#include "enrollment/renewal_info.h"
#include "enrollment/service.h"
#include "protocol/enrollment_messages.h"
#include "xrml/chain.h"

namespace openrms::enrollment {
namespace {

constexpr char kPassword[] = "test key password";

class EnrollmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("openrms-enroll-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(InitializeAuthority(RealFileSystem(), dir_, kPassword, {}, clock_, random_).ok());
    auto authority = LoadAuthority(RealFileSystem(), dir_, kPassword);
    ASSERT_TRUE(authority.ok()) << authority.status().ToString();
    auto db = store::OpenSqlite(AuthorityPaths(dir_).database);
    ASSERT_TRUE(db.ok());
    db_ = std::move(db).value();
    ASSERT_TRUE(EnrollmentService::Migrate(*db_).ok());
    service_ = std::make_unique<EnrollmentService>(std::move(authority).value(), *db_, clock_,
                                                   crypto::SystemRandom());
    auto key = crypto::GenerateSealedRsaKey(2048, "cluster");
    ASSERT_TRUE(key.ok());
    cluster_key_ = std::move(key->key);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  protocol::EnrollParameters Params() {
    protocol::EnrollParameters p;
    p.public_key = cluster_key_->public_key();
    p.guid = "{11111111-2222-4333-8444-555555555555}";
    p.sku = "OpenRMS";
    p.version = "0.1.0.0";
    p.name = "CONTOSO-RMS";
    p.url = "https://rms.contoso.test/_wmcs";
    return p;
  }

  std::string Request(protocol::EnrollParameters p) {
    auto text = protocol::WriteEnrollRequest(p, *cluster_key_);
    EXPECT_TRUE(text.ok()) << text.status().ToString();
    return *text;
  }

  std::string Token() { return *service_->NewToken({"cli", "test"}); }

  crypto::PublicKey TrustAnchor() {
    auto text = RealFileSystem().ReadFile(AuthorityPaths(dir_).trust_anchor, 1 << 20);
    auto doc = xrml::ParseDocument(*text);
    return *xrml::TrustAnchorKey(*doc);
  }

  FakeClock clock_{*ParseTime("2026-01-01T00:00")};
  DeterministicRandom random_{42};
  std::string dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<EnrollmentService> service_;
  std::unique_ptr<crypto::PrivateKey> cluster_key_;
};

TEST_F(EnrollmentTest, FirstEnrollmentWithTokenIssuesAChainToTheTrustAnchor) {
  protocol::EnrollParameters p = Params();
  p.token = Token();
  auto issued = service_->Enroll(Request(p), {"cli", "test"});
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  ASSERT_EQ(issued->chain.size(), 4u);
  EXPECT_FALSE(issued->renewal);
  const xrml::Document& slc = issued->chain[0];
  EXPECT_EQ(slc.Kind(), xrml::kTypeServerLicensorCertificate);
  EXPECT_EQ(slc.principal()->object.id, p.guid);
  EXPECT_EQ(slc.principal()->object.name, "CONTOSO-RMS");
  EXPECT_TRUE(*slc.principal()->public_key == cluster_key_->public_key());
  EXPECT_EQ(*slc.validity->until, clock_.Now() + Days(365));
  EXPECT_EQ(issued->chain[1].Kind(), xrml::kTypeEnrollmentServiceCertificate);
  EXPECT_EQ(issued->chain[3].Kind(), xrml::kTypeCaCertificate);
  Status s = xrml::VerifyChain(issued->chain, {TrustAnchor(), clock_.Now()});
  EXPECT_TRUE(s.ok()) << s.ToString();

  // The response parses back to the same chain.
  auto back = protocol::ParseEnrollResponse(protocol::WriteEnrollResponse(issued->chain));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 4u);
  EXPECT_TRUE(xrml::VerifyChain(*back, {TrustAnchor(), clock_.Now()}).ok());
  EXPECT_EQ(service_->ListIssued()->size(), 1u);
}

TEST_F(EnrollmentTest, TokenWorksOnce) {
  protocol::EnrollParameters p = Params();
  p.token = Token();
  ASSERT_TRUE(service_->Enroll(Request(p), {"cli", "test"}).ok());
  protocol::EnrollParameters other = p;
  other.guid = "{99999999-2222-4333-8444-555555555555}";
  auto key = crypto::GenerateSealedRsaKey(2048, "x");
  cluster_key_ = std::move(key->key);
  other.public_key = cluster_key_->public_key();
  auto again = service_->Enroll(Request(other), {"cli", "test"});
  EXPECT_EQ(again.status().code(), Code::kAlreadyUsed);
  EXPECT_NE(again.status().message().find("the enrollment token was already used on 2026-01-01"),
            std::string::npos)
      << again.status().message();
  EXPECT_EQ(service_->ListIssued()->size(), 1u);  // nothing more was issued
}

TEST_F(EnrollmentTest, UnknownTokenAndMissingTokenAreRefused) {
  protocol::EnrollParameters p = Params();
  p.token = "0123456789";
  EXPECT_EQ(service_->Enroll(Request(p), {"cli", "t"}).status().code(), Code::kNotFound);
  p.token.reset();
  auto none = service_->Enroll(Request(p), {"cli", "t"});
  EXPECT_EQ(none.status().code(), Code::kPermissionDenied);
  EXPECT_NE(none.status().message().find("issued no SLC for this key"), std::string::npos);
  EXPECT_TRUE(service_->ListIssued()->empty());
}

TEST_F(EnrollmentTest, RenewalKeepsGuidAndKeyAndNeedsNoToken) {
  protocol::EnrollParameters p = Params();
  p.token = Token();
  p.requested_validity_days = 20;
  auto first = service_->Enroll(Request(p), {"cli", "t"});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first->chain[0].validity->until, clock_.Now() + Days(20));
  clock_.Advance(Days(10));
  p.token.reset();
  p.requested_validity_days.reset();
  auto renewed = service_->Enroll(Request(p), {"online", "127.0.0.1"});
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  EXPECT_TRUE(renewed->renewal);
  EXPECT_EQ(renewed->chain[0].principal()->object.id, p.guid);
  EXPECT_TRUE(*renewed->chain[0].principal()->public_key == cluster_key_->public_key());
  EXPECT_EQ(*renewed->chain[0].validity->until, clock_.Now() + Days(365));
  EXPECT_NE(renewed->chain[0].descriptor.id, first->chain[0].descriptor.id);
}

TEST_F(EnrollmentTest, RenewalAfterExpiryNeedsATokenAgain) {
  protocol::EnrollParameters p = Params();
  p.token = Token();
  p.requested_validity_days = 20;
  ASSERT_TRUE(service_->Enroll(Request(p), {"cli", "t"}).ok());
  clock_.Advance(Days(21));
  p.token.reset();
  auto late = service_->Enroll(Request(p), {"cli", "t"});
  EXPECT_EQ(late.status().code(), Code::kExpired);
  EXPECT_EQ(late.status().message(),
            "the SLC {11111111-2222-4333-8444-555555555555} of CONTOSO-RMS expired on 2026-01-21 "
            "00:00 UTC; renewing it now needs a one-time enrollment token or an operator's "
            "approval");
  p.token = Token();
  EXPECT_TRUE(service_->Enroll(Request(p), {"cli", "t"}).ok());
}

TEST_F(EnrollmentTest, AlteredRequestIsRefused) {
  protocol::EnrollParameters p = Params();
  p.token = Token();
  std::string text = Request(p);
  const size_t pos = text.find("CONTOSO-RMS");
  text.replace(pos, 11, "EVIL-RMS-XX");
  auto r = service_->Enroll(text, {"web", "127.0.0.1"});
  EXPECT_EQ(r.status().code(), Code::kBadSignature);
  EXPECT_NE(r.status().message().find("the file was changed"), std::string::npos);
  // The token was not spent by the refused request.
  EXPECT_TRUE(service_->Enroll(Request(p), {"web", "127.0.0.1"}).ok());
}

TEST_F(EnrollmentTest, MissingSignatureIsRefused) {
  protocol::EnrollParameters p = Params();
  p.token = Token();
  std::string text = Request(p);
  const size_t a = text.find("<RequestSignature");
  const size_t b = text.find("</RequestSignature>") + std::string("</RequestSignature>").size();
  text.erase(a, b - a);
  auto r = service_->Enroll(text, {"web", "127.0.0.1"});
  EXPECT_EQ(r.status().code(), Code::kBadSignature);
  EXPECT_NE(r.status().message().find("the request is not signed"), std::string::npos);
}

TEST_F(EnrollmentTest, SmallKeysAndLongValiditiesAreRefused) {
  // A 1024-bit key (the SLC key of Microsoft's examples) in place of ours.
  auto rac = RealFileSystem().ReadFile(std::string(OPENRMS_TEST_DATA) + "/rac.xml", 1 << 20);
  auto doc = xrml::ParseDocument(*rac);
  protocol::EnrollParameters p = Params();
  p.token = Token();
  std::string text = Request(p);
  const std::string ours = crypto::Base64Encode(cluster_key_->public_key().ToPkcs1Der());
  text.replace(text.find(ours), ours.size(),
               crypto::Base64Encode(doc->issuer.public_key->ToPkcs1Der()));
  auto small = service_->Enroll(text, {"cli", "t"});
  EXPECT_EQ(small.status().code(), Code::kUnsupported);
  EXPECT_NE(small.status().message().find("1024 bits"), std::string::npos);

  p.requested_validity_days = 400;
  auto longer = service_->Enroll(Request(p), {"cli", "t"});
  EXPECT_EQ(longer.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(longer.status().message(),
            "the request asks for 400 days of validity; this service issues 1 to 365 days");
}

TEST_F(EnrollmentTest, MalformedAndOversizedRequests) {
  auto junk = service_->Enroll("<html>hello</html>", {"web", "x"});
  EXPECT_EQ(junk.status().code(), Code::kMalformed);
  EXPECT_EQ(junk.status().message(),
            "not a valid enrollment request: the root element is <html>, not a SOAP Envelope");
  auto broken = service_->Enroll("<soap:Envelope", {"web", "x"});
  EXPECT_EQ(broken.status().code(), Code::kMalformed);
  auto huge = service_->Enroll(std::string(protocol::kMaxRequestBytes + 1, ' '), {"web", "x"});
  EXPECT_EQ(huge.status().code(), Code::kTooLarge);
}

TEST_F(EnrollmentTest, AnotherKeyCannotRenewAnSlcButARekeyWithATokenIsIssued) {
  protocol::EnrollParameters p = Params();
  p.token = Token();
  ASSERT_TRUE(service_->Enroll(Request(p), {"cli", "t"}).ok());
  cluster_key_ = std::move(crypto::GenerateSealedRsaKey(2048, "x")->key);
  p.public_key = cluster_key_->public_key();
  p.token.reset();
  auto r = service_->Enroll(Request(p), {"cli", "t"});
  // A new key for a known GUID is a rekey: authorised as a first enrollment.
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  EXPECT_NE(r.status().message().find("was issued for another key: a new key for it (a rekey) "
                                      "needs a one-time enrollment token"),
            std::string::npos)
      << r.status().message();
  // Nor may it take another server's name.
  p.token = Token();
  const std::string name = p.name;
  p.name = "SOMEONE-ELSE";
  r = service_->Enroll(Request(p), {"cli", "t"});
  EXPECT_EQ(r.status().code(), Code::kMismatch);
  EXPECT_NE(r.status().message().find("must keep the server's name"), std::string::npos);
  // With a token and the same name, it is issued, for the new key.
  p.name = name;
  r = service_->Enroll(Request(p), {"cli", "t"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->renewal);
  EXPECT_TRUE(*r->chain.front().principal()->public_key == cluster_key_->public_key());
}

TEST_F(EnrollmentTest, OperatorApproval) {
  protocol::EnrollParameters p = Params();
  auto outcome = service_->EnrollOrQueue(Request(p), {"web", "127.0.0.1"}, std::nullopt);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  ASSERT_TRUE(outcome->pending.has_value());
  EXPECT_FALSE(outcome->issued.has_value());
  const int64_t* id = &outcome->pending->id;
  EXPECT_EQ(service_->FindPending(outcome->pending->reference)->state, "pending");
  EXPECT_EQ(service_->ChainForPending(*id).status().code(), Code::kNotFound);
  auto issued = service_->Approve(*id, {"cli", "operator"});
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  auto chain = service_->ChainForPending(*id);
  ASSERT_TRUE(chain.ok());
  EXPECT_EQ((*chain)[0].descriptor.id, issued->chain[0].descriptor.id);
  auto after = service_->FindPending(outcome->pending->reference);
  EXPECT_EQ(after->state, "issued");
  EXPECT_EQ(after->certificate_id, issued->chain[0].descriptor.id);
  EXPECT_EQ(service_->Approve(*id, {"cli", "operator"}).status().code(), Code::kFailedPrecondition);
}

TEST_F(EnrollmentTest, InitRefusesAnExistingDirectoryAndWrongPassword) {
  EXPECT_EQ(InitializeAuthority(RealFileSystem(), dir_, kPassword, {}, clock_, random_).code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(LoadAuthority(RealFileSystem(), dir_, "wrong").status().code(),
            Code::kPermissionDenied);
}

TEST(RenewalWindow, DefaultIsFromTwoThirdsToFiveSixthsOfTheLifetime) {
  const Time from = *ParseTime("2026-01-01T00:00");
  EXPECT_EQ(DefaultRenewalWindow(from, from + Days(300)),
            (RenewalWindow{from + Days(200), from + Days(250)}));
  EXPECT_EQ(DefaultRenewalWindow(from, from + Days(20)),
            (RenewalWindow{*ParseTime("2026-01-14T08:00"), *ParseTime("2026-01-17T16:00")}));
  // Whole seconds, rounded down; an empty or negative lifetime gives an
  // empty window at its start.
  EXPECT_EQ(DefaultRenewalWindow(from, from + Duration(10)),
            (RenewalWindow{from + Duration(6), from + Duration(8)}));
  EXPECT_EQ(DefaultRenewalWindow(from, from - Days(1)), (RenewalWindow{from, from}));
}

TEST(RenewalWindow, DocumentRoundTripsAndBadAnswersAreNamed) {
  const RenewalInfo info{{*ParseTime("2026-05-01T00:00"), *ParseTime("2026-06-01T12:30:05Z")},
                         "https://status.example.test/incident-7"};
  const std::string text = WriteRenewalInfo(info);
  EXPECT_EQ(text,
            R"({"explanation_url":"https://status.example.test/incident-7","suggested_window":)"
            R"({"end":"2026-06-01T12:30:05Z","start":"2026-05-01T00:00:00Z"}})");
  auto back = ParseRenewalInfo(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->window, info.window);
  EXPECT_EQ(back->explanation_url, info.explanation_url);
  EXPECT_EQ(WriteRenewalInfo({info.window, ""}).find("explanation_url"), std::string::npos);

  auto refused = [](std::string_view answer) {
    auto r = ParseRenewalInfo(answer);
    EXPECT_EQ(r.status().code(), Code::kMalformed) << answer;
    return r.status().message();
  };
  EXPECT_NE(refused("nope").find("the renewal information is not JSON"), std::string::npos);
  EXPECT_EQ(refused("[]"), "the renewal information has no suggested_window object");
  EXPECT_EQ(refused(R"({"suggested_window": "soon"})"),
            "the renewal information has no suggested_window object");
  EXPECT_EQ(refused(R"({"suggested_window": {"start": "2026-05-01T00:00:00Z"}})"),
            "the renewal information's suggested_window.end \"\" is not an ISO 8601 UTC time");
  EXPECT_EQ(refused(R"({"suggested_window": {"start": "May 1st", "end": "2026-05-02T00:00Z"}})"),
            "the renewal information's suggested_window.start \"May 1st\" is not an ISO 8601 UTC "
            "time");
  EXPECT_EQ(
      refused(
          R"({"suggested_window": {"start": "2026-05-02T00:00Z", "end": "2026-05-02T00:00Z"}})"),
      "the renewal information's suggested window ends (2026-05-02T00:00:00Z) before it "
      "starts (2026-05-02T00:00:00Z)");
  EXPECT_EQ(
      refused(R"({"suggested_window": {"start": "2026-05-01T00:00Z", "end": "2026-05-02T00:00Z"},)"
              R"j( "explanation_url": "javascript:alert(1)"})j"),
      "the renewal information's explanation_url is not an http(s) URL");
  EXPECT_NE(
      refused(R"({"suggested_window": {"start": 1, "end": "2026-05-02T00:00Z"}})").find("start"),
      std::string::npos);
}

TEST(RenewalWindow, RetryAfterInSecondsOnly) {
  EXPECT_EQ(ParseRetryAfter("3600"), Duration(3600));
  EXPECT_EQ(ParseRetryAfter(" 0 "), Duration(0));
  EXPECT_EQ(ParseRetryAfter("999999999"), Duration(86400));  // at most a day
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2026 07:28:00 GMT"), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-5"), std::nullopt);
  EXPECT_EQ(ParseRetryAfter(""), std::nullopt);
}

TEST_F(EnrollmentTest, EachIssuedCertificateHasTheDefaultWindowAndOperatorsMoveIt) {
  protocol::EnrollParameters p = Params();
  p.token = Token();
  p.requested_validity_days = 30;
  auto issued = service_->Enroll(Request(p), {"cli", "t"});
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  const std::string id = issued->chain[0].descriptor.id;
  const Time now = clock_.Now();
  auto rec = service_->FindIssued(id);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->renewal.window, (RenewalWindow{now + Days(20), now + Days(25)}));
  EXPECT_EQ(rec->renewal.explanation_url, "");
  EXPECT_FALSE(rec->window_moved_at);
  EXPECT_EQ(service_->FindIssued("{00000000-0000-4000-8000-000000000000}").status().message(),
            "this service issued no certificate {00000000-0000-4000-8000-000000000000}");

  const Requester op{"cli", "alice"};
  auto move = [&](std::optional<std::string> cert, Time start, Time end, std::string url = "") {
    return service_->MoveRenewalWindow({std::move(cert), {start, end}, std::move(url)}, op);
  };
  auto bad = move(id, now + Days(2), now + Days(2));
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "the renewal window must start before it ends (start 2026-01-03T00:00:00Z, end "
            "2026-01-03T00:00:00Z)");
  auto late = move(id, now + Days(2), now + Days(31));
  EXPECT_EQ(late.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(late.status().message(),
            "the renewal window must end by the certificate's expiry (2026-01-31T00:00:00Z), not "
            "2026-02-01T00:00:00Z");
  EXPECT_EQ(move(id, now, now + Days(1), "ftp://x").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(move("{00000000-0000-4000-8000-000000000000}", now, now + Days(1)).status().code(),
            Code::kNotFound);
  EXPECT_EQ(service_->FindIssued(id)->renewal.window,
            (RenewalWindow{now + Days(20), now + Days(25)}))
      << "a refused move changed the window";

  // Into the past, with an explanation: renew now.
  auto moved = move(id, now - Days(2), now - Days(1), "https://status.example.test/7");
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(*moved, 1);
  rec = service_->FindIssued(id);
  EXPECT_EQ(rec->renewal.window, (RenewalWindow{now - Days(2), now - Days(1)}));
  EXPECT_EQ(rec->renewal.explanation_url, "https://status.example.test/7");
  EXPECT_EQ(rec->window_moved_at, now);
  EXPECT_EQ(rec->window_moved_by, "cli:alice");
  EXPECT_EQ(service_->ListIssued()->front().renewal.window, rec->renewal.window);

  // An expired certificate has nothing left to move.
  clock_.Advance(Days(31));
  auto expired = move(id, clock_.Now(), clock_.Now() + Days(1));
  EXPECT_EQ(expired.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(expired.status().message().find("expired on 2026-01-31 00:00 UTC"), std::string::npos)
      << expired.status().message();
}

TEST_F(EnrollmentTest, MovingAllWindowsOnlyMovesThemEarlier) {
  // Two clusters: one with 30 days (window days 20-25), one with 365.
  protocol::EnrollParameters a = Params();
  a.token = Token();
  a.requested_validity_days = 30;
  auto first = service_->Enroll(Request(a), {"cli", "t"});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  protocol::EnrollParameters b = Params();
  b.guid = "{99999999-2222-4333-8444-555555555555}";
  cluster_key_ = std::move(crypto::GenerateSealedRsaKey(2048, "x")->key);
  b.public_key = cluster_key_->public_key();
  b.token = Token();
  auto second = service_->Enroll(Request(b), {"cli", "t"});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  const Time now = clock_.Now();
  // A window ending on day 100: only the 365-day certificate's moves.
  auto moved =
      service_->MoveRenewalWindow({std::nullopt, {now, now + Days(100)}, ""}, {"cli", "b"});
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(*moved, 1);
  EXPECT_EQ(service_->FindIssued(first->chain[0].descriptor.id)->renewal.window,
            (RenewalWindow{now + Days(20), now + Days(25)}));
  EXPECT_EQ(service_->FindIssued(second->chain[0].descriptor.id)->renewal.window,
            (RenewalWindow{now, now + Days(100)}));
  // Renew now, everyone.
  moved = service_->MoveRenewalWindow({std::nullopt, {now - Days(1), now}, ""}, {"cli", "b"});
  EXPECT_EQ(*moved, 2);
  EXPECT_EQ(
      service_->MoveRenewalWindow({std::nullopt, {now, now}, ""}, {"cli", "b"}).status().code(),
      Code::kInvalidArgument);
}

}  // namespace
}  // namespace openrms::enrollment
