#include "xrml/element.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <memory>
#include <mutex>

#include "base/text.h"

namespace openrms::xrml {

Element& Element::Attr(std::string key, std::string value) {
  attributes.emplace_back(std::move(key), std::move(value));
  return *this;
}

Element& Element::Text(std::string value) {
  text = std::move(value);
  return *this;
}

Element& Element::Add(Element child) {
  children.push_back(std::move(child));
  return children.back();
}

const Element* Element::Child(std::string_view child_name) const {
  for (const auto& c : children) {
    if (c.name == child_name) return &c;
  }
  return nullptr;
}

Element* Element::Child(std::string_view child_name) {
  for (auto& c : children) {
    if (c.name == child_name) return &c;
  }
  return nullptr;
}

std::vector<const Element*> Element::Children(std::string_view child_name) const {
  std::vector<const Element*> out;
  for (const auto& c : children) {
    if (c.name == child_name) out.push_back(&c);
  }
  return out;
}

const Element* Element::Find(std::initializer_list<std::string_view> path) const {
  const Element* e = this;
  for (auto name : path) {
    e = e->Child(name);
    if (e == nullptr) return nullptr;
  }
  return e;
}

std::optional<std::string> Element::Attribute(std::string_view key) const {
  for (const auto& [k, v] : attributes) {
    if (k == key) return v;
  }
  return std::nullopt;
}

namespace {

struct DocDeleter {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

std::string ToString(const xmlChar* s) { return s ? reinterpret_cast<const char*>(s) : ""; }

class Converter {
 public:
  explicit Converter(const ParseLimits& limits) : limits_(limits) {}

  Status Convert(const xmlNode* node, Element& out, int depth) {
    if (depth > limits_.max_depth) {
      return Status(Code::kTooLarge,
                    "XML nested deeper than " + std::to_string(limits_.max_depth) + " elements");
    }
    if (++elements_ > limits_.max_elements) {
      return Status(Code::kTooLarge,
                    "XML has more than " + std::to_string(limits_.max_elements) + " elements");
    }
    out.name = ToString(node->name);
    for (const xmlNs* ns = node->nsDef; ns != nullptr; ns = ns->next) {
      out.attributes.emplace_back(ns->prefix ? "xmlns:" + ToString(ns->prefix) : "xmlns",
                                  ToString(ns->href));
    }
    for (const xmlAttr* a = node->properties; a != nullptr; a = a->next) {
      xmlChar* v = xmlNodeListGetString(node->doc, a->children, 1);
      out.attributes.emplace_back(ToString(a->name), ToString(v));
      xmlFree(v);
    }
    std::string text;
    for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
      switch (c->type) {
        case XML_ELEMENT_NODE: {
          Element child;
          RETURN_IF_ERROR(Convert(c, child, depth + 1));
          out.children.push_back(std::move(child));
          break;
        }
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
          text += ToString(c->content);
          break;
        case XML_ENTITY_REF_NODE:
          return Status(Code::kMalformed, "XML entity references are not allowed");
        default:
          break;  // comments and processing instructions carry no meaning here
      }
    }
    if (!out.children.empty()) {
      if (!Trim(text).empty()) {
        return Status(Code::kMalformed, "element <" + out.name + "> mixes text and elements");
      }
    } else {
      out.text = std::move(text);
    }
    return Status::Ok();
  }

 private:
  const ParseLimits& limits_;
  size_t elements_ = 0;
};

void SilentError(void*, const char*, ...) {}

// "<NAME a="v" ...", without the tag's end.
void AppendStartTag(const Element& e, std::string& out) {
  out += '<';
  out += e.name;
  for (const auto& [k, v] : e.attributes) {
    out += ' ';
    out += k;
    out += "=\"";
    AppendXmlEscaped(v, out);
    out += '"';
  }
}

void SerializeTo(const Element& e, std::string& out) {
  AppendStartTag(e, out);
  if (e.children.empty() && e.text.empty()) {
    out += " />";
    return;
  }
  out += '>';
  if (e.children.empty()) {
    AppendXmlEscaped(e.text, out);
  } else {
    for (const auto& c : e.children) SerializeTo(c, out);
  }
  out += "</";
  out += e.name;
  out += '>';
}

void AppendPretty(const Element& e, int indent, std::string& out) {
  const size_t pad = static_cast<size_t>(indent) * 2;
  out.append(pad, ' ');
  if (e.children.empty()) {
    SerializeTo(e, out);
    out += '\n';
    return;
  }
  AppendStartTag(e, out);
  out += ">\n";
  for (const auto& c : e.children) AppendPretty(c, indent + 1, out);
  out.append(pad, ' ');
  out += "</";
  out += e.name;
  out += ">\n";
}

}  // namespace

Result<Element> ParseXml(std::string_view bytes, const ParseLimits& limits) {
  if (bytes.size() > limits.max_bytes) {
    return Status(Code::kTooLarge, "the XML document is " + std::to_string(bytes.size()) +
                                       " bytes; the limit is " + std::to_string(limits.max_bytes));
  }
  if (bytes.empty()) return Status(Code::kMalformed, "the file is empty, not an XML document");
  static std::once_flag init;
  std::call_once(init, [] {
    xmlInitParser();
    xmlSetGenericErrorFunc(nullptr, SilentError);
  });
  // No network, no DTD loading, no entity substitution, no huge-document mode.
  const int options = XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
                      XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
  xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
  if (ctxt == nullptr) return Status(Code::kInternal, "libxml2 cannot allocate a parser");
  std::unique_ptr<xmlParserCtxt, void (*)(xmlParserCtxtPtr)> ctxt_guard(ctxt, xmlFreeParserCtxt);
  std::unique_ptr<xmlDoc, DocDeleter> doc(xmlCtxtReadMemory(
      ctxt, bytes.data(), static_cast<int>(bytes.size()), nullptr, nullptr, options));
  if (!doc) {
    const xmlError* err = xmlCtxtGetLastError(ctxt);
    std::string msg = "not well-formed XML";
    if (err != nullptr && err->message != nullptr) {
      std::string detail = err->message;
      while (!detail.empty() && detail.back() == '\n') detail.pop_back();
      msg += " (line " + std::to_string(err->line) + ": " + detail + ")";
    }
    return Status(Code::kMalformed, msg);
  }
  if (doc->intSubset != nullptr || doc->extSubset != nullptr) {
    return Status(Code::kMalformed, "XML with a DTD (<!DOCTYPE>) is not accepted");
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr) return Status(Code::kMalformed, "the XML document has no root element");
  Element out;
  Converter converter(limits);
  RETURN_IF_ERROR(converter.Convert(root, out, 1));
  return out;
}

std::string SerializeSurface(const Element& element) {
  std::string out;
  SerializeTo(element, out);
  return out;
}

std::string SerializePretty(const Element& e, int indent) {
  // Into one string, each element appended where it goes (writing each
  // subtree into a string of its own copied the document once per level).
  std::string out;
  out.reserve(4096);
  AppendPretty(e, indent, out);
  return out;
}

}  // namespace openrms::xrml
