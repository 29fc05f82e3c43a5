// Licensing through the REST protocol (/my/v2) with real nodes: files
// protected and opened with `openrms protect|open` as different users.
#include "licensing/licensing.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdio>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <tuple>

#include "base/clock.h"
#include "base/file_system.h"
#include "base/text.h"
#include "crypto/content_cipher.h"
#include "crypto/encoding.h"
#include "crypto/keys.h"
#include "formats/pfile.h"
#include "http/client.h"
#include "http/server.h"
#include "licensing/license_documents.h"
#include "licensing/testing/sdk_offline_publisher.h"
#include "store/database.h"
#include "support/glewlwyd.h"
#include "support/process.h"
#include "support/slapd.h"
#include "support/stalled_server.h"
#include "support/udp_collector.h"
#include "support/web_logon.h"
#include "xrml/chain.h"
#include "xrml/document.h"

namespace openrms::testing {
namespace {

const std::string kBin = OPENRMS_BINARY;

class LicensingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    const std::string d = tmp_->path();
    pw_ = d + "/key-password";
    std::ofstream(pw_) << "licensing test key password\n";
    const std::string enr = d + "/enrollment";
    srv_ = d + "/server";
    ASSERT_EQ(
        RunCommand({kBin, "enrollment", "init", "--dir", enr, "--password-file", pw_}).exit_code,
        0);
    enrollment_ = new BackgroundProcess({kBin, "enrollment", "serve", "--dir", enr, "--listen",
                                         "127.0.0.1:0", "--password-file", pw_});
    const std::string enroll_url = enrollment_->WaitForLine("enrollment-site: ");
    const std::string token = LastWord(
        RunCommand({kBin, "enrollment", "token", "--dir", enr, "--password-file", pw_}).out);
    const int port = FreeLoopbackPort();
    origin_ = "https://127.0.0.1:" + std::to_string(port);
    root_ = origin_ + "/root/_wmcs";
    lic_ = origin_ + "/lic/_wmcs";
    CommandResult p =
        RunCommand({kBin, "cluster", "provision", "--dir", srv_, "--name", "ROOT", "--url", root_,
                    "--trust", enr + "/trust-anchor.xml", "--tls-ca", enr + "/tls-ca.pem",
                    "--enroll", enroll_url, "--token", token, "--password-file", pw_});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    port_ = port;
    StartNode();
    const std::string sub = LastWord(RunCommand({kBin, "cluster", "subenroll-token", "--dir", srv_,
                                                 "--cluster", "ROOT", "--password-file", pw_})
                                         .out);
    p = RunCommand({kBin,
                    "cluster",
                    "provision",
                    "--dir",
                    srv_,
                    "--name",
                    "LIC",
                    "--url",
                    lic_,
                    "--trust",
                    enr + "/trust-anchor.xml",
                    "--tls-ca",
                    srv_ + "/tls-ca.pem",
                    "--licensing-only",
                    "--root",
                    root_,
                    "--token",
                    sub,
                    "--password-file",
                    pw_});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    for (const char* user : {"alice", "bob", "carol", "dave"}) {
      std::vector<std::string> args = {kBin, "user", "add", user, "--dir", srv_};
      if (std::string(user) == "dave") {
        args.push_back("--group");
        args.push_back("SuperUsers");
      }
      ASSERT_EQ(
          RunCommand(args, {"OPENRMS_USER_PASSWORD=" + std::string(user) + "-password"}).exit_code,
          0);
    }
    plain_ = d + "/report.txt";
    std::ofstream(plain_) << std::string(10000, 'x') << "the quarterly numbers\n";
  }

  // `config`: a configuration file for the node beside the flags.
  static void StartNode(const std::string& config = "") {
    std::vector<std::string> argv = {kBin,
                                     "serve",
                                     "--dir",
                                     srv_,
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(port_),
                                     "--password-file",
                                     pw_,
                                     "--monitor-interval",
                                     "0",
                                     "--threads",
                                     "2"};
    if (!config.empty()) {
      argv.push_back("--config");
      argv.push_back(config);
    }
    node_ = new BackgroundProcess(argv);
    ASSERT_FALSE(node_->WaitForLine("server: ").empty()) << node_->output();
  }

  static void TearDownTestSuite() {
    delete node_;
    delete enrollment_;
    delete tmp_;
  }

  static CommandResult As(const std::string& user, std::vector<std::string> args,
                          std::vector<std::string> env = {}) {
    args.insert(args.begin(), kBin);
    args.push_back("--user");
    args.push_back(user);
    args.push_back("--tls-ca");
    args.push_back(srv_ + "/tls-ca.pem");
    env.push_back("OPENRMS_PASSWORD=" + user + "-password");
    return RunCommand(args, env);
  }

  static std::string Out(const std::string& name) { return tmp_->path() + "/" + name; }

  // A bearer token for `user` from the root cluster's node.
  static std::string Token(const std::string& user) {
    http::ClientRequest req;
    req.method = "POST";
    req.url = origin_ + "/oauth2/token";
    req.ca_pem = ReadAll(srv_ + "/tls-ca.pem");
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    req.body = "grant_type=password&username=" + user + "&password=" + user + "-password";
    auto r = http::Fetch(req);
    return nlohmann::json::parse(r->body)["access_token"].get<std::string>();
  }

  // enduserlicenses for the publishing license of the PFILE at `path`.
  static Result<http::ClientResponse> EndUserLicense(const std::string& path,
                                                     const std::string& user) {
    auto file = formats::ReadPfile(ReadAll(path));
    if (!file.ok()) return file.status();
    return Call("enduserlicenses", Token(user),
                {{"SerializedPublishingLicense", crypto::Base64Encode(file->publishing_license)}});
  }

  // alice protects the report for `rights` into `name`; the body of an
  // enduserlicenses request for it.
  static nlohmann::json ProtectedForRights(const std::string& rights, const std::string& name) {
    EXPECT_EQ(As("alice", {"protect", plain_, Out(name), "--server", root_, "--rights", rights})
                  .exit_code,
              0);
    auto file = formats::ReadPfile(ReadAll(Out(name)));
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    return {{"SerializedPublishingLicense",
             file.ok() ? crypto::Base64Encode(file->publishing_license) : ""}};
  }

  // Whether an enduserlicenses answer granted access (with a key).
  static bool Granted(const Result<http::ClientResponse>& r) {
    if (!r.ok() || r->status != 200) return false;
    const auto j = nlohmann::json::parse(r->body, nullptr, false);
    return j.is_object() && j.value("AccessStatus", "") == "AccessGranted" && j.contains("Key");
  }
  // Whether it refused access, as the protocol's 200 with AccessDenied, no key.
  static bool Denied(const Result<http::ClientResponse>& r) {
    if (!r.ok() || r->status != 200) return false;
    const auto j = nlohmann::json::parse(r->body, nullptr, false);
    return j.is_object() && j.value("AccessStatus", "") == "AccessDenied" && !j.contains("Key");
  }

  // POST <root>/my/v2/<op>, shaped as the RMS SDK sends it.
  static Result<http::ClientResponse> Call(const std::string& op, const std::string& token,
                                           const nlohmann::json& body,
                                           const std::string& base = "") {
    http::ClientRequest req;
    req.method = "POST";
    req.url = (base.empty() ? root_ : base) + "/my/v2/" + op;
    req.ca_pem = ReadAll(srv_ + "/tls-ca.pem");
    req.headers = {{"content-type", "application/json"},
                   {"x-ms-rms-request-id", "1"},
                   {"x-ms-rms-platform-id", "test"},
                   {"Accept-Language", "en-US"},
                   {"Authorization", "Bearer " + token}};
    req.body = body.dump();
    return http::Fetch(req);
  }

  static TempDir* tmp_;
  static BackgroundProcess* enrollment_;
  static BackgroundProcess* node_;
  static std::string pw_, srv_, origin_, root_, lic_, plain_;
  static int port_;
};
int LicensingTest::port_ = 0;

TempDir* LicensingTest::tmp_ = nullptr;
BackgroundProcess* LicensingTest::enrollment_ = nullptr;
BackgroundProcess* LicensingTest::node_ = nullptr;
std::string LicensingTest::pw_, LicensingTest::srv_, LicensingTest::origin_, LicensingTest::root_,
    LicensingTest::lic_, LicensingTest::plain_;

TEST_F(LicensingTest, ProtectedByOneUserOpenedByAnotherWhoHoldsTheRight) {
  CommandResult p = As("alice", {"protect", plain_, Out("a.pfile"), "--server", root_, "--rights",
                                 "bob:VIEW,PRINT"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const std::string pfile = ReadAll(Out("a.pfile"));
  EXPECT_EQ(pfile.substr(0, 6), ".pfile");
  EXPECT_EQ(pfile.find("the quarterly numbers"), std::string::npos) << "content is not encrypted";
  auto parsed = formats::ReadPfile(pfile);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->extension, ".txt");
  // The publishing license is XrML, UTF-8 with a byte-order mark, signed by
  // the SLC, with its License-Acquisition-URL.
  EXPECT_EQ(parsed->publishing_license.substr(0, 3), "\xEF\xBB\xBF");
  EXPECT_NE(parsed->publishing_license.find("<BODY type=\"Microsoft Rights Label\""),
            std::string::npos);
  EXPECT_NE(parsed->publishing_license.find("type=\"License-Acquisition-URL\""), std::string::npos);
  EXPECT_NE(parsed->publishing_license.find(root_ + "/my/v2</ADDRESS>"), std::string::npos);

  CommandResult bob = As("bob", {"open", Out("a.pfile"), Out("a-bob.txt"), "--server", root_});
  ASSERT_EQ(bob.exit_code, 0) << bob.err;
  EXPECT_EQ(ReadAll(Out("a-bob.txt")), ReadAll(plain_));
  EXPECT_NE(bob.out.find("(rights: PRINT, VIEW;"), std::string::npos) << bob.out;
  // The owner holds every right.
  CommandResult alice =
      As("alice", {"open", Out("a.pfile"), Out("a-alice.txt"), "--server", root_});
  EXPECT_NE(alice.out.find("(rights: OWNER;"), std::string::npos) << alice.out;
  // So do super users.
  CommandResult dave = As("dave", {"open", Out("a.pfile"), Out("a-dave.txt"), "--server", root_});
  EXPECT_EQ(dave.exit_code, 0) << dave.err;
}

// The publishing license is in the spec's format (MS-RMPR 2.2.9.7): its
// enabling bits are an RSA block and AES blocks, and its rights data opens
// with the content key the answer hands the publisher (MICROSOFT.CBC4K) to
// UTF-16LE XrML naming the rights (2.2.9.8).
TEST_F(LicensingTest, PublishingLicensesAreInTheSpecsFormat) {
  auto r = Call("publishinglicenses", Token("alice"),
                {{"AllowAuditedExtraction", false},
                 {"PreferDeprecatedAlgorithms", false},
                 {"Policy",
                  {{"UserRights", {{{"Users", {"bob"}}, {"Rights", {"VIEW", "PRINT"}}}}},
                   {"IntervalTimeInDays", 3}}}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  const auto answer = nlohmann::json::parse(r->body);
  auto bytes = crypto::Base64Decode(answer["SerializedPublishingLicense"].get<std::string>());
  auto key = crypto::Base64Decode(answer["Key"]["Value"].get<std::string>());
  ASSERT_TRUE(bytes && key);
  auto pl = xrml::ParseDocument(*bytes);
  ASSERT_TRUE(pl.ok()) << pl.status().message();
  const xrml::Element* bits = pl->body().Find({"ISSUEDPRINCIPALS", "PRINCIPAL", "ENABLINGBITS"});
  ASSERT_NE(bits, nullptr);
  EXPECT_EQ(bits->Attribute("type"), "sealed-key-v2");
  auto raw = crypto::Base64Decode(bits->Child("VALUE")->text);
  ASSERT_TRUE(raw);
  // A 2048-bit RSA block, then 16 + 12 + 32 + 32 bytes padded to 96.
  EXPECT_EQ(raw->size(), 256u + 96u);
  EXPECT_EQ(bits->Child("VALUE")->Attribute("size"), std::to_string(raw->size() * 8));
  const xrml::Element* data = pl->body().Child("AUTHENTICATEDDATA");
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->Attribute("id"), "Encrypted-Rights-Data");
  auto sealed = crypto::Base64Decode(data->text);
  ASSERT_TRUE(sealed);
  auto plain = crypto::Cbc4kDecrypt(*key, *sealed);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  ASSERT_GE(plain->size(), 2u);
  EXPECT_EQ(plain->substr(0, 2), "\xFF\xFE");
  auto rights = Utf16LeToUtf8(plain->substr(2));
  ASSERT_TRUE(rights.ok());
  EXPECT_NE(rights->find("<BODY type=\"Microsoft Rights Template\">"), std::string::npos)
      << *rights;
  EXPECT_NE(rights->find("<RIGHT name=\"PRINT\"><CONDITIONLIST><TIME><INTERVALTIME days=\"3\" />"
                         "</TIME><ACCESS><PRINCIPAL><OBJECT><ID type=\"Unspecified\" />"
                         "<NAME>bob</NAME>"),
            std::string::npos)
      << *rights;
  EXPECT_NE(rights->find("<NAME>alice</NAME>"), std::string::npos) << "the owner";
}

// A file name is any bytes; the policy that names it is still sent.
TEST_F(LicensingTest, AFileNameThatIsNotUtf8IsProtected) {
  const std::string odd = Out("caf\xE9.txt");  // Latin-1, not UTF-8
  std::ofstream(odd) << "numbers\n";
  CommandResult p =
      As("alice", {"protect", odd, Out("odd.pfile"), "--server", root_, "--rights", "bob:VIEW"});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  CommandResult o = As("bob", {"open", Out("odd.pfile"), Out("odd.txt"), "--server", root_});
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(ReadAll(Out("odd.txt")), "numbers\n");
}

// Content of the old aligned layout: the last full block and the padding in
// one CBC chain under that block's IV (what OpenRMS wrote before 2026-11).
std::string OldAlignedLayout(const std::string& key, const std::string& plain) {
  auto cipher = [&](const EVP_CIPHER* c, const std::string& iv, std::string_view in, bool pad) {
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                        EVP_CIPHER_CTX_free);
    std::string out(in.size() + 16, '\0');
    int len = 0, fin = 0;
    auto* o = reinterpret_cast<unsigned char*>(out.data());
    EVP_EncryptInit_ex(ctx.get(), c, nullptr, reinterpret_cast<const unsigned char*>(key.data()),
                       iv.empty() ? nullptr : reinterpret_cast<const unsigned char*>(iv.data()));
    EVP_CIPHER_CTX_set_padding(ctx.get(), pad ? 1 : 0);
    EVP_EncryptUpdate(ctx.get(), o, &len, reinterpret_cast<const unsigned char*>(in.data()),
                      static_cast<int>(in.size()));
    EVP_EncryptFinal_ex(ctx.get(), o + len, &fin);
    out.resize(static_cast<size_t>(len + fin));
    return out;
  };
  std::string out;
  for (uint32_t block = 0; block * 4096 < plain.size(); ++block) {
    std::string n(16, '\0');
    for (int i = 0; i < 4; ++i) n[i] = static_cast<char>(block >> (8 * i));
    const bool aes128 = key.size() == 16;
    const std::string iv = cipher(aes128 ? EVP_aes_128_ecb() : EVP_aes_256_ecb(), "", n, false);
    const bool last = (block + 1) * 4096 == plain.size();
    out += cipher(aes128 ? EVP_aes_128_cbc() : EVP_aes_256_cbc(), iv,
                  std::string_view(plain).substr(block * 4096, 4096), last);
  }
  return out;
}

TEST_F(LicensingTest, FilesOfEverySizeAroundTheBlockEdgesOpenByteForByte) {
  for (size_t n : {0, 1, 15, 16, 17, 4095, 4096, 4097, 8191, 8192, 8193, 1 << 20, (1 << 20) + 1}) {
    SCOPED_TRACE("size " + std::to_string(n));
    const std::string name = "size-" + std::to_string(n);
    std::string plain(n, '\0');
    for (size_t i = 0; i < n; ++i) plain[i] = static_cast<char>(i * 7 + i / 4096);
    std::ofstream(Out(name + ".bin"), std::ios::binary) << plain;
    CommandResult p = As("alice", {"protect", Out(name + ".bin"), Out(name + ".pfile"), "--server",
                                   root_, "--rights", "bob:VIEW"});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    CommandResult o =
        As("bob", {"open", Out(name + ".pfile"), Out(name + ".out"), "--server", root_});
    ASSERT_EQ(o.exit_code, 0) << o.err;
    EXPECT_TRUE(ReadAll(Out(name + ".out")) == plain);
  }
}

// The start of an OPC package (a ZIP whose first part is
// [Content_Types].xml), then `n` bytes in all; below 64 bytes, any bytes.
std::string OfficeBytes(size_t n) {
  std::string out = std::string("PK\x03\x04\x14\x00\x06\x00", 8) + std::string(18, '\0') +
                    std::string("\x13\x00\x00\x00", 4) + "[Content_Types].xml";
  if (n < 64) out.clear();
  while (out.size() < n) out += static_cast<char>((out.size() * 31 + out.size() / 4096) & 0xff);
  return out;
}

const std::string kOfficeIrmCheck =
    std::string(OPENRMS_TEST_DATA) + "/../support/office_irm_check.py";

// An Office document stays one, as Office and Microsoft's RMS SDK protect
// it (MS-OFFCRYPTO's IRM data spaces in a compound file), and python3-olefile
// finds in it exactly the storages and streams the spec names.
TEST_F(LicensingTest, OfficeDocumentsStayOfficeDocumentsAtEverySize) {
  for (const std::string ext : {".docx", ".xlsx", ".pptx", ".docm"}) {
    for (size_t n :
         {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{4097}, size_t{1} << 20}) {
      if (ext == ".docm" && n != 4097) continue;
      SCOPED_TRACE(ext + " of " + std::to_string(n) + " bytes");
      const std::string name = "office-" + std::to_string(n), plain = OfficeBytes(n);
      std::ofstream(Out(name + ext), std::ios::binary) << plain;
      std::vector<std::string> args = {"protect",  Out(name + ext), Out(name + "-protected" + ext),
                                       "--server", root_,           "--rights",
                                       "bob:VIEW"};
      // Too short to be a ZIP: chosen by content it would be a PFILE.
      if (n < 64) args.insert(args.end(), {"--container", "office"});
      CommandResult p = As("alice", args);
      ASSERT_EQ(p.exit_code, 0) << p.err;
      EXPECT_NE(p.out.find(", an Office document protected as Office does it (content "),
                std::string::npos)
          << p.out;
      const std::string protected_bytes = ReadAll(Out(name + "-protected" + ext));
      EXPECT_EQ(protected_bytes.substr(0, 8), "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1");
      CommandResult check = RunCommand(
          {"/usr/bin/python3", kOfficeIrmCheck, Out(name + "-protected" + ext), std::to_string(n)});
      EXPECT_EQ(check.out, "ok\n") << check.err;
      EXPECT_EQ(check.exit_code, 0);
      CommandResult o = As("bob", {"open", Out(name + "-protected" + ext),
                                   Out(name + "-back" + ext), "--server", root_});
      ASSERT_EQ(o.exit_code, 0) << o.err;
      EXPECT_NE(o.out.find("(rights: VIEW;"), std::string::npos) << o.out;
      EXPECT_TRUE(ReadAll(Out(name + "-back" + ext)) == plain);
    }
  }
  // By content: a ZIP package is an Office document whatever its name, and
  // a text file named .docx is not.
  std::ofstream(Out("package.bin"), std::ios::binary) << OfficeBytes(5000);
  CommandResult zip = As("alice", {"protect", Out("package.bin"), Out("package.prot"), "--server",
                                   root_, "--rights", "bob:VIEW"});
  ASSERT_EQ(zip.exit_code, 0) << zip.err;
  EXPECT_EQ(ReadAll(Out("package.prot")).substr(0, 4), "\xD0\xCF\x11\xE0");
  std::ofstream(Out("notes.docx")) << "not a package";
  CommandResult text = As("alice", {"protect", Out("notes.docx"), Out("notes-p.docx"), "--server",
                                    root_, "--rights", "bob:VIEW"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(ReadAll(Out("notes-p.docx")).substr(0, 6), ".pfile");
  // --container pfile keeps the old way for an Office document.
  CommandResult as_pfile =
      As("alice", {"protect", Out("package.bin"), Out("package.pfile"), "--server", root_,
                   "--rights", "bob:VIEW", "--container", "pfile"});
  ASSERT_EQ(as_pfile.exit_code, 0) << as_pfile.err;
  EXPECT_EQ(ReadAll(Out("package.pfile")).substr(0, 6), ".pfile");
  CommandResult back =
      As("bob", {"open", Out("package.pfile"), Out("package.back"), "--server", root_});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_TRUE(ReadAll(Out("package.back")) == OfficeBytes(5000));
}

// Each bad file gets its reason, and nothing is written.
TEST_F(LicensingTest, BadOfficeFilesAreRefusedAndNothingIsWritten) {
  std::ofstream(Out("doc.docx"), std::ios::binary) << OfficeBytes(9000);
  ASSERT_EQ(As("alice", {"protect", Out("doc.docx"), Out("doc-p.docx"), "--server", root_,
                         "--rights", "bob:VIEW"})
                .exit_code,
            0);
  const std::string good = ReadAll(Out("doc-p.docx"));
  auto open_fails = [&](const std::string& bytes, const std::string& message) {
    SCOPED_TRACE(message);
    std::ofstream(Out("bad.docx"), std::ios::binary | std::ios::trunc) << bytes;
    std::remove(Out("bad-out.docx").c_str());
    CommandResult o = As("bob", {"open", Out("bad.docx"), Out("bad-out.docx"), "--server", root_});
    EXPECT_EQ(o.exit_code, 2) << "bad data";
    EXPECT_NE(o.err.find(message), std::string::npos) << o.err;
    EXPECT_FALSE(RealFileSystem().Exists(Out("bad-out.docx")));
  };
  open_fails("", "the file is empty (0 bytes), not a protected file");
  open_fails(good.substr(0, 300),
             "the compound file is cut short: 300 bytes, less than its 512-byte header");
  open_fails(good.substr(0, good.size() / 2),
             "the compound file is damaged: a sector chain loops or runs past the end of the file");
  open_fails(OfficeBytes(9000),
             "this Office document is not protected (a ZIP package); it needs no opening");
  // The EncryptedPackage claims one block more than it holds.
  std::string longer = good;
  const size_t length_at = longer.find(std::string("\x28\x23\0\0\0\0\0\0", 8));  // 9000
  ASSERT_NE(length_at, std::string::npos);
  longer[length_at] = '\x39';  // 9017 needs 9024 bytes; 9008 are held
  open_fails(longer,
             "the protected Office document's EncryptedPackage says it holds 9017 bytes, but it "
             "has room for only 9008");
  // Protecting what is protected already.
  CommandResult again = As("alice", {"protect", Out("doc-p.docx"), Out("doc-pp.docx"), "--server",
                                     root_, "--rights", "bob:VIEW"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("this Office document is protected already; open it first to protect "
                           "it again"),
            std::string::npos)
      << again.err;
  EXPECT_FALSE(RealFileSystem().Exists(Out("doc-pp.docx")));
  // An 'Office' file that is really a PFILE: protect refuses it; open reads
  // it as the PFILE it is.
  ASSERT_EQ(As("alice",
               {"protect", plain_, Out("really.docx"), "--server", root_, "--rights", "bob:VIEW"})
                .exit_code,
            0);
  CommandResult pfile_again = As("alice", {"protect", Out("really.docx"), Out("really-p.docx"),
                                           "--server", root_, "--rights", "bob:VIEW"});
  EXPECT_EQ(pfile_again.exit_code, 1);
  EXPECT_NE(pfile_again.err.find("this file is protected already (a PFILE)"), std::string::npos)
      << pfile_again.err;
  EXPECT_FALSE(RealFileSystem().Exists(Out("really-p.docx")));
  CommandResult really =
      As("bob", {"open", Out("really.docx"), Out("really.txt"), "--server", root_});
  ASSERT_EQ(really.exit_code, 0) << really.err;
  EXPECT_EQ(ReadAll(Out("really.txt")), ReadAll(plain_));
}

TEST_F(LicensingTest, AFileProtectedInTheOldAlignedLayoutStillOpens) {
  std::string plain(8192, '\0');
  for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<char>(i % 251);
  std::ofstream(Out("old.bin"), std::ios::binary) << plain;
  ASSERT_EQ(As("alice", {"protect", Out("old.bin"), Out("old.pfile"), "--server", root_, "--rights",
                         "bob:VIEW"})
                .exit_code,
            0);
  // Rewrite its content as OpenRMS wrote it before, with the content key
  // the owner is given.
  auto file = formats::ReadPfile(ReadAll(Out("old.pfile")));
  ASSERT_TRUE(file.ok());
  auto eul = EndUserLicense(Out("old.pfile"), "alice");
  ASSERT_TRUE(eul.ok() && eul->status == 200);
  auto key =
      crypto::Base64Decode(nlohmann::json::parse(eul->body)["Key"]["Value"].get<std::string>());
  ASSERT_TRUE(key && (key->size() == 16 || key->size() == 32));
  file->content = OldAlignedLayout(*key, plain);
  ASSERT_EQ(file->content.size(), 8192u + 16);
  ASSERT_NE(file->content, *crypto::Cbc4kEncrypt(*key, plain));
  std::ofstream(Out("old.pfile"), std::ios::binary | std::ios::trunc) << formats::WritePfile(*file);

  CommandResult o = As("bob", {"open", Out("old.pfile"), Out("old.out"), "--server", root_});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_TRUE(ReadAll(Out("old.out")) == plain);
}

TEST_F(LicensingTest, UserWithoutTheRightIsRefused) {
  ASSERT_EQ(
      As("alice", {"protect", plain_, Out("b.pfile"), "--server", root_, "--rights", "bob:VIEW"})
          .exit_code,
      0);
  CommandResult carol =
      As("carol", {"open", Out("b.pfile"), Out("b-carol.txt"), "--server", root_});
  EXPECT_EQ(carol.exit_code, 1);
  EXPECT_EQ(carol.err, "error: access denied: carol holds no right on this content\n");
  EXPECT_FALSE(RealFileSystem().Exists(Out("b-carol.txt")));
  // Every license is audited, refusals too (in batches: within 100 ms).
  auto db = store::OpenSqlite(srv_ + "/openrms.db");
  Result<std::vector<store::Row>> rows = std::vector<store::Row>();
  for (int i = 0; i < 50 && rows.ok() && rows->empty(); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    rows = (*db)->Query("SELECT result FROM license_audit WHERE user_name = 'carol'");
  }
  ASSERT_TRUE(rows.ok());
  ASSERT_FALSE(rows->empty());
  EXPECT_EQ(rows->back().Text(0), "AccessDenied");
}

TEST_F(LicensingTest, ContentPastItsExpiryIsRefused) {
  const std::string expires = FormatIso8601(SystemClock().Now() + Days(2));
  ASSERT_EQ(As("alice", {"protect", plain_, Out("c.pfile"), "--server", root_, "--rights",
                         "bob:VIEW", "--expires", expires})
                .exit_code,
            0);
  EXPECT_EQ(As("bob", {"open", Out("c.pfile"), Out("c1.txt"), "--server", root_}).exit_code, 0);
  // A node of the same cluster living three days from now.
  const int port = FreeLoopbackPort();
  BackgroundProcess future(
      {kBin, "serve", "--dir", srv_, "--listen", "127.0.0.1:" + std::to_string(port),
       "--password-file", pw_, "--monitor-interval", "0"},
      {FakeNow(3)});
  ASSERT_FALSE(future.WaitForLine("server: ").empty());
  CommandResult late = As("bob", {"open", Out("c.pfile"), Out("c2.txt"), "--server",
                                  "https://127.0.0.1:" + std::to_string(port) + "/root/_wmcs"});
  EXPECT_EQ(late.exit_code, 1);
  // The license carries the expiry to the minute (XrML times, MS-RMPR
  // 2.2.9.1.1), the minute it was asked in.
  EXPECT_EQ(late.err,
            "error: access denied: the content expired on " + expires.substr(0, 16) + ":00Z\n");
}

TEST_F(LicensingTest, RequestWithoutTokenGetsTheBearerChallenge) {
  http::ClientRequest req;
  req.method = "POST";
  req.url = root_ + "/my/v2/publishinglicenses";
  req.ca_pem = ReadAll(srv_ + "/tls-ca.pem");
  req.headers = {{"Content-Type", "application/json"}};
  req.body =
      R"({"AllowAuditedExtraction":false,"PreferDeprecatedAlgorithms":false,"TemplateId":"x"})";
  auto r = http::Fetch(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 401);
  const std::string challenge = r->Header("www-authenticate").value_or("");
  EXPECT_EQ(challenge,
            "Bearer authorization=\"" + origin_ + "/oauth2/token\", realm=\"OpenRMS ROOT\"");
  // The SDK splits the header on ',' and '=': every part must survive that.
  std::vector<std::string> parts;
  std::stringstream ss(challenge.substr(7));
  for (std::string part; std::getline(ss, part, ',');) parts.push_back(part);
  ASSERT_EQ(parts.size(), 2u);
  for (const auto& part : parts) EXPECT_EQ(std::count(part.begin(), part.end(), '='), 1) << part;
  const auto body = nlohmann::json::parse(r->body);
  EXPECT_EQ(body["Code"], "Unauthorized");
  EXPECT_TRUE(body.contains("Message"));
  // A wrong token gets the same challenge.
  req.headers.push_back({"Authorization", "Bearer not-a-token"});
  EXPECT_EQ(http::Fetch(req)->status, 401);
}

TEST_F(LicensingTest, LicensingOnlyClusterLicensesContentPublishedThroughIt) {
  ASSERT_EQ(
      As("alice", {"protect", plain_, Out("d.pfile"), "--server", lic_, "--rights", "bob:EDIT"})
          .exit_code,
      0);
  EXPECT_NE(ReadAll(Out("d.pfile")).find(lic_ + "/my/v2</ADDRESS>"), std::string::npos);
  CommandResult bob = As("bob", {"open", Out("d.pfile"), Out("d-bob.txt"), "--server", lic_});
  ASSERT_EQ(bob.exit_code, 0) << bob.err;
  EXPECT_EQ(ReadAll(Out("d-bob.txt")), ReadAll(plain_));
  // Another cluster cannot open what LIC's key sealed.
  CommandResult root = As("bob", {"open", Out("d.pfile"), Out("d-root.txt"), "--server", root_});
  EXPECT_NE(root.err.find("this content was published through another cluster (LIC)"),
            std::string::npos)
      << root.err;
}

TEST_F(LicensingTest, TemplatesFromTheServer) {
  CommandResult add = RunCommand({kBin, "template", "add", "--dir", srv_, "--name", "Confidential",
                                  "--description", "Staff may view", "--rights", "carol:VIEW"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  ASSERT_EQ(As("alice",
               {"protect", plain_, Out("e.pfile"), "--server", root_, "--template", "Confidential"})
                .exit_code,
            0);
  EXPECT_EQ(As("carol", {"open", Out("e.pfile"), Out("e.txt"), "--server", root_}).exit_code, 0);
  EXPECT_EQ(As("bob", {"open", Out("e.pfile"), Out("e2.txt"), "--server", root_}).exit_code, 1);
  // The SDK shows template-protected content as such only when told.
  auto eul = EndUserLicense(Out("e.pfile"), "carol");
  ASSERT_TRUE(eul.ok() && eul->status == 200);
  const auto answer = nlohmann::json::parse(eul->body);
  EXPECT_EQ(answer["FromTemplate"], true);
  EXPECT_EQ(answer["Name"], "Confidential");
  EXPECT_FALSE(answer.contains("Policy"));
  CommandResult missing =
      As("alice", {"protect", plain_, Out("f.pfile"), "--server", root_, "--template", "Nope"});
  EXPECT_EQ(missing.err, "error: the server has no rights policy template named \"Nope\"\n");
}

TEST_F(LicensingTest, ExpiredSlcRefusesLicensing) {
  const int port = FreeLoopbackPort();
  BackgroundProcess future(
      {kBin, "serve", "--dir", srv_, "--listen", "127.0.0.1:" + std::to_string(port),
       "--password-file", pw_, "--monitor-interval", "0"},
      {FakeNow(400)});
  ASSERT_FALSE(future.WaitForLine("server: ").empty());
  const std::string url = "https://127.0.0.1:" + std::to_string(port) + "/root/_wmcs";
  CommandResult p =
      As("alice", {"protect", plain_, Out("g.pfile"), "--server", url, "--rights", "bob:VIEW"});
  EXPECT_NE(p.exit_code, 0);
  EXPECT_NE(p.err.find("the server refused: the server licensor certificate of cluster ROOT "
                       "expired on"),
            std::string::npos)
      << p.err;
  EXPECT_NE(p.err.find("licensing is refused until it is renewed"), std::string::npos);
}

// The exact requests the RMS SDK for portable devices sends, and the fields
// its parser reads from the answers.
TEST_F(LicensingTest, SdkShapedRequestsAndAnswers) {
  auto token_for = [](const std::string& user) { return Token(user); };
  auto call = [](const std::string& op, const std::string& token, const nlohmann::json& body) {
    return Call(op, token, body);
  };
  const nlohmann::json publish = {
      {"PreferDeprecatedAlgorithms", false},
      {"AllowAuditedExtraction", false},
      {"Policy",
       {{"Descriptors",
         {{{"Name", "Protected"}, {"Description", "By the SDK"}, {"Language", "en-us"}}}},
        {"UserRights", {{{"Users", {"bob"}}, {"Rights", {"VIEW", "EXTRACT"}}}}},
        {"allowOfflineAccess", true},
        {"IntervalTimeInDays", 30},
        {"LicenseValidUntil", "2099-01-01T00:00:00"}}}};
  auto pl = call("publishinglicenses", token_for("alice"), publish);
  ASSERT_TRUE(pl.ok());
  ASSERT_EQ(pl->status, 200) << pl->body;
  const auto answer = nlohmann::json::parse(pl->body);
  EXPECT_FALSE(answer["SerializedPublishingLicense"].get<std::string>().empty());
  EXPECT_EQ(answer["Owner"], "alice");
  EXPECT_EQ(answer["Key"]["Algorithm"], "AES");
  EXPECT_EQ(answer["Key"]["CipherMode"], "MICROSOFT.CBC4K");

  auto eul = call("enduserlicenses", token_for("bob"),
                  {{"SerializedPublishingLicense", answer["SerializedPublishingLicense"]}});
  ASSERT_TRUE(eul.ok());
  ASSERT_EQ(eul->status, 200) << eul->body;
  const auto granted = nlohmann::json::parse(eul->body);
  EXPECT_EQ(granted["AccessStatus"], "AccessGranted");
  EXPECT_EQ(granted["Key"]["Value"], answer["Key"]["Value"]);
  EXPECT_EQ(granted["Rights"], nlohmann::json({"EXTRACT", "VIEW"}));
  EXPECT_EQ(granted["IssuedTo"], "bob");
  EXPECT_EQ(granted["ContentValidUntil"], "2099-01-01T00:00:00Z");
  EXPECT_EQ(granted["Policy"]["IntervalTimeInDays"], 30);
  EXPECT_EQ(granted["FromTemplate"], false);
  // An offline interval is what was asked, counted from now.
  const auto until = ParseTime(granted["LicenseValidUntil"].get<std::string>());
  ASSERT_TRUE(until);
  EXPECT_LE(*until - SystemClock().Now(), Days(30));
  EXPECT_GT(*until - SystemClock().Now(), Days(29));

  // The client log endpoints, with service discovery on and off.
  for (const char* op :
       {"clientdebuglogs", "clientperformancelogs", "clientlogs/debug", "clientlogs/performance"}) {
    auto logs = call(op, token_for("bob"), nlohmann::json::array({{{"Message", "hello"}}}));
    ASSERT_TRUE(logs.ok());
    EXPECT_EQ(logs->status, 200) << op;
  }

  auto denied = call("enduserlicenses", token_for("carol"),
                     {{"SerializedPublishingLicense", answer["SerializedPublishingLicense"]}});
  const auto refusal = nlohmann::json::parse(denied->body);
  EXPECT_EQ(refusal["AccessStatus"], "AccessDenied");
  EXPECT_FALSE(refusal.contains("Key"));

  auto junk = call("enduserlicenses", token_for("bob"), {{"SerializedPublishingLicense", "AAAA"}});
  EXPECT_EQ(junk->status, 400);
  const auto error = nlohmann::json::parse(junk->body);
  EXPECT_EQ(error["Code"], "InvalidPublishingLicense");
  EXPECT_TRUE(error["Message"].is_string());

  // Fields of the wrong type are a clear 400, not a crash.
  nlohmann::json odd = publish;
  odd["Policy"]["allowOfflineAccess"] = "yes";
  odd["Policy"]["Descriptors"] = {42};
  auto bad = call("publishinglicenses", token_for("alice"), odd);
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_EQ(nlohmann::json::parse(bad->body)["Code"], "InvalidRequest");
}

TEST_F(LicensingTest, RightsAccountCertificatesChainToTheTrustAnchor) {
  CommandResult standard = As(
      "bob", {"certify", "--server", root_, "--out", Out("rac.xml"), "--key-out", Out("rac.key")});
  ASSERT_EQ(standard.exit_code, 0) << standard.err;
  CommandResult verify = RunCommand({kBin, "xrml", "verify", Out("rac.xml"), "--trust",
                                     tmp_->path() + "/enrollment/trust-anchor.xml"});
  EXPECT_EQ(verify.out, "valid\n") << verify.err;
  CommandResult show = RunCommand({kBin, "xrml", "show", Out("rac.xml")});
  EXPECT_NE(show.out.find("[certificate 1 of 5 (Group-Identity-Credential)]"), std::string::npos)
      << show.out;
  EXPECT_NE(show.out.find("principal:  bob"), std::string::npos);
  const std::string day365 = FormatHuman(SystemClock().Now() + Days(365)).substr(0, 10);
  EXPECT_NE(show.out.find("valid to:   " + day365), std::string::npos) << show.out;

  // Temporary RACs last 15 minutes, and both periods are configurable. A
  // running node applies the change within its 2 s refresh of the cluster.
  auto temporary_lifetime = [&]() -> std::optional<Duration> {
    if (As("bob", {"certify", "--server", root_, "--out", Out("tmp.xml"), "--key-out",
                   Out("tmp.key"), "--temporary"})
            .exit_code != 0) {
      return std::nullopt;
    }
    const std::string text = RunCommand({kBin, "xrml", "show", Out("tmp.xml")}).out;
    const size_t from = text.find("valid from: ");
    const size_t to = text.find("valid to:   ");
    if (from == std::string::npos || to == std::string::npos) return std::nullopt;
    const auto t0 = ParseTime(text.substr(from + 12, 10) + "T" + text.substr(from + 23, 5));
    const auto t1 = ParseTime(text.substr(to + 12, 10) + "T" + text.substr(to + 23, 5));
    if (!t0 || !t1) return std::nullopt;
    return *t1 - *t0;
  };
  EXPECT_EQ(temporary_lifetime(), std::optional<Duration>(std::chrono::minutes(15)));
  ASSERT_EQ(RunCommand({kBin, "cluster", "rac-validity", "--dir", srv_, "--cluster", "ROOT",
                        "--standard-days", "30", "--temporary-minutes", "60"})
                .exit_code,
            0);
  const auto changed = std::chrono::steady_clock::now();
  std::optional<Duration> lifetime;
  while ((lifetime = temporary_lifetime()) != std::optional<Duration>(std::chrono::minutes(60)) &&
         std::chrono::steady_clock::now() - changed < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(lifetime, std::optional<Duration>(std::chrono::minutes(60)))
      << "the node should apply the new RAC validity within its 2 s refresh";
  // A licensing-only cluster issues no RACs.
  CommandResult lic =
      As("bob", {"certify", "--server", lic_, "--out", Out("x.xml"), "--key-out", Out("x.key")});
  EXPECT_NE(lic.err.find("rights account certificates come from the root cluster"),
            std::string::npos)
      << lic.err;
}

// Offline publishing (MS-RMPR 2.2.9.6): a client licensor certificate for
// the user's own key, content protected with it and no server, opened
// through enduserlicenses as any other; and every refusal.
TEST_F(LicensingTest, OfflinePublishingUnderAClientLicensorCertificate) {
  CommandResult got = As("alice", {"certify", "--clc", "--server", root_, "--out", Out("clc.xml"),
                                   "--key-out", Out("clc.key")});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_NE(got.out.find("wrote the client licensor certificate (valid until "), std::string::npos)
      << got.out;
  auto chain = xrml::ParseChain(ReadAll(Out("clc.xml")));
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  ASSERT_EQ(chain->size(), 5u);  // CLC, SLC, enrollment service, enrollment CA, CA
  const xrml::Document& clc = (*chain)[0];
  EXPECT_EQ(clc.Kind(), "Client-Licensor-Certificate");
  ASSERT_NE(clc.principal(), nullptr);
  EXPECT_EQ(clc.principal()->object.name, "alice");
  const xrml::Right* issue = clc.FindRight("ISSUE");
  ASSERT_TRUE(issue != nullptr && issue->range && issue->range->from && issue->range->until);
  EXPECT_EQ(*issue->range->until - *issue->range->from, Days(30)) << "the default lifetime";
  CommandResult verify = RunCommand({kBin, "xrml", "verify", Out("clc.xml"), "--trust",
                                     tmp_->path() + "/enrollment/trust-anchor.xml"});
  EXPECT_EQ(verify.out, "valid\n") << verify.err;

  // Protected while no server runs, then opened through the cluster.
  delete node_;
  node_ = nullptr;
  CommandResult p = As("alice", {"protect", "--offline", "--clc", Out("clc.xml"), "--clc-key",
                                 Out("clc.key"), plain_, Out("off.pfile"), "--rights", "bob:VIEW"});
  StartNode();
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find("offline (content "), std::string::npos) << p.out;
  auto file = formats::ReadPfile(ReadAll(Out("off.pfile")));
  ASSERT_TRUE(file.ok());
  auto docs = licensing::SplitLicenseDocuments(file->publishing_license);
  ASSERT_TRUE(docs.ok());
  ASSERT_EQ(docs->size(), 2u) << "the license, then its CLC";
  auto pl = xrml::ParseDocument((*docs)[0]);
  ASSERT_TRUE(pl.ok());
  EXPECT_EQ(pl->issuer.object.type, "Group-Identity");
  EXPECT_EQ(pl->issuer.object.name, "alice");
  // `openrms xrml verify` takes it with its CLC's chain.
  ASSERT_TRUE(RealFileSystem().WriteFileAtomic(Out("off-pl.xml"), std::string((*docs)[0])).ok());
  CommandResult pl_verify =
      RunCommand({kBin, "xrml", "verify", Out("off-pl.xml"), "--chain", Out("clc.xml"), "--trust",
                  tmp_->path() + "/enrollment/trust-anchor.xml"});
  EXPECT_EQ(pl_verify.out, "valid\n") << pl_verify.err;
  CommandResult bob = As("bob", {"open", Out("off.pfile"), Out("off-bob.txt"), "--server", root_});
  ASSERT_EQ(bob.exit_code, 0) << bob.err;
  EXPECT_EQ(ReadAll(Out("off-bob.txt")), ReadAll(plain_));
  EXPECT_NE(bob.out.find("(rights: VIEW;"), std::string::npos) << bob.out;
  CommandResult owner =
      As("alice", {"open", Out("off.pfile"), Out("off-alice.txt"), "--server", root_});
  EXPECT_NE(owner.out.find("(rights: OWNER;"), std::string::npos) << owner.out;
  CommandResult carol =
      As("carol", {"open", Out("off.pfile"), Out("off-carol.txt"), "--server", root_});
  EXPECT_NE(carol.err.find("access denied: carol holds no right on this content"),
            std::string::npos)
      << carol.err;

  // Refusals: each a 4xx naming the problem.
  auto refused = [&](const std::string& license, const std::string& base = "") {
    auto r = Call("enduserlicenses", Token("bob"),
                  {{"SerializedPublishingLicense", crypto::Base64Encode(license)}}, base);
    EXPECT_TRUE(r.ok());
    return r.ok() ? std::to_string(r->status) + " " + r->body : std::string();
  };
  // Through another cluster.
  EXPECT_EQ(refused(file->publishing_license, lic_),
            "400 {\"Code\":\"InvalidPublishingLicense\",\"Message\":\"this content was published "
            "through another cluster (ROOT); ask that cluster for a license\"}");
  // Without its CLC.
  EXPECT_EQ(refused(std::string((*docs)[0])),
            "400 {\"Code\":\"InvalidPublishingLicense\",\"Message\":\"the publishing license was "
            "signed by alice, not by a server, and carries no client licensor certificate\"}");
  // A tampered rights-data block: the signature covers it.
  std::string tampered = file->publishing_license;
  const size_t data = tampered.find("id=\"Encrypted-Rights-Data\">");
  ASSERT_NE(data, std::string::npos);
  char& c = tampered[data + 30];
  c = c == 'A' ? 'B' : 'A';
  EXPECT_NE(refused(tampered).find("400 {\"Code\":\"InvalidPublishingLicense\",\"Message\":\"the "
                                   "publishing license was changed: "),
            std::string::npos)
      << refused(tampered);
  // Licenses this test writes with alice's CLC key: signed after the CLC
  // expired, and with the content key sealed to another key.
  auto key = crypto::UnsealKey(ReadAll(Out("clc.key")), "alice-password");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  licensing::Policy policy;
  policy.owner = "alice";
  policy.content_id = "{00000000-0000-4000-8000-00000000000c}";
  policy.user_rights = {{{"bob"}, {"VIEW"}}};
  licensing::LicenseParties parties;
  parties.issuer = *clc.principal();
  parties.server = clc.issuer;
  parties.license_url = root_ + "/my/v2";
  licensing::SymmetricKey content_key;
  content_key.bytes = std::string(32, '\x07');
  auto write = [&](Time at) {
    auto written = licensing::WritePublishingLicense(policy, at, parties, **key, content_key,
                                                     crypto::SystemRandom());
    EXPECT_TRUE(written.ok()) << written.status().ToString();
    return (written.ok() ? *written : std::string()) + xrml::WriteDocument(clc);
  };
  // Naming another owner than the CLC's holder.
  policy.owner = "dave";
  EXPECT_EQ(refused(write(SystemClock().Now())),
            "400 {\"Code\":\"InvalidPublishingLicense\",\"Message\":\"the publishing license "
            "names dave as its owner but was signed with the client licensor certificate of "
            "alice\"}");
  policy.owner = "alice";
  const Time late = *issue->range->until + std::chrono::minutes(1);
  EXPECT_EQ(refused(write(late)),
            "400 {\"Code\":\"InvalidPublishingLicense\",\"Message\":\"the publishing license was "
            "signed on " +
                FormatHuman(late) +
                " by the client licensor certificate of alice, which was "
                "valid only from " +
                FormatHuman(*issue->range->from) + " until " + FormatHuman(*issue->range->until) +
                "\"}");
  // The CLI refuses to sign with it then, naming what to do.
  ASSERT_TRUE(licensing::PublishOffline(clc, **key, policy, late, crypto::SystemRandom())
                  .status()
                  .message()
                  .ends_with("; get a new one (openrms certify --clc)"));
  auto other = crypto::GenerateSealedRsaKey(2048, "x");
  ASSERT_TRUE(other.ok());
  parties.server.public_key = other->key->public_key();
  EXPECT_EQ(refused(write(SystemClock().Now())),
            "403 {\"Code\":\"AccessDenied\",\"Message\":\"the content key is not sealed to this "
            "cluster's key\"}");

  // A holder whose account is removed: what they published offline no
  // longer opens.
  ASSERT_EQ(RunCommand({kBin, "user", "add", "erin", "--dir", srv_},
                       {"OPENRMS_USER_PASSWORD=erin-password"})
                .exit_code,
            0);
  ASSERT_EQ(As("erin", {"certify", "--clc", "--server", root_, "--out", Out("erin-clc.xml"),
                        "--key-out", Out("erin-clc.key")})
                .exit_code,
            0);
  ASSERT_EQ(As("erin", {"protect", "--offline", "--clc", Out("erin-clc.xml"), "--clc-key",
                        Out("erin-clc.key"), plain_, Out("erin.pfile"), "--rights", "bob:VIEW"})
                .exit_code,
            0);
  EXPECT_EQ(
      As("bob", {"open", Out("erin.pfile"), Out("erin-bob.txt"), "--server", root_}).exit_code, 0);
  ASSERT_EQ(RunCommand({kBin, "user", "remove", "erin", "--dir", srv_}).exit_code, 0);
  CommandResult gone =
      As("bob", {"open", Out("erin.pfile"), Out("erin-bob2.txt"), "--server", root_});
  EXPECT_NE(gone.err.find("the content was published offline by erin, whose account has been "
                          "removed; ask an administrator"),
            std::string::npos)
      << gone.err;

  // The SDK's offline publisher names no key: the server makes one and
  // answers with a thin CLC; the license the SDK writes with it opens for
  // the rights it states, and for no one else.
  auto sdk = Call("clientlicensorcertificates", Token("bob"), {{"SignatureEncoding", "utf-8"}});
  ASSERT_TRUE(sdk.ok());
  ASSERT_EQ(sdk->status, 200) << sdk->body;
  const auto thin = nlohmann::json::parse(sdk->body);
  ASSERT_TRUE(thin.contains("ValidUntil"));
  auto sdk_published = licensing::testing::SdkPublishOffline(
      thin["SerializedThinCLC"].get<std::string>(), {{{"alice"}, {"VIEW"}}});
  ASSERT_TRUE(sdk_published.ok()) << sdk_published.status().ToString();
  const std::string sdk_pl = crypto::Base64Encode(sdk_published->license);
  auto sdk_alice =
      Call("enduserlicenses", Token("alice"), {{"SerializedPublishingLicense", sdk_pl}});
  ASSERT_TRUE(sdk_alice.ok());
  ASSERT_EQ(sdk_alice->status, 200) << sdk_alice->body;
  EXPECT_EQ(nlohmann::json::parse(sdk_alice->body)["Key"]["Value"],
            crypto::Base64Encode(sdk_published->content_key));
  auto sdk_carol =
      Call("enduserlicenses", Token("carol"), {{"SerializedPublishingLicense", sdk_pl}});
  ASSERT_TRUE(sdk_carol.ok());
  const auto sdk_refusal = nlohmann::json::parse(sdk_carol->body);
  EXPECT_EQ(sdk_refusal["AccessStatus"], "AccessDenied") << sdk_carol->body;
  EXPECT_FALSE(sdk_refusal.contains("Key"));

  // The lifetime is the cluster's policy, applied within the 2 s refresh.
  ASSERT_EQ(RunCommand({kBin, "cluster", "clc-validity", "--dir", srv_, "--cluster", "ROOT",
                        "--days", "2"})
                .exit_code,
            0);
  const auto changed = std::chrono::steady_clock::now();
  std::optional<Duration> lifetime;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (As("bob", {"certify", "--clc", "--server", root_, "--out", Out("clc2.xml"), "--key-out",
                   Out("clc2.key")})
            .exit_code != 0) {
      continue;
    }
    auto again = xrml::ParseChain(ReadAll(Out("clc2.xml")));
    const xrml::Right* r = again.ok() ? (*again)[0].FindRight("ISSUE") : nullptr;
    if (r != nullptr && r->range && r->range->from && r->range->until) {
      lifetime = *r->range->until - *r->range->from;
    }
  } while (lifetime != std::optional<Duration>(Days(2)) &&
           std::chrono::steady_clock::now() - changed < std::chrono::seconds(10));
  EXPECT_EQ(lifetime, std::optional<Duration>(Days(2)));
  EXPECT_NE(RunCommand({kBin, "cluster", "clc-validity", "--dir", srv_, "--cluster", "ROOT",
                        "--days", "0"})
                .err.find("a client licensor certificate lasts 1 to 3650 days"),
            std::string::npos);
  // Issuing is audited (in batches: within 100 ms), and so is the refusal.
  auto db = store::OpenSqlite(srv_ + "/openrms.db");
  ASSERT_TRUE(db.ok());
  Result<std::vector<store::Row>> rows = std::vector<store::Row>();
  for (int i = 0; i < 50 && rows.ok() && rows->size() < 3; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    rows = (*db)->Query("SELECT user_name FROM license_audit WHERE kind = 'clc' ORDER BY id");
  }
  ASSERT_TRUE(rows.ok());
  ASSERT_GE(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].Text(0), "alice");
  EXPECT_EQ((*rows)[1].Text(0), "erin");
  auto refusal = (*db)->Query(
      "SELECT detail FROM license_audit WHERE user_name = 'bob' AND result = 'refused'");
  ASSERT_TRUE(refusal.ok());
  ASSERT_EQ(refusal->size(), 1u);
  EXPECT_EQ((*refusal)[0].Text(0),
            "the content was published offline by erin, whose account has been removed");
}

// Revocation: the owner (or an administrator) revokes; from then on, within
// the 2 s refresh, no license is issued for the content, whatever the
// caches hold, and the refusal says who revoked it and when.
TEST_F(LicensingTest, RevokedContentOpensNoMore) {
  ASSERT_EQ(
      As("alice", {"protect", plain_, Out("r.pfile"), "--server", root_, "--rights", "bob:VIEW"})
          .exit_code,
      0);
  ASSERT_EQ(As("bob", {"open", Out("r.pfile"), Out("r-bob.txt"), "--server", root_}).exit_code, 0);
  auto file = formats::ReadPfile(ReadAll(Out("r.pfile")));
  ASSERT_TRUE(file.ok());
  auto pl = xrml::ParseDocument(file->publishing_license.substr(3));
  ASSERT_TRUE(pl.ok());
  const std::string id = pl->body().Find({"WORK", "OBJECT", "ID"})->text;

  // Only the owner or a super user.
  CommandResult bob = As("bob", {"revoke", Out("r.pfile"), "--server", root_});
  EXPECT_EQ(bob.err, "error: the server refused: only the owner of content " + id +
                         " (alice) or a member of SuperUsers may revoke it\n");
  CommandResult alice = As("alice", {"revoke", Out("r.pfile"), "--server", root_});
  ASSERT_EQ(alice.exit_code, 0) << alice.err;
  EXPECT_EQ(alice.out,
            "revoked " + id + ": no node issues a license for it from now on (within 2 s)\n");
  const auto revoked = std::chrono::steady_clock::now();
  CommandResult opened;
  do {
    opened = As("bob", {"open", Out("r.pfile"), Out("r-bob2.txt"), "--server", root_});
  } while (opened.exit_code == 0 &&
           std::chrono::steady_clock::now() - revoked < std::chrono::seconds(10));
  EXPECT_TRUE(opened.err.starts_with("error: access denied: revoked by alice at ")) << opened.err;
  // The owner is refused too, and the SDK's answer carries the reason.
  auto answer = EndUserLicense(Out("r.pfile"), "alice");
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->status, 200);
  auto j = nlohmann::json::parse(answer->body);
  EXPECT_EQ(j["AccessStatus"], "AccessDenied");
  EXPECT_TRUE(j["Reason"].get<std::string>().starts_with("revoked by alice at ")) << answer->body;
  EXPECT_FALSE(j.contains("Key"));
  // Once only.
  CommandResult again = As("alice", {"revoke", id, "--server", root_});
  EXPECT_TRUE(again.err.starts_with("error: the server refused: content " + id +
                                    " was already revoked by alice at "))
      << again.err;
  // By content ID alone: only for content published online here.
  CommandResult unknown =
      As("alice", {"revoke", "{00000000-0000-4000-8000-0000000000ff}", "--server", root_});
  EXPECT_EQ(unknown.err,
            "error: the server refused: no content {00000000-0000-4000-8000-0000000000ff} was "
            "published online through cluster ROOT; send its SerializedPublishingLicense\n");

  // An administrator on the server directory, by file.
  ASSERT_EQ(
      As("carol", {"protect", plain_, Out("r2.pfile"), "--server", root_, "--rights", "bob:VIEW"})
          .exit_code,
      0);
  ASSERT_EQ(As("bob", {"open", Out("r2.pfile"), Out("r2-bob.txt"), "--server", root_}).exit_code,
            0);
  CommandResult admin =
      RunCommand({kBin, "revoke", Out("r2.pfile"), "--dir", srv_, "--cluster", "ROOT"});
  ASSERT_EQ(admin.exit_code, 0) << admin.err;
  const auto admin_revoked = std::chrono::steady_clock::now();
  do {
    opened = As("bob", {"open", Out("r2.pfile"), Out("r2-bob2.txt"), "--server", root_});
  } while (opened.exit_code == 0 &&
           std::chrono::steady_clock::now() - admin_revoked < std::chrono::seconds(10));
  EXPECT_TRUE(opened.err.starts_with("error: access denied: revoked by cli:")) << opened.err;
  // Other content still opens.
  ASSERT_EQ(
      As("alice", {"protect", plain_, Out("r3.pfile"), "--server", root_, "--rights", "bob:VIEW"})
          .exit_code,
      0);
  EXPECT_EQ(As("bob", {"open", Out("r3.pfile"), Out("r3-bob.txt"), "--server", root_}).exit_code,
            0);
  CommandResult neither = RunCommand({kBin, "revoke", id});
  EXPECT_EQ(neither.err,
            "error: give --dir DIR (an administrator on the server) or --server URL --user NAME "
            "(the owner)\n");
}

// Tracking: every license request for a document, as the owner, a super
// user and an administrator see it, exactly, for a scripted sequence of
// opens, refusals and a revocation; the same entries in `audit query`, in
// `audit export` (JSON Lines) and on the node's syslog stream.
TEST_F(LicensingTest, TrackingShowsEveryRequestForADocument) {
  UdpCollector collector;
  delete node_;
  node_ = new BackgroundProcess({kBin, "serve", "--dir", srv_, "--listen",
                                 "127.0.0.1:" + std::to_string(port_), "--password-file", pw_,
                                 "--monitor-interval", "0", "--threads", "2", "--name", "node-a",
                                 "--audit-syslog", collector.target()});
  ASSERT_FALSE(node_->WaitForLine("server: ").empty());
  ASSERT_EQ(
      As("alice", {"protect", plain_, Out("t.pfile"), "--server", root_, "--rights", "bob:VIEW"})
          .exit_code,
      0);
  auto file = formats::ReadPfile(ReadAll(Out("t.pfile")));
  ASSERT_TRUE(file.ok());
  auto pl = xrml::ParseDocument(file->publishing_license.substr(3));
  ASSERT_TRUE(pl.ok());
  const std::string id = pl->body().Find({"WORK", "OBJECT", "ID"})->text;
  EXPECT_EQ(As("bob", {"open", Out("t.pfile"), Out("t-bob.txt"), "--server", root_}).exit_code, 0);
  EXPECT_NE(As("carol", {"open", Out("t.pfile"), Out("t-carol.txt"), "--server", root_}).exit_code,
            0);
  EXPECT_EQ(As("alice", {"open", Out("t.pfile"), Out("t-alice.txt"), "--server", root_}).exit_code,
            0);
  ASSERT_EQ(As("alice", {"revoke", Out("t.pfile"), "--server", root_}).exit_code, 0);
  // Past the 2 s bound, so the next request is the revoked one's.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  CommandResult refused = As("bob", {"open", Out("t.pfile"), Out("t-bob2.txt"), "--server", root_});
  EXPECT_TRUE(refused.err.starts_with("error: access denied: revoked by alice at ")) << refused.err;
  const std::string revoked_reason =
      refused.err.substr(std::string("error: access denied: ").size(), refused.err.size() - 23);

  // The owner, through the server (the rows are written within 100 ms).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CommandResult owner = As("alice", {"track", Out("t.pfile"), "--server", root_, "--json"});
  ASSERT_EQ(owner.exit_code, 0) << owner.err;
  const auto t = nlohmann::json::parse(owner.out);
  EXPECT_EQ(t["content_id"], id);
  EXPECT_EQ(t["owner"], "alice");
  EXPECT_FALSE(t["published"].is_null());
  EXPECT_EQ(t["granted"], 2);
  EXPECT_EQ(t["refused"], 2);
  EXPECT_EQ(t["revoked_by"], "alice");
  std::vector<std::string> rows;
  for (const auto& r : t["requests"]) {
    EXPECT_EQ(r["address"], "127.0.0.1");
    EXPECT_EQ(r["node"], "node-a");
    rows.push_back(r["user"].get<std::string>() + " " + r["operation"].get<std::string>() + " " +
                   r["result"].get<std::string>() + " " + r["reason"].get<std::string>());
  }
  EXPECT_EQ(rows, (std::vector<std::string>{
                      "bob use AccessDenied " + revoked_reason, "alice revoke revoked ",
                      "alice use AccessGranted OWNER", "carol use AccessDenied no right granted",
                      "bob use AccessGranted VIEW", "alice publish issued custom rights"}));
  // Nobody else but a super user.
  CommandResult bob = As("bob", {"track", id, "--server", root_});
  EXPECT_EQ(bob.err, "error: the server refused: only the owner of content " + id +
                         " or a member of SuperUsers may track it\n");
  CommandResult dave = As("dave", {"track", id, "--server", root_, "--json"});
  ASSERT_EQ(dave.exit_code, 0) << dave.err;
  EXPECT_EQ(nlohmann::json::parse(dave.out)["requests"].size(), 6u);
  CommandResult unknown =
      As("alice", {"track", "{00000000-0000-4000-8000-0000000000fe}", "--server", root_});
  EXPECT_EQ(unknown.err,
            "error: the server refused: cluster ROOT has no license request for content "
            "{00000000-0000-4000-8000-0000000000fe} in its audit trail\n");
  // The owner's documents.
  auto listed = http::Fetch([&] {
    http::ClientRequest req;
    req.method = "GET";
    req.url = root_ + "/my/v2/documents";
    req.ca_pem = ReadAll(srv_ + "/tls-ca.pem");
    req.headers = {{"Authorization", "Bearer " + Token("alice")}};
    return req;
  }());
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->status, 200) << listed->body;
  bool found = false;
  const auto documents = nlohmann::json::parse(listed->body);
  for (const auto& d : documents["Documents"]) {
    EXPECT_EQ(d["Owner"], "alice");
    if (d["ContentId"] != id) continue;
    found = true;
    EXPECT_EQ(d["Granted"], 2);
    EXPECT_EQ(d["Refused"], 2);
    EXPECT_EQ(d["Revoked"]["By"], "alice");
  }
  EXPECT_TRUE(found) << listed->body;

  // An administrator on the server: the same rows, and the human form.
  CommandResult admin = RunCommand({kBin, "track", id, "--dir", srv_, "--cluster", "ROOT"});
  ASSERT_EQ(admin.exit_code, 0) << admin.err;
  EXPECT_NE(admin.out.find("owner: alice\npublished: "), std::string::npos) << admin.out;
  EXPECT_NE(admin.out.find("\nuse licenses: 2 granted, 2 refused; last asked "), std::string::npos)
      << admin.out;
  EXPECT_NE(admin.out.find("  carol  127.0.0.1  node-a  use  AccessDenied  no right granted\n"),
            std::string::npos)
      << admin.out;
  CommandResult query = RunCommand(
      {kBin, "audit", "query", "--dir", srv_, "--content", id, "--since", "1h", "--json"});
  ASSERT_EQ(query.exit_code, 0) << query.err;
  const auto entries = nlohmann::json::parse(query.out);
  ASSERT_EQ(entries.size(), 6u);
  EXPECT_EQ(entries[0]["operation"], "publish");  // oldest first
  EXPECT_EQ(entries[1]["user"], "bob");
  EXPECT_EQ(entries[1]["cluster"], "ROOT");
  EXPECT_EQ(entries[1]["owner"], "alice");
  CommandResult export_run = RunCommand(
      {kBin, "audit", "export", "--dir", srv_, "--since", "1d", "--out", Out("audit.jsonl")});
  ASSERT_EQ(export_run.exit_code, 0) << export_run.err;
  std::istringstream lines(ReadAll(Out("audit.jsonl")));
  int ours = 0, all = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    ++all;
    if (j["content_id"] == id) ++ours;
  }
  EXPECT_EQ(ours, 6);
  EXPECT_EQ(export_run.out, "exported " + std::to_string(all) + " audit entries to " +
                                Out("audit.jsonl") + " (JSON Lines)\n");
  CommandResult bad_since =
      RunCommand({kBin, "audit", "query", "--dir", srv_, "--since", "last week"});
  EXPECT_EQ(bad_since.err,
            "error: --since takes a UTC date (2026-12-07), a time (2026-12-07T10:00Z) or a span "
            "back from now (90m, 36h, 7d), not \"last week\"\n");

  // The node streamed the same entries to syslog.
  const std::string m = collector.WaitFor(
      "user=\"carol\" address=\"127.0.0.1\" operation=\"use\" content_id=\"" + id + "\"");
  EXPECT_TRUE(m.starts_with("<85>1 ")) << m;  // authpriv.notice: a refusal
  EXPECT_NE(m.find(" openrms "), std::string::npos) << m;
  EXPECT_NE(m.find("[openrms@32473 cluster=\"ROOT\" node=\"node-a\" user=\"carol\""),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("owner=\"alice\" result=\"AccessDenied\" reason=\"no right granted\"]"),
            std::string::npos)
      << m;

  delete node_;
  StartNode();
}

// Removing an account stops its licensing within the same 2 s bound: its
// bearer tokens go with it, and a node keeps a token at most that long.
TEST_F(LicensingTest, ARemovedUserLicensesNoMore) {
  ASSERT_EQ(RunCommand({kBin, "user", "add", "frank", "--dir", srv_},
                       {"OPENRMS_USER_PASSWORD=frank-password"})
                .exit_code,
            0);
  const nlohmann::json body = ProtectedForRights("frank:VIEW", "f.pfile");
  const std::string token = Token("frank");
  auto before = Call("enduserlicenses", token, body);
  EXPECT_TRUE(Granted(before)) << (before.ok() ? before->body : before.status().ToString());
  ASSERT_EQ(RunCommand({kBin, "user", "remove", "frank", "--dir", srv_}).exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto after = Call("enduserlicenses", token, body);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, 401) << after->body;
  EXPECT_EQ(after->body.find("AccessGranted"), std::string::npos) << after->body;
}

// Leaving a group stops licensing by that group's rights within the same
// 2 s bound: the change reaches the account's tokens at once, and a node
// keeps a token at most that long.
TEST_F(LicensingTest, LeavingAGroupStopsLicensingByItsRights) {
  ASSERT_EQ(RunCommand({kBin, "user", "add", "gina", "--dir", srv_, "--group", "Finance"},
                       {"OPENRMS_USER_PASSWORD=gina-password"})
                .exit_code,
            0);
  const nlohmann::json body = ProtectedForRights("Finance:VIEW", "g.pfile");
  const std::string token = Token("gina");
  auto before = Call("enduserlicenses", token, body);
  EXPECT_TRUE(Granted(before)) << (before.ok() ? before->body : before.status().ToString());
  ASSERT_EQ(
      RunCommand({kBin, "user", "group", "gina", "--remove", "Finance", "--dir", srv_}).exit_code,
      0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto after = Call("enduserlicenses", token, body);
  EXPECT_TRUE(Denied(after)) << (after.ok() ? after->body : after.status().ToString());
  ASSERT_EQ(RunCommand({kBin, "user", "remove", "gina", "--dir", srv_}).exit_code, 0);
}

// The same for directory users: while they are signed on, their groups
// follow the directory (asked again at most every 2 s per token), and a
// user removed from it loses every token. A real slapd on loopback.
TEST_F(LicensingTest, DirectoryGroupChangesAndRemovalsStopLicensing) {
  Slapd slapd(tmp_->path() + "/ldap");
  ASSERT_EQ(RunCommand({kBin, "directory", "set", "--dir", srv_, "--uri", slapd.uri(), "--user-dn",
                        kDirectoryUserDn, "--group-base", kDirectoryGroupBase, "--ca-file",
                        slapd.ca_file()})
                .exit_code,
            0);
  delete node_;
  StartNode();
  auto directory_token = [](const std::string& user) {
    http::ClientRequest req;
    req.method = "POST";
    req.url = origin_ + "/oauth2/token";
    req.ca_pem = ReadAll(srv_ + "/tls-ca.pem");
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    req.body = "grant_type=password&username=" + user + "&password=" + user + "-directory-pw";
    auto r = http::Fetch(req);
    EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
    return r.ok() ? nlohmann::json::parse(r->body).value("access_token", "") : "";
  };
  // Directory names that are not local accounts: "bob" is both, and local
  // accounts come first.
  ASSERT_TRUE(slapd.Modify(
      std::string("dn: uid=erin,ou=people,") + kDirectoryBase +
      "\nchangetype: add\nobjectClass: inetOrgPerson\nuid: erin\ncn: Erin\n"
      "sn: Staff\nuserPassword: erin-directory-pw\n\n"
      "dn: uid=fred,ou=people," +
      kDirectoryBase +
      "\nchangetype: add\nobjectClass: inetOrgPerson\nuid: fred\ncn: Fred\n"
      "sn: Staff\nuserPassword: fred-directory-pw\n\n"
      "dn: cn=Staff," +
      kDirectoryGroupBase + "\nchangetype: modify\nadd: member\nmember: uid=erin,ou=people," +
      kDirectoryBase + "\nmember: uid=fred,ou=people," + kDirectoryBase + "\n"));
  const nlohmann::json body = ProtectedForRights("Staff:VIEW", "staff.pfile");
  const std::string erin = directory_token("erin");
  const std::string fred = directory_token("fred");
  for (const std::string& token : {erin, fred}) {
    auto before = Call("enduserlicenses", token, body);
    EXPECT_TRUE(Granted(before)) << (before.ok() ? before->body : before.status().ToString());
  }

  ASSERT_TRUE(slapd.Modify(std::string("dn: cn=Staff,") + kDirectoryGroupBase +
                           "\nchangetype: modify\ndelete: member\nmember: uid=erin,ou=people," +
                           kDirectoryBase + "\n\ndn: uid=fred,ou=people," + kDirectoryBase +
                           "\nchangetype: delete\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto left = Call("enduserlicenses", erin, body);
  EXPECT_TRUE(Denied(left)) << (left.ok() ? left->body : left.status().ToString());
  auto gone = Call("enduserlicenses", fred, body);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->status, 401) << gone->body;

  ASSERT_EQ(RunCommand({kBin, "directory", "unset", "--dir", srv_}).out,
            "directory logons end (restart `openrms serve`)\n");
  EXPECT_EQ(RunCommand({kBin, "directory", "unset", "--dir", srv_}).out,
            "no directory was set; nothing changed\n");
  delete node_;
  StartNode();
}

// Bearer tokens from a real OpenID Connect provider (glewlwyd on loopback),
// signed RS256 and ES256: alice publishes, bob (named by his email claim)
// is granted and certified, carol is refused, and a client without a token
// is told where to get one. Each token is the provider's own.
TEST_F(LicensingTest, TokensFromAnOpenIdConnectProvider) {
  for (const std::string alg : {"RS256", "ES256"}) {
    SCOPED_TRACE(alg);
    GlewlwydOptions options;
    options.signing_alg = alg;
    auto idp = Glewlwyd::Start(tmp_->path() + "/glewlwyd-" + alg, options);
    ASSERT_TRUE(idp.ok()) << idp.status().ToString();
    const std::string config = tmp_->path() + "/oidc-" + alg + ".toml";
    std::ofstream(config) << "[[oidc]]\nissuer = \"" << (*idp)->issuer() << "\"\naudience = \""
                          << (*idp)->audience() << "\"\nca_file = \"" << (*idp)->ca_file()
                          << "\"\n";
    delete node_;
    StartNode(config);

    auto alice = (*idp)->PasswordToken("alice", kOidcAlicePassword);
    auto bob = (*idp)->PasswordToken("bob", kOidcBobPassword);
    auto carol = (*idp)->PasswordToken("carol", kOidcCarolPassword);
    ASSERT_TRUE(alice.ok() && bob.ok() && carol.ok()) << alice.status().ToString();
    const nlohmann::json policy = {
        {"Policy",
         {{"UserRights", {{{"Users", {"bob@example.test"}}, {"Rights", {"VIEW"}}}}},
          {"Descriptors", {{{"Name", "Roadmap"}, {"Language", "en-us"}}}}}}};
    auto published = Call("publishinglicenses", *alice, policy);
    ASSERT_TRUE(published.ok());
    ASSERT_EQ(published->status, 200) << published->body;
    const nlohmann::json eul = {
        {"SerializedPublishingLicense",
         nlohmann::json::parse(published->body)["SerializedPublishingLicense"]}};
    auto granted = Call("enduserlicenses", *bob, eul);
    EXPECT_TRUE(Granted(granted)) << (granted.ok() ? granted->body : "");
    auto refused = Call("enduserlicenses", *carol, eul);
    EXPECT_TRUE(Denied(refused)) << (refused.ok() ? refused->body : "");
    // The owner is alice as her token names her.
    auto owner = Call("enduserlicenses", *alice, eul);
    EXPECT_TRUE(Granted(owner)) << (owner.ok() ? owner->body : "");

    // /certification takes the same token.
    http::ClientRequest cert;
    cert.method = "POST";
    cert.url = root_ + "/certification";
    cert.ca_pem = ReadAll(srv_ + "/tls-ca.pem");
    cert.headers = {{"content-type", "application/json"}, {"Authorization", "Bearer " + *bob}};
    auto key = crypto::GenerateSealedRsaKey(2048, "not kept");
    ASSERT_TRUE(key.ok());
    cert.body = nlohmann::json{
        {"PublicKey", crypto::Base64Encode(key->key->public_key().ToPkcs1Der())},
        {"Temporary",
         false}}.dump();
    auto certified = http::Fetch(cert);
    ASSERT_TRUE(certified.ok());
    EXPECT_EQ(certified->status, 200) << certified->body;

    // Without a token, or with one this node does not trust: the challenge
    // names the issuer, and the message says what was wrong.
    cert.headers = {{"content-type", "application/json"}};
    auto none = http::Fetch(cert);
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none->status, 401);
    EXPECT_EQ(none->Header("www-authenticate").value_or(""),
              "Bearer authorization=\"" + (*idp)->issuer() + "\", realm=\"OpenRMS ROOT\"");
    std::string forged = *bob;
    char& c = forged[forged.rfind('.') + 10];
    c = c == 'A' ? 'B' : 'A';
    auto bad = Call("enduserlicenses", forged, eul);
    ASSERT_TRUE(bad.ok());
    EXPECT_EQ(bad->status, 401);
    const std::string message = nlohmann::json::parse(bad->body).value("Message", "");
    EXPECT_EQ(message.rfind("the token's signature does not verify with the key \"", 0), 0u)
        << message;
    const std::string tail = "\" of " + (*idp)->issuer() + ": get one from " + (*idp)->issuer();
    EXPECT_TRUE(message.size() > tail.size() &&
                message.compare(message.size() - tail.size(), tail.size(), tail) == 0)
        << message;
    // The node's own tokens still work beside them.
    auto own = Call("publishinglicenses", Token("alice"), policy);
    EXPECT_TRUE(own.ok() && own->status == 200) << (own.ok() ? own->body : "");

    // A node that cannot fetch the issuer's keys (it trusts the wrong CA
    // for the issuer's HTTPS): 503 and Retry-After, never a 401.
    std::ofstream(config) << "[[oidc]]\nissuer = \"" << (*idp)->issuer() << "\"\naudience = \""
                          << (*idp)->audience() << "\"\nca_file = \"" << srv_ << "/tls-ca.pem\"\n";
    delete node_;
    StartNode(config);
    auto outage = Call("enduserlicenses", *bob, eul);
    ASSERT_TRUE(outage.ok());
    EXPECT_EQ(outage->status, 503) << outage->body;
    EXPECT_EQ(outage->Header("retry-after").value_or(""), std::to_string(http::kRetryAfterSeconds));
    // The details go to the node's log, not to the caller (ForRemoteCaller).
    EXPECT_EQ(nlohmann::json::parse(outage->body)["Code"], "ServiceUnavailable") << outage->body;
  }
  delete node_;
  StartNode();
}

// Hostile JSON from a logged-on user: never a crash, always a 400 that names
// the field.
TEST_F(LicensingTest, HostileJsonGetsA400AndTheNodeLives) {
  const std::string token = Token("alice");
  http::ClientRequest deep;
  deep.method = "POST";
  deep.url = root_ + "/my/v2/publishinglicenses";
  deep.ca_pem = ReadAll(srv_ + "/tls-ca.pem");
  deep.headers = {{"content-type", "application/json"}, {"Authorization", "Bearer " + token}};
  deep.body = R"({"Policy":{"UserRights":[{"Users":["u"],"Rights":[)" + std::string(60000, '[') +
              std::string(60000, ']') + "]}]}}";
  auto r = http::Fetch(deep);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(nlohmann::json::parse(r->body)["Message"],
            "the JSON document nests deeper than 32 levels");
  // A right that is not a string, shallow enough to parse.
  nlohmann::json odd = {{"Policy", {{"UserRights", {{{"Users", {"u"}}, {"Rights", {{1, 2}}}}}}}}};
  auto o = Call("publishinglicenses", token, odd);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->status, 400);
  EXPECT_EQ(nlohmann::json::parse(o->body)["Message"], "UserRights[0].Rights must hold strings");

  // Numbers that do not fit their field are refused, not wrapped or cut.
  for (const std::string number : {"9223372036854775808", "4294967326", "30.9", "-1", "36501"}) {
    SCOPED_TRACE(number);
    deep.body = R"({"Policy":{"UserRights":[{"Users":["bob"],"Rights":["VIEW"]}],)"
                R"("IntervalTimeInDays":)" +
                number + "}}";
    auto n = http::Fetch(deep);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(n->status, 400);
    EXPECT_EQ(nlohmann::json::parse(n->body)["Message"],
              "IntervalTimeInDays must be a whole number from 0 to 36500");
  }

  // Wrong-typed fields of each request: a 400 naming the field.
  const nlohmann::json rights = {{{"Users", {"bob"}}, {"Rights", {"VIEW"}}}};
  const std::vector<std::tuple<std::string, nlohmann::json, std::string>> wrong = {
      {"publishinglicenses", {{"TemplateId", 5}}, "TemplateId must be a string"},
      {"publishinglicenses",
       {{"Policy", {{"UserRights", rights}, {"Descriptors", {42}}}}},
       "Policy.Descriptors[0] must be an object"},
      {"publishinglicenses",
       {{"Policy", {{"UserRights", rights}, {"LicenseValidUntil", 2099}}}},
       "LicenseValidUntil must be a date"},
      {"enduserlicenses",
       {{"SerializedPublishingLicense", {"AAAA"}}},
       "the request needs SerializedPublishingLicense (base64)"},
  };
  for (const auto& [op, body, message] : wrong) {
    SCOPED_TRACE(body.dump());
    auto w = Call(op, token, body);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w->status, 400) << w->body;
    EXPECT_EQ(nlohmann::json::parse(w->body)["Message"], message);
  }
  // An unknown right is quoted cut to 64 bytes, here in the middle of a
  // UTF-8 character: still a 400 (writing it used to throw: a 500).
  std::string right = "A";
  for (int i = 0; i < 40; ++i) right += "\xC3\xA9";
  auto cut = Call("publishinglicenses", token,
                  {{"Policy", {{"UserRights", {{{"Users", {"bob"}}, {"Rights", {right}}}}}}}});
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->status, 400) << cut->body;
  EXPECT_EQ(nlohmann::json::parse(cut->body)["Code"], "InvalidRequest");

  // /certification: a wrong type is a 400 naming the field, not a 500.
  http::ClientRequest cert = deep;
  cert.url = root_ + "/certification";
  cert.body = R"({"PublicKey":"AAAA","Temporary":"yes"})";
  auto c = http::Fetch(cert);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->status, 400);
  EXPECT_EQ(nlohmann::json::parse(c->body)["Message"], "Temporary must be true or false");
  cert.body = R"({"PublicKey":["AAAA"]})";
  c = http::Fetch(cert);
  EXPECT_EQ(c->status, 400);
  EXPECT_EQ(nlohmann::json::parse(c->body)["Message"],
            "the body needs PublicKey (base64 DER PKCS#1)");
  cert.body = std::string(101, '{');  // "[{{{...", not "[" + ...: GCC 12 -Wrestrict at -O3
  cert.body[0] = '[';
  c = http::Fetch(cert);
  EXPECT_EQ(c->status, 400);

  // The node is still there.
  auto p = Call("publishinglicenses", token,
                {{"Policy", {{"UserRights", {{{"Users", {"bob"}}, {"Rights", {"VIEW"}}}}}}}});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->status, 200) << p->body;
}

// An internal failure (here: the audit table gone from under the node)
// reaches the client as a reference id, never as SQL or file names. Audit
// rows are written in batches: once a batch fails, licensing is refused
// until the trail can be written again, and the rows it kept are written.
TEST_F(LicensingTest, InternalErrorsShowNoInternalText) {
  auto db = store::OpenSqlite(srv_ + "/openrms.db");
  ASSERT_TRUE(db.ok());
  const std::string token = Token("alice");
  const nlohmann::json publish = {
      {"Policy", {{"UserRights", {{{"Users", {"bob"}}, {"Rights", {"VIEW"}}}}}}}};
  ASSERT_TRUE((*db)->Execute("ALTER TABLE license_audit RENAME TO license_audit_away").ok());
  Result<http::ClientResponse> p = Status(Code::kInternal, "not called");
  for (int i = 0; i < 50; ++i) {
    p = Call("publishinglicenses", token, publish);
    if (!p.ok() || p->status != 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE((*db)->Execute("ALTER TABLE license_audit_away RENAME TO license_audit").ok());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->status, 500);
  const auto error = nlohmann::json::parse(p->body);
  EXPECT_EQ(error["Code"], "InternalError");
  const std::string message = error["Message"];
  EXPECT_EQ(message.rfind("an internal error occurred (reference ", 0), 0u) << message;
  EXPECT_NE(message.find("); the server's log has the details"), std::string::npos);
  for (const char* secret : {"license_audit", "table", "sqlite", srv_.c_str()}) {
    EXPECT_EQ(p->body.find(secret), std::string::npos) << secret << " in " << p->body;
  }
  // The table is back: the kept rows are written and licensing goes on.
  bool again = false;
  for (int i = 0; i < 50 && !again; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto next = Call("publishinglicenses", token, publish);
    again = next.ok() && next->status == 200;
  }
  EXPECT_TRUE(again) << "licensing is refused after the store came back";
}

// An online renewal from the admin site waits on its issuer (up to 30 s).
// Two of them -- one per cluster, the most that may run at once -- against
// an issuer that never answers would hold both of this node's request
// threads (--threads 2). They run on the pool for requests that may wait,
// and licensing goes on while they hang.
TEST_F(LicensingTest, LicensingGoesOnWhileAdminRenewalsHang) {
  ASSERT_EQ(RunCommand({kBin, "user", "add", "erin", "--dir", srv_, "--group", "Administrators"},
                       {"OPENRMS_USER_PASSWORD=erin-password"})
                .exit_code,
            0);
  ASSERT_EQ(
      As("alice", {"protect", plain_, Out("hang.pfile"), "--server", root_, "--rights", "bob:VIEW"})
          .exit_code,
      0);
  const std::string ca = ReadAll(srv_ + "/tls-ca.pem");
  auto logon = WebLogOn(origin_ + "/admin", ca, "erin", "erin-password");
  ASSERT_TRUE(logon.ok() && logon->status == 303) << logon.status().ToString();
  const std::string cookie = CookiePair(*logon);

  std::optional<StalledServer> issuer;
  issuer.emplace();
  auto db = store::OpenSqlite(srv_ + "/openrms.db");
  ASSERT_TRUE(db.ok());
  auto saved = (*db)->Query("SELECT name, issuer_url FROM clusters ORDER BY name", {});
  ASSERT_TRUE(saved.ok() && saved->size() == 2);
  ASSERT_TRUE((*db)
                  ->Execute("UPDATE clusters SET issuer_url = $1",
                            {"https://127.0.0.1:" + std::to_string(issuer->port())})
                  .ok());
  std::vector<std::future<Result<http::ClientResponse>>> renewals;
  for (const char* cluster : {"ROOT", "LIC"}) {
    http::ClientRequest page;
    page.url = origin_ + "/admin/clusters/" + cluster + "/renew";
    page.ca_pem = ca;
    page.headers = {{"Cookie", cookie}};
    auto dialog = http::Fetch(page);
    ASSERT_TRUE(dialog.ok() && dialog->status == 200);
    http::ClientRequest renew = page;
    renew.method = "POST";
    renew.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    renew.body = "csrf=" + HiddenField(dialog->body, "csrf");
    renew.timeout_seconds = 60;
    renewals.push_back(std::async(std::launch::async, [renew] { return http::Fetch(renew); }));
  }
  for (int i = 0; i < 400 && issuer->accepted() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(issuer->accepted(), 2) << "both renewals should be waiting on the issuer";

  for (int i = 0; i < 20; ++i) {
    auto eul = EndUserLicense(Out("hang.pfile"), "alice");
    ASSERT_TRUE(eul.ok()) << eul.status().ToString();
    EXPECT_EQ(eul->status, 200) << eul->body;
  }
  for (auto& r : renewals) {
    EXPECT_EQ(r.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
        << "the renewals still hang while licensing answers";
  }

  // The issuer goes away: both renewals fail, and say why.
  issuer.reset();
  for (auto& r : renewals) {
    auto answer = r.get();
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    EXPECT_EQ(answer->status, 400);
  }
  for (const auto& row : *saved) {
    ASSERT_TRUE((*db)
                    ->Execute("UPDATE clusters SET issuer_url = $1 WHERE name = $2",
                              {row.Text(1), row.Text(0)})
                    .ok());
  }
}

}  // namespace
}  // namespace openrms::testing
