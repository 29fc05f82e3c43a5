#include "support/glewlwyd.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "crypto/encoding.h"
#include "crypto/keys.h"
#include "http/forms.h"
#include "support/web_logon.h"

namespace openrms::testing {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr char kGlewlwyd[] = "/usr/bin/glewlwyd";
// The schema and the default rows (the admin user, scopes g_admin,
// g_profile and openid, the "database" user and client backends): the
// script dbconfig-common runs, without the DROP TABLEs of its copy in
// /usr/share/doc (which a minimal image may leave out).
constexpr char kInitSql[] = "/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3";
constexpr char kWebapp[] = "/usr/share/glewlwyd/webapp";
// The webapp's config.json there is a symlink to a directory in /etc; the
// file itself is this one.
constexpr char kWebappConfig[] = "/usr/share/glewlwyd/templates/config.json";
constexpr int kTimeoutSeconds = 10;

struct User {
  const char* name;
  const char* display_name;
  const char* password;
  std::vector<std::string> groups;
};

const std::vector<User>& Users() {
  static const std::vector<User> users = {
      {"alice", "Alice", kOidcAlicePassword, {"Administrators", "Staff"}},
      {"bob", "Bob", kOidcBobPassword, {"Staff"}},
      {"carol", "Carol", kOidcCarolPassword, {}}};
  return users;
}

Status Sh(const std::string& cmd) {
  if (std::system(cmd.c_str()) == 0) return Status::Ok();
  return Status(Code::kIo, "failed: " + cmd);
}

Status Write(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) return Status(Code::kIo, "cannot write " + path);
  return Status::Ok();
}

std::string RandomText(size_t n) {
  static const char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::string s;
  for (size_t i = 0; i < n; ++i) s += kChars[rd() % (sizeof kChars - 1)];
  return s;
}

std::string Form(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string body;
  for (const auto& [name, value] : fields) {
    if (!body.empty()) body += '&';
    body += name + "=" + http::PercentEncode(value);
  }
  return body;
}

// The value of a query parameter in a URL ("" when absent).
std::string QueryParameter(const std::string& url, const std::string& name) {
  const size_t q = url.find('?');
  if (q == std::string::npos) return "";
  auto fields = http::ParseUrlEncoded(url.substr(q + 1));
  if (!fields.ok()) return "";
  auto it = fields->find(name);
  return it == fields->end() ? "" : it->second;
}

// The parameters of the OpenID Connect plugin instance. Names are those
// glewlwyd 2.7.5's protocol_oidc.c reads (docs/OIDC.md describes them by
// their labels in the admin page).
json OidcParameters(const std::string& issuer, const std::string& alg, const std::string& key_pem,
                    const std::string& public_pem) {
  return {
      {"iss", issuer},
      // With PEM keys glewlwyd sets the kid to the key's RFC 7638 thumbprint.
      {"jwt-type", alg == "ES256" ? "ecdsa" : "rsa"},
      {"jwt-key-size", "256"},
      {"key", key_pem},
      {"cert", public_pem},
      {"jwks-show", true},  // GET /api/oidc/jwks
      {"access-token-duration", 3600},
      {"refresh-token-duration", 1209600},
      {"code-duration", 600},
      {"refresh-token-rolling", false},
      // The password grant is OAuth2 only: glewlwyd refuses it (403) unless
      // non-OIDC requests are allowed as well as auth-type-password-enabled.
      {"allow-non-oidc", true},
      {"auth-type-code-enabled", true},
      {"auth-type-token-enabled", false},
      {"auth-type-none-enabled", false},
      {"auth-type-password-enabled", true},
      {"auth-type-client-enabled", false},
      {"auth-type-device-enabled", true},
      {"auth-type-refresh-enabled", true},
      {"device-authorization-expiration", 600},
      {"device-authorization-interval", 1},
      {"allowed-scope", {"openid"}},  // scopes_supported in the discovery
      {"subject-type", "public"},
      {"pkce-allowed", true},
      {"pkce-method-plain-allowed", false},
      // User properties copied into every access token (claims below are
      // for ID tokens and userinfo only). A multi-valued property becomes
      // one comma-separated string.
      {"additional-parameters",
       {{{"user-parameter", "email"}, {"token-parameter", "email"}},
        {{"user-parameter", "username"}, {"token-parameter", "preferred_username"}},
        {{"user-parameter", "name"}, {"token-parameter", "name"}},
        {{"user-parameter", "groups"}, {"token-parameter", "groups"}}}},
      {"claims",
       {{{"name", "groups"},
         {"user-property", "groups"},
         {"type", "string"},
         {"mandatory", true},
         {"on-demand", false},
         {"scope", json::array()}}}},
      {"name-claim", "mandatory"},
      {"email-claim", "mandatory"},
      {"scope-claim", "no"},
      {"address-claim", {{"type", "no"}}},
  };
}

}  // namespace

Result<std::unique_ptr<Glewlwyd>> Glewlwyd::Start(const std::string& dir, GlewlwydOptions options) {
  if (access(kGlewlwyd, X_OK) != 0 || access(kInitSql, R_OK) != 0) {
    return Status(Code::kNotFound, std::string("no ") + kGlewlwyd + " or " + kInitSql +
                                       ": run scripts/install-deps.sh (package glewlwyd)");
  }
  if (options.signing_alg != "RS256" && options.signing_alg != "ES256") {
    return Status(Code::kInvalidArgument, "signing_alg must be RS256 or ES256");
  }
  std::unique_ptr<Glewlwyd> g(new Glewlwyd());
  g->dir_ = dir;
  g->options_ = std::move(options);
  g->port_ = FreeLoopbackPort();
  RETURN_IF_ERROR(g->WriteFiles());
  g->ca_pem_ = ReadAll(g->ca_file());
  g->process_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{kGlewlwyd, "-c", dir + "/glewlwyd.conf"});
  // Up when its HTTPS answers (the server configuration, no session needed).
  Status up(Code::kUnavailable, "glewlwyd did not answer on " + g->base_url());
  for (int i = 0; i < 100; ++i) {
    auto r = g->Call("GET", "/config/", "", "", "");
    if (r.ok() && r->status == 200) {
      up = Status::Ok();
      break;
    }
    usleep(100000);
  }
  RETURN_IF_ERROR(g->WithLog(up));
  RETURN_IF_ERROR(g->WithLog(g->Configure()));
  return g;
}

Glewlwyd::~Glewlwyd() = default;

Status Glewlwyd::WriteFiles() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  // A test CA and the server's certificate for 127.0.0.1, as slapd.cc does.
  const std::string ca = dir_ + "/ca", srv = dir_ + "/server";
  RETURN_IF_ERROR(Sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + ca + ".key -out " + ca +
                     ".pem -days 2 -subj /CN=OpenRMS-OIDC-Test-CA -addext "
                     "basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign "
                     "2>/dev/null"));
  RETURN_IF_ERROR(Sh("openssl req -newkey rsa:2048 -nodes -keyout " + srv + ".key -out " + srv +
                     ".csr -subj /CN=127.0.0.1 2>/dev/null"));
  RETURN_IF_ERROR(Write(dir_ + "/san.cnf", "subjectAltName=IP:127.0.0.1\n"));
  RETURN_IF_ERROR(Sh("openssl x509 -req -in " + srv + ".csr -CA " + ca + ".pem -CAkey " + ca +
                     ".key -CAcreateserial -out " + srv + ".pem -days 2 -extfile " + dir_ +
                     "/san.cnf 2>/dev/null"));
  // The token signing key (PKCS#8), and its public half for the plugin.
  const std::string keygen = options_.signing_alg == "ES256"
                                 ? "-algorithm EC -pkeyopt ec_paramgen_curve:P-256"
                                 : "-algorithm RSA -pkeyopt rsa_keygen_bits:2048";
  RETURN_IF_ERROR(Sh("openssl genpkey " + keygen + " -out " + dir_ + "/sign.key 2>/dev/null"));
  RETURN_IF_ERROR(Sh("openssl pkey -in " + dir_ + "/sign.key -pubout -out " +
                     signing_public_key_file() + " 2>/dev/null"));

  // A fresh database from the package's init script.
  const std::string db = dir_ + "/glewlwyd.db";
  fs::remove(db, ec);
  RETURN_IF_ERROR(Sh("sqlite3 " + db + " < " + kInitSql));

  // glewlwyd serves static files only from below static_files_path (it
  // compares real paths), and the package's webapp is mostly symlinks to
  // other packages' files: copy it, following them.
  const std::string webapp = dir_ + "/webapp";
  fs::remove_all(webapp, ec);
  fs::copy(kWebapp, webapp, fs::copy_options::recursive, ec);
  if (ec) return Status(Code::kIo, "cannot copy " + std::string(kWebapp) + ": " + ec.message());
  fs::remove_all(webapp + "/config.json", ec);
  fs::copy_file(kWebappConfig, webapp + "/config.json", ec);
  if (ec) return Status(Code::kIo, "cannot copy " + std::string(kWebappConfig));

  // Keys are those glewlwyd.c reads; cookie_secure is an integer there.
  // external_url has no trailing slash: glewlwyd appends "/login.html".
  std::string mime;
  for (const auto& [ext, type] :
       std::vector<std::pair<std::string, std::string>>{{".html", "text/html"},
                                                        {".css", "text/css"},
                                                        {".js", "application/javascript"},
                                                        {".json", "application/json"},
                                                        {".png", "image/png"},
                                                        {".jpg", "image/jpeg"},
                                                        {".ttf", "font/ttf"},
                                                        {".woff", "font/woff"},
                                                        {".woff2", "font/woff2"},
                                                        {".otf", "font/otf"},
                                                        {".eot", "application/vnd.ms-fontobject"},
                                                        {".svg", "image/svg+xml"},
                                                        {".map", "application/octet-stream"},
                                                        {".ico", "image/x-icon"}}) {
    mime += std::string(mime.empty() ? "" : ",\n") + "  { extension = \"" + ext +
            "\"\n    mime_type = \"" + type + "\" }";
  }
  const std::string port = std::to_string(port_);
  return Write(dir_ + "/glewlwyd.conf",
               "port=" + port + "\nbind_address=\"127.0.0.1\"\nexternal_url=\"" + base_url() +
                   "\"\nlogin_url=\"login.html\"\napi_prefix=\"api\"\n"
                   "static_files_path=\"" +
                   webapp +
                   "\"\nallow_origin=\"*\"\n"
                   "log_mode=\"file\"\nlog_level=\"DEBUG\"\nlog_file=\"" +
                   log_file() +
                   "\"\ncookie_secure=1\nsession_expiration=3600\n"
                   "session_key=\"GLEWLWYD2_SESSION_ID\"\n"
                   "admin_scope=\"g_admin\"\nprofile_scope=\"g_profile\"\n"
                   "user_module_path=\"/usr/lib/glewlwyd/user\"\n"
                   "client_module_path=\"/usr/lib/glewlwyd/client\"\n"
                   "user_auth_scheme_module_path=\"/usr/lib/glewlwyd/scheme\"\n"
                   "plugin_module_path=\"/usr/lib/glewlwyd/plugin\"\n"
                   "use_secure_connection=true\nsecure_connection_key_file=\"" +
                   srv + ".key\"\nsecure_connection_pem_file=\"" + srv +
                   ".pem\"\nhash_algorithm=\"SHA512\"\n"
                   "database = {\n  type = \"sqlite3\"\n  path = \"" +
                   db + "\"\n}\nstatic_files_mime_types = (\n" + mime + "\n)\n");
}

Status Glewlwyd::Configure() {
  // Everything through glewlwyd's own admin API, as the admin user: it
  // hashes the passwords and validates each part (SQL into its tables
  // would have to copy both).
  ASSIGN_OR_RETURN(const std::string admin, LogOn(kGlewlwydAdmin, kGlewlwydAdminPassword));

  // The database user backend stores only the properties its data-format
  // names; add "groups", multi-valued. A backend takes a change on reset.
  ASSIGN_OR_RETURN(http::ClientResponse backend,
                   Call("GET", "/api/mod/user/database", "", "", admin));
  json user_backend = json::parse(backend.body, nullptr, false);
  if (backend.status != 200 || !user_backend.is_object()) {
    return Status(Code::kInternal, "GET /api/mod/user/database: " + backend.body);
  }
  user_backend["parameters"]["data-format"]["groups"] = {{"multiple", true},
                                                         {"read", true},
                                                         {"write", true},
                                                         {"profile-read", true},
                                                         {"profile-write", false}};
  RETURN_IF_ERROR(Expect200("PUT", "/api/mod/user/database", user_backend.dump(), admin));
  RETURN_IF_ERROR(Expect200("PUT", "/api/mod/user/database/reset", "", admin));

  const json plugin = {
      {"module", "oidc"},
      {"name", "oidc"},
      {"display_name", "OpenID Connect"},
      {"order_rank", 0},
      {"readonly", false},
      {"parameters", OidcParameters(issuer(), options_.signing_alg, ReadAll(dir_ + "/sign.key"),
                                    ReadAll(signing_public_key_file()))}};
  RETURN_IF_ERROR(Expect200("POST", "/api/mod/plugin/", plugin.dump(), admin));

  for (const User& u : Users()) {
    json user = {{"username", u.name},
                 {"password", u.password},
                 {"name", u.display_name},
                 {"email", std::string(u.name) + "@example.test"},
                 // g_profile: the user may grant scopes to clients (below).
                 {"scope", {"openid", "g_profile"}},
                 {"enabled", true}};
    if (!u.groups.empty()) user["groups"] = u.groups;
    RETURN_IF_ERROR(Expect200("POST", "/api/user/", user.dump(), admin));
  }

  json redirect_uris = options_.redirect_uris;
  const json client = {
      {"client_id", kOidcClientId},
      {"name", "OpenRMS"},
      {"enabled", true},
      // The password grant is for confidential clients only.
      {"confidential", true},
      {"client_secret", kOidcClientSecret},
      {"scope", json::array()},
      {"redirect_uri", redirect_uris},
      {"authorization_type", {"code", "password", "device_authorization", "refresh_token"}},
      {"token_endpoint_auth_method", {"client_secret_basic", "client_secret_post"}}};
  RETURN_IF_ERROR(Expect200("POST", "/api/client/", client.dump(), admin));

  // Each user's consent for "openrms" to get openid, as the login page
  // would record it after a click.
  for (const User& u : Users()) {
    ASSIGN_OR_RETURN(const std::string session, LogOn(u.name, u.password));
    RETURN_IF_ERROR(Expect200("PUT", std::string("/api/auth/grant/") + kOidcClientId + "/",
                              json{{"scope", "openid"}}.dump(), session));
  }
  return Status::Ok();
}

Result<http::ClientResponse> Glewlwyd::Call(const std::string& method,
                                            const std::string& path_or_url, const std::string& body,
                                            const std::string& content_type,
                                            const std::string& cookie) const {
  http::ClientRequest request;
  request.method = method;
  request.url = path_or_url.rfind("https://", 0) == 0 ? path_or_url : base_url() + path_or_url;
  request.ca_pem = ca_pem_;
  request.timeout_seconds = kTimeoutSeconds;
  request.body = body;
  if (!content_type.empty()) request.headers.emplace_back("Content-Type", content_type);
  if (!cookie.empty()) request.headers.emplace_back("Cookie", cookie);
  return http::Fetch(request);
}

Status Glewlwyd::Expect200(const std::string& method, const std::string& path,
                           const std::string& body, const std::string& cookie) const {
  ASSIGN_OR_RETURN(http::ClientResponse r,
                   Call(method, path, body, body.empty() ? "" : "application/json", cookie));
  if (r.status == 200) return Status::Ok();
  return Status(Code::kInternal, "glewlwyd answered " + std::to_string(r.status) + " to " + method +
                                     " " + path + ": " + r.body);
}

Result<std::string> Glewlwyd::LogOn(const std::string& user, const std::string& password) const {
  // Without a cookie: glewlwyd would add the user to that session instead.
  ASSIGN_OR_RETURN(
      http::ClientResponse r,
      Call("POST", "/api/auth/", json{{"username", user}, {"password", password}}.dump(),
           "application/json", ""));
  if (r.status != 200) {
    return Status(Code::kUnauthenticated,
                  "glewlwyd refused the logon of " + user + ": " + std::to_string(r.status));
  }
  const std::string cookie = CookiePair(r);
  if (cookie.empty()) return Status(Code::kInternal, "glewlwyd's logon set no cookie");
  return cookie;
}

Result<http::ClientResponse> Glewlwyd::TokenRequest(const std::string& form) const {
  http::ClientRequest request;
  request.method = "POST";
  request.url = token_endpoint();
  request.ca_pem = ca_pem_;
  request.timeout_seconds = kTimeoutSeconds;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"Authorization", "Basic " + crypto::Base64Encode(std::string(kOidcClientId) +
                                                                       ":" + kOidcClientSecret)}};
  request.body = form;
  return http::Fetch(request);
}

Result<std::string> Glewlwyd::AccessTokenFrom(const http::ClientResponse& response,
                                              const std::string& grant) const {
  const json body = json::parse(response.body, nullptr, false);
  if (response.status == 200 && body.is_object() && body.contains("access_token") &&
      body["access_token"].is_string()) {
    return body["access_token"].get<std::string>();
  }
  return Status(Code::kUnauthenticated, "glewlwyd refused the " + grant + ": " +
                                            std::to_string(response.status) + " " + response.body);
}

Result<http::ClientResponse> Glewlwyd::PasswordGrant(const std::string& user,
                                                     const std::string& password) const {
  return TokenRequest(Form({{"grant_type", "password"},
                            {"username", user},
                            {"password", password},
                            {"scope", "openid"}}));
}

Result<std::string> Glewlwyd::PasswordToken(const std::string& user,
                                            const std::string& password) const {
  ASSIGN_OR_RETURN(http::ClientResponse r, PasswordGrant(user, password));
  return AccessTokenFrom(r, "password grant for " + user);
}

Result<std::string> Glewlwyd::CodeFlowToken(const std::string& user, const std::string& password,
                                            const std::string& redirect_uri) const {
  ASSIGN_OR_RETURN(const std::string session, LogOn(user, password));
  const std::string verifier = RandomText(64), state = RandomText(16), nonce = RandomText(16);
  // g_continue: what the login page adds once the user is logged on;
  // without it glewlwyd always redirects to the login page first.
  const std::string url =
      authorization_endpoint() + "?" +
      Form({{"response_type", "code"},
            {"client_id", kOidcClientId},
            {"redirect_uri", redirect_uri},
            {"scope", "openid"},
            {"state", state},
            {"nonce", nonce},
            {"code_challenge", crypto::Base64UrlEncode(crypto::Sha256(verifier))},
            {"code_challenge_method", "S256"}}) +
      "&g_continue";
  ASSIGN_OR_RETURN(http::ClientResponse auth, Call("GET", url, "", "", session));
  const std::string location = auth.Header("location").value_or("");
  if (auth.status != 302 || location.rfind(redirect_uri + "?", 0) != 0 ||
      QueryParameter(location, "state") != state || QueryParameter(location, "code").empty()) {
    return Status(Code::kUnauthenticated, "glewlwyd's authorization endpoint answered " +
                                              std::to_string(auth.status) + " to " + location);
  }
  ASSIGN_OR_RETURN(http::ClientResponse r,
                   TokenRequest(Form({{"grant_type", "authorization_code"},
                                      {"code", QueryParameter(location, "code")},
                                      {"redirect_uri", redirect_uri},
                                      {"code_verifier", verifier}})));
  return AccessTokenFrom(r, "code exchange for " + user);
}

Result<std::string> Glewlwyd::DeviceFlowToken(const std::string& user,
                                              const std::string& password) const {
  http::ClientRequest request;
  request.method = "POST";
  request.url = device_authorization_endpoint();
  request.ca_pem = ca_pem_;
  request.timeout_seconds = kTimeoutSeconds;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"Authorization", "Basic " + crypto::Base64Encode(std::string(kOidcClientId) +
                                                                       ":" + kOidcClientSecret)}};
  request.body = Form({{"scope", "openid"}});
  ASSIGN_OR_RETURN(http::ClientResponse device, http::Fetch(request));
  const json codes = json::parse(device.body, nullptr, false);
  if (device.status != 200 || !codes.is_object() || !codes.contains("device_code") ||
      !codes.contains("user_code")) {
    return Status(Code::kUnauthenticated,
                  "glewlwyd refused the device authorization: " + device.body);
  }
  ASSIGN_OR_RETURN(const std::string session, LogOn(user, password));
  // As the login page's "deviceComplete" step does.
  ASSIGN_OR_RETURN(http::ClientResponse confirm,
                   Call("GET",
                        issuer() + "/device?" +
                            Form({{"code", codes["user_code"].get<std::string>()}}) + "&g_continue",
                        "", "", session));
  if (confirm.status != 302) {
    return Status(Code::kUnauthenticated,
                  "glewlwyd did not confirm the user code: " + std::to_string(confirm.status));
  }
  http::ClientResponse r;
  for (int i = 0; i < 20; ++i) {
    ASSIGN_OR_RETURN(
        r, TokenRequest(Form({{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                              {"device_code", codes["device_code"].get<std::string>()}})));
    if (r.status == 200 || r.body.find("authorization_pending") == std::string::npos) break;
    usleep(500000);
  }
  return AccessTokenFrom(r, "device grant for " + user);
}

Status Glewlwyd::WithLog(const Status& status) const {
  if (status.ok()) return status;
  std::string log = ReadAll(log_file());
  if (log.size() > 8000) log = "..." + log.substr(log.size() - 8000);
  return Status(status.code(), status.message() + "\nglewlwyd's log (" + log_file() + "):\n" + log +
                                   (process_ ? process_->output() : ""));
}

}  // namespace openrms::testing
