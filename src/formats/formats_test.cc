#include <gtest/gtest.h>

#include <cstring>

#include "formats/compound_file.h"
#include "formats/container.h"
#include "formats/office_irm.h"
#include "formats/pfile.h"

namespace openrms::formats {
namespace {

const std::string kKey16(16, '\x42');
const std::string kKey32(32, '\x24');
const std::string kPl = "\xEF\xBB\xBF<?xml version=\"1.0\"?><XrML>a license</XrML>";

// A document of `n` bytes that looks like an OPC package.
std::string Docx(size_t n) {
  std::string head = std::string("PK\x03\x04\x14\x00\x00\x00", 8) + "[Content_Types].xml";
  std::string out = head.substr(0, std::min(n, head.size()));
  for (size_t i = out.size(); i < n; ++i) out += static_cast<char>((i * 131 + 7) & 0xff);
  return out;
}

uint32_t Get32(const std::string& b, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(b[at + i])} << (8 * i);
  return v;
}
void Set32(std::string& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// The layout of a version 3 compound file (MS-CFB 2.2), to damage it.
struct Layout {
  std::string bytes;
  size_t Sector(uint32_t n) const { return 512 + size_t{n} * 512; }
  uint32_t FatSector(uint32_t i) const { return Get32(bytes, 0x4C + 4 * i); }
  size_t FatEntry(uint32_t sector) const {
    return Sector(FatSector(sector / 128)) + 4 * (sector % 128);
  }
  // The directory entry named `name` (ASCII), by walking the directory chain.
  size_t Entry(std::string_view name) const {
    for (uint32_t s = Get32(bytes, 0x30); s < 0xFFFFFFFA; s = Get32(bytes, FatEntry(s))) {
      for (size_t e = Sector(s); e < Sector(s) + 512; e += 128) {
        std::string utf16;
        for (char c : name) utf16 += std::string{c, '\0'};
        if (bytes.compare(e, utf16.size(), utf16) == 0 && bytes[e + utf16.size()] == 0) return e;
      }
    }
    ADD_FAILURE() << "no entry " << name;
    return 0;
  }
  size_t EntryIndex(size_t offset) const {
    // Entries are numbered along the directory chain; here it is one run.
    return (offset - Sector(Get32(bytes, 0x30))) / 128;
  }
};

Layout Protected(size_t n) {
  auto sealed = Seal(Container::kOffice, Docx(n), kPl, kKey16, ".docx");
  EXPECT_TRUE(sealed.ok()) << sealed.status().message();
  return Layout{*sealed};
}

TEST(CompoundFile, WritesAndReadsStoragesAndStreamsAtTheMiniStreamEdges) {
  CompoundFile f;
  f.storages = {{"Empty"}};
  f.streams = {{{"zero"}, ""},
               {{"one"}, "x"},
               {{"A", "B", "4095"}, std::string(4095, 'a')},
               {{"A", "B", "4096"}, std::string(4096, 'b')},
               {{"A", "4097"}, std::string(4097, 'c')},
               {{"\x06"
                 "DataSpaces",
                 "big"},
                std::string(1 << 20, 'd')}};
  auto written = WriteCompoundFile(f);
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_TRUE(LooksLikeCompoundFile(*written));
  auto read = ReadCompoundFile(*written);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_TRUE(read->HasStorage({"Empty"}));
  EXPECT_TRUE(read->HasStorage({"A", "B"}));
  for (const auto& s : f.streams) {
    const CompoundStream* back = read->Find(s.path);
    ASSERT_NE(back, nullptr) << PathText(s.path);
    EXPECT_EQ(back->data, s.data) << PathText(s.path);
  }
  EXPECT_EQ(read->streams.size(), f.streams.size());
}

TEST(CompoundFile, RefusesNamesItCannotWrite) {
  CompoundFile f;
  f.streams = {{{std::string(32, 'n')}, ""}};
  EXPECT_EQ(WriteCompoundFile(f).status().message(),
            "a compound file entry name must be 1 to 31 characters without / \\ : or ! (not \"" +
                std::string(32, 'n') + "\")");
  f.streams = {{{std::string(31, 'n')}, ""}};
  EXPECT_TRUE(WriteCompoundFile(f).ok());
  f.streams = {{{"a", "b"}, ""}, {{"a"}, ""}};
  EXPECT_EQ(WriteCompoundFile(f).status().message(), "a is both a storage and a stream");
  f.streams = {{{"a"}, ""}, {{"a"}, "x"}};
  EXPECT_EQ(WriteCompoundFile(f).status().message(), "a is named twice");
}

TEST(OfficeIrm, RoundTripsAtEverySizeThatMatters) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{4095},
                   size_t{4096}, size_t{4097}, size_t{1} << 20}) {
    SCOPED_TRACE(n);
    const std::string plain = Docx(n);
    auto container = ContainerFor(plain);
    ASSERT_TRUE(container.ok());
    EXPECT_EQ(*container,
              n >= 27 ? Container::kOffice : Container::kPfile);  // 27: the ZIP head whole
    auto sealed = Seal(Container::kOffice, plain, kPl, kKey16, ".docx");
    ASSERT_TRUE(sealed.ok()) << sealed.status().message();
    EXPECT_TRUE(LooksLikeCompoundFile(*sealed));
    EXPECT_NE(sealed->substr(0, 2), "PK");
    auto cfb = ReadCompoundFile(*sealed);
    ASSERT_TRUE(cfb.ok());
    const CompoundStream* package = cfb->Find({"EncryptedPackage"});
    ASSERT_NE(package, nullptr);
    EXPECT_EQ(package->data.size(), 8 + (n + 15) / 16 * 16);
    std::string length(8, '\0');
    for (int i = 0; i < 8; ++i) length[i] = static_cast<char>((uint64_t{n} >> (8 * i)) & 0xff);
    EXPECT_EQ(package->data.substr(0, 8), length);
    if (n >= 64) {
      EXPECT_EQ(package->data.find(plain.substr(32, 32)), std::string::npos);
    }
    auto read = ReadProtected(*sealed);
    ASSERT_TRUE(read.ok()) << read.status().message();
    EXPECT_EQ(read->container, Container::kOffice);
    EXPECT_EQ(read->publishing_license, kPl);
    EXPECT_EQ(read->original_size, n);
    auto back = Unseal(*read, kKey16);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, plain);
  }
}

TEST(OfficeIrm, WritesTheSpecsStructuresByteForByte) {
  auto cfb = ReadCompoundFile(Protected(5).bytes);
  ASSERT_TRUE(cfb.ok());
  auto utf16 = [](std::string_view s) {
    std::string out;
    for (char c : s) out += std::string{c, '\0'};
    return out;
  };
  const std::string ds =
      "\x06"
      "DataSpaces";
  // DataSpaceVersionInfo (2.1.5): 60 bytes of name, then 1.0 three times.
  EXPECT_EQ(cfb->Find({ds, "Version"})->data, std::string("\x3C\0\0\0", 4) +
                                                  utf16("Microsoft.Container.DataSpaces") +
                                                  std::string("\1\0\0\0\1\0\0\0\1\0\0\0", 12));
  // DataSpaceMap (2.1.6): one entry, one stream component.
  EXPECT_EQ(cfb->Find({ds, "DataSpaceMap"})->data,
            std::string("\x08\0\0\0\x01\0\0\0\x60\0\0\0\x01\0\0\0\0\0\0\0\x20\0\0\0", 24) +
                utf16("EncryptedPackage") + std::string("\x2A\0\0\0", 4) +
                utf16("DRMEncryptedDataSpace") + std::string(2, '\0'));
  EXPECT_EQ(cfb->Find({ds, "DataSpaceInfo", "DRMEncryptedDataSpace"})->data,
            std::string("\x08\0\0\0\x01\0\0\0\x2A\0\0\0", 12) + utf16("DRMEncryptedTransform") +
                std::string(2, '\0'));
  const std::string primary =
      cfb->Find({ds, "TransformInfo", "DRMEncryptedTransform", "\x06Primary"})->data;
  const std::string expected_head =
      std::string("\x58\0\0\0\x01\0\0\0\x4C\0\0\0", 12) + utf16(kDrmTransformId) +
      std::string("\x3E\0\0\0", 4) + utf16(kDrmTransformName) + std::string(2, '\0') +
      std::string("\1\0\0\0\1\0\0\0\1\0\0\0", 12) + std::string("\4\0\0\0", 4);
  ASSERT_GT(primary.size(), expected_head.size() + 4);
  EXPECT_EQ(primary.substr(0, expected_head.size()), expected_head);
  EXPECT_EQ(Get32(primary, expected_head.size()), kPl.size());
  EXPECT_EQ(primary.substr(expected_head.size() + 4, kPl.size()), kPl);
  EXPECT_EQ(primary.size() % 4, 0u);
}

TEST(OfficeIrm, RefusesWhatIsNotAProtectedOfficeDocument) {
  EXPECT_EQ(ReadOfficeIrm("").status().message(),
            "the file is empty (0 bytes), not a protected Office document");
  EXPECT_EQ(ReadProtected("").status().message(),
            "the file is empty (0 bytes), not a protected file");
  EXPECT_EQ(ReadOfficeIrm("x").status().message(),
            "not a protected Office document: a compound file (MS-CFB) starts with D0 CF 11 E0 "
            "A1 B1 1A E1");
  auto pfile = Seal(Container::kPfile, "hello", kPl, kKey32, ".txt");
  ASSERT_TRUE(pfile.ok());
  EXPECT_EQ(ReadOfficeIrm(*pfile).status().message(),
            "this is a PFILE, not a protected Office document; open it as a PFILE");
  EXPECT_EQ(ReadOfficeIrm(Docx(100)).status().message(),
            "this is an Office document that is not protected (a ZIP package), not a protected "
            "one; it needs no opening");
  EXPECT_EQ(ReadProtected(Docx(100)).status().message(),
            "this Office document is not protected (a ZIP package); it needs no opening");
  EXPECT_EQ(ReadProtected("plain text").status().message(),
            "not a protected file: neither a PFILE (it would start with \".pfile\") nor a "
            "protected Office document (an OLE compound file)");
  // Protecting what is protected already.
  EXPECT_EQ(ContainerFor(*pfile).status().message(),
            "this file is protected already (a PFILE); open it first to protect it again");
  EXPECT_EQ(ContainerFor(Protected(10).bytes).status().message(),
            "this Office document is protected already; open it first to protect it again");
  // A compound file without the IRM data spaces (an Office 97-2003 file).
  CompoundFile doc;
  doc.streams = {{{"WordDocument"}, std::string(600, 'w')}};
  auto written = WriteCompoundFile(doc);
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(ContainerFor(*written).status().code(), Code::kUnsupported);
  EXPECT_EQ(ReadOfficeIrm(*written).status().message(),
            "this compound file holds no IRM data spaces (\\x06DataSpaces) and no "
            "EncryptedPackage, so it is not a protected Office document; perhaps an Office "
            "97-2003 document that is not protected");
}

constexpr char kChainDamage[] =
    "the compound file is damaged: a sector chain loops or runs past the end of the file; it "
    "cannot be read (was it cut short, or changed?)";
constexpr char kDirectoryDamage[] =
    "the compound file is damaged: a directory entry points at itself or at an entry above it; "
    "it cannot be read (was it cut short, or changed?)";

TEST(OfficeIrm, RefusesADamagedCompoundFile) {
  const Layout good = Protected(8000);
  ASSERT_TRUE(ReadOfficeIrm(good.bytes).ok());
  // Cut short: inside the header, and halfway.
  EXPECT_EQ(ReadOfficeIrm(good.bytes.substr(0, 100)).status().message(),
            "the compound file is cut short: 100 bytes, less than its 512-byte header");
  EXPECT_EQ(ReadOfficeIrm(good.bytes.substr(0, 511)).status().message(),
            "the compound file is cut short: 511 bytes, less than its 512-byte header");
  EXPECT_EQ(ReadOfficeIrm(good.bytes.substr(0, good.bytes.size() / 2)).status().message(),
            kChainDamage);
  EXPECT_EQ(ReadOfficeIrm(good.bytes.substr(0, good.bytes.size() - 512)).status().message(),
            kChainDamage);

  const size_t package = good.Entry("EncryptedPackage");
  const uint32_t start = Get32(good.bytes, package + 0x74);
  std::string loop = good.bytes;  // the package's chain loops back onto its first sector
  Set32(loop, good.FatEntry(start), start);
  EXPECT_EQ(ReadOfficeIrm(loop).status().message(), kChainDamage);
  std::string past = good.bytes;  // the chain goes on to a sector past the end of the file
  Set32(past, good.FatEntry(start), 0x00FFFF00);
  EXPECT_EQ(ReadOfficeIrm(past).status().message(), kChainDamage);
  std::string self = good.bytes;  // a directory entry that is its own sibling
  Set32(self, package + 0x44, static_cast<uint32_t>(good.EntryIndex(package)));
  EXPECT_EQ(ReadOfficeIrm(self).status().message(), kDirectoryDamage);
  std::string root_self = good.bytes;  // the root storage is its own child
  const size_t root = good.Entry("Root Entry");
  Set32(root_self, root + 0x4C, static_cast<uint32_t>(good.EntryIndex(root)));
  EXPECT_EQ(ReadOfficeIrm(root_self).status().message(), kDirectoryDamage);
}

TEST(OfficeIrm, RefusesAPackageLongerThanItsStream) {
  Layout l = Protected(100);
  // EncryptedPackage is small, so it lives in the mini stream; find its
  // 8-byte Length by value (100) next to its encrypted blocks.
  auto cfb = ReadCompoundFile(l.bytes);
  ASSERT_TRUE(cfb.ok());
  const std::string data = cfb->Find({"EncryptedPackage"})->data;
  const size_t at = l.bytes.find(data);
  ASSERT_NE(at, std::string::npos);
  std::string longer = l.bytes;
  longer[at] = static_cast<char>(113);  // 113 bytes need 128; the stream holds 112
  EXPECT_EQ(ReadOfficeIrm(longer).status().message(),
            "the protected Office document's EncryptedPackage says it holds 113 bytes, but it "
            "has room for only 112; the file is cut short or damaged, so it cannot be opened");
  longer[at] = static_cast<char>(112);  // exactly the blocks held
  auto exact = ReadOfficeIrm(longer);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->original_size, 112u);
  longer[at + 7] = '\x01';  // 2^56 + 112
  EXPECT_EQ(ReadOfficeIrm(longer).status().code(), Code::kMalformed);
}

TEST(OfficeIrm, NamesTheStreamThatIsWrong) {
  Layout l = Protected(10);
  const size_t at = l.bytes.find(std::string("M\0i\0c\0r\0o\0s\0o\0f\0t\0.\0M\0e\0t", 26));
  ASSERT_NE(at, std::string::npos);
  std::string bad = l.bytes;
  bad[at] = 'N';
  EXPECT_EQ(ReadOfficeIrm(bad).status().message(),
            "the protected Office document's \\x06DataSpaces/TransformInfo/DRMEncryptedTransform/"
            "\\x06Primary stream names \"Nicrosoft.Metadata.DRMTransform\" as its transform name, "
            "not \"Microsoft.Metadata.DRMTransform\" (MS-OFFCRYPTO 2.1, 2.2); it is damaged, or "
            "was not written by an RMS client");
}

TEST(Containers, AreChosenByContentAndKeepTheirCiphers) {
  EXPECT_EQ(*ContainerFor(""), Container::kPfile);
  EXPECT_EQ(*ContainerFor("x"), Container::kPfile);
  EXPECT_EQ(*ContainerFor(std::string("PK\x03\x04 a plain zip", 17)), Container::kPfile);
  EXPECT_EQ(*ContainerFor(Docx(200)), Container::kOffice);
  EXPECT_EQ(CipherModeOf(Container::kOffice), "MICROSOFT.ECB");
  EXPECT_EQ(CipherModeOf(Container::kPfile), "MICROSOFT.CBC4K");
  EXPECT_EQ(Seal(Container::kOffice, Docx(200), kPl, kKey32, ".docx").status().message(),
            "an Office document's content key is AES-128 (16 bytes; MS-OFFCRYPTO 2.2.10), not 32 "
            "bytes");
  for (size_t n : {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{4097}}) {
    auto sealed = Seal(Container::kPfile, std::string(n, 'p'), kPl, kKey32, ".txt");
    ASSERT_TRUE(sealed.ok());
    auto read = ReadProtected(*sealed);
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(read->container, Container::kPfile);
    EXPECT_EQ(read->extension, ".txt");
    EXPECT_EQ(*Unseal(*read, kKey32), std::string(n, 'p'));
  }
}

}  // namespace
}  // namespace openrms::formats
