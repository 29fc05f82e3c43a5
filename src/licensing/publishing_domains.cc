// Which key opens a publishing license: the cluster's own, or the key of
// one of its trusted publishing domains (cluster/tpd.h) -- a key it had
// before a rekey, or another server's imported with `openrms tpd import`.
// Keys are cached by cluster and key fingerprint: a fingerprint names one
// key for good, and a domain is never taken from a cluster, so a cached
// key stays right; which key is current is read from the store each time.
#include "crypto/encoding.h"
#include "licensing/licensing.h"

namespace openrms::licensing {

namespace {

std::string CacheId(const std::string& cluster, const crypto::PublicKey& key) {
  return cluster + '\n' + key.Fingerprint();
}

}  // namespace

Result<std::shared_ptr<crypto::PrivateKey>> LicensingService::CurrentKey(
    const cluster::ClusterConfig& config) {
  // By the stored key's text too: every license and RAC asks for it, and
  // reading a public key costs a good part of a signature.
  const std::string text_id = config.name + "\ntext\n" + config.public_key;
  {
    std::lock_guard lock(mu_);
    auto it = keys_.find(text_id);
    if (it != keys_.end()) return it->second;
  }
  auto der = crypto::Base64Decode(config.public_key);
  if (!der)
    return Status(Code::kDataLoss, "the stored key of cluster " + config.name + " is damaged");
  ASSIGN_OR_RETURN(crypto::PublicKey current, crypto::PublicKey::FromPkcs1Der(*der));
  const std::string id = CacheId(config.name, current);
  std::shared_ptr<crypto::PrivateKey> shared;
  {
    std::lock_guard lock(mu_);
    auto it = keys_.find(id);
    if (it != keys_.end()) shared = it->second;
  }
  if (!shared) {
    ASSIGN_OR_RETURN(auto key, clusters_.DomainKey(config.name, current, password_));
    shared = std::move(key);
  }
  std::lock_guard lock(mu_);
  keys_[id] = shared;
  keys_[text_id] = shared;
  return shared;
}

Result<std::shared_ptr<crypto::PrivateKey>> LicensingService::KeyForLicense(
    const std::string& cluster, const xrml::Document& pl) {
  return KeyForIssuer(cluster, pl.issuer.public_key, pl.issuer.object.name);
}

Result<std::shared_ptr<crypto::PrivateKey>> LicensingService::KeyForIssuer(
    const std::string& cluster, const std::optional<crypto::PublicKey>& issuer_key,
    const std::string& issuer_name) {
  auto other = [&] {
    return Status(Code::kMismatch, "this content was published through another cluster (" +
                                       issuer_name + "); ask that cluster for a license");
  };
  if (!issuer_key) return other();
  const std::string id = CacheId(cluster, *issuer_key);
  {
    std::lock_guard lock(mu_);
    auto it = keys_.find(id);
    if (it != keys_.end()) return it->second;
  }
  auto key = clusters_.DomainKey(cluster, *issuer_key, password_);
  if (!key.ok() && key.status().code() == Code::kNotFound) return other();
  if (!key.ok()) return key.status();
  std::shared_ptr<crypto::PrivateKey> shared = std::move(*key);
  std::lock_guard lock(mu_);
  keys_[id] = shared;
  return shared;
}

}  // namespace openrms::licensing
