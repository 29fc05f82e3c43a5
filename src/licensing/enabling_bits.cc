#include "licensing/enabling_bits.h"

#include "base/text.h"
#include "crypto/content_cipher.h"
#include "crypto/password_hash.h"

namespace openrms::licensing {

namespace {

constexpr size_t kKeyHeaderSize = 12;
constexpr size_t kUdebHeaderSize = 16;
constexpr uint32_t kFlagAes = 0x1;
constexpr uint32_t kFlagEcb = 0x1000;
constexpr uint32_t kFlagCbc = 0x2000;

// Clears what it holds when it goes: intermediate plaintexts of keys.
struct Secret {
  std::string bytes;
  ~Secret() { crypto::Wipe(bytes); }
};

void PutU16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>(v >> 8));
}

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint16_t U16(std::string_view in, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(in[at]) |
                               (static_cast<unsigned char>(in[at + 1]) << 8));
}

uint32_t U32(std::string_view in, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
  return v;
}

bool IsAesSize(size_t n) { return n == 16 || n == 24 || n == 32; }

// KeyHeader || key.
std::string KeyBlob(const SymmetricKey& key) {
  std::string out;
  PutU16(out, static_cast<uint16_t>(kKeyHeaderSize + key.bytes.size()));
  PutU16(out, static_cast<uint16_t>(key.mode));
  PutU16(out, static_cast<uint16_t>(key.bytes.size()));
  PutU16(out, 16);
  PutU32(out, kFlagAes | (key.mode == KeyCipherMode::kEcb ? kFlagEcb : kFlagCbc));
  out += key.bytes;
  return out;
}

bool IsKnownMode(uint16_t mode) {
  return mode == static_cast<uint16_t>(KeyCipherMode::kEcb) ||
         mode == static_cast<uint16_t>(KeyCipherMode::kCbc4kNoPadding) ||
         mode == static_cast<uint16_t>(KeyCipherMode::kCbc4k) ||
         mode == static_cast<uint16_t>(KeyCipherMode::kCbc512NoPadding);
}

// Reads KeyHeader || key at the start of `in`; `what` names it in errors.
Result<SymmetricKey> ReadKeyBlob(std::string_view in, std::string_view what) {
  auto bad = [&](const std::string& why) {
    return Status(Code::kMalformed, "the enabling bits' " + std::string(what) + " " + why);
  };
  if (in.size() < kKeyHeaderSize) return bad("is truncated");
  const size_t blob = U16(in, 0);
  const uint16_t mode = U16(in, 2);
  size_t size = U16(in, 4);
  // The field is named in bytes and described in bits; Microsoft's own
  // blocks give bytes. Either reads.
  if (size == 128 || size == 192 || size == 256) size /= 8;
  if (!IsAesSize(size)) {
    return bad("is not an AES key (" + std::to_string(U16(in, 4)) + " in its size field)");
  }
  if (blob != kKeyHeaderSize + size || in.size() < blob) {
    return bad("has a BlobSize of " + std::to_string(blob) + " for a " + std::to_string(size) +
               "-byte key");
  }
  if (!IsKnownMode(mode)) return bad("names an unknown cipher mode " + std::to_string(mode));
  SymmetricKey key;
  key.bytes.assign(in.substr(kKeyHeaderSize, size));
  key.mode = static_cast<KeyCipherMode>(mode);
  return key;
}

size_t HashSize(SealedKeyVersion version) { return version == SealedKeyVersion::kV1 ? 20 : 32; }

}  // namespace

SymmetricKey::~SymmetricKey() { crypto::Wipe(bytes); }

std::string_view SealedKeyType(SealedKeyVersion version) {
  return version == SealedKeyVersion::kV1 ? "sealed-key" : "sealed-key-v2";
}

std::optional<SealedKeyVersion> SealedKeyVersionOf(std::string_view type) {
  if (type == "sealed-key") return SealedKeyVersion::kV1;
  if (type == "sealed-key-v2") return SealedKeyVersion::kV2;
  return std::nullopt;
}

std::string EnablingBitsHash(SealedKeyVersion version, std::string_view hashed) {
  return version == SealedKeyVersion::kV1 ? crypto::Sha1(hashed) : crypto::Sha256(hashed);
}

namespace {
xrml::Element WithoutEnablingBits(const xrml::Element& e) {
  xrml::Element out(e.name);
  out.attributes = e.attributes;
  out.text = e.text;
  for (const xrml::Element& child : e.children) {
    if (child.name != "ENABLINGBITS") out.children.push_back(WithoutEnablingBits(child));
  }
  return out;
}
}  // namespace

Result<std::string> EnablingBitsBinding(const xrml::Element& issued_principals) {
  return Utf8ToUtf16Le(xrml::SerializeSurface(WithoutEnablingBits(issued_principals)));
}

Result<std::string> SealEnablingBits(const crypto::PublicKey& to, SealedKeyVersion version,
                                     const SymmetricKey& key, std::string_view hashed,
                                     Random& random) {
  if (!IsAesSize(key.bytes.size())) {
    return Status(Code::kInvalidArgument, "enabling bits seal AES keys of 16, 24 or 32 bytes");
  }
  SymmetricKey session;
  session.bytes = crypto::RandomBytes(random, 16);
  session.mode = KeyCipherMode::kEcb;
  Secret session_blob{KeyBlob(session)};
  const crypto::RsaPadding padding = version == SealedKeyVersion::kV1
                                         ? crypto::RsaPadding::kPkcs1v15
                                         : crypto::RsaPadding::kOaepSha1;
  ASSIGN_OR_RETURN(std::string sealed_session, to.Encrypt(padding, session_blob.bytes));
  const std::string hash = EnablingBitsHash(version, hashed);
  Secret body;
  PutU32(body.bytes, static_cast<uint32_t>(version));
  PutU32(body.bytes, static_cast<uint32_t>(kKeyHeaderSize + key.bytes.size() + hash.size()));
  PutU32(body.bytes, 0);
  PutU32(body.bytes, 0);
  body.bytes += KeyBlob(key);
  body.bytes += hash;
  ASSIGN_OR_RETURN(std::string sealed_body, crypto::EcbEncrypt(session.bytes, body.bytes, true));
  return sealed_session + sealed_body;
}

Result<OpenedEnablingBits> OpenEnablingBits(const crypto::PrivateKey& key, SealedKeyVersion version,
                                            std::string_view raw) {
  if (raw.size() > kMaxEnablingBits) {
    return Status(Code::kTooLarge,
                  "the enabling bits are over " + std::to_string(kMaxEnablingBits) + " bytes");
  }
  const size_t k = key.public_key().modulus_be().size();
  if (raw.size() < k + kUdebHeaderSize || (raw.size() - k) % 16 != 0) {
    return Status(Code::kMalformed, "the enabling bits are " + std::to_string(raw.size()) +
                                        " bytes: not an RSA block of " + std::to_string(k) +
                                        " bytes followed by whole AES blocks");
  }
  const std::string_view rsa = raw.substr(0, k);
  auto decrypted = version == SealedKeyVersion::kV1
                       ? key.Decrypt(crypto::RsaPadding::kPkcs1v15, rsa)
                       : key.Decrypt(crypto::RsaPadding::kOaepSha1, rsa);
  // The spec does not name OAEP's hash: CryptoAPI's OAEP is SHA-1, which is
  // what OpenRMS writes; SHA-256 is read too.
  if (!decrypted.ok() && version == SealedKeyVersion::kV2) {
    decrypted = key.Decrypt(crypto::RsaPadding::kOaepSha256, rsa);
  }
  if (!decrypted.ok()) {
    return Status(Code::kPermissionDenied, "the content key is not sealed to this cluster's key");
  }
  Secret session_blob{std::move(*decrypted)};
  ASSIGN_OR_RETURN(SymmetricKey session, ReadKeyBlob(session_blob.bytes, "session key"));
  if (session.mode != KeyCipherMode::kEcb) {
    return Status(Code::kMalformed, "the enabling bits' session key is not in ECB mode");
  }
  ASSIGN_OR_RETURN(std::string plain, crypto::EcbDecrypt(session.bytes, raw.substr(k), false));
  Secret body{std::move(plain)};
  const std::string_view b = body.bytes;
  const uint32_t stated_version = U32(b, 0);
  const size_t stated_size = U32(b, 4);
  if (stated_version != static_cast<uint32_t>(version)) {
    return Status(Code::kMalformed, "the enabling bits are version " +
                                        std::to_string(stated_version) + " inside an element of " +
                                        std::string(SealedKeyType(version)));
  }
  if (U32(b, 8) != 0 || U32(b, 12) != 0) {
    return Status(Code::kMalformed, "the enabling bits' reserved header fields are not 0");
  }
  if (stated_size > b.size() - kUdebHeaderSize) {
    return Status(Code::kMalformed, "the enabling bits state " + std::to_string(stated_size) +
                                        " bytes of key and hash but hold " +
                                        std::to_string(b.size() - kUdebHeaderSize));
  }
  const std::string_view payload = b.substr(kUdebHeaderSize, stated_size);
  OpenedEnablingBits out;
  out.version = version;
  ASSIGN_OR_RETURN(out.key, ReadKeyBlob(payload, "content key"));
  const size_t key_end = kKeyHeaderSize + out.key.bytes.size();
  if (payload.size() != key_end + HashSize(version)) {
    return Status(Code::kMalformed, "the enabling bits' hash is " +
                                        std::to_string(payload.size() - key_end) +
                                        " bytes, not the " + std::to_string(HashSize(version)) +
                                        " of " + std::string(SealedKeyType(version)));
  }
  out.hash.assign(payload.substr(key_end));
  return out;
}

}  // namespace openrms::licensing
