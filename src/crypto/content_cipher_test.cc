#include "crypto/content_cipher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/text.h"
#include "crypto/encoding.h"
#include "crypto/keys.h"

namespace openrms::crypto {
namespace {

const size_t kSizes[] = {
    0, 1, 15, 16, 17, 4095, 4096, 4097, 8191, 8192, 8193, size_t{1} << 20, (size_t{1} << 20) + 1};

// The ciphertext size the format implies: full blocks as they are, the rest
// padded to the next multiple of 16 (a whole padding block when it is empty).
size_t ExpectedCipherSize(size_t n) { return n / 4096 * 4096 + (n % 4096 / 16 + 1) * 16; }

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 4096) & 0xff);
  return s;
}

TEST(Cbc4k, RoundTripsEverySizeAroundTheBlockEdges) {
  DeterministicRandom random(3);
  for (size_t key_size : {16, 32}) {
    const std::string key = RandomBytes(random, key_size);
    for (size_t n : kSizes) {
      SCOPED_TRACE("size " + std::to_string(n) + ", key " + std::to_string(key_size));
      const std::string plain = Pattern(n);
      auto enc = Cbc4kEncrypt(key, plain);
      ASSERT_TRUE(enc.ok()) << enc.status().ToString();
      EXPECT_EQ(enc->size(), ExpectedCipherSize(n));
      auto dec = Cbc4kDecrypt(key, *enc);
      ASSERT_TRUE(dec.ok()) << dec.status().ToString();
      EXPECT_TRUE(*dec == plain);
    }
  }
}

TEST(Cbc4k, AlignedContentEndsInAPaddingBlockOfItsOwn) {
  DeterministicRandom random(4);
  const std::string key = RandomBytes(random, 16);
  auto one = Cbc4kEncrypt(key, std::string(4096, 'a'));
  auto two = Cbc4kEncrypt(key, std::string(8192, 'a'));
  ASSERT_TRUE(one.ok() && two.ok());
  // Block 0 is the same whether or not more follows: it is never padded.
  EXPECT_EQ(one->substr(0, 4096), two->substr(0, 4096));
  // The padding-only block of 4096 bytes of content is block 1, whose IV
  // differs from block 2's: the tails differ.
  EXPECT_EQ(one->size(), 4112u);
  EXPECT_NE(one->substr(4096), two->substr(8192));
}

TEST(Cbc4k, RefusesWrongKeysAndDamagedInput) {
  DeterministicRandom random(5);
  const std::string key = RandomBytes(random, 16);
  auto enc = Cbc4kEncrypt(key, Pattern(5000));
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(Cbc4kDecrypt(key, "").status().message(),
            "the encrypted content is not a whole number of AES blocks");
  EXPECT_EQ(Cbc4kDecrypt(key, enc->substr(1)).status().code(), Code::kMalformed);
  EXPECT_EQ(Cbc4kDecrypt(key.substr(1), *enc).status().message(),
            "AES keys are 16, 24 or 32 bytes");
  // A wrong key shows as bad padding (with overwhelming probability).
  auto wrong = Cbc4kDecrypt(RandomBytes(random, 16), *enc);
  EXPECT_EQ(wrong.status().code(), Code::kMalformed);
}

// --- An independent implementation: the openssl command, block by block.

class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "cbc4k-XXXXXX").string();
    path_ = mkdtemp(t.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void Write(const std::string& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<long>(bytes.size()));
}
std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `openssl enc` on `in`; returns its output.
std::string OpensslEnc(const TempDir& dir, const std::string& cipher, const std::string& key,
                       const std::string& iv, std::string_view in, bool pad) {
  Write(dir.File("in"), in);
  std::string cmd = "openssl enc -e -" + cipher + " -K " + HexEncode(key) +
                    (iv.empty() ? "" : " -iv " + HexEncode(iv)) + (pad ? "" : " -nopad") + " -in " +
                    dir.File("in") + " -out " + dir.File("out");
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return Read(dir.File("out"));
}

std::string IvOf(const TempDir& dir, const std::string& key, uint32_t block) {
  std::string n(16, '\0');
  for (int i = 0; i < 4; ++i) n[i] = static_cast<char>(block >> (8 * i));
  return OpensslEnc(dir, key.size() == 16 ? "aes-128-ecb" : "aes-256-ecb", key, "", n, false);
}

// MICROSOFT.CBC4K as readers expect it, written with the openssl command.
// `old_layout`: the layout OpenRMS wrote before, with aligned content's
// padding chained onto its last full block.
std::string OpensslCbc4k(const TempDir& dir, const std::string& key, std::string_view plain,
                         bool old_layout = false) {
  const std::string cbc = key.size() == 16 ? "aes-128-cbc" : "aes-256-cbc";
  std::string out;
  uint32_t block = 0;
  size_t off = 0;
  for (; plain.size() - off >= 4096; off += 4096, ++block) {
    const bool last_full = off + 4096 == plain.size();
    out += OpensslEnc(dir, cbc, key, IvOf(dir, key, block), plain.substr(off, 4096),
                      old_layout && last_full);
    if (old_layout && last_full) return out;
  }
  return out + OpensslEnc(dir, cbc, key, IvOf(dir, key, block), plain.substr(off), true);
}

TEST(Cbc4k, MatchesTheOpensslCommandByteForByte) {
  if (std::system("openssl version >/dev/null 2>&1") != 0) GTEST_FAIL() << "openssl is needed";
  TempDir dir;
  DeterministicRandom random(6);
  for (size_t key_size : {16, 32}) {
    const std::string key = RandomBytes(random, key_size);
    for (size_t n : kSizes) {
      if (n > 8193) continue;  // 1 MiB would take 512 openssl processes per key
      SCOPED_TRACE("size " + std::to_string(n) + ", key " + std::to_string(key_size));
      const std::string plain = Pattern(n);
      const std::string expected = OpensslCbc4k(dir, key, plain);
      auto ours = Cbc4kEncrypt(key, plain);
      ASSERT_TRUE(ours.ok());
      EXPECT_TRUE(*ours == expected)
          << "ours " << ours->size() << " bytes, openssl " << expected.size();
    }
  }
}

TEST(Cbc4k, ContentWrittenInTheOldAlignedLayoutStillOpens) {
  TempDir dir;
  DeterministicRandom random(7);
  const std::string key = RandomBytes(random, 16);
  for (size_t n : {size_t{4096}, size_t{8192}, size_t{3} * 4096}) {
    SCOPED_TRACE("size " + std::to_string(n));
    const std::string plain = Pattern(n);
    const std::string old = OpensslCbc4k(dir, key, plain, /*old_layout=*/true);
    ASSERT_EQ(old.size(), n + 16);
    ASSERT_NE(old, *Cbc4kEncrypt(key, plain));  // the layouts really differ
    auto dec = Cbc4kDecrypt(key, old);
    ASSERT_TRUE(dec.ok()) << dec.status().ToString();
    EXPECT_TRUE(*dec == plain);
  }
}

TEST(Ecb, MatchesFips197AndPadsAtTheEdges) {
  // FIPS-197 appendix C.1 (AES-128).
  const auto key = std::optional<std::string>(FromHex("000102030405060708090a0b0c0d0e0f"));
  const auto plain = std::optional<std::string>(FromHex("00112233445566778899aabbccddeeff"));
  auto enc = EcbEncrypt(*key, *plain, false);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(HexEncode(*enc), "69c4e0d86a7b0430d8cdb78070b4c55a");
  EXPECT_EQ(*EcbDecrypt(*key, *enc, false), *plain);
  // Padded: a whole block of padding after a whole block of data.
  auto padded = EcbEncrypt(*key, *plain, true);
  ASSERT_EQ(padded->size(), 32u);
  EXPECT_EQ(padded->substr(0, 16), *enc);
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{4096}}) {
    const std::string p = Pattern(n);
    for (size_t k : {size_t{16}, size_t{24}, size_t{32}}) {
      const std::string kk(k, '\x11');
      auto c = EcbEncrypt(kk, p, true);
      ASSERT_TRUE(c.ok());
      EXPECT_EQ(c->size(), n / 16 * 16 + 16);
      EXPECT_EQ(*EcbDecrypt(kk, *c, true), p);
    }
  }
  EXPECT_EQ(EcbEncrypt(*key, "x", false).status().message(),
            "AES-ECB data is not a whole number of 16-byte blocks");
  EXPECT_EQ(EcbDecrypt(*key, std::string(17, 'x'), true).status().code(), Code::kMalformed);
  EXPECT_EQ(EcbDecrypt(*key, *enc, true).status().code(), Code::kMalformed)
      << "a block without valid padding";
  EXPECT_EQ(EcbEncrypt(std::string(20, 'k'), "x", true).status().message(),
            "AES keys are 16, 24 or 32 bytes");
}

}  // namespace
}  // namespace openrms::crypto
