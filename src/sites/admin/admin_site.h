// The administration web site (the seed procedure's steps 2-16): logon,
// Global Administration (every cluster on this server), each cluster's
// Administration page with its Cluster resources and trusted publishing
// domains, the Renew and Rekey dialogs (Online: Renew; Offline: Export,
// Browse and Import), the confirmation, and the result; rights policy
// templates; and tracking: the Documents page (search the audit trail by
// content ID, owner or user), a page per document with its license
// requests, and its Revoke button. Only members of the administrators group
// get in. Every form carries a CSRF token; sessions live in the store. Thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "accounts/accounts.h"
#include "cluster/cluster.h"
#include "http/server.h"
#include "licensing/licensing.h"
#include "sites/logon_gate.h"

namespace openrms::sites {

inline constexpr char kAdminPrefix[] = "/admin";
inline constexpr char kAdminSessionCookie[] = "openrms_session";

struct AdminOptions {
  std::string admin_group = "Administrators";
  std::string key_password;  // for online renewal and export, which sign with the cluster key
  licensing::LicensingService* licensing = nullptr;  // rights policy templates
  // Administrators may sign on through these identity providers; null: none.
  accounts::OidcSignOn* sign_on = nullptr;
};

class AdminSite final {
 public:
  AdminSite(cluster::ClusterService& clusters, accounts::LogonService& logon,
            accounts::SessionStore& sessions, const Clock& clock, Random& random,
            AdminOptions options)
      : clusters_(clusters),
        clock_(clock),
        random_(random),
        options_(std::move(options)),
        gate_(logon, sessions, random,
              {"Windows RMS Administration - OpenRMS", kAdminPrefix, options_.admin_group,
               kAdminSessionCookie, "administrators"}) {
    gate_.set_sign_on(options_.sign_on);
  }

  // Answers every request whose path starts with /admin.
  http::Response Handle(const http::Request& request);

 private:
  using Context = sites::LogonGate::Visitor;
  http::Response Global(const Context& ctx);
  http::Response ClusterPage(const Context& ctx, const std::string& name, const http::Request& req);
  http::Response RenewDialog(const Context& ctx, const std::string& name, int status,
                             const std::string& error);
  http::Response RenewOnline(const Context& ctx, const std::string& name);
  http::Response Export(const Context& ctx, const std::string& name);
  http::Response Import(const Context& ctx, const std::string& name, const http::Request& req);
  // The Rekey dialog (online, or offline: export a request; the answer is
  // imported as a renewal's is) and its two actions.
  http::Response RekeyDialog(const Context& ctx, const std::string& name, int status,
                             const std::string& error);
  http::Response Rekey(const Context& ctx, const std::string& name,
                       const std::map<std::string, std::string>& form, bool offline);
  http::Response ConfirmImport(const Context& ctx, const std::string& name,
                               const std::map<std::string, std::string>& form);

  http::Response Templates(const Context& ctx, int status, const std::string& error);
  http::Response AddTemplate(const Context& ctx, const std::map<std::string, std::string>& form);

  // documents_pages.cc: /admin/documents[/CLUSTER/CONTENT-ID[/revoke]];
  // nullopt for other paths. Needs options_.licensing (else 404).
  std::optional<http::Response> HandleDocuments(const Context& ctx, const http::Request& req);
  http::Response Documents(const Context& ctx, const http::Request& req);
  // `notice_error` non-empty: a revocation that failed, shown above the page.
  http::Response DocumentPage(const Context& ctx, const std::string& cluster,
                              const std::string& content_id, bool revoked_now, int status,
                              const std::string& notice_error);
  http::Response RevokeDocument(const Context& ctx, const std::string& cluster,
                                const std::string& content_id, const http::Request& req);

  // A step of the crumbs after Global Administration; `path` empty for the
  // current page.
  struct Crumb {
    std::string name;
    std::string path;
  };
  // A page of this site: `body_html` (rendered from a template) in the
  // frame, under the crumbs.
  http::Response Page(int status, const Context& ctx, const std::string& title,
                      const std::string& body_html, const std::vector<Crumb>& trail = {});
  http::Response TextPage(int status, const Context& ctx, const std::string& title,
                          const std::string& text);

  cluster::ClusterService& clusters_;
  const Clock& clock_;
  Random& random_;
  AdminOptions options_;
  sites::LogonGate gate_;
};

}  // namespace openrms::sites
