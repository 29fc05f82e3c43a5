#include "licensing/testing/sdk_offline_publisher.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/random.h"
#include "crypto/content_cipher.h"
#include "crypto/encoding.h"

namespace openrms::licensing::testing {

namespace {

using nlohmann::json;

std::string ReplaceAll(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

BIGNUM* LittleEndian(const std::string& base64) {
  auto bytes = crypto::Base64Decode(base64);
  if (!bytes) return nullptr;
  return BN_lebin2bn(reinterpret_cast<const unsigned char*>(bytes->data()),
                     static_cast<int>(bytes->size()), nullptr);
}

// The SDK's RSAKeyBlob: n and d little-endian base64, e a decimal string.
struct Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

Status MakeKey(const std::string& n64, const std::string& e10, const std::string& d64, Key& key) {
  BIGNUM* n = LittleEndian(n64);
  BIGNUM* d = d64.empty() ? nullptr : LittleEndian(d64);
  BIGNUM* e = nullptr;
  BN_dec2bn(&e, e10.c_str());
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
  if (d != nullptr) OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  const bool ok =
      n != nullptr && e != nullptr && ctx != nullptr && EVP_PKEY_fromdata_init(ctx) > 0 &&
      EVP_PKEY_fromdata(ctx, &key.pkey, d != nullptr ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                        params) > 0;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_clear_free(d);
  BN_free(e);
  if (!ok) return Status(Code::kMalformed, "the CLC's key does not make an RSA key");
  return Status::Ok();
}

Result<std::string> PublicEncrypt(const Key& key, const std::string& plain) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey, nullptr);
  size_t len = 0;
  std::string out;
  const auto* in = reinterpret_cast<const unsigned char*>(plain.data());
  if (ctx != nullptr && EVP_PKEY_encrypt_init(ctx) > 0 &&
      EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
      EVP_PKEY_encrypt(ctx, nullptr, &len, in, plain.size()) > 0) {
    out.resize(len);
    if (EVP_PKEY_encrypt(ctx, reinterpret_cast<unsigned char*>(out.data()), &len, in,
                         plain.size()) > 0) {
      out.resize(len);
    } else {
      out.clear();
    }
  }
  EVP_PKEY_CTX_free(ctx);
  if (out.empty()) return Status(Code::kInternal, "RSA_public_encrypt failed");
  return out;
}

Result<std::string> SignSha1(const Key& key, const std::string& data) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  std::string sig(1024, '\0');
  size_t len = sig.size();
  const bool ok =
      md != nullptr && EVP_DigestSignInit(md, nullptr, EVP_sha1(), nullptr, key.pkey) > 0 &&
      EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) > 0;
  EVP_MD_CTX_free(md);
  if (!ok) return Status(Code::kInternal, "RSA_sign failed");
  sig.resize(len);
  return sig;
}

// SignPayload's Escape: backslashes and quotes only.
std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string SdkUnescape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c != '\\') out += c;
  }
  out = ReplaceAll(std::move(out), "\"{\"", "{\"");
  return ReplaceAll(std::move(out), "}}\"", "}}");
}

Result<SdkPublished> SdkPublishOffline(std::string_view serialized,
                                       const std::vector<SdkRights>& rights,
                                       const std::string& template_id) {
  // RetrieveCLC: the "pub" object, cut out by counting braces.
  const std::string search = R"(\"pub\":)";
  const size_t pos = serialized.find(search);
  if (pos == std::string_view::npos) return Status(Code::kMalformed, "Invalid CLC from server.");
  int brackets = 1;
  std::string pub = "{";
  for (size_t i = pos + search.size() + 1; i < serialized.size(); ++i) {
    if (brackets == 0) break;
    if (serialized[i] == '{') ++brackets;
    if (serialized[i] == '}') --brackets;
    pub += serialized[i];
  }
  const std::string clc_pub_data = SdkUnescape(pub);
  json clc = json::parse(SdkUnescape(serialized), nullptr, false);
  if (clc.is_discarded()) {
    return Status(Code::kMalformed, "the unescaped CLC is not JSON: " + SdkUnescape(serialized));
  }
  try {
    const json& pld = clc.at("pld");
    const json& issto = pld.at("pub").at("pld").at("issto");
    const json& pri = pld.at("pri");
    Key key;
    RETURN_IF_ERROR(MakeKey(issto.at("pubk").at("n").get<std::string>(),
                            issto.at("pubk").at("e").get<std::string>(),
                            pri.at("prik").at("d").get<std::string>(), key));
    const std::string email = issto.at("em").get<std::string>();
    SdkPublished out;
    out.owner = issto.at("fname").get<std::string>();
    out.license_id = NewGuid(crypto::SystemRandom());
    // SetSessionKey: a session key and a content key of 16 bytes each.
    const std::string session = crypto::RandomBytes(crypto::SystemRandom(), 16);
    out.content_key = crypto::RandomBytes(crypto::SystemRandom(), 16);
    ASSIGN_OR_RETURN(std::string k, crypto::Cbc4kEncrypt(session, out.content_key));
    const json content_key = {{"alg", "AES"}, {"cm", "CBC4K"}, {"k", crypto::Base64Encode(k)}};
    ASSIGN_OR_RETURN(std::string sealed, PublicEncrypt(key, session));
    json policy = {{"crem", email}};
    if (!template_id.empty()) {
      policy["tid"] = template_id;
    } else {
      json users = json::array();
      for (const SdkRights& r : rights) users.push_back({{"usrs", r.users}, {"rghts", r.rights}});
      policy["cp"] = {{"usrs", users}};
    }
    ASSIGN_OR_RETURN(std::string enp, crypto::Cbc4kEncrypt(session, policy.dump()));
    const json license = {{"id", out.license_id},
                          {"o", out.owner},
                          {"cre", clc_pub_data},
                          {"cid", email},
                          {"lcd", pri.at("issd")},
                          {"exp", pri.at("exp")},
                          {"sk",
                           {{"eck", crypto::Base64Encode(content_key.dump())},
                            {"alg", "AES"},
                            {"cm", "CBC4K"},
                            {"sk", crypto::Base64Encode(sealed)}}},
                          {"enp", crypto::Base64Encode(enp)}};
    const std::string payload = json{{"hdr", {{"ver", "1.0.0.0"}}}, {"lic", license}}.dump();
    ASSIGN_OR_RETURN(std::string sig, SignSha1(key, payload));
    out.license = "\xEF\xBB\xBF{\"pld\":\"" + Escape(payload) +
                  "\",\"sig\":{\"alg\":\"SHA1\", \"penc\":\"utf-8\", \"dig\":\"" +
                  crypto::Base64Encode(sig) + "\"}}";
    return out;
  } catch (const json::exception& e) {
    return Status(Code::kMalformed,
                  std::string("the CLC lacks a field the SDK reads: ") + e.what());
  }
}

}  // namespace openrms::licensing::testing
