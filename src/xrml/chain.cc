#include "xrml/chain.h"

#include "base/text.h"

namespace openrms::xrml {

namespace {

void CollectStrings(const Element& e, std::vector<const Element*>& out) {
  if (e.name == "string" && e.children.empty()) out.push_back(&e);
  for (const auto& c : e.children) CollectStrings(c, out);
}

Element RangeElement(std::string name, const TimeRange& r) {
  Element e(std::move(name));
  if (r.from) e.Add("FROM").Text(FormatXrmlTime(*r.from));
  if (r.until) e.Add("UNTIL").Text(FormatXrmlTime(*r.until));
  return e;
}

}  // namespace

Element ObjectElement(const Object& o) {
  Element obj("OBJECT");
  if (!o.type.empty()) obj.Attr("type", o.type);
  if (!o.id.empty())
    obj.Add(Element("ID").Attr("type", o.id_type.empty() ? "MS-GUID" : o.id_type)).Text(o.id);
  if (!o.name.empty()) obj.Add("NAME").Text(o.name);
  if (!o.address.empty()) {
    obj.Add(Element("ADDRESS").Attr("type", o.address_type.empty() ? "URL" : o.address_type))
        .Text(o.address);
  }
  return obj;
}

Element PartyElement(std::string name, const Party& p) {
  Element e(std::move(name));
  e.Add(ObjectElement(p.object));
  if (p.public_key) e.Add(PublicKeyElement(*p.public_key));
  for (const auto& s : p.security_levels) {
    e.Add(Element("SECURITYLEVEL").Attr("name", s.name).Attr("value", s.value));
  }
  return e;
}

Result<std::vector<Document>> ParseChain(std::string_view bytes) {
  ParseLimits limits;
  limits.max_bytes = kMaxChainFileBytes;
  ASSIGN_OR_RETURN(Element root, ParseXml(bytes, limits));
  std::vector<Document> chain;
  if (root.name == "XrML") {
    ASSIGN_OR_RETURN(Document doc, DocumentFromElement(std::move(root)));
    chain.push_back(std::move(doc));
    return chain;
  }
  std::vector<const Element*> strings;
  CollectStrings(root, strings);
  if (strings.empty()) {
    return Status(Code::kMalformed,
                  "<" + root.name + "> is neither an XrML document nor a certificate chain");
  }
  if (strings.size() > kMaxChainLength) {
    return Status(Code::kTooLarge,
                  "the chain holds more than " + std::to_string(kMaxChainLength) + " certificates");
  }
  for (size_t i = 0; i < strings.size(); ++i) {
    auto doc = ParseDocument(strings[i]->text);
    if (!doc.ok()) {
      return doc.status().WithContext("certificate " + std::to_string(i + 1) + " of " +
                                      std::to_string(strings.size()));
    }
    chain.push_back(std::move(doc).value());
  }
  return chain;
}

std::string WriteChainFile(const std::vector<Document>& chain) {
  Element root("CertificateChain");
  root.Attr("xmlns", "urn:openrms:certificate-chain");
  for (const auto& doc : chain) root.Add("string").Text(WriteDocument(doc));
  return "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n" + SerializePretty(root);
}

std::string DescribeInChain(const std::vector<Document>& chain, size_t index) {
  if (chain.size() == 1) return chain[0].Kind().empty() ? "the document" : chain[0].Kind();
  std::string s =
      "certificate " + std::to_string(index + 1) + " of " + std::to_string(chain.size());
  const std::string kind = chain[index].Kind();
  if (!kind.empty()) s += " (" + kind + ")";
  return s;
}

Status VerifyChain(const std::vector<Document>& chain, const ChainPolicy& policy) {
  if (chain.empty()) return Status(Code::kMalformed, "the chain is empty");
  for (size_t i = 0; i < chain.size(); ++i) {
    const Document& doc = chain[i];
    const std::string who = DescribeInChain(chain, i);
    Status s = VerifySignature(doc);
    if (!s.ok()) return chain.size() == 1 ? s : s.WithContext(who);
    if (i + 1 < chain.size()) {
      const Party* next = chain[i + 1].principal();
      if (next == nullptr || !next->public_key || !(*next->public_key == *doc.issuer.public_key)) {
        return Status(Code::kUntrusted, who + " was not issued by " +
                                            DescribeInChain(chain, i + 1) +
                                            ": the issuer's key differs");
      }
    }
    if (policy.at) {
      if (doc.validity && doc.validity->from && *policy.at < *doc.validity->from) {
        return Status(Code::kNotYetValid,
                      who + " is not valid before " + FormatHuman(*doc.validity->from));
      }
      if (doc.validity && doc.validity->until && *policy.at >= *doc.validity->until) {
        return Status(Code::kExpired, who + " expired on " + FormatHuman(*doc.validity->until));
      }
      if (i + 1 < chain.size() && doc.issued_time) {
        const Right* issue = chain[i + 1].FindRight(kRightIssue);
        if (issue != nullptr && issue->range && !issue->range->Contains(*doc.issued_time)) {
          return Status(Code::kUntrusted, who + " was issued on " + FormatHuman(*doc.issued_time) +
                                              ", outside its issuer's right to issue");
        }
      }
    }
  }
  if (policy.trusted_root && !(*chain.back().issuer.public_key == *policy.trusted_root)) {
    return Status(Code::kUntrusted, "the chain does not end at the trusted root: " +
                                        DescribeInChain(chain, chain.size() - 1) +
                                        " was issued by an unknown key");
  }
  return Status::Ok();
}

Result<crypto::PublicKey> TrustAnchorKey(const Document& anchor) {
  const Party* p = anchor.principal();
  if (p == nullptr || !p->public_key || !anchor.issuer.public_key ||
      !(*p->public_key == *anchor.issuer.public_key)) {
    return Status(Code::kUntrusted, "the trust anchor is not a self-signed certificate");
  }
  Status s = VerifySignature(anchor);
  if (!s.ok()) return s.WithContext("trust anchor");
  return *p->public_key;
}

Element BuildIssuingCertificateBody(const IssuingCertificate& spec) {
  Element body("BODY");
  body.Attr("type", "LICENSE").Attr("version", "3.0");
  body.Add("ISSUEDTIME").Text(FormatXrmlTime(spec.issued));
  body.Add(RangeElement("VALIDITYTIME", spec.validity));
  body.Add("DESCRIPTOR")
      .Add(ObjectElement({spec.descriptor_type, "MS-GUID", spec.certificate_id, "", "", ""}));
  body.Add(PartyElement("ISSUER", spec.issuer));
  Party principal = spec.principal;
  Element& principals = body.Add("ISSUEDPRINCIPALS");
  principals.Add(PartyElement("PRINCIPAL", principal))
      .attributes.insert(principals.children.back().attributes.begin(), {"internal-id", "1"});
  Element& work = body.Add("WORK");
  work.Add(ObjectElement({"License", "MS-GUID", spec.certificate_id, "", "", ""}));
  Element& right = work.Add(Element("RIGHTSGROUP").Attr("name", "Main-Rights"))
                       .Add("RIGHTSLIST")
                       .Add(Element("RIGHT").Attr("name", kRightIssue));
  Element& conditions = right.Add("CONDITIONLIST");
  conditions.Add("TIME").Add(RangeElement("RANGETIME", spec.validity));
  conditions.Add("ACCESS").Add(Element("PRINCIPAL").Attr("internal-id", "1"));
  return body;
}

}  // namespace openrms::xrml
