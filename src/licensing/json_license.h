// The JSON documents of the RMS SDK's offline publisher (its public source:
// github.com/AzureAD/rms-sdk-for-cpp, branch feature-offlinepublish,
// RestClients/PublishClient.cpp): the client licensor certificate it asks
// /my/v2/clientlicensorcertificates for, without a key of its own (the
// answer's "SerializedThinCLC"), and the publishing license it then writes
// and signs with that certificate's key. docs/FORMATS.md describes both
// field by field.
//
// Each signed JSON document is {"pld": TEXT or OBJECT, "sig": {"alg",
// "penc", "dig"}}: "dig" is the base64 PKCS#1 v1.5 signature of the
// payload's text. Keys are JSON Web Key-like: "n" and "d" base64 of
// little-endian integers, "e" a decimal string.
//
// The readers are pure functions of bytes with size limits; signatures,
// keys and ciphers are the licensing service's (offline_json.cc).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "licensing/licensing.h"

namespace openrms::licensing {

// A JSON license is read only up to this size (Microsoft's are some 3 kB).
inline constexpr size_t kMaxJsonLicense = 256 << 10;

// What the server puts into a thin CLC.
struct ThinClcContent {
  std::string id;           // a fresh GUID
  std::string issuer_name;  // the cluster
  crypto::PublicKey issuer_key;
  std::string license_url;  // where its licenses are opened
  std::string holder;       // the user: the SDK reads "em" and "fname"
  crypto::PublicKey holder_key;
  std::string holder_private_exponent_le;  // for the holder
  std::string sealed_holder_key;           // crypto::HandedOverKey::sealed
  Time issued{};
  Time expires{};
};

// The SerializedThinCLC text: {"pld": TEXT, "sig"} whose payload is
// {"pri": {"exp","issd","prik": {"d","kty"}}, "pub": {"pld": OBJECT, "sig"}}
// and "pub"'s payload {"exp","id","iss","issd","issto","sealk","ver"}.
// The cluster's key signs both payloads (SHA-256); "pub" is what comes
// back, inside every license the holder writes. kInvalidArgument for a
// holder name the SDK's unescaping would change (a quote, a backslash or a
// control character).
Result<std::string> WriteThinClc(const ThinClcContent& content, const crypto::PrivateKey& signer);

// The public part of a thin CLC, as a license carries it back.
struct ThinClcPublic {
  std::string signed_text;  // the payload in this library's compact form (WriteJson)
  std::string signature;
  std::string id;
  std::string issuer_name;
  std::string issuer_modulus_be;
  uint32_t issuer_exponent = 0;
  std::string holder;  // "fname"
  std::string holder_email;
  std::string holder_modulus_be;
  uint32_t holder_exponent = 0;
  std::string sealed_holder_key;
  Time issued{};
  Time expires{};
};

// A publishing license of the SDK's offline publisher: {"pld": TEXT,
// "sig"} with the payload {"hdr": {"ver"}, "lic": {"id", "o", "cre", "cid",
// "lcd", "exp", "sk": {"eck", "alg", "cm", "sk"}, "enp", "sad"}}.
struct JsonLicense {
  std::string signed_text;  // the payload's text, as signed
  crypto::DigestAlgorithm signature_algorithm = crypto::DigestAlgorithm::kSha1;
  std::string signature;
  std::string license_id;          // "id": a GUID per license
  std::string owner;               // "o"
  std::string content_id;          // "cid" (the SDK writes the holder's e-mail address)
  ThinClcPublic creator;           // "cre": the CLC's public part, as text or as an object
  std::string cipher_mode;         // "sk"."cm": "CBC4K" or "ECB"
  std::string sealed_session_key;  // "sk"."sk": RSA PKCS#1 v1.5 to the CLC's key
  std::string content_key_cipher;  // "sk"."eck": {"alg","cm","k"}; its "k", decoded
  std::string encrypted_policy;    // "enp", decoded
  std::map<std::string, std::string> signed_application_data;  // "sad"
};

// Whether `text` (a decoded license, without its byte-order mark) is JSON
// rather than XrML: its first character other than white space is '{'.
bool IsJsonLicense(std::string_view text);

// kMalformed naming the field that is missing or of the wrong type;
// kTooLarge over kMaxJsonLicense.
Result<JsonLicense> ReadJsonLicense(std::string_view text);

// The policy sealed in "enp": {"crem": creator e-mail, and "tid" (a
// template's ID) or "cp": {"usrs": [{"usrs": [...], "rghts": [...]}]}}.
struct JsonPolicy {
  std::string creator;
  std::string template_id;
  std::vector<UserRights> user_rights;
};
Result<JsonPolicy> ReadJsonPolicy(std::string_view text);

}  // namespace openrms::licensing
