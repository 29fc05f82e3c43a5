#include "crypto/content_cipher.h"

#include <openssl/evp.h>

#include <memory>
#include <vector>

#include "crypto/password_hash.h"
#include "crypto/ssl_util.h"

namespace openrms::crypto {

namespace {

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX_free>>;

const EVP_CIPHER* Cbc(size_t key_size) {
  return key_size == 16   ? EVP_aes_128_cbc()
         : key_size == 24 ? EVP_aes_192_cbc()
                          : EVP_aes_256_cbc();
}
const EVP_CIPHER* Ecb(size_t key_size) {
  return key_size == 16   ? EVP_aes_128_ecb()
         : key_size == 24 ? EVP_aes_192_ecb()
                          : EVP_aes_256_ecb();
}

Status CheckKey(std::string_view key) {
  if (key.size() != 16 && key.size() != 24 && key.size() != 32) {
    return Status(Code::kInvalidArgument, "AES keys are 16, 24 or 32 bytes");
  }
  return Status::Ok();
}

// One AES block in ECB mode, no padding.
Result<std::string> EcbBlock(bool encrypt, std::string_view key, std::string_view in) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  unsigned char out[32];
  int len = 0;
  if (in.size() != 16 || !ctx ||
      EVP_CipherInit_ex(ctx.get(), Ecb(key.size()), nullptr,
                        reinterpret_cast<const unsigned char*>(key.data()), nullptr,
                        encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
      EVP_CipherUpdate(ctx.get(), out, &len, reinterpret_cast<const unsigned char*>(in.data()),
                       16) != 1 ||
      len != 16) {
    return SslError(Code::kInternal, "AES-ECB failed");
  }
  return std::string(reinterpret_cast<char*>(out), 16);
}

Result<std::string> BlockIv(std::string_view key, uint32_t block) {
  char in[16] = {0};
  for (int i = 0; i < 4; ++i) in[i] = static_cast<char>(block >> (8 * i));
  return EcbBlock(true, key, std::string_view(in, 16));
}

Result<std::string> CbcBlock(bool encrypt, std::string_view key, std::string_view iv,
                             std::string_view in, bool pad) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(in.size() + 16, '\0');
  int len = 0, final_len = 0;
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  const auto* k = reinterpret_cast<const unsigned char*>(key.data());
  const auto* v = reinterpret_cast<const unsigned char*>(iv.data());
  if (!ctx || EVP_CipherInit_ex(ctx.get(), Cbc(key.size()), nullptr, k, v, encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), pad ? 1 : 0) != 1 ||
      EVP_CipherUpdate(ctx.get(), o, &len, reinterpret_cast<const unsigned char*>(in.data()),
                       static_cast<int>(in.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), o + len, &final_len) != 1) {
    return SslError(Code::kMalformed,
                    "the content cannot be decrypted (wrong key, or a damaged file)");
  }
  out.resize(static_cast<size_t>(len + final_len));
  return out;
}

}  // namespace

Result<std::string> Cbc4kEncrypt(std::string_view key, std::string_view plaintext) {
  RETURN_IF_ERROR(CheckKey(key));
  std::string out;
  out.reserve(plaintext.size() + 16);
  uint32_t block = 0;
  size_t off = 0;
  // Every full block stands alone, unpadded...
  for (; plaintext.size() - off >= kCbc4kBlockSize; off += kCbc4kBlockSize, ++block) {
    ASSIGN_OR_RETURN(std::string iv, BlockIv(key, block));
    ASSIGN_OR_RETURN(std::string enc,
                     CbcBlock(true, key, iv, plaintext.substr(off, kCbc4kBlockSize), false));
    out += enc;
  }
  // ...and the rest (0 to 4095 bytes) is padded under the next block
  // number's IV: aligned content ends in a padding-only block of its own.
  ASSIGN_OR_RETURN(std::string iv, BlockIv(key, block));
  ASSIGN_OR_RETURN(std::string enc, CbcBlock(true, key, iv, plaintext.substr(off), true));
  out += enc;
  return out;
}

namespace {

// Before 2026-11, OpenRMS wrote content whose size is a multiple of 4096
// with its last full block and the padding in one 4112-byte CBC chain under
// that block's IV. Such a file ends in a 16-byte block that decrypts to a
// whole padding block (16 x 0x10) when chained to the ciphertext before it.
// A file in the right layout decrypts its last block to that padding under
// the next block number's IV instead; each test mistakes the other's file
// with probability 2^-128.
Result<bool> IsOldAlignedLayout(std::string_view key, std::string_view ciphertext) {
  if (ciphertext.size() < kCbc4kBlockSize + 16 || ciphertext.size() % kCbc4kBlockSize != 16) {
    return false;
  }
  const std::string_view last = ciphertext.substr(ciphertext.size() - 16);
  const std::string_view before = ciphertext.substr(ciphertext.size() - 32, 16);
  ASSIGN_OR_RETURN(std::string plain, EcbBlock(false, key, last));
  ASSIGN_OR_RETURN(std::string iv,
                   BlockIv(key, static_cast<uint32_t>(ciphertext.size() / kCbc4kBlockSize)));
  auto is_padding_block = [&plain](std::string_view chain) {
    for (size_t i = 0; i < 16; ++i) {
      if (static_cast<unsigned char>(plain[i] ^ chain[i]) != 0x10) return false;
    }
    return true;
  };
  return !is_padding_block(iv) && is_padding_block(before);
}

}  // namespace

Result<std::string> Cbc4kDecrypt(std::string_view key, std::string_view ciphertext) {
  RETURN_IF_ERROR(CheckKey(key));
  if (ciphertext.empty() || ciphertext.size() % 16 != 0) {
    return Status(Code::kMalformed, "the encrypted content is not a whole number of AES blocks");
  }
  ASSIGN_OR_RETURN(const bool old_layout, IsOldAlignedLayout(key, ciphertext));
  std::string out;
  out.reserve(ciphertext.size());
  uint32_t block = 0;
  for (size_t off = 0; off < ciphertext.size(); ++block) {
    size_t n = std::min(kCbc4kBlockSize, ciphertext.size() - off);
    if (old_layout && ciphertext.size() - off == kCbc4kBlockSize + 16) n = kCbc4kBlockSize + 16;
    const bool last = off + n == ciphertext.size();
    ASSIGN_OR_RETURN(std::string iv, BlockIv(key, block));
    ASSIGN_OR_RETURN(std::string dec, CbcBlock(false, key, iv, ciphertext.substr(off, n), last));
    out += dec;
    off += n;
  }
  return out;
}

namespace {

Result<std::string> EcbAll(bool encrypt, std::string_view key, std::string_view in, bool pad) {
  RETURN_IF_ERROR(CheckKey(key));
  if ((!encrypt || !pad) && in.size() % 16 != 0) {
    return Status(Code::kMalformed, "AES-ECB data is not a whole number of 16-byte blocks");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(in.size() + 16, '\0');
  int len = 0, final_len = 0;
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (!ctx ||
      EVP_CipherInit_ex(ctx.get(), Ecb(key.size()), nullptr,
                        reinterpret_cast<const unsigned char*>(key.data()), nullptr,
                        encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), pad ? 1 : 0) != 1 ||
      EVP_CipherUpdate(ctx.get(), o, &len, reinterpret_cast<const unsigned char*>(in.data()),
                       static_cast<int>(in.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), o + len, &final_len) != 1) {
    Wipe(out);
    return SslError(Code::kMalformed, "the data cannot be decrypted (wrong key, or damaged)");
  }
  out.resize(static_cast<size_t>(len + final_len));
  return out;
}

}  // namespace

Result<std::string> EcbEncrypt(std::string_view key, std::string_view plaintext, bool pad) {
  return EcbAll(true, key, plaintext, pad);
}

Result<std::string> EcbDecrypt(std::string_view key, std::string_view ciphertext, bool pad) {
  return EcbAll(false, key, ciphertext, pad);
}

std::string RandomBytes(Random& random, size_t n) {
  std::string out(n, '\0');
  random.Fill({reinterpret_cast<uint8_t*>(out.data()), n});
  return out;
}

Result<std::string> GcmSeal(std::string_view key, std::string_view plaintext, Random& random) {
  if (key.size() != 32) return Status(Code::kInvalidArgument, "AES-256-GCM needs a 32-byte key");
  const std::string nonce = RandomBytes(random, 12);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(plaintext.size() + 16, '\0');
  int len = 0, final_len = 0;
  unsigned char tag[16];
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()),
                         reinterpret_cast<const unsigned char*>(nonce.data())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len,
                          &final_len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, tag) != 1) {
    return SslError(Code::kInternal, "AES-GCM sealing failed");
  }
  out.resize(static_cast<size_t>(len + final_len));
  return nonce + out + std::string(reinterpret_cast<char*>(tag), 16);
}

Result<std::string> GcmOpen(std::string_view key, std::string_view sealed) {
  if (key.size() != 32) return Status(Code::kInvalidArgument, "AES-256-GCM needs a 32-byte key");
  if (sealed.size() < 28) return Status(Code::kMalformed, "the sealed data is too short");
  const std::string_view nonce = sealed.substr(0, 12);
  const std::string_view body = sealed.substr(12, sealed.size() - 28);
  std::string tag(sealed.substr(sealed.size() - 16));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(body.size() + 16, '\0');
  int len = 0, final_len = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()),
                         reinterpret_cast<const unsigned char*>(nonce.data())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                        reinterpret_cast<const unsigned char*>(body.data()),
                        static_cast<int>(body.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len,
                          &final_len) != 1) {
    return SslError(Code::kBadSignature, "the sealed data was changed or the key is wrong");
  }
  out.resize(static_cast<size_t>(len + final_len));
  return out;
}

}  // namespace openrms::crypto
