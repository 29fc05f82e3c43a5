#include "xrml/document.h"

#include <algorithm>
#include <charconv>

#include "base/text.h"
#include "crypto/encoding.h"

namespace openrms::xrml {

namespace {

constexpr char kSignatureAlgorithm[] = "RSA PKCS#1-V1.5";
constexpr char kSurfaceCoding[] = "surface-coding";

Status Missing(std::string_view what) {
  return Status(Code::kMalformed, "the XrML document has no " + std::string(what));
}

Result<Time> ReadTime(const Element& e, std::string_view where) {
  auto t = ParseTime(Trim(e.text));
  if (!t) {
    return Status(Code::kMalformed, std::string(where) + " holds \"" + e.text +
                                        "\", not a UTC time like 2026-01-31T12:00");
  }
  return *t;
}

Result<TimeRange> ReadRange(const Element& e, std::string_view where) {
  TimeRange range;
  if (const Element* from = e.Child("FROM")) {
    ASSIGN_OR_RETURN(range.from, ReadTime(*from, std::string(where) + "/FROM"));
  }
  if (const Element* until = e.Child("UNTIL")) {
    ASSIGN_OR_RETURN(range.until, ReadTime(*until, std::string(where) + "/UNTIL"));
  }
  if (range.from && range.until && *range.until < *range.from) {
    return Status(Code::kMalformed, std::string(where) + " ends before it begins");
  }
  return range;
}

Object ReadObject(const Element* e) {
  Object o;
  if (e == nullptr) return o;
  o.type = e->Attribute("type").value_or("");
  if (const Element* id = e->Child("ID")) {
    o.id_type = id->Attribute("type").value_or("");
    o.id = std::string(Trim(id->text));
  }
  if (const Element* name = e->Child("NAME")) o.name = std::string(Trim(name->text));
  if (const Element* addr = e->Child("ADDRESS")) {
    o.address_type = addr->Attribute("type").value_or("");
    o.address = std::string(Trim(addr->text));
  }
  return o;
}

Result<Party> ReadParty(const Element& e, std::string_view where) {
  Party p;
  p.object = ReadObject(e.Child("OBJECT"));
  if (const Element* key = e.Child("PUBLICKEY")) {
    auto parsed = ParsePublicKeyElement(*key);
    if (!parsed.ok()) return parsed.status().WithContext(std::string(where) + "/PUBLICKEY");
    p.public_key = std::move(parsed).value();
  }
  for (const Element* s : e.Children("SECURITYLEVEL")) {
    p.security_levels.push_back(
        {s->Attribute("name").value_or(""), s->Attribute("value").value_or("")});
  }
  return p;
}

Result<crypto::DigestAlgorithm> ReadDigestAlgorithm(std::string_view name) {
  if (EqualsIgnoreCase(name, "SHA1")) return crypto::DigestAlgorithm::kSha1;
  if (EqualsIgnoreCase(name, "SHA256")) return crypto::DigestAlgorithm::kSha256;
  return Status(Code::kUnsupported,
                "digest algorithm \"" + std::string(name) + "\" is not supported (SHA1 or SHA256)");
}

std::string_view DigestName(crypto::DigestAlgorithm a) {
  return a == crypto::DigestAlgorithm::kSha1 ? "SHA1" : "SHA256";
}

Result<std::string> ReadBase64(const Element& value, std::string_view where) {
  auto bytes = crypto::Base64Decode(value.text);
  if (!bytes) return Status(Code::kMalformed, std::string(where) + " is not valid base64");
  return *bytes;
}

Result<Signature> ReadSignature(const Element& e) {
  Signature sig;
  const Element* digest = e.Child("DIGEST");
  if (digest == nullptr) return Missing("SIGNATURE/DIGEST");
  const Element* dalg = digest->Child("ALGORITHM");
  if (dalg == nullptr) return Missing("SIGNATURE/DIGEST/ALGORITHM");
  ASSIGN_OR_RETURN(sig.digest_algorithm, ReadDigestAlgorithm(Trim(dalg->text)));
  for (const Element* p : digest->Children("PARAMETER")) {
    if (p->Attribute("name") != "codingtype") continue;
    const Element* v = p->Child("VALUE");
    if (v == nullptr || Trim(v->text) != kSurfaceCoding) {
      return Status(Code::kUnsupported, "only the surface-coding canonical form is supported");
    }
  }
  const Element* dvalue = digest->Child("VALUE");
  if (dvalue == nullptr) return Missing("SIGNATURE/DIGEST/VALUE");
  ASSIGN_OR_RETURN(sig.digest, ReadBase64(*dvalue, "SIGNATURE/DIGEST/VALUE"));
  const Element* alg = e.Child("ALGORITHM");
  if (alg == nullptr) return Missing("SIGNATURE/ALGORITHM");
  sig.algorithm = std::string(Trim(alg->text));
  const Element* value = e.Child("VALUE");
  if (value == nullptr) return Missing("SIGNATURE/VALUE");
  ASSIGN_OR_RETURN(sig.value, ReadBase64(*value, "SIGNATURE/VALUE"));
  return sig;
}

Element ValueElement(std::string encoding, std::string text) {
  Element v("VALUE");
  v.Attr("encoding", std::move(encoding));
  v.Text(std::move(text));
  return v;
}

}  // namespace

std::optional<std::string> Party::SecurityLevelValue(std::string_view name) const {
  for (const auto& s : security_levels) {
    if (s.name == name) return s.value;
  }
  return std::nullopt;
}

const Right* Document::FindRight(std::string_view name) const {
  for (const auto& r : rights) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::string Document::Kind() const { return descriptor.type.empty() ? body_type : descriptor.type; }

Element PublicKeyElement(const crypto::PublicKey& key) {
  Element pk("PUBLICKEY");
  pk.Add("ALGORITHM").Text("RSA");
  pk.Add(Element("PARAMETER").Attr("name", "public-exponent"))
      .Add(ValueElement("integer32", std::to_string(key.exponent())));
  std::string le = key.modulus_be();
  std::reverse(le.begin(), le.end());
  pk.Add(Element("PARAMETER").Attr("name", "modulus"))
      .Add(ValueElement("base64", crypto::Base64Encode(le)))
      .Attr("size", std::to_string(key.bits()));
  return pk;
}

Result<crypto::PublicKey> ParsePublicKeyElement(const Element& publickey) {
  const Element* alg = publickey.Child("ALGORITHM");
  if (alg == nullptr || Trim(alg->text) != "RSA") {
    return Status(Code::kUnsupported, "only RSA public keys are supported");
  }
  std::optional<uint32_t> exponent;
  std::optional<std::string> modulus_le;
  for (const Element* p : publickey.Children("PARAMETER")) {
    const Element* v = p->Child("VALUE");
    if (v == nullptr) continue;
    const auto name = p->Attribute("name");
    if (name == "public-exponent") {
      uint32_t e = 0;
      const std::string_view t = Trim(v->text);
      auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), e);
      if (ec != std::errc() || ptr != t.data() + t.size()) {
        return Status(Code::kMalformed, "the public exponent is not an integer32");
      }
      exponent = e;
    } else if (name == "modulus") {
      ASSIGN_OR_RETURN(modulus_le, ReadBase64(*v, "the modulus"));
    }
  }
  if (!exponent || !modulus_le) {
    return Status(Code::kMalformed, "the public key lacks its exponent or modulus");
  }
  std::string be(modulus_le->rbegin(), modulus_le->rend());
  return crypto::PublicKey::FromModulus(be, *exponent);
}

Result<Document> DocumentFromElement(Element root) {
  if (root.name != "XrML") {
    return Status(Code::kMalformed,
                  "the root element is <" + root.name + ">, not <XrML>: not an XrML document");
  }
  Document doc;
  doc.root = std::move(root);
  const Element* body = doc.root.Child("BODY");
  if (body == nullptr) return Missing("BODY");
  doc.body_type = body->Attribute("type").value_or("");
  if (const Element* t = body->Child("ISSUEDTIME")) {
    ASSIGN_OR_RETURN(doc.issued_time, ReadTime(*t, "ISSUEDTIME"));
  }
  if (const Element* v = body->Child("VALIDITYTIME")) {
    ASSIGN_OR_RETURN(doc.validity, ReadRange(*v, "VALIDITYTIME"));
  }
  doc.descriptor = ReadObject(body->Find({"DESCRIPTOR", "OBJECT"}));
  const Element* issuer = body->Child("ISSUER");
  if (issuer == nullptr) return Missing("ISSUER");
  ASSIGN_OR_RETURN(doc.issuer, ReadParty(*issuer, "ISSUER"));
  if (const Element* principals = body->Child("ISSUEDPRINCIPALS")) {
    for (const Element* p : principals->Children("PRINCIPAL")) {
      ASSIGN_OR_RETURN(Party party, ReadParty(*p, "ISSUEDPRINCIPALS/PRINCIPAL"));
      doc.principals.push_back(std::move(party));
    }
  }
  if (const Element* work = body->Child("WORK")) {
    for (const Element* group : work->Children("RIGHTSGROUP")) {
      const Element* list = group->Child("RIGHTSLIST");
      if (list == nullptr) continue;
      for (const Element& r : list->children) {
        Right right;
        right.name = r.name == "RIGHT" ? r.Attribute("name").value_or("") : r.name;
        if (const Element* range = r.Find({"CONDITIONLIST", "TIME", "RANGETIME"})) {
          ASSIGN_OR_RETURN(right.range, ReadRange(*range, right.name + " RANGETIME"));
        }
        doc.rights.push_back(std::move(right));
      }
    }
  }
  if (const Element* sig = doc.root.Child("SIGNATURE")) {
    ASSIGN_OR_RETURN(doc.signature, ReadSignature(*sig));
  }
  return doc;
}

Result<Document> ParseDocument(std::string_view bytes) {
  ParseLimits limits;
  limits.max_bytes = kMaxDocumentBytes;
  ASSIGN_OR_RETURN(Element root, ParseXml(bytes, limits));
  return DocumentFromElement(std::move(root));
}

Result<std::string> SignedBytes(const Document& document) {
  return Utf8ToUtf16Le(SerializeSurface(document.body()));
}

Status VerifySignature(const Document& document,
                       const std::optional<crypto::PublicKey>& issuer_key) {
  if (!document.signature) {
    return Status(Code::kBadSignature, "the document is not signed (no SIGNATURE element)");
  }
  const Signature& sig = *document.signature;
  if (sig.algorithm != kSignatureAlgorithm) {
    return Status(Code::kUnsupported, "signature algorithm \"" + sig.algorithm +
                                          "\" is not supported (" + kSignatureAlgorithm + ")");
  }
  const crypto::PublicKey* key = issuer_key ? &*issuer_key : nullptr;
  if (key == nullptr && document.issuer.public_key) key = &*document.issuer.public_key;
  if (key == nullptr) return Status(Code::kMalformed, "the ISSUER has no PUBLICKEY to verify with");
  ASSIGN_OR_RETURN(std::string signed_bytes, SignedBytes(document));
  if (crypto::Digest(sig.digest_algorithm, signed_bytes) != sig.digest) {
    return Status(Code::kBadSignature,
                  "the BODY does not match its digest: the document was changed after signing");
  }
  Status s = key->Verify(sig.digest_algorithm, signed_bytes, sig.value);
  if (!s.ok()) {
    return Status(Code::kBadSignature, "the signature was not made by the issuer's key");
  }
  return Status::Ok();
}

Result<Document> SignDocument(Element body, const crypto::PrivateKey& key,
                              crypto::DigestAlgorithm algorithm) {
  ASSIGN_OR_RETURN(Element root, SignElement(std::move(body), key, algorithm));
  return DocumentFromElement(std::move(root));
}

Result<Element> SignElement(Element body, const crypto::PrivateKey& key,
                            crypto::DigestAlgorithm algorithm) {
  if (body.name != "BODY") return Status(Code::kInternal, "SignDocument needs a <BODY> element");
  ASSIGN_OR_RETURN(std::string signed_bytes, Utf8ToUtf16Le(SerializeSurface(body)));
  ASSIGN_OR_RETURN(std::string sig, key.Sign(algorithm, signed_bytes));
  const std::string digest = crypto::Digest(algorithm, signed_bytes);

  Element root("XrML");
  root.Attr("xmlns", "").Attr("version", "1.2");
  root.Add(std::move(body));
  Element& s = root.Add("SIGNATURE");
  Element& d = s.Add("DIGEST");
  d.Add("ALGORITHM").Text(std::string(DigestName(algorithm)));
  d.Add(Element("PARAMETER").Attr("name", "codingtype"))
      .Add(ValueElement("string", kSurfaceCoding));
  d.Add(ValueElement("base64", crypto::Base64Encode(digest)))
      .Attr("size", std::to_string(digest.size() * 8));
  s.Add("ALGORITHM").Text(kSignatureAlgorithm);
  s.Add(ValueElement("base64", crypto::Base64Encode(sig)))
      .Attr("size", std::to_string(sig.size() * 8));
  return root;
}

std::string WriteDocument(const Document& document) { return SerializePretty(document.root); }

}  // namespace openrms::xrml
