#include "enrollment/authority.h"

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/json.h"
#include "base/text.h"
#include "crypto/tls_certificates.h"
#include "xrml/chain.h"

namespace openrms::enrollment {

AuthorityPaths::AuthorityPaths(std::string d) : dir(std::move(d)) {
  trust_anchor = dir + "/trust-anchor.xml";
  ca_certificate = dir + "/certificates/ca.xml";
  enrollment_ca_certificate = dir + "/certificates/enrollment-ca.xml";
  service_certificate = dir + "/certificates/enrollment-service.xml";
  ca_key = dir + "/keys/ca.key";
  enrollment_ca_key = dir + "/keys/enrollment-ca.key";
  service_key = dir + "/keys/enrollment-service.key";
  tls_ca = dir + "/tls-ca.pem";
  tls_ca_key = dir + "/keys/tls-ca.key";
  tls_server = dir + "/tls-server.pem";
  tls_server_key = dir + "/keys/tls-server.key";
  database = dir + "/enrollment.db";
  config = dir + "/config.json";
}

namespace {

constexpr size_t kMaxFileBytes = 1 << 20;

struct Level {
  const char* descriptor;
  const char* object_type;
  std::string name;
  long days;
};

constexpr char kUriPrefix[] = "pkcs11:";

// A freshly made key and what its key file holds: its sealed form, or its
// URI in the token.
struct NewKey {
  std::unique_ptr<crypto::PrivateKey> key;
  std::string file_text;
};

Result<NewKey> MakeKey(std::string_view password, crypto::Pkcs11KeyStore* pkcs11,
                       const std::string& uri) {
  if (uri.empty()) {
    ASSIGN_OR_RETURN(crypto::SealedKeyPair pair, crypto::GenerateSealedRsaKey(2048, password));
    return NewKey{std::move(pair.key), std::move(pair.sealed_pem)};
  }
  ASSIGN_OR_RETURN(crypto::Pkcs11KeyStore::Placed placed, pkcs11->OpenOrGenerate(uri, 2048));
  return NewKey{std::move(placed.key), uri + "\n"};
}

Result<xrml::Document> ReadCertificate(FileSystem& fs, const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, fs.ReadFile(path, kMaxFileBytes));
  auto doc = xrml::ParseDocument(text);
  if (!doc.ok()) return doc.status().WithContext(path);
  return doc;
}

}  // namespace

Result<std::vector<std::string>> AuthorityKeyUris(const std::string& key_uri) {
  // The suffixes are plain ASCII: appended to a percent-encoded label as is.
  const size_t at = key_uri.find("object=");
  if (key_uri.rfind(kUriPrefix, 0) != 0 || at == std::string::npos ||
      (at != 7 && key_uri[at - 1] != ';')) {
    return Status(Code::kInvalidArgument,
                  "the enrollment service's keys need a PKCS#11 URI with an object= label, "
                  "'pkcs11:token=T;object=NAME' (not " +
                      key_uri + ")");
  }
  const size_t end = key_uri.find_first_of(";?", at);
  const size_t cut = end == std::string::npos ? key_uri.size() : end;
  std::vector<std::string> uris;
  for (const char* suffix : {"-ca", "-enrollment-ca", "-service"}) {
    uris.push_back(key_uri.substr(0, cut) + suffix + key_uri.substr(cut));
  }
  return uris;
}

Status InitializeAuthority(FileSystem& fs, const std::string& dir, std::string_view password,
                           const InitOptions& options, const Clock& clock, Random& random,
                           crypto::Pkcs11KeyStore* pkcs11) {
  const AuthorityPaths paths(dir);
  std::vector<std::string> uris(3);
  if (!options.key_uri.empty()) {
    if (pkcs11 == nullptr) {
      return Status(Code::kInvalidArgument,
                    "keys in a PKCS#11 token need the module and PIN (--pkcs11-module PATH, and "
                    "--pin-file FILE or $OPENRMS_PKCS11_PIN)");
    }
    ASSIGN_OR_RETURN(uris, AuthorityKeyUris(options.key_uri));
  }
  if (fs.Exists(paths.trust_anchor) || fs.Exists(paths.service_key)) {
    return Status(Code::kFailedPrecondition,
                  dir + " already holds an enrollment service; use another directory");
  }
  if (options.max_validity_days < 1 || options.max_validity_days > 7150) {
    return Status(Code::kInvalidArgument, "the maximum SLC validity must be 1 to 7150 days");
  }
  RETURN_IF_ERROR(fs.CreateDirectories(dir + "/certificates"));
  RETURN_IF_ERROR(fs.CreateDirectories(dir + "/keys"));

  const Time now = RoundToMinute(clock.Now());
  const Level levels[] = {
      {xrml::kTypeCaCertificate, "DRM-CA", options.name + " Root CA", 7300},
      {xrml::kTypeEnrollmentCaCertificate, "DRM-Enrollment-CA", options.name + " Enrollment CA",
       5475},
      {xrml::kTypeEnrollmentServiceCertificate, "DRM-Enrollment-Service", options.name, 3650},
  };
  const std::string* cert_paths[] = {&paths.ca_certificate, &paths.enrollment_ca_certificate,
                                     &paths.service_certificate};
  const std::string* key_paths[] = {&paths.ca_key, &paths.enrollment_ca_key, &paths.service_key};

  std::unique_ptr<crypto::PrivateKey> issuer_key;
  xrml::Party issuer;
  for (int i = 0; i < 3; ++i) {
    auto made = MakeKey(password, pkcs11, uris[i]);
    if (!made.ok()) return made.status().WithContext("the key of the " + levels[i].name);
    NewKey pair = std::move(made).value();
    xrml::IssuingCertificate spec;
    spec.descriptor_type = levels[i].descriptor;
    spec.certificate_id = NewGuid(random);
    spec.issued = now;
    spec.validity = {now - Days(1), now + Days(levels[i].days)};
    spec.principal.object = {levels[i].object_type, "MS-GUID", NewGuid(random),
                             levels[i].name,        "",        ""};
    spec.principal.public_key = pair.key->public_key();
    spec.issuer = i == 0 ? spec.principal : issuer;
    const crypto::PrivateKey& signer = i == 0 ? *pair.key : *issuer_key;
    ASSIGN_OR_RETURN(xrml::Document cert,
                     xrml::SignDocument(xrml::BuildIssuingCertificateBody(spec), signer));
    RETURN_IF_ERROR(fs.WriteFileAtomic(*key_paths[i], pair.file_text));
    RETURN_IF_ERROR(fs.WriteFileAtomic(*cert_paths[i], xrml::WriteDocument(cert)));
    if (i == 0) RETURN_IF_ERROR(fs.WriteFileAtomic(paths.trust_anchor, xrml::WriteDocument(cert)));
    issuer = spec.principal;
    issuer_key = std::move(pair.key);
  }

  ASSIGN_OR_RETURN(
      crypto::TlsCredential tls_ca,
      crypto::CreateTlsCa(options.name + " TLS Root", clock.Now(), Days(3650), password));
  ASSIGN_OR_RETURN(crypto::TlsCredential tls_server,
                   crypto::IssueTlsServerCertificate(tls_ca, password, options.tls_names,
                                                     clock.Now(), Days(825), password));
  RETURN_IF_ERROR(fs.WriteFileAtomic(paths.tls_ca_key, tls_ca.sealed_key_pem));
  RETURN_IF_ERROR(fs.WriteFileAtomic(paths.tls_server_key, tls_server.sealed_key_pem));
  RETURN_IF_ERROR(fs.WriteFileAtomic(paths.tls_server, tls_server.certificate_pem));
  RETURN_IF_ERROR(fs.WriteFileAtomic(paths.tls_ca, tls_ca.certificate_pem));

  nlohmann::json config = {{"name", options.name},
                           {"max_validity_days", options.max_validity_days}};
  return fs.WriteFileAtomic(
      paths.config, config.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

Result<Authority> LoadAuthority(FileSystem& fs, const std::string& dir, std::string_view password,
                                crypto::Pkcs11KeyStore* pkcs11) {
  const AuthorityPaths paths(dir);
  if (!fs.Exists(paths.config)) {
    return Status(Code::kNotFound, dir +
                                       " holds no enrollment service; run `openrms enrollment "
                                       "init --dir " +
                                       dir + "` first");
  }
  Authority a;
  ASSIGN_OR_RETURN(std::string config_text, fs.ReadFile(paths.config, kMaxFileBytes));
  const auto config = nlohmann::json::parse(config_text, nullptr, false);
  if (config.is_discarded() || !config.is_object()) {
    return Status(Code::kMalformed, paths.config + " is not valid JSON");
  }
  // Checked readers: a hand-edited field of the wrong type is an error
  // naming it, not an exception.
  auto name = StringField(config, "name", "OpenRMS Enrollment Service");
  if (!name.ok()) return name.status().WithContext(paths.config);
  auto days = IntField(config, "max_validity_days", 365, 1, 7150);
  if (!days.ok()) return days.status().WithContext(paths.config);
  a.name = std::move(*name);
  a.max_validity_days = static_cast<int>(*days);
  for (const std::string* path :
       {&paths.service_certificate, &paths.enrollment_ca_certificate, &paths.ca_certificate}) {
    ASSIGN_OR_RETURN(xrml::Document cert, ReadCertificate(fs, *path));
    a.chain.push_back(std::move(cert));
  }
  ASSIGN_OR_RETURN(std::string sealed, fs.ReadFile(paths.service_key, kMaxFileBytes));
  Result<std::unique_ptr<crypto::PrivateKey>> key = Status(Code::kInternal, "no key");
  if (sealed.rfind(kUriPrefix, 0) == 0) {
    const std::string uri(Trim(sealed));
    if (pkcs11 == nullptr) {
      return Status(Code::kFailedPrecondition,
                    "the enrollment service's key lives in a PKCS#11 token (" + uri +
                        "): give its module and PIN (--pkcs11-module PATH, and --pin-file FILE "
                        "or $OPENRMS_PKCS11_PIN)");
    }
    key = pkcs11->Open(uri);
  } else {
    key = crypto::UnsealKey(sealed, password);
  }
  if (!key.ok()) return key.status().WithContext(paths.service_key);
  a.key = std::move(key).value();
  if (!(a.key->public_key() == *a.certificate().principal()->public_key)) {
    return Status(Code::kMismatch,
                  paths.service_key + " is not the key of " + paths.service_certificate);
  }
  return a;
}

}  // namespace openrms::enrollment
