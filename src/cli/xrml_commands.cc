// openrms xrml show|verify
#include <iostream>
#include <optional>

#include "base/file_system.h"
#include "cli/commands.h"
#include "cli/json_output.h"
#include "xrml/chain.h"

namespace openrms::cli {

namespace {

Result<std::vector<xrml::Document>> ReadChainFile(const std::string& path) {
  auto text = RealFileSystem().ReadFile(path, xrml::kMaxChainFileBytes);
  if (!text.ok()) return text.status();
  auto chain = xrml::ParseChain(*text);
  if (!chain.ok()) return chain.status().WithContext(path);
  return chain;
}

std::string Or(const std::string& s, const char* fallback) { return s.empty() ? fallback : s; }

std::string DescribeParty(const xrml::Party& p) {
  std::string s = Or(p.object.name, "(no name)");
  if (!p.object.id.empty()) s += " " + p.object.id;
  if (!p.object.type.empty()) s += " [" + p.object.type + "]";
  return s;
}

void Show(const xrml::Document& doc, std::ostream& out) {
  out << "type:       " << Or(doc.Kind(), "(unknown)") << "\n";
  if (!doc.descriptor.id.empty()) out << "guid:       " << doc.descriptor.id << "\n";
  out << "issuer:     " << DescribeParty(doc.issuer) << "\n";
  for (const auto& p : doc.principals) {
    out << "principal:  " << DescribeParty(p) << "\n";
    if (!p.object.address.empty()) out << "address:    " << p.object.address << "\n";
    if (p.public_key) out << "key:        RSA-" << p.public_key->bits() << "\n";
  }
  if (doc.issued_time) out << "issued:     " << FormatHuman(*doc.issued_time) << "\n";
  if (doc.validity) {
    out << "valid from: " << (doc.validity->from ? FormatHuman(*doc.validity->from) : "-") << "\n";
    out << "valid to:   " << (doc.validity->until ? FormatHuman(*doc.validity->until) : "-")
        << "\n";
  }
  for (const auto& r : doc.rights) {
    out << "right:      " << r.name;
    if (r.range) {
      out << " (" << (r.range->from ? FormatHuman(*r.range->from) : "-") << " to "
          << (r.range->until ? FormatHuman(*r.range->until) : "-") << ")";
    }
    out << "\n";
  }
  if (doc.signature) {
    out << "signature:  " << doc.signature->algorithm << ", "
        << (doc.signature->digest_algorithm == crypto::DigestAlgorithm::kSha1 ? "SHA-1 (mode 1)"
                                                                              : "SHA-256 (mode 2)");
    if (doc.issuer.public_key) out << ", RSA-" << doc.issuer.public_key->bits();
    out << "\n";
  } else {
    out << "signature:  none\n";
  }
}

}  // namespace

void RegisterXrmlCommands(CLI::App& app, int& exit_code) {
  auto* xrml_cmd = app.add_subcommand("xrml", "Read and check XrML certificates and licenses");
  xrml_cmd->require_subcommand(1);

  auto* show = xrml_cmd->add_subcommand("show", "Print a readable summary of a document or chain");
  static std::string show_file;
  static bool show_json = false;
  show->add_option("FILE", show_file, "An XrML document or a certificate chain file")->required();
  AddJsonFlag(show, show_json);
  show->callback([&exit_code] {
    auto chain = ReadChainFile(show_file);
    if (!chain.ok()) {
      exit_code = 2;
      std::cerr << "error: " << chain.status().message() << "\n";
      return;
    }
    if (show_json) {
      nlohmann::json docs = nlohmann::json::array();
      for (size_t i = 0; i < chain->size(); ++i) docs.push_back(DocumentJson(*chain, i));
      return PrintJson(docs, std::cout);
    }
    for (size_t i = 0; i < chain->size(); ++i) {
      if (chain->size() > 1)
        std::cout << (i ? "\n" : "") << "[" << xrml::DescribeInChain(*chain, i) << "]\n";
      Show((*chain)[i], std::cout);
    }
  });

  auto* verify = xrml_cmd->add_subcommand(
      "verify", "Check a document's signature, and its chain up to a trusted root");
  static std::string verify_file, trust_file, at_text;
  static std::vector<std::string> chain_files;
  verify->add_option("FILE", verify_file, "An XrML document or a certificate chain file")
      ->required();
  verify->add_option("--chain", chain_files, "Issuer certificates that follow FILE, leaf first");
  verify->add_option("--trust", trust_file, "The trust anchor (a self-signed CA certificate)");
  verify->add_option("--at", at_text, "Check validity at this UTC time (default: now)");
  verify->callback([&exit_code] {
    auto fail_input = [&](const Status& s) {
      std::cerr << "error: " << s.message() << "\n";
      exit_code = 2;
    };
    auto reject = [&](const Status& s) {
      std::cout << "invalid: " << s.message() << "\n";
      exit_code = 1;
    };
    // Input that cannot be read (no file, not XML, too large) is an error;
    // XML that cannot be accepted as XrML (a changed algorithm name, a
    // missing part) is invalid.
    auto read = [&](const std::string& path) -> std::optional<std::vector<xrml::Document>> {
      auto text = RealFileSystem().ReadFile(path, xrml::kMaxChainFileBytes);
      if (!text.ok()) {
        fail_input(text.status());
        return std::nullopt;
      }
      xrml::ParseLimits limits;
      limits.max_bytes = xrml::kMaxChainFileBytes;
      if (auto xml = xrml::ParseXml(*text, limits); !xml.ok()) {
        fail_input(xml.status().WithContext(path));
        return std::nullopt;
      }
      auto docs = xrml::ParseChain(*text);
      if (!docs.ok()) {
        reject(docs.status().WithContext(path));
        return std::nullopt;
      }
      return std::move(*docs);
    };
    auto chain = read(verify_file);
    if (!chain) return;
    for (const auto& f : chain_files) {
      auto more = read(f);
      if (!more) return;
      for (auto& d : *more) chain->push_back(std::move(d));
    }
    if (chain->size() > xrml::kMaxChainLength) {
      return fail_input(Status(
          Code::kTooLarge, "the chain is longer than " + std::to_string(xrml::kMaxChainLength)));
    }
    xrml::ChainPolicy policy;
    if (!trust_file.empty()) {
      auto anchor = read(trust_file);
      if (!anchor) return;
      auto key = xrml::TrustAnchorKey(anchor->front());
      if (!key.ok()) return reject(key.status().WithContext(trust_file));
      policy.trusted_root = *key;
    }
    if (!at_text.empty()) {
      policy.at = ParseTime(at_text);
      if (!policy.at) {
        return fail_input(Status(Code::kInvalidArgument,
                                 "--at takes a UTC time like 2026-01-31T12:00, not " + at_text));
      }
    } else if (chain->size() > 1 || policy.trusted_root) {
      policy.at = DefaultClock().Now();
    }
    Status s = xrml::VerifyChain(*chain, policy);
    if (!s.ok()) return reject(s);
    std::cout << "valid\n";
    exit_code = 0;
  });
}

}  // namespace openrms::cli
