// The SLC lifecycle of RMS clusters: provisioning, status, online renewal,
// offline renewal (export a request, import the issued chain), and the
// checks that keep a wrong certificate out. The command line and the
// administration web site call the same operations. Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "cluster/cluster_store.h"
#include "cluster/renewal_plan.h"
#include "cluster/slc.h"
#include "cluster/tpd.h"
#include "crypto/keys.h"
#include "crypto/password_box.h"
#include "crypto/pkcs11.h"
#include "enrollment/authority.h"
#include "xrml/document.h"

namespace openrms::cluster {

// The network, injected: how a cluster reaches its issuer.
class IssuerTransport {
 public:
  virtual ~IssuerTransport() = default;
  // POSTs a SOAP request over HTTPS trusting `tls_ca_pem`; returns the
  // response body (a SOAP fault too). kUnavailable when unreachable.
  virtual Result<std::string> PostSoap(const std::string& url, const std::string& soap_action,
                                       const std::string& body, const std::string& tls_ca_pem) = 0;

  struct RenewalInfoAnswer {
    enrollment::RenewalInfo info;
    std::optional<Duration> retry_after;  // the issuer's Retry-After, if it sent one
  };
  // GETs the issuer's renewal information (enrollment/renewal_info.h) for
  // the SLC `certificate_id`, from the issuer whose enrollment URL is
  // `issuer_url`. kNotFound when the issuer does not know the certificate,
  // kUnavailable when it cannot be reached, kMalformed for a bad answer.
  // The default: kUnsupported (a transport without renewal information).
  virtual Result<RenewalInfoAnswer> GetRenewalInfo(const std::string& issuer_url,
                                                   const std::string& certificate_id,
                                                   const std::string& tls_ca_pem);
};

// Where events go besides the store (the system log).
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Publish(const std::string& cluster, const Event& event) = 0;
};

struct Environment {
  const Clock& clock;
  Random& random;
  IssuerTransport& transport;
  // This node's PKCS#11 module and PIN, for clusters whose key lives in a
  // token (ClusterConfig::key_uri); null when the node has none configured.
  crypto::Pkcs11KeyStore* pkcs11 = nullptr;
};

struct ProvisionRequest {
  std::string name;
  std::string url;
  ClusterKind kind = ClusterKind::kRoot;
  std::string trust_anchor_xml;
  std::string issuer_url;     // enrollment service (root) or root cluster URL (licensing-only)
  std::string issuer_tls_ca;  // PEM
  std::optional<std::string> token;
  bool offline = false;
  std::optional<int> validity_days;
  std::string actor;
  // "" for a sealed software key; else the key in a PKCS#11 token, by its
  // RFC 7512 URI: used when the token has it, else made there.
  std::string key_uri;
};

struct ProvisionResult {
  bool key_created = false;          // a token key made now (false: found in the token)
  std::optional<SlcSummary> active;  // online: the SLC now active
  std::string request_text;          // offline: the request to carry to the issuer
  std::string request_file_name;
};

struct StatusReport {
  ClusterConfig config;
  std::optional<SlcSummary> slc;
  std::optional<RequestRecord> pending;
  ExpiryPolicy policy;
  // When automatic renewal happens (monitor.h): the stored plan for the
  // active SLC, or the local rule with no moment yet before the monitor has
  // made one. Unset without an active SLC.
  std::optional<RenewalPlan> renewal;
};

// What an import would change, for the confirmation.
struct ImportPreview {
  SlcSummary incoming;
  std::optional<SlcSummary> current;
  // The certificate is for the new key of a pending rekey: importing it
  // switches the cluster to that key (fingerprint) and retires the old one.
  std::optional<std::string> new_key_fingerprint;
};

// `slc rekey`: a new cluster key and an SLC for it, same GUID.
struct RekeyRequest {
  std::string name;
  bool offline = false;              // write a request instead of asking the issuer
  std::optional<std::string> token;  // the issuer's one-time token (see README, "Rekey")
  std::string key_uri;               // the new key as a new token object; "" for a sealed key
  std::string actor;
};

struct RekeyResult {
  bool key_created = false;  // a token key made now (false: found in the token)
  std::string old_fingerprint;
  std::string new_fingerprint;
  std::optional<SlcSummary> active;      // online: the new SLC, active
  std::optional<RequestRecord> request;  // offline: the request to carry to the issuer
};

// "<server name>RekeyRequest.xml", safe as a file name.
std::string RekeyRequestFileName(std::string_view server_name);

class ClusterService final {
 public:
  ClusterService(ClusterStore& store, Environment env) : store_(store), env_(env) {}

  Result<ProvisionResult> Provision(const ProvisionRequest& request, std::string_view password);

  Result<StatusReport> GetStatus(const std::string& name);

  // Writes the renewal request (signed with the cluster key) and records it
  // as pending. The file name is "<server name>RenewalRequest.xml".
  Result<RequestRecord> ExportRequest(const std::string& name, std::string_view password,
                                      const std::string& actor);

  // Checks an issued chain file without changing anything. Refusals, each
  // naming what is wrong: kMalformed (not a certificate chain), kMismatch
  // (another key, another GUID or server), kUntrusted or kBadSignature
  // (chain), kExpired (already expired), kPermissionDenied (no right to
  // issue), kFailedPrecondition (ends before the active one), kAlreadyUsed
  // (it is the active one).
  Result<ImportPreview> PreviewImport(const std::string& name, std::string_view file);
  // Checks again, then activates in one transaction.
  Result<SlcSummary> Import(const std::string& name, std::string_view file,
                            const std::string& actor);

  // Sends a renewal request to the issuer and activates the answer.
  // `token` is needed only when the SLC has expired (the issuer then treats
  // the renewal as a new enrollment).
  // With `only_if_active` (a certificate ID), the renewal goes ahead only
  // while that SLC is still the active one once the renewal lease is held:
  // kAlreadyUsed when another node renewed it meanwhile (the monitors of
  // several nodes may all find renewal due at the same moment).
  Result<SlcSummary> RenewOnline(const std::string& name, std::string_view password,
                                 const std::string& actor,
                                 std::optional<std::string> token = std::nullopt,
                                 std::optional<std::string> only_if_active = std::nullopt);

  // Makes a new cluster key (sealed under `password` like the old one, or
  // the token object `key_uri` names) and enrolls it with the same GUID.
  // Online, the issuer's SLC is activated with the new key in one
  // transaction that keeps the old key and SLC as a retired trusted
  // publishing domain. Offline, the request is recorded with the new key,
  // and Import of the issuer's answer does the same switch. Refusals:
  // kFailedPrecondition (no active SLC yet; a token key without --key),
  // kAlreadyUsed (the token object is a key in use), and the issuer's.
  Result<RekeyResult> Rekey(const RekeyRequest& request, std::string_view password);

  // Trusted publishing domains (tpd.h): the active one (the cluster's key
  // and active SLC) first, then the retired ones, oldest first.
  Result<std::vector<PublishingDomain>> ListDomains(const std::string& name);
  // The private key of the cluster's domain whose public key is `key`: the
  // cluster's own key or a retired domain's. kNotFound when the cluster
  // holds no such domain.
  Result<std::unique_ptr<crypto::PrivateKey>> DomainKey(const std::string& name,
                                                        const crypto::PublicKey& key,
                                                        std::string_view password);
  // Every domain of the cluster in one file (tpd_file.h) sealed under
  // `file_password`, with `templates_json` (a JSON array). Refused
  // (kPermissionDenied) when a key lives in a PKCS#11 token that will not
  // give it out; kInvalidArgument for a password under 8 characters.
  Result<std::string> ExportDomains(const std::string& name, std::string_view key_password,
                                    std::string_view file_password,
                                    const std::string& templates_json, const std::string& actor,
                                    const crypto::ScryptCost& cost = {});
  // Adds a file's domains to the cluster as retired ones, their keys sealed
  // under `key_password`, in one transaction. Refusals change nothing:
  // kPermissionDenied (wrong password), kBadSignature (the file was
  // changed), kMalformed/kTooLarge (not such a file), kAlreadyUsed (the
  // cluster holds every domain of the file already).
  Result<TpdImport> ImportDomains(const std::string& name, std::string_view file,
                                  std::string_view file_password, std::string_view key_password,
                                  const std::string& actor);

  // Opens the cluster key and checks that it is the key of the active SLC
  // and that the active chain still verifies to the trust anchor.
  Status VerifyKey(const std::string& name, std::string_view password);

  // Moves a sealed cluster key into a PKCS#11 token as `key_uri`
  // (non-extractable), checks that the token's key is the active SLC's
  // key, then switches the cluster to the token and clears the sealed key
  // in one transaction. kFailedPrecondition when the key is in a token
  // already; kAlreadyUsed when the URI names a token object holding
  // another key. Returns whether the key was imported now (false: the
  // token already held this very key, as after an interrupted move).
  Result<bool> MoveKeyToToken(const std::string& name, std::string_view password,
                              const std::string& key_uri, const std::string& actor);

  // The cluster key, for signing licenses and opening content keys: the
  // sealed key opened with `password`, or the token key through the
  // environment's PKCS#11 key store.
  Result<std::unique_ptr<crypto::PrivateKey>> ClusterKey(const std::string& name,
                                                         std::string_view password);

  // A root cluster as an issuer of licensing-only clusters' SLCs (SubEnroll).
  Result<enrollment::Authority> SubordinateIssuer(const std::string& name,
                                                  std::string_view password);

  // Records an event (once per `dedupe` key) and publishes it to the sink
  // when it is new.
  Result<bool> PostEvent(const std::string& name, const Event& event,
                         const std::optional<std::string>& dedupe = std::nullopt);
  void set_event_sink(EventSink* sink) { sink_ = sink; }

  ClusterStore& store() { return store_; }
  const Environment& environment() const { return env_; }

 private:
  struct Validated;
  struct PreparedImport;
  // The cluster's renewal lease (one renewal or rekey at a time), released
  // when the returned object goes. kFailedPrecondition while another holds it.
  class HeldLease;
  Result<std::unique_ptr<HeldLease>> HoldRenewalLease(const std::string& name);
  Result<Validated> Validate(const ClusterConfig& config, std::string_view file);
  // Validates an issued chain for the cluster's key, or for the new key of
  // its pending rekey when the chain certifies that one.
  Result<PreparedImport> PrepareImport(const std::string& name, std::string_view file);
  // A rekey's activation: the new SLC and key, the old as a retired domain.
  Result<SlcSummary> ActivateRekey(const ClusterConfig& old_config, const PendingKey& next,
                                   const Validated& v, const std::string& source,
                                   const std::string& actor);
  Result<SlcSummary> Activate(const ClusterConfig& config, const Validated& v,
                              const std::string& source, const std::string& actor,
                              bool create = false, const KeySwitch* rekey = nullptr);
  Result<std::unique_ptr<crypto::PrivateKey>> OpenKey(const ClusterConfig& config,
                                                      std::string_view password);
  Result<std::string> MakeRequest(const ClusterConfig& config, const crypto::PrivateKey& key,
                                  std::optional<std::string> token, std::optional<int> days);
  std::string IssuerEndpoint(const ClusterConfig& config) const;
  // kAlreadyUsed when another cluster here has this key.
  Status CheckKeyUnused(const crypto::PrivateKey& key, const std::string& uri);

  ClusterStore& store_;
  Environment env_;
  EventSink* sink_ = nullptr;
};

// "<server name>RenewalRequest.xml", safe as a file name.
std::string RenewalRequestFileName(std::string_view server_name);

}  // namespace openrms::cluster
