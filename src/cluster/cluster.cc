#include "cluster/cluster.h"

#include <boost/url/parse.hpp>

#include "base/fault.h"
#include "base/text.h"
#include "crypto/encoding.h"
#include "protocol/enrollment_messages.h"
#include "xrml/chain.h"

namespace openrms::cluster {

namespace {

constexpr char kSku[] = "OpenRMS";
constexpr char kVersion[] = "0.1.0.0";

ExpiryPolicy PolicyOf(const ClusterConfig& c) { return {c.renewal_due_days, c.expiring_days}; }

Result<crypto::PublicKey> ClusterPublicKey(const ClusterConfig& c) {
  auto der = crypto::Base64Decode(c.public_key);
  if (!der) return Status(Code::kInternal, "the stored cluster public key is not base64");
  return crypto::PublicKey::FromPkcs1Der(*der);
}

Result<crypto::PublicKey> AnchorKey(const std::string& anchor_xml) {
  auto doc = xrml::ParseDocument(anchor_xml);
  if (!doc.ok()) return doc.status().WithContext("the trust anchor");
  return xrml::TrustAnchorKey(*doc);
}

// The cluster URL goes into the SLC request and every license it issues:
// an absolute https URL with a host. Parsed with Boost.URL here, since
// src/cluster may not include http/url.h (a layer above).
Status CheckClusterUrl(const std::string& url) {
  namespace urls = boost::urls;
  const urls::result<urls::url_view> parsed = urls::parse_uri(url);
  if (!parsed) {
    return Status(Code::kInvalidArgument, "the cluster URL \"" + url + "\" is not a URL (" +
                                              parsed.error().message() +
                                              "); it must start with https://");
  }
  if (parsed->scheme_id() != urls::scheme::https || !parsed->has_authority()) {
    return Status(Code::kInvalidArgument, "the cluster URL must start with https://");
  }
  if (parsed->encoded_host().empty() || parsed->has_userinfo()) {
    return Status(Code::kInvalidArgument,
                  "the cluster URL \"" + url + "\" must name a host, and no user");
  }
  // port_number() is 0 for no digits and wraps past 65535: compare.
  if (parsed->has_port() &&
      (parsed->port_number() == 0 || std::to_string(parsed->port_number()) != parsed->port())) {
    return Status(Code::kInvalidArgument,
                  "the port of the cluster URL \"" + url + "\" is not 1 to 65535");
  }
  return Status::Ok();
}

Status NoPkcs11Module(const std::string& cluster, const std::string& uri) {
  return Status(Code::kFailedPrecondition,
                "the key of cluster " + cluster + " lives in a PKCS#11 token (" + uri +
                    "): give this node its module and PIN (--pkcs11-module PATH, and --pin-file "
                    "FILE or $OPENRMS_PKCS11_PIN)");
}

// The key the chain's SLC certifies.
Result<crypto::PublicKey> CertifiedKey(const std::vector<xrml::Document>& chain) {
  const xrml::Party* principal = chain.front().principal();
  if (principal == nullptr || !principal->public_key) {
    return Status(Code::kDataLoss, "the active SLC certifies no key");
  }
  return *principal->public_key;
}

// Proof that a private key works as the public key says: it signs, the
// signature verifies.
Status CheckSigns(const crypto::PrivateKey& key, const crypto::PublicKey& expected) {
  constexpr char kProbe[] = "OpenRMS key check";
  ASSIGN_OR_RETURN(std::string sig, key.Sign(crypto::DigestAlgorithm::kSha256, kProbe));
  Status s = expected.Verify(crypto::DigestAlgorithm::kSha256, kProbe, sig);
  if (!s.ok()) return Status(Code::kMismatch, "the key signs, but not as the cluster's key");
  return Status::Ok();
}

}  // namespace

struct ClusterService::Validated {
  std::vector<xrml::Document> chain;
  std::string chain_text;
  SlcSummary summary;
  std::optional<SlcRecord> active;
};

struct ClusterService::PreparedImport {
  ClusterConfig config;
  Validated validated;
  std::optional<PendingKey> new_key;  // set when the chain is for a pending rekey's key
};

std::string RenewalRequestFileName(std::string_view server_name) {
  return FileNameSafe(server_name) + "RenewalRequest.xml";
}

std::string RekeyRequestFileName(std::string_view server_name) {
  return FileNameSafe(server_name) + "RekeyRequest.xml";
}

std::string ClusterService::IssuerEndpoint(const ClusterConfig& c) const {
  std::string url = c.issuer_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.size() > 5 && url.compare(url.size() - 5, 5, ".asmx") == 0) return url;
  return url +
         (c.kind == ClusterKind::kRoot ? "/EnrollmentService.asmx" : protocol::kSubEnrollPath);
}

Result<std::unique_ptr<crypto::PrivateKey>> ClusterService::OpenKey(const ClusterConfig& c,
                                                                    std::string_view password) {
  Result<std::unique_ptr<crypto::PrivateKey>> key = Status(Code::kInternal, "no key source");
  if (c.key_uri.empty()) {
    key = crypto::UnsealKey(c.sealed_key, password);
  } else if (env_.pkcs11 == nullptr) {
    return NoPkcs11Module(c.name, c.key_uri);
  } else {
    key = env_.pkcs11->Open(c.key_uri);
  }
  if (!key.ok()) return key.status().WithContext("the key of cluster " + c.name);
  ASSIGN_OR_RETURN(crypto::PublicKey pub, ClusterPublicKey(c));
  if (!((*key)->public_key() == pub)) {
    if (!c.key_uri.empty()) {
      return Status(Code::kMismatch, "the token key " + c.key_uri + " is not the key of cluster " +
                                         c.name + ": the URI names another key");
    }
    return Status(Code::kDataLoss, "the sealed key of cluster " + c.name +
                                       " is not the cluster's key: the store is damaged");
  }
  return key;
}

Result<std::string> ClusterService::MakeRequest(const ClusterConfig& c,
                                                const crypto::PrivateKey& key,
                                                std::optional<std::string> token,
                                                std::optional<int> days) {
  protocol::EnrollParameters p;
  p.public_key = key.public_key();
  p.guid = c.guid;
  p.sku = kSku;
  p.version = kVersion;
  p.name = c.name;
  p.url = c.url;
  p.token = std::move(token);
  p.requested_validity_days = days;
  return protocol::WriteEnrollRequest(p, key,
                                      c.kind == ClusterKind::kRoot
                                          ? protocol::RequestKind::kEnroll
                                          : protocol::RequestKind::kSubEnroll);
}

Result<ClusterService::Validated> ClusterService::Validate(const ClusterConfig& c,
                                                           std::string_view file) {
  Validated v;
  auto chain = xrml::ParseChain(file);
  if (!chain.ok()) {
    return Status(chain.status().code() == Code::kTooLarge ? Code::kTooLarge : Code::kMalformed,
                  "the file is not a certificate chain: " + chain.status().message());
  }
  v.chain = std::move(chain).value();
  const xrml::Document& slc = v.chain.front();
  if (slc.Kind() != xrml::kTypeServerLicensorCertificate) {
    return Status(Code::kMalformed,
                  "the file is not a server licensor certificate chain: its "
                  "first certificate is a " +
                      (slc.Kind().empty() ? std::string("document of no type") : slc.Kind()));
  }
  const Time now = env_.clock.Now();
  v.summary = Summarize(slc, now, PolicyOf(c));
  const xrml::Party* principal = slc.principal();
  ASSIGN_OR_RETURN(crypto::PublicKey own, ClusterPublicKey(c));
  if (principal == nullptr || !principal->public_key || !(*principal->public_key == own)) {
    return Status(Code::kMismatch,
                  "the certificate was issued for another key: it certifies " +
                      (principal ? principal->object.name + " " + principal->object.id
                                 : std::string("no principal")) +
                      ", not the key of cluster " + c.name);
  }
  if (!EqualsIgnoreCase(principal->object.id, c.guid) || principal->object.name != c.name) {
    return Status(Code::kMismatch, "the certificate was issued for server " +
                                       principal->object.name + " " + principal->object.id +
                                       "; this cluster is " + c.name + " " + c.guid);
  }
  if (!slc.validity || !slc.validity->until) {
    return Status(Code::kMalformed, "the certificate has no validity period");
  }
  if (now >= *slc.validity->until) {
    return Status(Code::kExpired,
                  "the certificate expired on " + FormatHuman(*slc.validity->until));
  }
  if (slc.validity->from && now < *slc.validity->from) {
    return Status(Code::kNotYetValid,
                  "the certificate is not valid before " + FormatHuman(*slc.validity->from) +
                      ": its issuer's clock may be wrong; import it once it is valid, or ask "
                      "for a new one");
  }
  ASSIGN_OR_RETURN(crypto::PublicKey anchor, AnchorKey(c.trust_anchor));
  Status trusted = xrml::VerifyChain(v.chain, {anchor, now});
  if (!trusted.ok()) {
    return Status(trusted.code() == Code::kBadSignature ? Code::kBadSignature : Code::kUntrusted,
                  "the certificate chain is not trusted: " + trusted.message());
  }
  const xrml::Right* issue = slc.FindRight(xrml::kRightIssue);
  if (issue == nullptr || (issue->range && !issue->range->Contains(now))) {
    return Status(Code::kPermissionDenied,
                  "the certificate does not grant the right to issue (ISSUE) now: the cluster "
                  "could not sign licenses with it");
  }
  ASSIGN_OR_RETURN(v.active, store_.ActiveSlc(c.name));
  if (v.active) {
    if (v.active->certificate_id == v.summary.certificate_id) {
      return Status(Code::kAlreadyUsed, "this certificate is already the cluster's active SLC");
    }
    if (*slc.validity->until < v.active->valid_until) {
      return Status(Code::kFailedPrecondition,
                    "the certificate's validity ends on " + FormatHuman(*slc.validity->until) +
                        ", before the active one's (" + FormatHuman(v.active->valid_until) +
                        "): importing it would shorten the cluster's life");
    }
  }
  v.chain_text = protocol::WriteEnrollResponse(v.chain);
  return v;
}

Result<SlcSummary> ClusterService::Activate(const ClusterConfig& c, const Validated& v,
                                            const std::string& source, const std::string& actor,
                                            bool create, const KeySwitch* rekey) {
  const xrml::Document& slc = v.chain.front();
  SlcRecord rec;
  rec.certificate_id = v.summary.certificate_id;
  rec.chain = v.chain_text;
  rec.issued = v.summary.issued;
  rec.valid_from = slc.validity->from.value_or(v.summary.issued);
  rec.valid_until = v.summary.expires;
  rec.issuer = v.summary.issuer;
  rec.source = source;
  rec.installed_at = env_.clock.Now();
  std::string message = "New server licensor certificate active for " + c.name + ": valid until " +
                        FormatHuman(v.summary.expires) + " (" + source + ")";
  if (rekey != nullptr) {
    ASSIGN_OR_RETURN(crypto::PublicKey certified, CertifiedKey(v.chain));
    message += "; new cluster key " + certified.Fingerprint().substr(0, 16) + ", the old key " +
               rekey->retired.fingerprint.substr(0, 16) + " stays as a trusted publishing domain";
  }
  auto id =
      store_.Activate(c.name, rec, v.active ? std::optional<int64_t>(v.active->id) : std::nullopt,
                      actor, message, create ? &c : nullptr, rekey);
  if (!id.ok()) return id.status();
  return v.summary;
}

Result<ProvisionResult> ClusterService::Provision(const ProvisionRequest& r,
                                                  std::string_view password) {
  if (r.name.empty() || r.name.size() > 64 ||
      r.name.find_first_of(" /\\\"'<>&") != std::string::npos) {
    return Status(Code::kInvalidArgument,
                  "the cluster name must be 1 to 64 characters without "
                  "spaces, slashes, quotes or <>&");
  }
  RETURN_IF_ERROR(CheckClusterUrl(r.url));
  if (r.validity_days && (*r.validity_days < 1 || *r.validity_days > 7150)) {
    return Status(Code::kInvalidArgument, "--validity-days must be 1 to 7150");
  }
  ASSIGN_OR_RETURN(crypto::PublicKey anchor, AnchorKey(r.trust_anchor_xml));
  (void)anchor;
  auto existing = store_.Find(r.name);
  if (existing.ok()) {
    return Status(Code::kAlreadyUsed, "a cluster named \"" + r.name + "\" already exists here");
  }
  if (existing.status().code() != Code::kNotFound) return existing.status();

  ProvisionResult out;
  std::unique_ptr<crypto::PrivateKey> key;
  std::string sealed_key;
  if (r.key_uri.empty()) {
    ASSIGN_OR_RETURN(crypto::SealedKeyPair pair, crypto::GenerateSealedRsaKey(2048, password));
    key = std::move(pair.key);
    sealed_key = std::move(pair.sealed_pem);
  } else {
    if (env_.pkcs11 == nullptr) return NoPkcs11Module(r.name, r.key_uri);
    auto placed = env_.pkcs11->OpenOrGenerate(r.key_uri, 2048);
    if (!placed.ok()) return placed.status().WithContext("the key of cluster " + r.name);
    key = std::move(placed->key);
    out.key_created = placed->created;
    RETURN_IF_ERROR(CheckKeyUnused(*key, r.key_uri));
  }
  ClusterConfig c;
  c.name = r.name;
  c.kind = r.kind;
  c.url = r.url;
  c.guid = NewGuid(env_.random);
  c.issuer_url = r.issuer_url;
  c.issuer_tls_ca = r.issuer_tls_ca;
  c.trust_anchor = r.trust_anchor_xml;
  c.public_key = crypto::Base64Encode(key->public_key().ToPkcs1Der());
  c.sealed_key = std::move(sealed_key);
  c.key_uri = r.key_uri;
  c.created_at = env_.clock.Now();

  ASSIGN_OR_RETURN(std::string request, MakeRequest(c, *key, r.token, r.validity_days));
  if (r.offline) {
    RETURN_IF_ERROR(store_.Create(c));
    RequestRecord rec{0, env_.clock.Now(), r.actor, RenewalRequestFileName(c.name), request, ""};
    RETURN_IF_ERROR(store_.RecordRequest(c.name, rec));
    RETURN_IF_ERROR(store_.Audit(c.name, env_.clock.Now(), r.actor, "provision",
                                 "provisioned offline; request written"));
    out.request_text = request;
    out.request_file_name = rec.file_name;
    return out;
  }
  // Online: enroll first, so a refusal leaves nothing behind.
  const std::string action =
      c.kind == ClusterKind::kRoot ? protocol::kEnrollSoapAction : protocol::kSubEnrollSoapAction;
  ASSIGN_OR_RETURN(std::string response,
                   env_.transport.PostSoap(IssuerEndpoint(c), action, request, c.issuer_tls_ca));
  auto chain = protocol::ParseEnrollResponse(response);
  if (!chain.ok()) return chain.status().WithContext("the issuer refused the enrollment");
  ASSIGN_OR_RETURN(Validated v, Validate(c, protocol::WriteEnrollResponse(*chain)));
  // The cluster and its first SLC appear in one transaction, or not at all.
  ASSIGN_OR_RETURN(out.active, Activate(c, v, "provision", r.actor, /*create=*/true));
  RETURN_IF_ERROR(store_.Audit(c.name, env_.clock.Now(), r.actor, "provision",
                               "provisioned online with " + c.issuer_url));
  return out;
}

Result<IssuerTransport::RenewalInfoAnswer> IssuerTransport::GetRenewalInfo(const std::string&,
                                                                           const std::string&,
                                                                           const std::string&) {
  return Status(Code::kUnsupported, "this transport does not fetch renewal information");
}

Result<StatusReport> ClusterService::GetStatus(const std::string& name) {
  StatusReport s;
  ASSIGN_OR_RETURN(s.config, store_.Find(name));
  s.policy = PolicyOf(s.config);
  ASSIGN_OR_RETURN(auto active, store_.ActiveSlc(name));
  if (active) {
    auto chain = xrml::ParseChain(active->chain);
    if (!chain.ok()) return chain.status().WithContext("the stored SLC of " + name);
    s.slc = Summarize(chain->front(), env_.clock.Now(), s.policy);
    ASSIGN_OR_RETURN(s.renewal, RenewalPlanStore(store_.database()).Find(name));
    if (!s.renewal || s.renewal->certificate_id != active->certificate_id) {
      s.renewal = RenewalPlan();
      s.renewal->certificate_id = active->certificate_id;
      s.renewal->window = LocalRenewalWindow(active->valid_from, active->valid_until);
    }
  }
  ASSIGN_OR_RETURN(s.pending, store_.PendingRequest(name));
  return s;
}

Result<RequestRecord> ClusterService::ExportRequest(const std::string& name,
                                                    std::string_view password,
                                                    const std::string& actor) {
  ASSIGN_OR_RETURN(ClusterConfig c, store_.Find(name));
  ASSIGN_OR_RETURN(auto key, OpenKey(c, password));
  ASSIGN_OR_RETURN(std::string request, MakeRequest(c, *key, std::nullopt, std::nullopt));
  RequestRecord rec{0, env_.clock.Now(), actor, RenewalRequestFileName(c.name), request, "pending"};
  RETURN_IF_ERROR(store_.RecordRequest(name, rec));
  RETURN_IF_ERROR(store_.Audit(name, rec.created_at, actor, "export-request", rec.file_name));
  return rec;
}

Result<ClusterService::PreparedImport> ClusterService::PrepareImport(const std::string& name,
                                                                     std::string_view file) {
  PreparedImport p;
  ASSIGN_OR_RETURN(p.config, store_.Find(name));
  // A certificate for the new key of a pending rekey is checked as if that
  // key were the cluster's already; anything else, against the key it has.
  ASSIGN_OR_RETURN(auto pending, store_.PendingNewKey(name));
  if (pending) {
    auto chain = xrml::ParseChain(file);
    auto certified = chain.ok() ? CertifiedKey(*chain) : Result<crypto::PublicKey>(chain.status());
    if (certified.ok() && crypto::Base64Encode(certified->ToPkcs1Der()) == pending->public_key) {
      ClusterConfig next = p.config;
      next.public_key = pending->public_key;
      ASSIGN_OR_RETURN(p.validated, Validate(next, file));
      p.new_key = std::move(pending);
      return p;
    }
  }
  ASSIGN_OR_RETURN(p.validated, Validate(p.config, file));
  return p;
}

Result<ImportPreview> ClusterService::PreviewImport(const std::string& name,
                                                    std::string_view file) {
  ASSIGN_OR_RETURN(PreparedImport prepared, PrepareImport(name, file));
  const Validated& v = prepared.validated;
  ImportPreview p;
  p.incoming = v.summary;
  if (v.active) {
    auto chain = xrml::ParseChain(v.active->chain);
    if (chain.ok())
      p.current = Summarize(chain->front(), env_.clock.Now(), PolicyOf(prepared.config));
  }
  if (prepared.new_key) {
    ASSIGN_OR_RETURN(crypto::PublicKey key, CertifiedKey(v.chain));
    p.new_key_fingerprint = key.Fingerprint();
  }
  return p;
}

Result<SlcSummary> ClusterService::Import(const std::string& name, std::string_view file,
                                          const std::string& actor) {
  auto prepared = PrepareImport(name, file);
  if (!prepared.ok()) {
    (void)store_.Audit(name, env_.clock.Now(), actor, "import-refused",
                       prepared.status().message());
    return prepared.status();
  }
  OPENRMS_CRASH_POINT("import: validated");
  if (prepared->new_key) {
    return ActivateRekey(prepared->config, *prepared->new_key, prepared->validated, "rekey-import",
                         actor);
  }
  return Activate(prepared->config, prepared->validated, "import", actor);
}

Result<SlcSummary> ClusterService::ActivateRekey(const ClusterConfig& c, const PendingKey& next,
                                                 const Validated& v, const std::string& source,
                                                 const std::string& actor) {
  if (!v.active) {
    return Status(Code::kFailedPrecondition,
                  "cluster " + c.name + " has no active SLC: there is no old key to retire");
  }
  ASSIGN_OR_RETURN(crypto::PublicKey old_key, ClusterPublicKey(c));
  KeySwitch ks;
  ks.old_public_key = c.public_key;
  ks.next = next;
  PublishingDomain& d = ks.retired;
  d.fingerprint = old_key.Fingerprint();
  d.public_key = c.public_key;
  d.sealed_key = c.sealed_key;
  d.key_uri = c.key_uri;
  d.chain = v.active->chain;
  d.issued = v.active->issued;
  d.expires = v.active->valid_until;
  d.state = "retired";
  d.source = "rekey";
  d.added_at = env_.clock.Now();
  d.added_by = actor;
  return Activate(c, v, source, actor, /*create=*/false, &ks);
}

Result<RekeyResult> ClusterService::Rekey(const RekeyRequest& r, std::string_view password) {
  ASSIGN_OR_RETURN(ClusterConfig c, store_.Find(r.name));
  ASSIGN_OR_RETURN(auto active, store_.ActiveSlc(r.name));
  if (!active) {
    return Status(Code::kFailedPrecondition,
                  "cluster " + r.name +
                      " has no SLC yet: finish provisioning (import its first certificate) "
                      "before changing its key");
  }
  // The old key opens first: a wrong password stops here, before a new key
  // is sealed under it.
  ASSIGN_OR_RETURN(auto old_key, OpenKey(c, password));
  RekeyResult out;
  out.old_fingerprint = old_key->public_key().Fingerprint();
  old_key.reset();
  PendingKey next;
  std::unique_ptr<crypto::PrivateKey> key;
  if (!r.key_uri.empty()) {
    if (env_.pkcs11 == nullptr) return NoPkcs11Module(r.name, r.key_uri);
    auto placed = env_.pkcs11->OpenOrGenerate(r.key_uri, 2048);
    if (!placed.ok()) return placed.status().WithContext("the new key of cluster " + r.name);
    key = std::move(placed->key);
    out.key_created = placed->created;
    RETURN_IF_ERROR(CheckKeyUnused(*key, r.key_uri));
    ASSIGN_OR_RETURN(
        auto retired,
        PublishingDomainStore(store_.database()).Find(r.name, key->public_key().Fingerprint()));
    if (retired) {
      return Status(Code::kAlreadyUsed, "the token key " + r.key_uri +
                                            " is a retired key of cluster " + r.name +
                                            ": name a new object for the new key");
    }
    next.key_uri = r.key_uri;
  } else if (!c.key_uri.empty()) {
    return Status(Code::kFailedPrecondition,
                  "the key of cluster " + r.name + " lives in a PKCS#11 token (" + c.key_uri +
                      "): name a new object there for the new key with --key "
                      "'pkcs11:token=...;object=...'");
  } else {
    ASSIGN_OR_RETURN(crypto::SealedKeyPair pair, crypto::GenerateSealedRsaKey(2048, password));
    key = std::move(pair.key);
    next.sealed_key = std::move(pair.sealed_pem);
  }
  next.public_key = crypto::Base64Encode(key->public_key().ToPkcs1Der());
  out.new_fingerprint = key->public_key().Fingerprint();
  ClusterConfig renamed = c;
  renamed.public_key = next.public_key;
  ASSIGN_OR_RETURN(std::string request, MakeRequest(renamed, *key, r.token, std::nullopt));
  if (r.offline) {
    RequestRecord rec{0,       env_.clock.Now(), r.actor, RekeyRequestFileName(c.name),
                      request, "pending"};
    RETURN_IF_ERROR(store_.RecordRequest(r.name, rec, &next));
    RETURN_IF_ERROR(
        store_.Audit(r.name, rec.created_at, r.actor, "rekey-request",
                     rec.file_name + " for new key " + out.new_fingerprint.substr(0, 16)));
    out.request = std::move(rec);
    return out;
  }
  ASSIGN_OR_RETURN(auto lease, HoldRenewalLease(r.name));
  const std::string action =
      c.kind == ClusterKind::kRoot ? protocol::kEnrollSoapAction : protocol::kSubEnrollSoapAction;
  auto done = [&]() -> Result<SlcSummary> {
    ASSIGN_OR_RETURN(std::string response,
                     env_.transport.PostSoap(IssuerEndpoint(c), action, request, c.issuer_tls_ca));
    OPENRMS_CRASH_POINT("rekey: response received");
    auto chain = protocol::ParseEnrollResponse(response);
    if (!chain.ok()) return chain.status().WithContext("the issuer refused the rekey");
    ASSIGN_OR_RETURN(Validated v, Validate(renamed, protocol::WriteEnrollResponse(*chain)));
    return ActivateRekey(c, next, v, "rekey", r.actor);
  }();
  if (!done.ok()) {
    (void)store_.Audit(r.name, env_.clock.Now(), r.actor, "rekey-failed", done.status().message());
    return done.status();
  }
  out.active = *done;
  return out;
}

class ClusterService::HeldLease final {
 public:
  HeldLease(ClusterStore& store, std::string name, std::string holder)
      : store_(store), name_(std::move(name)), holder_(std::move(holder)) {}
  ~HeldLease() { (void)store_.ReleaseRenewalLease(name_, holder_); }
  HeldLease(const HeldLease&) = delete;
  HeldLease& operator=(const HeldLease&) = delete;

 private:
  ClusterStore& store_;
  const std::string name_;
  const std::string holder_;
};

Result<std::unique_ptr<ClusterService::HeldLease>> ClusterService::HoldRenewalLease(
    const std::string& name) {
  // The lease outlives the issuer's timeout (30 s); a renewal that died
  // holds it for at most two minutes.
  std::string holder = NewGuid(env_.random);
  RETURN_IF_ERROR(store_.TakeRenewalLease(name, holder, env_.clock.Now(),
                                          env_.clock.Now() + std::chrono::minutes(2)));
  return std::make_unique<HeldLease>(store_, name, std::move(holder));
}

Result<SlcSummary> ClusterService::RenewOnline(const std::string& name, std::string_view password,
                                               const std::string& actor,
                                               std::optional<std::string> token,
                                               std::optional<std::string> only_if_active) {
  ASSIGN_OR_RETURN(ClusterConfig c, store_.Find(name));
  ASSIGN_OR_RETURN(auto key, OpenKey(c, password));
  // One renewal at a time: a second one is refused before it asks the
  // issuer for anything.
  ASSIGN_OR_RETURN(auto lease, HoldRenewalLease(name));
  if (only_if_active) {
    ASSIGN_OR_RETURN(auto active, store_.ActiveSlc(name));
    if (!active || active->certificate_id != *only_if_active) {
      return Status(Code::kAlreadyUsed, "the SLC of cluster " + name +
                                            " was renewed meanwhile (by another node or an "
                                            "administrator): nothing to renew");
    }
  }
  ASSIGN_OR_RETURN(std::string request, MakeRequest(c, *key, std::move(token), std::nullopt));
  const std::string action =
      c.kind == ClusterKind::kRoot ? protocol::kEnrollSoapAction : protocol::kSubEnrollSoapAction;
  auto renewed = [&]() -> Result<SlcSummary> {
    ASSIGN_OR_RETURN(std::string response,
                     env_.transport.PostSoap(IssuerEndpoint(c), action, request, c.issuer_tls_ca));
    OPENRMS_CRASH_POINT("renew: response received");
    auto chain = protocol::ParseEnrollResponse(response);
    if (!chain.ok()) return chain.status().WithContext("the issuer refused the renewal");
    ASSIGN_OR_RETURN(Validated v, Validate(c, protocol::WriteEnrollResponse(*chain)));
    return Activate(c, v, "online", actor);
  }();
  const Time now = env_.clock.Now();
  if (renewed.ok()) {
    (void)store_.RecordRenewalAttempt(name, now, true, std::nullopt, 0);
    return renewed;
  }
  (void)store_.Audit(name, now, actor, "renew-online-failed", renewed.status().message());
  // Back off: 5 minutes, doubling, at most 6 hours, with 10% jitter.
  const int failures = c.renewal_failures + 1;
  long delay = 300L << std::min(failures - 1, 12);
  delay = std::min(delay, 6L * 3600);
  uint8_t r = 0;
  env_.random.Fill({&r, 1});
  delay += delay * (static_cast<long>(r) - 128) / 1280;
  (void)store_.RecordRenewalAttempt(name, now, false, now + Duration(delay), failures);
  (void)PostEvent(name, {0, now, "error", "renewal-failed",
                         "Online renewal of the server licensor certificate of " + name +
                             " failed: " + renewed.status().message()});
  return renewed;
}

Result<bool> ClusterService::PostEvent(const std::string& name, const Event& event,
                                       const std::optional<std::string>& dedupe) {
  ASSIGN_OR_RETURN(bool fresh, store_.PostEvent(name, event, dedupe));
  if (fresh && sink_ != nullptr) sink_->Publish(name, event);
  return fresh;
}

Status ClusterService::VerifyKey(const std::string& name, std::string_view password) {
  ASSIGN_OR_RETURN(ClusterConfig c, store_.Find(name));
  ASSIGN_OR_RETURN(auto key, OpenKey(c, password));
  ASSIGN_OR_RETURN(auto active, store_.ActiveSlc(name));
  if (!active) return Status(Code::kFailedPrecondition, "cluster " + name + " has no SLC yet");
  ASSIGN_OR_RETURN(auto chain, xrml::ParseChain(active->chain));
  ASSIGN_OR_RETURN(crypto::PublicKey certified, CertifiedKey(chain));
  if (!(certified == key->public_key())) {
    return Status(Code::kDataLoss, "the active SLC does not certify the cluster key");
  }
  RETURN_IF_ERROR(CheckSigns(*key, certified).WithContext("the key of cluster " + name));
  ASSIGN_OR_RETURN(crypto::PublicKey anchor, AnchorKey(c.trust_anchor));
  return xrml::VerifyChain(chain, {anchor, std::nullopt});
}

Status ClusterService::CheckKeyUnused(const crypto::PrivateKey& key, const std::string& uri) {
  const std::string der = crypto::Base64Encode(key.public_key().ToPkcs1Der());
  ASSIGN_OR_RETURN(auto names, store_.ListClusters());
  for (const std::string& other : names) {
    ASSIGN_OR_RETURN(ClusterConfig o, store_.Find(other));
    if (o.public_key == der) {
      return Status(Code::kAlreadyUsed, "the token key " + uri + " is already the key of cluster " +
                                            other + ": give each cluster a key of its own");
    }
  }
  return Status::Ok();
}

Result<bool> ClusterService::MoveKeyToToken(const std::string& name, std::string_view password,
                                            const std::string& key_uri, const std::string& actor) {
  ASSIGN_OR_RETURN(ClusterConfig c, store_.Find(name));
  if (!c.key_uri.empty()) {
    return Status(
        Code::kFailedPrecondition,
        "the key of cluster " + name + " is in a PKCS#11 token already (" + c.key_uri + ")");
  }
  if (env_.pkcs11 == nullptr) return NoPkcs11Module(name, key_uri);
  // The sealed key first: a wrong password stops here, before the token.
  ASSIGN_OR_RETURN(auto software, OpenKey(c, password));
  software.reset();
  auto placed = env_.pkcs11->OpenOrImport(key_uri, c.sealed_key, password);
  if (!placed.ok()) return placed.status().WithContext("moving the key of cluster " + name);
  // The token's key must be the one the active SLC certifies (the stored
  // public key when there is no SLC yet), and must sign as that key.
  ASSIGN_OR_RETURN(crypto::PublicKey expected, ClusterPublicKey(c));
  ASSIGN_OR_RETURN(auto active, store_.ActiveSlc(name));
  if (active) {
    ASSIGN_OR_RETURN(auto chain, xrml::ParseChain(active->chain));
    ASSIGN_OR_RETURN(expected, CertifiedKey(chain));
  }
  if (!(placed->key->public_key() == expected)) {
    return Status(Code::kMismatch, "the key in the token (" + key_uri +
                                       ") is not the key the active SLC of cluster " + name +
                                       " certifies: nothing was switched");
  }
  RETURN_IF_ERROR(CheckSigns(*placed->key, expected).WithContext("the key in the token"));
  RETURN_IF_ERROR(store_.MoveKeyToToken(name, c.public_key, key_uri, env_.clock.Now(), actor));
  return placed->created;
}

Result<std::unique_ptr<crypto::PrivateKey>> ClusterService::ClusterKey(const std::string& name,
                                                                       std::string_view password) {
  ASSIGN_OR_RETURN(ClusterConfig c, store_.Find(name));
  return OpenKey(c, password);
}

Result<enrollment::Authority> ClusterService::SubordinateIssuer(const std::string& name,
                                                                std::string_view password) {
  ASSIGN_OR_RETURN(ClusterConfig c, store_.Find(name));
  if (c.kind != ClusterKind::kRoot) {
    return Status(Code::kPermissionDenied, "cluster " + name +
                                               " is licensing-only: only a root cluster issues "
                                               "SLCs to other clusters");
  }
  ASSIGN_OR_RETURN(auto active, store_.ActiveSlc(name));
  if (!active) return Status(Code::kFailedPrecondition, "cluster " + name + " has no SLC yet");
  enrollment::Authority a;
  ASSIGN_OR_RETURN(a.chain, xrml::ParseChain(active->chain));
  ASSIGN_OR_RETURN(a.key, OpenKey(c, password));
  a.max_validity_days = c.subordinate_validity_days;
  a.name = "cluster " + name;
  a.id = "cluster:" + name;
  return a;
}

}  // namespace openrms::cluster
