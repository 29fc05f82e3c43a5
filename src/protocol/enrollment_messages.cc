#include "protocol/enrollment_messages.h"

#include "base/text.h"
#include "crypto/encoding.h"
#include "xrml/chain.h"

namespace openrms::protocol {

namespace {

using xrml::Element;

constexpr char kSignatureAlgorithm[] = "RSA PKCS#1-V1.5 SHA256";

Element Text(std::string name, std::string text) {
  Element e(std::move(name));
  e.Text(std::move(text));
  return e;
}

Element VersionData() {
  Element v("VersionData");
  v.Attr("xmlns", kEnrollmentNamespace);
  v.Add(Text("MinimumVersion", "1.0.0.0"));
  v.Add(Text("MaximumVersion", "1.0.0.0"));
  return v;
}

Element Envelope(Element header_extra, Element body_content) {
  Element env("soap:Envelope");
  env.Attr("xmlns:soap", kSoapNamespace);
  Element& header = env.Add("soap:Header");
  header.Add(VersionData());
  if (!header_extra.name.empty()) header.Add(std::move(header_extra));
  env.Add("soap:Body").Add(std::move(body_content));
  return env;
}

std::string Document(const Element& env) {
  return "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n" + xrml::SerializePretty(env);
}

Element BuildInput(const EnrollParameters& p) {
  Element in("oInput");
  in.Add("AuthorizationInformation").Add("SignedDataBase64Encoded");
  Element& rev = in.Add("RevocationInformation");
  rev.Add(Text("RevocationType", p.revocation_type));
  if (!p.revocation_authority_keys.empty()) {
    Element& list = rev.Add("aRevocationAuthorities");
    for (const auto& k : p.revocation_authority_keys) {
      list.Add("RevocationAuthorityInformation").Add(Text("aRevocationAuthorityPublicKey", k));
    }
  }
  Element& key = in.Add("CertificatePublicKey");
  key.Add(Text("aPublicKeyBytes", crypto::Base64Encode(p.public_key->ToPkcs1Der())));
  key.Add(Text("Guid", p.guid));
  Element& who = in.Add("EnrolleeInformation");
  who.Add(Text("SKU", p.sku));
  who.Add(Text("Version", p.version));
  who.Add(Text("Name", p.name));
  who.Add(Text("URL", p.url));
  if (p.requested_validity_days) {
    in.Add(Text("RequestedValidityDays", std::to_string(*p.requested_validity_days)))
        .Attr("xmlns", kOpenRmsNamespace);
  }
  if (p.token) in.Add(Text("EnrollmentToken", *p.token)).Attr("xmlns", kOpenRmsNamespace);
  return in;
}

Status Bad(std::string what) {
  return Status(Code::kMalformed, "not a valid enrollment request: " + std::move(what));
}

const Element* FindDescendant(const Element& e, std::string_view name) {
  if (e.name == name) return &e;
  for (const auto& c : e.children) {
    if (const Element* f = FindDescendant(c, name)) return f;
  }
  return nullptr;
}

Result<std::string> RequiredText(const Element& parent, std::string_view name,
                                 std::string_view where) {
  const Element* e = parent.Child(name);
  if (e == nullptr) return Bad(std::string(where) + "/" + std::string(name) + " is missing");
  return std::string(Trim(e->text));
}

Result<std::string> SignedBytes(const Element& input) {
  return Utf8ToUtf16Le(xrml::SerializeSurface(input));
}

}  // namespace

Result<std::string> WriteEnrollRequest(const EnrollParameters& parameters,
                                       const crypto::PrivateKey& key, RequestKind kind) {
  if (!parameters.public_key || !(*parameters.public_key == key.public_key())) {
    return Status(Code::kInternal, "the request must carry the public half of the signing key");
  }
  Element input = BuildInput(parameters);
  ASSIGN_OR_RETURN(std::string bytes, SignedBytes(input));
  ASSIGN_OR_RETURN(std::string sig, key.Sign(crypto::DigestAlgorithm::kSha256, bytes));
  Element proof("RequestSignature");
  proof.Attr("xmlns", kOpenRmsNamespace);
  proof.Add(Text("Algorithm", kSignatureAlgorithm));
  proof.Add(Text("Value", crypto::Base64Encode(sig)));
  const bool sub = kind == RequestKind::kSubEnroll;
  Element enroll(sub ? "SubEnroll" : "Enroll");
  enroll.Attr("xmlns", sub ? kSubEnrollmentNamespace : kEnrollmentNamespace);
  enroll.Add(std::move(input));
  return Document(Envelope(std::move(proof), std::move(enroll)));
}

Result<EnrollRequest> ParseEnrollRequest(std::string_view bytes) {
  xrml::ParseLimits limits;
  limits.max_bytes = kMaxRequestBytes;
  limits.max_depth = 16;
  limits.max_elements = 500;
  auto root = xrml::ParseXml(bytes, limits);
  if (!root.ok()) {
    if (root.status().code() == Code::kTooLarge) {
      return Status(Code::kTooLarge,
                    "the enrollment request is too large: " + root.status().message());
    }
    return root.status().WithContext("the file is not an enrollment request");
  }
  if (root->name != "Envelope") {
    return Bad("the root element is <" + root->name + ">, not a SOAP Envelope");
  }
  const Element* body = root->Child("Body");
  const Element* enroll = body ? body->Child("Enroll") : nullptr;
  if (enroll == nullptr) enroll = body ? body->Child("SubEnroll") : nullptr;
  const Element* input = enroll ? enroll->Child("oInput") : nullptr;
  if (input == nullptr) return Bad("Body/Enroll/oInput is missing");

  EnrollRequest req;
  req.input = *input;
  EnrollParameters& p = req.parameters;
  if (const Element* rev = input->Child("RevocationInformation")) {
    ASSIGN_OR_RETURN(p.revocation_type,
                     RequiredText(*rev, "RevocationType", "RevocationInformation"));
    if (const Element* list = rev->Child("aRevocationAuthorities")) {
      for (const Element* a : list->Children("RevocationAuthorityInformation")) {
        ASSIGN_OR_RETURN(std::string k, RequiredText(*a, "aRevocationAuthorityPublicKey",
                                                     "RevocationAuthorityInformation"));
        p.revocation_authority_keys.push_back(std::move(k));
      }
    }
  }
  const Element* key = input->Child("CertificatePublicKey");
  if (key == nullptr) return Bad("oInput/CertificatePublicKey is missing");
  ASSIGN_OR_RETURN(std::string key_b64,
                   RequiredText(*key, "aPublicKeyBytes", "CertificatePublicKey"));
  auto der = crypto::Base64Decode(key_b64);
  if (!der) return Bad("CertificatePublicKey/aPublicKeyBytes is not base64");
  auto pub = crypto::PublicKey::FromPkcs1Der(*der);
  if (!pub.ok()) return pub.status().WithContext("CertificatePublicKey");
  p.public_key = std::move(pub).value();
  ASSIGN_OR_RETURN(p.guid, RequiredText(*key, "Guid", "CertificatePublicKey"));
  const Element* who = input->Child("EnrolleeInformation");
  if (who == nullptr) return Bad("oInput/EnrolleeInformation is missing");
  ASSIGN_OR_RETURN(p.sku, RequiredText(*who, "SKU", "EnrolleeInformation"));
  ASSIGN_OR_RETURN(p.version, RequiredText(*who, "Version", "EnrolleeInformation"));
  ASSIGN_OR_RETURN(p.name, RequiredText(*who, "Name", "EnrolleeInformation"));
  ASSIGN_OR_RETURN(p.url, RequiredText(*who, "URL", "EnrolleeInformation"));
  if (const Element* days = input->Child("RequestedValidityDays")) {
    const std::string_view t = Trim(days->text);
    int n = 0;
    for (char c : t) {
      if (c < '0' || c > '9' || n > 100000)
        return Bad("RequestedValidityDays is not a number of days");
      n = n * 10 + (c - '0');
    }
    if (t.empty()) return Bad("RequestedValidityDays is empty");
    p.requested_validity_days = n;
  }
  if (const Element* token = input->Child("EnrollmentToken"))
    p.token = std::string(Trim(token->text));

  if (const Element* header = root->Child("Header")) {
    if (const Element* proof = header->Child("RequestSignature")) {
      ASSIGN_OR_RETURN(std::string alg, RequiredText(*proof, "Algorithm", "RequestSignature"));
      if (alg != kSignatureAlgorithm) {
        return Status(Code::kUnsupported, "request signature algorithm \"" + alg +
                                              "\" is not supported (" + kSignatureAlgorithm + ")");
      }
      ASSIGN_OR_RETURN(std::string value, RequiredText(*proof, "Value", "RequestSignature"));
      auto sig = crypto::Base64Decode(value);
      if (!sig) return Bad("RequestSignature/Value is not base64");
      req.signature = *sig;
    }
  }
  return req;
}

Status VerifyRequestSignature(const EnrollRequest& request) {
  if (request.signature.empty()) {
    return Status(Code::kBadSignature,
                  "the request is not signed: OpenRMS needs the cluster's signature as proof that "
                  "it holds the key (make the request with `openrms` again)");
  }
  ASSIGN_OR_RETURN(std::string bytes, SignedBytes(request.input));
  Status s = request.parameters.public_key->Verify(crypto::DigestAlgorithm::kSha256, bytes,
                                                   request.signature);
  if (!s.ok()) {
    return Status(Code::kBadSignature,
                  "the request's signature does not match its contents: the file was changed "
                  "after the cluster made it, or was not signed with the cluster's key. Export a "
                  "new request and submit it unchanged");
  }
  return Status::Ok();
}

std::string WriteEnrollResponse(const std::vector<xrml::Document>& chain, RequestKind kind) {
  const bool sub = kind == RequestKind::kSubEnroll;
  Element response(sub ? "SubEnrollResponse" : "EnrollResponse");
  response.Attr("xmlns", sub ? kSubEnrollmentNamespace : kEnrollmentNamespace);
  Element& result = response.Add(sub ? "SubEnrollResult" : "EnrollResult");
  Element& list = sub ? result : result.Add("LicensorCertificateChain");
  for (const auto& doc : chain) list.Add(Text("string", xrml::WriteDocument(doc)));
  return Document(Envelope(Element(), std::move(response)));
}

std::string WriteSoapFault(const Status& status) {
  Element fault("soap:Fault");
  const bool client = status.code() != Code::kInternal && status.code() != Code::kIo &&
                      status.code() != Code::kUnavailable;
  fault.Add(Text("faultcode", client ? "soap:Client" : "soap:Server"));
  fault.Add(Text("faultstring", status.message()));
  Element& detail = fault.Add("detail");
  detail.Add(Text("Code", std::string(CodeName(status.code())))).Attr("xmlns", kOpenRmsNamespace);
  return Document(Envelope(Element(), std::move(fault)));
}

Result<std::vector<xrml::Document>> ParseEnrollResponse(std::string_view bytes) {
  xrml::ParseLimits limits;
  limits.max_bytes = xrml::kMaxChainFileBytes;
  auto root = xrml::ParseXml(bytes, limits);
  if (!root.ok()) return root.status().WithContext("the enrollment response");
  if (const Element* fault = FindDescendant(*root, "Fault")) {
    std::string message = "the enrollment service refused the request";
    if (const Element* s = fault->Child("faultstring")) message = std::string(Trim(s->text));
    Code code = Code::kFailedPrecondition;
    if (const Element* c = FindDescendant(*fault, "Code")) {
      for (int i = 0; i <= static_cast<int>(Code::kInternal); ++i) {
        if (CodeName(static_cast<Code>(i)) == Trim(c->text)) code = static_cast<Code>(i);
      }
    }
    return Status(code, message);
  }
  return xrml::ParseChain(bytes);
}

}  // namespace openrms::protocol
