#include "crypto/keys.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <array>
#include <mutex>
#include <unordered_map>

#include "base/text.h"
#include "crypto/content_cipher.h"
#include "crypto/password_hash.h"
#include "crypto/sealing.h"
#include "crypto/ssl_util.h"

namespace openrms::crypto {

namespace {

const EVP_MD* Md(DigestAlgorithm a) {
  return a == DigestAlgorithm::kSha1 ? EVP_sha1() : EVP_sha256();
}

std::string BnToBytes(const BIGNUM* bn) {
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::shared_ptr<EVP_PKEY> Share(EVP_PKEY* p) { return std::shared_ptr<EVP_PKEY>(p, EVP_PKEY_free); }

Result<PublicKey> PublicKeyOf(EVP_PKEY* pkey);

// The same public keys come again and again -- a cluster's key is in every
// license it issued, an SLC chain's keys in every chain -- and making an
// OpenSSL key from a modulus costs more than verifying a signature with it:
// each is made once and shared (an EVP_PKEY is never changed once made).
// Bounded: a shard that fills up starts again empty.
class KeyMemo {
 public:
  static KeyMemo& Get() {
    static KeyMemo* memo = new KeyMemo();  // never destroyed: used until exit
    return *memo;
  }
  std::shared_ptr<EVP_PKEY> Find(const std::string& id) {
    Shard& shard = ShardOf(id);
    std::lock_guard lock(shard.mu);
    auto it = shard.keys.find(id);
    return it == shard.keys.end() ? nullptr : it->second;
  }
  void Put(const std::string& id, std::shared_ptr<EVP_PKEY> key) {
    Shard& shard = ShardOf(id);
    std::lock_guard lock(shard.mu);
    if (shard.keys.size() >= kPerShard) shard.keys.clear();
    shard.keys.emplace(id, std::move(key));
  }

 private:
  static constexpr size_t kShards = 8;
  static constexpr size_t kPerShard = 32;
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, std::shared_ptr<EVP_PKEY>> keys;
  };
  Shard& ShardOf(const std::string& id) { return shards_[std::hash<std::string>{}(id) % kShards]; }
  std::array<Shard, kShards> shards_;
};

}  // namespace

std::string Digest(DigestAlgorithm algorithm, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, Md(algorithm), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}
std::string Sha1(std::string_view data) { return Digest(DigestAlgorithm::kSha1, data); }
std::string Sha256(std::string_view data) { return Digest(DigestAlgorithm::kSha256, data); }

bool IsSupportedRsaBits(int bits) {
  return bits == 1024 || bits == 2048 || bits == 3072 || bits == 4096;
}

Result<PublicKey> PublicKey::FromModulus(std::string_view modulus_be, uint32_t exponent) {
  while (!modulus_be.empty() && modulus_be.front() == '\0') modulus_be.remove_prefix(1);
  const int bits = static_cast<int>(modulus_be.size() * 8);
  if (!IsSupportedRsaBits(bits)) {
    return Status(Code::kUnsupported, "RSA keys of " + std::to_string(bits) +
                                          " bits are not supported (use 1024 or 2048 bits)");
  }
  if (exponent < 3 || exponent % 2 == 0) {
    return Status(Code::kUnsupported,
                  "RSA public exponent " + std::to_string(exponent) + " is not supported");
  }
  std::string memo_id(4 + modulus_be.size(), '\0');
  for (int i = 0; i < 4; ++i) memo_id[i] = static_cast<char>(exponent >> (8 * i));
  memo_id.replace(4, modulus_be.size(), modulus_be);
  if (auto known = KeyMemo::Get().Find(memo_id)) {
    return PublicKey(std::string(modulus_be), exponent, std::move(known));
  }
  BnPtr n(BN_bin2bn(reinterpret_cast<const unsigned char*>(modulus_be.data()),
                    static_cast<int>(modulus_be.size()), nullptr));
  BnPtr e(BN_new());
  if (!n || !e || !BN_set_word(e.get(), exponent)) return SslError(Code::kInternal, "BIGNUM");
  std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>> bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get())) {
    return SslError(Code::kInternal, "OSSL_PARAM_BLD");
  }
  std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>> params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return SslError(Code::kMalformed, "not a usable RSA public key");
  }
  std::shared_ptr<EVP_PKEY> shared = Share(pkey);
  KeyMemo::Get().Put(memo_id, shared);
  return PublicKey(std::string(modulus_be), exponent, std::move(shared));
}

Result<PublicKey> PublicKey::FromPkcs1Der(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  EVP_PKEY* pkey = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size()));
  if (pkey == nullptr || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return Status(Code::kMalformed, "the public key is not a DER PKCS#1 RSA public key");
  }
  PkeyPtr owned(pkey);
  return PublicKeyOf(pkey);
}

namespace {
// The padding parameters of an encryption or decryption context.
bool SetPadding(EVP_PKEY_CTX* ctx, RsaPadding padding) {
  if (padding == RsaPadding::kPkcs1v15) {
    return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0;
  }
  const EVP_MD* md = padding == RsaPadding::kOaepSha1 ? EVP_sha1() : EVP_sha256();
  return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
         EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) > 0 && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) > 0;
}

Result<PublicKey> PublicKeyOf(EVP_PKEY* pkey) {
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) ||
      !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e)) {
    BN_free(n);
    return SslError(Code::kMalformed, "not an RSA key");
  }
  BnPtr nn(n), ee(e);
  if (BN_num_bits(e) > 32) return Status(Code::kUnsupported, "RSA public exponent too large");
  return PublicKey::FromModulus(BnToBytes(n), static_cast<uint32_t>(BN_get_word(e)));
}
}  // namespace

int PublicKey::bits() const { return static_cast<int>(modulus_.size() * 8); }

std::string PublicKey::ToPkcs1Der() const {
  unsigned char* der = nullptr;
  const int len = i2d_PublicKey(pkey_.get(), &der);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string PublicKey::Fingerprint() const { return HexEncode(Sha256(modulus_)); }

Status PublicKey::Verify(DigestAlgorithm algorithm, std::string_view data,
                         std::string_view signature_be) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, Md(algorithm), nullptr, pkey_.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) {
    return SslError(Code::kInternal, "cannot start RSA verification");
  }
  const int rc = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature_be.data()), signature_be.size(),
      reinterpret_cast<const unsigned char*>(data.data()), data.size());
  ERR_clear_error();
  if (rc != 1) return Status(Code::kBadSignature, "the signature does not match the signed data");
  return Status::Ok();
}

Result<std::string> PublicKey::EncryptOaep(std::string_view plaintext) const {
  return Encrypt(RsaPadding::kOaepSha256, plaintext);
}

Result<std::string> PublicKey::Encrypt(RsaPadding padding, std::string_view plaintext) const {
  // Setting a context up cost a third as much as the encryption itself, and
  // a node seals every content key to the same cluster key: each thread
  // keeps the context of the key and padding it used last. The context
  // holds a reference to its key, so a key's address is never reused while
  // it is kept. (Public keys only: no private key outlives its owner this
  // way.)
  thread_local PkeyCtxPtr kept;
  thread_local const EVP_PKEY* kept_for = nullptr;
  thread_local RsaPadding kept_padding = RsaPadding::kOaepSha256;
  if (kept_for != pkey_.get() || kept_padding != padding || !kept) {
    kept_for = nullptr;
    kept.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
    if (!kept || EVP_PKEY_encrypt_init(kept.get()) <= 0 || !SetPadding(kept.get(), padding)) {
      kept.reset();
      return SslError(Code::kInternal, "cannot start RSA encryption");
    }
    kept_for = pkey_.get();
    kept_padding = padding;
  }
  EVP_PKEY_CTX* ctx = kept.get();
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(plaintext.data());
  if (EVP_PKEY_encrypt(ctx, nullptr, &len, in, plaintext.size()) <= 0) {
    return SslError(Code::kInternal, "cannot start RSA encryption");
  }
  std::string out(len, '\0');
  if (EVP_PKEY_encrypt(ctx, reinterpret_cast<unsigned char*>(out.data()), &len, in,
                       plaintext.size()) <= 0) {
    return SslError(Code::kInvalidArgument, "RSA encryption failed");
  }
  out.resize(len);
  return out;
}

// A key held in this process's memory.
class SoftwarePrivateKey final : public PrivateKey {
 public:
  SoftwarePrivateKey(PkeyPtr pkey, PublicKey pub)
      : pkey_(std::move(pkey)), public_(std::move(pub)) {}

  const PublicKey& public_key() const override { return public_; }

  Result<std::string> Sign(DigestAlgorithm algorithm, std::string_view data) const override {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    size_t len = 0;
    const auto* in = reinterpret_cast<const unsigned char*>(data.data());
    if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, Md(algorithm), nullptr, pkey_.get()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) <= 0) {
      return SslError(Code::kInternal, "cannot start RSA signing");
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                       data.size()) <= 0) {
      return SslError(Code::kInternal, "RSA signing failed");
    }
    sig.resize(len);
    return sig;
  }

  using PrivateKey::Decrypt;
  Result<std::string> Decrypt(RsaPadding padding, std::string_view ciphertext) const override {
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
    size_t len = 0;
    const auto* in = reinterpret_cast<const unsigned char*>(ciphertext.data());
    if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) <= 0 || !SetPadding(ctx.get(), padding) ||
        EVP_PKEY_decrypt(ctx.get(), nullptr, &len, in, ciphertext.size()) <= 0) {
      return SslError(Code::kInternal, "cannot start RSA decryption");
    }
    std::string out(len, '\0');
    if (EVP_PKEY_decrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, in,
                         ciphertext.size()) <= 0) {
      ERR_clear_error();
      Wipe(out);
      return Status(Code::kInvalidArgument, "the data was not encrypted to this key");
    }
    out.resize(len);
    return out;
  }

 private:
  PkeyPtr pkey_;
  PublicKey public_;
};

namespace {

Result<std::unique_ptr<PrivateKey>> Wrap(PkeyPtr pkey) {
  ASSIGN_OR_RETURN(PublicKey pub, PublicKeyOf(pkey.get()));
  return std::unique_ptr<PrivateKey>(new SoftwarePrivateKey(std::move(pkey), std::move(pub)));
}

// scrypt cost: N=2^14, r=8, p=1 (16 MiB; OpenSSL refuses more than 32 MiB by default).
constexpr uint64_t kScryptN = 1 << 14;

}  // namespace

Result<std::string> SealPrivateKey(EVP_PKEY* pkey, std::string_view password) {
  if (password.empty()) return Status(Code::kInvalidArgument, "the key password is empty");
  unsigned char salt[16];
  if (RAND_bytes(salt, sizeof salt) != 1) return SslError(Code::kInternal, "RAND_bytes");
  X509_ALGOR* pbe =
      PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), salt, sizeof salt, nullptr, kScryptN, 8, 1);
  if (pbe == nullptr) return SslError(Code::kInternal, "cannot set up scrypt key encryption");
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, Deleter<PKCS8_PRIV_KEY_INFO_free>> p8(EVP_PKEY2PKCS8(pkey));
  if (!p8) {
    X509_ALGOR_free(pbe);
    return SslError(Code::kInternal, "EVP_PKEY2PKCS8");
  }
  X509_SIG* sig = PKCS8_set0_pbe(password.data(), static_cast<int>(password.size()), p8.get(), pbe);
  if (sig == nullptr) {
    X509_ALGOR_free(pbe);
    return SslError(Code::kInternal, "cannot encrypt the private key");
  }
  std::unique_ptr<X509_SIG, Deleter<X509_SIG_free>> owned(sig);
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PKCS8(bio.get(), sig) != 1) {
    return SslError(Code::kInternal, "cannot write the sealed key");
  }
  return BioToString(bio.get());
}

Result<SealedKeyPair> GenerateSealedRsaKey(int bits, std::string_view password) {
  if (!IsSupportedRsaBits(bits) || bits < 2048) {
    return Status(Code::kUnsupported, "new keys must be 2048, 3072 or 4096 bits");
  }
  EVP_PKEY* raw = EVP_RSA_gen(static_cast<unsigned>(bits));
  if (raw == nullptr) return SslError(Code::kInternal, "RSA key generation failed");
  PkeyPtr pkey(raw);
  ASSIGN_OR_RETURN(std::string sealed, SealPrivateKey(pkey.get(), password));
  ASSIGN_OR_RETURN(std::unique_ptr<PrivateKey> key, Wrap(std::move(pkey)));
  return SealedKeyPair{std::move(key), std::move(sealed)};
}

Result<PkeyPtr> UnsealPrivateKey(std::string_view sealed_pem, std::string_view password) {
  BioPtr bio(BIO_new_mem_buf(sealed_pem.data(), static_cast<int>(sealed_pem.size())));
  std::string pw(password);
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, pw.data());
  OPENSSL_cleanse(pw.data(), pw.size());
  if (raw == nullptr) {
    const unsigned long err = ERR_peek_last_error();
    ERR_clear_error();
    if (ERR_GET_REASON(err) == EVP_R_BAD_DECRYPT || ERR_GET_LIB(err) == ERR_LIB_EVP ||
        ERR_GET_LIB(err) == ERR_LIB_PKCS12) {
      return Status(Code::kPermissionDenied,
                    "the key password is wrong (cannot decrypt the private key)");
    }
    return Status(Code::kMalformed, "the sealed private key cannot be read");
  }
  return PkeyPtr(raw);
}

Result<std::unique_ptr<PrivateKey>> UnsealKey(std::string_view sealed_pem,
                                              std::string_view password) {
  ASSIGN_OR_RETURN(PkeyPtr pkey, UnsealPrivateKey(sealed_pem, password));
  return Wrap(std::move(pkey));
}

}  // namespace openrms::crypto

namespace openrms::crypto {

Result<HandedOverKey> GenerateHandedOverKey(int bits, const PublicKey& seal_to, Random& random) {
  if (!IsSupportedRsaBits(bits) || bits < 2048) {
    return Status(Code::kUnsupported, "new keys must be 2048, 3072 or 4096 bits");
  }
  EVP_PKEY* raw = EVP_RSA_gen(static_cast<unsigned>(bits));
  if (raw == nullptr) return SslError(Code::kInternal, "RSA key generation failed");
  PkeyPtr pkey(raw);
  BIGNUM* d = nullptr;
  if (!EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_D, &d)) {
    return SslError(Code::kInternal, "cannot read the new key");
  }
  std::unique_ptr<BIGNUM, Deleter<BN_clear_free>> d_owned(d);
  std::string exponent(static_cast<size_t>(bits / 8), '\0');
  if (BN_bn2lebinpad(d, reinterpret_cast<unsigned char*>(exponent.data()),
                     static_cast<int>(exponent.size())) < 0) {
    return SslError(Code::kInternal, "cannot write the new key");
  }
  unsigned char* der_raw = nullptr;
  const int der_len = i2d_PrivateKey(pkey.get(), &der_raw);
  if (der_len <= 0) return SslError(Code::kInternal, "cannot write the new key");
  std::string der(reinterpret_cast<const char*>(der_raw), static_cast<size_t>(der_len));
  OPENSSL_clear_free(der_raw, static_cast<size_t>(der_len));
  std::string box_key = RandomBytes(random, 32);
  auto wrapped = seal_to.EncryptOaep(box_key);
  auto boxed = GcmSeal(box_key, der, random);
  OPENSSL_cleanse(box_key.data(), box_key.size());
  OPENSSL_cleanse(der.data(), der.size());
  if (!wrapped.ok()) return wrapped.status();
  if (!boxed.ok()) return boxed.status();
  ASSIGN_OR_RETURN(PublicKey pub, PublicKeyOf(pkey.get()));
  return HandedOverKey{std::move(pub), std::move(exponent), *wrapped + *boxed};
}

Result<std::unique_ptr<PrivateKey>> OpenHandedOverKey(const PrivateKey& sealed_to,
                                                      std::string_view sealed) {
  const size_t head = sealed_to.public_key().modulus_be().size();
  // A sealed key: the wrapped box key, a nonce and tag, and some DER.
  if (sealed.size() < head + 12 + 16 + 64 || sealed.size() > head + 12 + 16 + (16 << 10)) {
    return Status(Code::kMalformed, "not a sealed key");
  }
  ASSIGN_OR_RETURN(std::string box_key,
                   sealed_to.Decrypt(RsaPadding::kOaepSha256, sealed.substr(0, head)));
  auto der = GcmOpen(box_key, sealed.substr(head));
  OPENSSL_cleanse(box_key.data(), box_key.size());
  if (!der.ok()) return Status(Code::kMalformed, "not a sealed key");
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  EVP_PKEY* raw = d2i_PrivateKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der->size()));
  OPENSSL_cleanse(der->data(), der->size());
  if (raw == nullptr) {
    ERR_clear_error();
    return Status(Code::kMalformed, "not a sealed key");
  }
  return Wrap(PkeyPtr(raw));
}

}  // namespace openrms::crypto
