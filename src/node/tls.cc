#include "node/tls.h"

#include <algorithm>
#include <charconv>

#include "base/clock.h"
#include "base/file_system.h"
#include "crypto/password_hash.h"
#include "crypto/sealing.h"
#include "crypto/tls_certificates.h"
#include "http/url.h"

namespace openrms::node {

namespace {

// The server's TLS credentials: made on first use for the names given
// (plus loopback), kept sealed under the key password.
Status EnsureTls(const ServerPaths& p, std::string_view password,
                 const std::vector<std::string>& names) {
  FileSystem& fs = RealFileSystem();
  if (fs.Exists(p.tls_server)) return Status::Ok();
  RETURN_IF_ERROR(fs.CreateDirectories(p.dir + "/keys"));
  ASSIGN_OR_RETURN(
      crypto::TlsCredential ca,
      crypto::CreateTlsCa("OpenRMS Server TLS Root", DefaultClock().Now(), Days(3650), password));
  ASSIGN_OR_RETURN(crypto::TlsCredential server,
                   crypto::IssueTlsServerCertificate(ca, password, names, DefaultClock().Now(),
                                                     Days(825), password));
  RETURN_IF_ERROR(fs.WriteFileAtomic(p.tls_ca_key, ca.sealed_key_pem));
  RETURN_IF_ERROR(fs.WriteFileAtomic(p.tls_server_key, server.sealed_key_pem));
  RETURN_IF_ERROR(fs.WriteFileAtomic(p.tls_ca, ca.certificate_pem));
  return fs.WriteFileAtomic(p.tls_server, server.certificate_pem);
}

}  // namespace

Status EnsureServerTls(const ServerPaths& paths, std::string_view password,
                       const std::string& cluster_url) {
  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  const std::string host = http::UrlHost(cluster_url);
  if (!host.empty() && std::find(names.begin(), names.end(), host) == names.end()) {
    names.insert(names.begin(), host);
  }
  return EnsureTls(paths, password, names);
}

Result<std::pair<std::string, uint16_t>> ParseListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    return Status(Code::kInvalidArgument, "--listen takes ADDR:PORT, such as 127.0.0.1:8443");
  }
  std::string addr = listen.substr(0, colon);
  if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') {
    addr = addr.substr(1, addr.size() - 2);
  }
  // The whole rest is the port: from_chars neither throws nor skips junk.
  const std::string_view digits = std::string_view(listen).substr(colon + 1);
  int port = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size()) port = -1;
  if (port < 0 || port > 65535) {
    return Status(Code::kInvalidArgument, "the port in --listen " + listen + " is not 0-65535");
  }
  return std::make_pair(addr, static_cast<uint16_t>(port));
}

namespace {

Result<std::shared_ptr<EVP_PKEY>> ReadTlsKey(const std::string& path, std::string password) {
  Result<std::string> sealed = RealFileSystem().ReadFile(path, 1 << 20);
  Result<crypto::PkeyPtr> key = sealed.status();
  if (sealed.ok()) key = crypto::UnsealPrivateKey(*sealed, password);
  crypto::Wipe(password);
  if (!key.ok()) return key.status().WithContext("cannot open the HTTPS server's private key");
  return std::shared_ptr<EVP_PKEY>(std::move(key).value());
}

}  // namespace

OpeningTlsKey OpenTlsKey(const std::string& sealed_key, std::string_view password) {
  return std::async(std::launch::async, ReadTlsKey, sealed_key, std::string(password)).share();
}

OpeningTlsKey OpenServerTlsKey(const ServerPaths& paths, std::string_view password) {
  // EnsureTls makes no files once the certificate is there.
  if (!RealFileSystem().Exists(paths.tls_server)) return {};
  return OpenTlsKey(paths.tls_server_key, password);
}

Result<std::unique_ptr<http::Server>> StartHttps(const std::string& listen, const TlsFiles& tls,
                                                 std::string_view password, http::Handler handler,
                                                 std::string& url, HttpsSettings settings) {
  FileSystem& fs = RealFileSystem();
  ASSIGN_OR_RETURN(auto addr, ParseListen(listen));
  http::ServerOptions options;
  options.address = addr.first;
  options.port = addr.second;
  ASSIGN_OR_RETURN(std::string chain, fs.ReadFile(tls.certificate, 1 << 20));
  ASSIGN_OR_RETURN(std::string root, fs.ReadFile(tls.root, 1 << 20));
  options.certificate_chain_pem = chain + root;
  ASSIGN_OR_RETURN(options.private_key, tls.opening.valid()
                                            ? tls.opening.get()
                                            : ReadTlsKey(tls.sealed_key, std::string(password)));
  options.max_body_bytes = 1 << 20;
  options.threads = settings.io_threads;
  options.blocking = std::move(settings.may_wait);
  options.blocking_threads = settings.waiting_threads;
  options.trusted_proxies = std::move(settings.trusted_proxies);
  options.max_connections_per_address = settings.max_connections_per_address;
  ASSIGN_OR_RETURN(auto server, http::Server::Start(options, std::move(handler)));
  const bool v6 = addr.first.find(':') != std::string::npos;
  url = "https://" + (v6 ? "[" + addr.first + "]" : addr.first) + ":" +
        std::to_string(server->port());
  return server;
}

}  // namespace openrms::node
