// Trusted publishing domains: the store, and the ClusterService operations
// on them (list, the key for a publishing license, export, import).
#include "cluster/tpd.h"

#include <algorithm>

#include "cluster/cluster.h"
#include "cluster/tpd_file.h"
#include "crypto/encoding.h"
#include "crypto/password_box.h"
#include "protocol/enrollment_messages.h"
#include "xrml/chain.h"

namespace openrms::cluster {

namespace {

int64_t Secs(Time t) { return t.time_since_epoch().count(); }
Time At(int64_t s) { return Time(Duration(s)); }

constexpr char kColumns[] =
    "id, fingerprint, public_key, sealed_key, key_uri, chain, issued_at, valid_until, state, "
    "source, added_at, added_by";

PublishingDomain ToDomain(const store::Row& r) {
  PublishingDomain d;
  d.id = r.Int(0);
  d.fingerprint = r.Text(1);
  d.public_key = r.Text(2);
  d.sealed_key = r.Text(3);
  d.key_uri = r.Text(4);
  d.chain = r.Text(5);
  d.issued = At(r.Int(6));
  d.expires = At(r.Int(7));
  d.state = r.Text(8);
  d.source = r.Text(9);
  d.added_at = At(r.Int(10));
  d.added_by = r.Text(11);
  return d;
}

Result<crypto::PublicKey> KeyOf(const std::string& base64_der) {
  auto der = crypto::Base64Decode(base64_der);
  if (!der) return Status(Code::kDataLoss, "a stored public key is not base64");
  return crypto::PublicKey::FromPkcs1Der(*der);
}

// "1a2b3c4d...": enough of a fingerprint to tell keys apart in a message.
std::string Short(const std::string& fingerprint) { return fingerprint.substr(0, 16); }

}  // namespace

Result<std::vector<PublishingDomain>> PublishingDomainStore::Retired(const std::string& cluster) {
  ASSIGN_OR_RETURN(auto rows, db_.Query(std::string("SELECT ") + kColumns +
                                            " FROM cluster_tpds WHERE cluster = $1 ORDER BY id",
                                        {cluster}));
  std::vector<PublishingDomain> out;
  for (const auto& r : rows) out.push_back(ToDomain(r));
  return out;
}

Result<std::optional<PublishingDomain>> PublishingDomainStore::Find(
    const std::string& cluster, const std::string& fingerprint) {
  ASSIGN_OR_RETURN(auto rows, db_.Query(std::string("SELECT ") + kColumns +
                                            " FROM cluster_tpds WHERE cluster = $1 AND "
                                            "fingerprint = $2",
                                        {cluster, fingerprint}));
  if (rows.empty()) return std::optional<PublishingDomain>();
  return std::optional<PublishingDomain>(ToDomain(rows[0]));
}

Status PublishingDomainStore::Insert(store::Database& tx, const std::string& cluster,
                                     const PublishingDomain& d) {
  auto r = tx.Execute(
      "INSERT INTO cluster_tpds (cluster, fingerprint, public_key, sealed_key, key_uri, chain, "
      "issued_at, valid_until, state, source, added_at, added_by) VALUES ($1, $2, $3, $4, $5, $6, "
      "$7, $8, $9, $10, $11, $12)",
      {cluster, d.fingerprint, d.public_key, d.sealed_key, d.key_uri, d.chain, Secs(d.issued),
       Secs(d.expires), d.state, d.source, Secs(d.added_at), d.added_by});
  if (!r.ok() && r.status().code() == Code::kAlreadyUsed) {
    return Status(Code::kAlreadyUsed, "cluster " + cluster +
                                          " already holds the trusted publishing domain of key " +
                                          Short(d.fingerprint));
  }
  return r.status();
}

Result<std::vector<PublishingDomain>> ClusterService::ListDomains(const std::string& name) {
  ASSIGN_OR_RETURN(ClusterConfig c, store_.Find(name));
  std::vector<PublishingDomain> out;
  ASSIGN_OR_RETURN(auto active, store_.ActiveSlc(name));
  if (active) {
    PublishingDomain d;
    ASSIGN_OR_RETURN(crypto::PublicKey key, KeyOf(c.public_key));
    d.fingerprint = key.Fingerprint();
    d.public_key = c.public_key;
    d.sealed_key = c.sealed_key;
    d.key_uri = c.key_uri;
    d.chain = active->chain;
    d.issued = active->issued;
    d.expires = active->valid_until;
    d.state = "active";
    d.source = "cluster";
    d.added_at = active->installed_at;
    d.added_by = active->installed_by;
    out.push_back(std::move(d));
  }
  ASSIGN_OR_RETURN(auto retired, PublishingDomainStore(store_.database()).Retired(name));
  for (auto& d : retired) out.push_back(std::move(d));
  return out;
}

Result<std::unique_ptr<crypto::PrivateKey>> ClusterService::DomainKey(const std::string& name,
                                                                      const crypto::PublicKey& key,
                                                                      std::string_view password) {
  ASSIGN_OR_RETURN(ClusterConfig c, store_.Find(name));
  ASSIGN_OR_RETURN(crypto::PublicKey own, KeyOf(c.public_key));
  if (own == key) return OpenKey(c, password);
  const std::string fingerprint = key.Fingerprint();
  ASSIGN_OR_RETURN(auto domain, PublishingDomainStore(store_.database()).Find(name, fingerprint));
  if (!domain) {
    return Status(
        Code::kNotFound,
        "cluster " + name + " holds no trusted publishing domain for key " + Short(fingerprint));
  }
  Result<std::unique_ptr<crypto::PrivateKey>> opened = Status(Code::kInternal, "no key");
  if (!domain->key_uri.empty()) {
    if (env_.pkcs11 == nullptr) {
      return Status(Code::kFailedPrecondition, "a trusted publishing domain of cluster " + name +
                                                   " has its key in a PKCS#11 token (" +
                                                   domain->key_uri +
                                                   "): give this node its module and PIN");
    }
    opened = env_.pkcs11->Open(domain->key_uri);
  } else {
    opened = crypto::UnsealKey(domain->sealed_key, password);
  }
  if (!opened.ok()) {
    return opened.status().WithContext("the key of trusted publishing domain " +
                                       Short(fingerprint) + " of cluster " + name);
  }
  if (!((*opened)->public_key() == key)) {
    return Status(Code::kDataLoss, "the stored key of trusted publishing domain " +
                                       Short(fingerprint) +
                                       " is another key: the store is damaged");
  }
  return opened;
}

Result<std::string> ClusterService::ExportDomains(
    const std::string& name, std::string_view key_password, std::string_view file_password,
    const std::string& templates_json, const std::string& actor, const crypto::ScryptCost& cost) {
  if (file_password.size() < 8) {
    return Status(Code::kInvalidArgument,
                  "the password of a trusted publishing domain file must have 8 characters or "
                  "more: the file holds private keys");
  }
  ASSIGN_OR_RETURN(ClusterConfig c, store_.Find(name));
  ASSIGN_OR_RETURN(auto domains, ListDomains(name));
  if (domains.empty()) {
    return Status(Code::kFailedPrecondition,
                  "cluster " + name + " has no SLC yet: nothing to export");
  }
  TpdContents out;
  out.cluster = c.name;
  out.guid = c.guid;
  out.exported_at = env_.clock.Now();
  out.templates_json = templates_json;
  for (const PublishingDomain& d : domains) {
    if (!d.key_uri.empty()) {
      // A token never gives out a key it made non-extractable; ask it, so
      // the message says what the token says.
      Status refused = env_.pkcs11 == nullptr
                           ? Status(Code::kFailedPrecondition, "this command has no PKCS#11 module")
                           : env_.pkcs11->Export(d.key_uri).status();
      return Status(refused.code() == Code::kOk ? Code::kUnsupported : refused.code(),
                    "the trusted publishing domain of cluster " + name +
                        " cannot be exported: its key (" + Short(d.fingerprint) +
                        ") lives in a PKCS#11 token, and a key there can be exported only if it "
                        "was made exportable; " +
                        refused.message());
    }
    TpdDomain t;
    t.fingerprint = d.fingerprint;
    t.public_key = d.public_key;
    ASSIGN_OR_RETURN(t.sealed_key, crypto::ResealKey(d.sealed_key, key_password, file_password));
    t.chain = d.chain;
    t.issued = d.issued;
    t.expires = d.expires;
    t.state = d.state;
    out.domains.push_back(std::move(t));
  }
  ASSIGN_OR_RETURN(std::string file, SealTpdFile(out, file_password, env_.random, cost));
  RETURN_IF_ERROR(store_.Audit(name, env_.clock.Now(), actor, "tpd-export",
                               std::to_string(out.domains.size()) + " domain(s) exported"));
  return file;
}

Result<TpdImport> ClusterService::ImportDomains(const std::string& name, std::string_view file,
                                                std::string_view file_password,
                                                std::string_view key_password,
                                                const std::string& actor) {
  ASSIGN_OR_RETURN(ClusterConfig c, store_.Find(name));
  // Everything is checked before anything is written. The imported keys
  // are sealed under the key password: it must be this cluster's.
  if (c.key_uri.empty()) RETURN_IF_ERROR(OpenKey(c, key_password).status());
  ASSIGN_OR_RETURN(TpdContents contents, OpenTpdFile(file, file_password));
  ASSIGN_OR_RETURN(auto held, ListDomains(name));
  ASSIGN_OR_RETURN(crypto::PublicKey own, KeyOf(c.public_key));
  TpdImport result;
  result.from_cluster = contents.cluster;
  result.templates_json = contents.templates_json;
  for (const TpdDomain& t : contents.domains) {
    ASSIGN_OR_RETURN(crypto::PublicKey key, KeyOf(t.public_key));
    const std::string fingerprint = key.Fingerprint();
    if (fingerprint != t.fingerprint) {
      return Status(Code::kMalformed, "the file names key " + Short(t.fingerprint) +
                                          " but holds key " + Short(fingerprint));
    }
    const bool known = key == own || std::any_of(held.begin(), held.end(), [&](const auto& d) {
                         return d.fingerprint == fingerprint;
                       });
    if (known) {
      result.already_held.push_back(fingerprint);
      continue;
    }
    auto chain = xrml::ParseChain(t.chain);
    if (!chain.ok())
      return chain.status().WithContext("the SLC chain of domain " + Short(fingerprint));
    const xrml::Party* principal = chain->front().principal();
    if (chain->front().Kind() != xrml::kTypeServerLicensorCertificate || principal == nullptr ||
        !principal->public_key || !(*principal->public_key == key)) {
      return Status(Code::kMismatch, "the SLC of domain " + Short(fingerprint) +
                                         " does not certify that domain's key");
    }
    // Signatures along the chain; not its dates (a retired domain's SLC may
    // have expired) and not this cluster's trust anchor (another issuer's
    // domain is welcome: the file's password is what vouches for it).
    Status signed_ok = xrml::VerifyChain(*chain, {});
    if (!signed_ok.ok())
      return signed_ok.WithContext("the SLC chain of domain " + Short(fingerprint));
    PublishingDomain d;
    d.fingerprint = fingerprint;
    d.public_key = t.public_key;
    ASSIGN_OR_RETURN(d.sealed_key, crypto::ResealKey(t.sealed_key, file_password, key_password));
    ASSIGN_OR_RETURN(auto opened, crypto::UnsealKey(d.sealed_key, key_password));
    if (!(opened->public_key() == key)) {
      return Status(Code::kMismatch, "the private key of domain " + Short(fingerprint) +
                                         " is not the key its SLC certifies");
    }
    d.chain = protocol::WriteEnrollResponse(*chain);
    d.issued = t.issued;
    d.expires = t.expires;
    d.state = "retired";
    d.source = "import";
    d.added_at = env_.clock.Now();
    d.added_by = actor;
    result.added.push_back(std::move(d));
  }
  if (result.added.empty()) {
    return Status(Code::kAlreadyUsed,
                  "cluster " + name +
                      " already holds every trusted publishing domain in this file (" +
                      contents.cluster + ", " + std::to_string(contents.domains.size()) +
                      " domain(s)): nothing was imported");
  }
  RETURN_IF_ERROR(store_.database().InTransaction([&](store::Database& tx) -> Status {
    for (const PublishingDomain& d : result.added) {
      RETURN_IF_ERROR(PublishingDomainStore::Insert(tx, name, d));
    }
    return tx
        .Execute(
            "INSERT INTO cluster_audit (cluster, at, actor, action, detail) VALUES ($1, $2, $3, "
            "'tpd-import', $4)",
            {name, Secs(env_.clock.Now()), actor,
             std::to_string(result.added.size()) + " trusted publishing domain(s) of " +
                 contents.cluster + " imported"})
        .status();
  }));
  return result;
}

}  // namespace openrms::cluster
