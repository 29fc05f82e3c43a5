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
#include "crypto/keys.h"
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
};

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
  Result<Validated> Validate(const ClusterConfig& config, std::string_view file);
  Result<SlcSummary> Activate(const ClusterConfig& config, const Validated& v,
                              const std::string& source, const std::string& actor,
                              bool create = false);
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
