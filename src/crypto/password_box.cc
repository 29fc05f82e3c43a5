#include "crypto/password_box.h"

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <memory>

#include "crypto/keys.h"
#include "crypto/password_hash.h"
#include "crypto/sealing.h"
#include "crypto/ssl_util.h"

namespace openrms::crypto {

namespace {

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX_free>>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Status CheckAead(std::string_view key, std::string_view nonce) {
  if (key.size() != 32 || nonce.size() != 12) {
    return Status(Code::kInvalidArgument, "AES-256-GCM needs a 32-byte key and a 12-byte nonce");
  }
  return Status::Ok();
}

}  // namespace

Status CheckScryptCost(const ScryptCost& c) {
  if (c.log2_n < 14 || c.log2_n > 20 || c.r < 1 || c.r > 16 || c.p < 1 || c.p > 4) {
    return Status(Code::kUnsupported, "scrypt cost N=2^" + std::to_string(c.log2_n) + " r=" +
                                          std::to_string(c.r) + " p=" + std::to_string(c.p) +
                                          " is outside what OpenRMS reads (N 2^14 to 2^20, r 1 "
                                          "to 16, p 1 to 4)");
  }
  // Each bound alone still allows 2^20 * 16 * 4 * 128 bytes (8 GiB): the
  // memory is bounded as a whole too.
  const uint64_t memory =
      128 * static_cast<uint64_t>(c.r) * (uint64_t{1} << c.log2_n) * static_cast<uint64_t>(c.p);
  if (memory > kMaxScryptMemory) {
    return Status(Code::kUnsupported,
                  "scrypt cost N=2^" + std::to_string(c.log2_n) + " r=" + std::to_string(c.r) +
                      " p=" + std::to_string(c.p) + " needs " + std::to_string(memory >> 20) +
                      " MiB; OpenRMS reads files that need at most " +
                      std::to_string(kMaxScryptMemory >> 20) + " MiB");
  }
  return Status::Ok();
}

Result<std::string> ScryptDerive(std::string_view password, std::string_view salt,
                                 const ScryptCost& cost, size_t size) {
  RETURN_IF_ERROR(CheckScryptCost(cost));
  if (password.empty()) return Status(Code::kInvalidArgument, "the password is empty");
  const uint64_t n = uint64_t{1} << cost.log2_n;
  // OpenSSL refuses more than maxmem; allow what the cost needs, and a margin.
  const uint64_t memory = 128 * static_cast<uint64_t>(cost.r) * n * static_cast<uint64_t>(cost.p);
  std::string out(size, '\0');
  if (EVP_PBE_scrypt(password.data(), password.size(), Bytes(salt), salt.size(), n,
                     static_cast<uint64_t>(cost.r), static_cast<uint64_t>(cost.p),
                     memory + (16 << 20), reinterpret_cast<unsigned char*>(out.data()),
                     out.size()) != 1) {
    return SslError(Code::kInternal, "scrypt failed");
  }
  return out;
}

Result<PasswordFileKeys> DerivePasswordFileKeys(std::string_view password, std::string_view salt,
                                                const ScryptCost& cost,
                                                std::string_view check_label) {
  ASSIGN_OR_RETURN(std::string k, ScryptDerive(password, salt, cost, 64));
  PasswordFileKeys out{k.substr(0, 32),
                       Sha256(std::string(check_label) + k.substr(32)).substr(0, 16)};
  Wipe(k);
  return out;
}

Result<std::string> AeadSeal(std::string_view key, std::string_view nonce, std::string_view aad,
                             std::string_view plaintext) {
  RETURN_IF_ERROR(CheckAead(key, nonce));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(plaintext.size() + 16, '\0');
  int len = 0, final_len = 0, aad_len = 0;
  unsigned char tag[16];
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key), Bytes(nonce)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &aad_len, Bytes(aad), static_cast<int>(aad.size())) !=
          1 ||
      EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                        Bytes(plaintext), static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len,
                          &final_len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, tag) != 1) {
    return SslError(Code::kInternal, "AES-GCM sealing failed");
  }
  out.resize(static_cast<size_t>(len + final_len));
  return out + std::string(reinterpret_cast<char*>(tag), 16);
}

Result<std::string> AeadOpen(std::string_view key, std::string_view nonce, std::string_view aad,
                             std::string_view sealed) {
  RETURN_IF_ERROR(CheckAead(key, nonce));
  if (sealed.size() < 16) return Status(Code::kMalformed, "the sealed data is too short");
  const std::string_view body = sealed.substr(0, sealed.size() - 16);
  std::string tag(sealed.substr(sealed.size() - 16));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(body.size() + 16, '\0');
  int len = 0, final_len = 0, aad_len = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key), Bytes(nonce)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &aad_len, Bytes(aad), static_cast<int>(aad.size())) !=
          1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, Bytes(body),
                        static_cast<int>(body.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag.data()) != 1) {
    return SslError(Code::kInternal, "AES-GCM opening failed");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len,
                          &final_len) != 1) {
    (void)SslError(Code::kBadSignature, "");  // drains the queue
    return Status(Code::kBadSignature, "the sealed data was changed (its GCM tag does not hold)");
  }
  out.resize(static_cast<size_t>(len + final_len));
  return out;
}

Result<std::string> ResealKey(std::string_view sealed_pem, std::string_view from_password,
                              std::string_view to_password) {
  ASSIGN_OR_RETURN(PkeyPtr pkey, UnsealPrivateKey(sealed_pem, from_password));
  return SealPrivateKey(pkey.get(), to_password);
}

}  // namespace openrms::crypto
