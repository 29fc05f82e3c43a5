// glewlwyd_fixture: the test glewlwyd (support/glewlwyd.h) as a program of
// its own, for the browser tests, which are written in JavaScript:
//   glewlwyd_fixture DIR REDIRECT_URI [RS256|ES256]
// starts it under DIR with the "openrms" client allowed REDIRECT_URI,
// prints what a node needs to trust it, one "key: value" per line,
//   issuer: https://127.0.0.1:PORT/api/oidc
//   ca-file: DIR/ca.pem
//   client-id: openrms
//   client-secret: ...
//   alice: alice PASSWORD        (and bob, carol)
//   ready
// and stops it when its standard input closes.
#include <iostream>
#include <string>

#include "support/glewlwyd.h"

int main(int argc, char** argv) {
  using namespace openrms::testing;
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: glewlwyd_fixture DIR REDIRECT_URI [RS256|ES256]\n";
    return 2;
  }
  GlewlwydOptions options;
  options.redirect_uris = {argv[2]};
  if (argc == 4) options.signing_alg = argv[3];
  auto g = Glewlwyd::Start(argv[1], options);
  if (!g.ok()) {
    std::cerr << "glewlwyd_fixture: " << g.status().ToString() << "\n";
    return 1;
  }
  std::cout << "issuer: " << (*g)->issuer() << "\n"
            << "ca-file: " << (*g)->ca_file() << "\n"
            << "client-id: " << (*g)->client_id() << "\n"
            << "client-secret: " << (*g)->client_secret() << "\n"
            << "alice: alice " << kOidcAlicePassword << "\n"
            << "bob: bob " << kOidcBobPassword << "\n"
            << "carol: carol " << kOidcCarolPassword << "\n"
            << "ready" << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  return 0;  // the destructor stops glewlwyd
}
