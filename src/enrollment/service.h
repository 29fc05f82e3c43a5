// The enrollment service: checks an Enroll request and issues the SLC
// chain. One object serves every channel (online SOAP, the web site, the
// command line) so they behave the same. Thread-safe.
//
// First enrollments need a one-time token or an operator's approval.
// Renewals are authenticated by the request's signature with the key of an
// SLC this service issued and that has not expired; renewal keeps the SLC's
// GUID and key (MS-RMPR 3.6; the authentication is OpenRMS's addition).
// A request for a GUID this service issued to another key (a rekey) is
// authorised as a first enrollment is -- a one-time token or an operator's
// approval, the request signed with the new key -- and must keep the
// server's name.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "enrollment/authority.h"
#include "enrollment/renewal_info.h"
#include "protocol/enrollment_messages.h"
#include "store/database.h"
#include "xrml/document.h"

namespace openrms::enrollment {

// Who asked, for the record.
struct Requester {
  std::string channel;  // "online", "web", "cli"
  std::string address;  // remote address, or the local user name
};

struct Issued {
  std::vector<xrml::Document> chain;  // SLC first
  bool renewal = false;
};

struct IssuedRecord {
  int64_t id = 0;
  std::string slc_guid;
  std::string certificate_id;
  std::string server_name;
  std::string server_url;
  std::string kind;  // "enrollment", "renewal" or "rekey" (a known GUID, a new key)
  std::string channel;
  std::string requester;
  Time issued_at;
  Time valid_from;
  Time valid_until;
  // The suggested renewal window (renewal_info.h) and where it stands: the
  // default, or moved by an operator (when and by whom).
  RenewalInfo renewal;
  std::optional<Time> window_moved_at;
  std::string window_moved_by;
};

// An operator's new renewal window, for one certificate or for all.
struct WindowChange {
  std::optional<std::string> certificate_id;  // nullopt: every certificate (see MoveRenewalWindow)
  RenewalWindow window;
  std::string explanation_url;  // "" for none
};

struct PendingRequest {
  int64_t id = 0;
  std::string reference;  // unguessable: the requester's handle on the web site
  std::string server_name;
  std::string slc_guid;
  std::string key_fingerprint;
  std::string state;  // "pending", "issued", "rejected"
  std::string requester;
  Time submitted_at;
  std::string request;         // the request text
  std::string certificate_id;  // once issued
};

class EnrollmentService final {
 public:
  EnrollmentService(Authority authority, store::Database& db, const Clock& clock, Random& random);

  // Creates the tables this service needs.
  static Status Migrate(store::Database& db);

  // Checks and answers a request. Refusals name the reason:
  // kMalformed/kTooLarge (not a request), kBadSignature (changed or
  // unsigned), kUnsupported (key size, revocation type), kInvalidArgument
  // (a field's value, a validity over the maximum), kAlreadyUsed/kNotFound
  // (token), kPermissionDenied (first enrollment without token or
  // approval), kExpired (the SLC to renew has expired), kMismatch (GUID
  // and key disagree with what was issued; a rekey that renames the server).
  // `token` is a one-time token given beside the request (on the web site's
  // form or the command line) rather than inside it.
  Result<Issued> Enroll(std::string_view request_text, const Requester& requester,
                        std::optional<std::string> token = std::nullopt);

  // Records a first-enrollment request without a token for an operator to
  // approve. Checks it fully first (the same refusals as Enroll).
  Result<PendingRequest> SubmitForApproval(std::string_view request_text,
                                           const Requester& requester);
  Result<PendingRequest> FindPending(std::string_view reference);
  // Both: issues when the request carries authority (a renewal or a token),
  // otherwise records it for approval and returns its pending id.
  struct Outcome {
    std::optional<Issued> issued;
    std::optional<PendingRequest> pending;
  };
  Result<Outcome> EnrollOrQueue(std::string_view request_text, const Requester& requester,
                                std::optional<std::string> token);
  // The chain of an SLC this service issued, by the SLC's certificate ID.
  Result<std::vector<xrml::Document>> ChainForCertificate(std::string_view certificate_id);
  // Issues a pending request. kNotFound / kFailedPrecondition when it is
  // not pending.
  Result<Issued> Approve(int64_t pending_id, const Requester& approver);
  Status Reject(int64_t pending_id, const Requester& approver);
  // The chain issued for an approved request, for download.
  Result<std::vector<xrml::Document>> ChainForPending(int64_t pending_id);
  Result<std::vector<PendingRequest>> ListPending();

  // A new one-time token for a first enrollment. Only its hash is stored.
  Result<std::string> NewToken(const Requester& requester);

  Result<std::vector<IssuedRecord>> ListIssued();

  // A certificate this service issued, with its renewal window. kNotFound
  // names the ID when it issued no such certificate.
  Result<IssuedRecord> FindIssued(std::string_view certificate_id);

  // Moves suggested renewal windows (RFC 9773: the issuer may change them,
  // e.g. after an incident). With a certificate ID: that certificate's
  // window becomes `change.window`; it must end by the certificate's expiry
  // (kInvalidArgument), and the certificate must not have expired
  // (kFailedPrecondition). Without: every unexpired certificate that is the
  // latest of its GUID and whose window ends after the new end gets the new
  // window (windows only move earlier; those already ending sooner keep
  // theirs). The window must start before it ends and the explanation URL
  // be an http(s) URL (kInvalidArgument). Returns how many windows moved.
  Result<int64_t> MoveRenewalWindow(const WindowChange& change, const Requester& who);

  const Authority& authority() const { return authority_; }

 private:
  struct Checked;
  Result<Checked> Check(std::string_view request_text, std::optional<std::string> token);
  Result<Issued> Issue(const Checked& checked, const Requester& requester, bool approved,
                       std::optional<int64_t> pending_id);

  Authority authority_;
  store::Database& db_;
  const Clock& clock_;
  Random& random_;
};

}  // namespace openrms::enrollment
