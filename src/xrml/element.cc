#include "xrml/element.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <openssl/crypto.h>

#include <memory>
#include <mutex>
#include <optional>

#include "base/text.h"

namespace openrms::xrml {

struct WrittenForm {
  std::string start;  // the start tag as written, with its '>' or "/>"
  std::string text;   // a leaf's text as written, entities and all
  std::string end;    // the end tag as written; empty when self-closing
  // The element as parsed: its start tag as SerializeSurface writes it
  // (with " />" or ">"), and its decoded text. The written form stands
  // only while the element still matches them.
  std::string parsed_start;
  std::string parsed_text;
};

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

bool WrittenEmpty(const Element& e) { return e.children.empty() && e.text.empty(); }

// The start tag SerializeSurface writes for `e` when it has no written form.
void AppendCanonicalStart(const Element& e, std::string& out) {
  AppendStartTag(e, out);
  out += WrittenEmpty(e) ? " />" : ">";
}

// One element of the source, as written.
struct RawElement {
  std::string_view name;   // with any "prefix:"
  std::string_view start;  // "<NAME ...>" or "<NAME .../>"
  std::string_view text;   // a leaf's content, as written
  std::string_view end;    // "</NAME>"; empty when self-closing
  size_t content_begin = 0;
  bool leaf = true;
};

bool IsXmlSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The elements of `xml` (UTF-8) in document order, each as written.
// nullopt where that cannot be told simply: a DTD, CDATA, a comment or
// processing instruction inside the root element, a tag left open, a
// second root. The parser decides what the document means; this only
// finds how its tags were spelt, and is used only when it agrees with the
// parser element by element.
std::optional<std::vector<RawElement>> ScanWritten(std::string_view xml) {
  std::vector<RawElement> out;
  std::vector<size_t> open;
  bool root_closed = false;
  size_t i = 0;
  while ((i = xml.find('<', i)) != std::string_view::npos) {
    const std::string_view rest = xml.substr(i);
    if (rest.substr(0, 2) == "<?" || rest.substr(0, 4) == "<!--") {
      if (!open.empty()) return std::nullopt;
      const bool pi = rest[1] == '?';
      const size_t close = rest.find(pi ? "?>" : "-->", pi ? 2 : 4);
      if (close == std::string_view::npos) return std::nullopt;
      i += close + (pi ? 2 : 3);
      continue;
    }
    if (rest.substr(0, 2) == "<!") return std::nullopt;
    size_t j = 1;
    char quote = 0;
    for (; j < rest.size(); ++j) {
      const char c = rest[j];
      if (quote != 0) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '>') {
        break;
      }
    }
    if (j == rest.size()) return std::nullopt;
    const std::string_view tag = rest.substr(0, j + 1);
    if (tag.size() >= 3 && tag[1] == '/') {
      if (open.empty()) return std::nullopt;
      RawElement& e = out[open.back()];
      open.pop_back();
      if (Trim(tag.substr(2, tag.size() - 3)) != e.name) return std::nullopt;
      if (e.leaf) e.text = xml.substr(e.content_begin, i - e.content_begin);
      e.end = tag;
      root_closed = open.empty();
    } else {
      if (root_closed) return std::nullopt;
      if (!open.empty()) out[open.back()].leaf = false;
      size_t n = 1;
      while (n < tag.size() && !IsXmlSpace(tag[n]) && tag[n] != '/' && tag[n] != '>') ++n;
      RawElement e;
      e.name = tag.substr(1, n - 1);
      e.start = tag;
      e.content_begin = i + tag.size();
      const bool self_closing = tag.size() >= 3 && tag[tag.size() - 2] == '/';
      out.push_back(e);
      if (!self_closing) open.push_back(out.size() - 1);
      root_closed = self_closing && open.empty();
    }
    i += tag.size();
  }
  if (!open.empty() || !root_closed) return std::nullopt;
  return out;
}

// `bytes` as UTF-8 for ScanWritten: a UTF-8 byte-order mark is skipped and
// UTF-16LE converted. nullopt for other encodings (UTF-16BE, a declared
// single-byte one), whose written forms are not kept. The view is of
// `bytes`, or of `converted` when the text had to be converted.
std::optional<std::string_view> WrittenSource(std::string_view bytes, std::string& converted) {
  if (bytes.substr(0, 2) == "\xFF\xFE") {
    auto utf8 = Utf16LeToUtf8(bytes);
    if (!utf8.ok()) return std::nullopt;
    converted = std::move(utf8).value();
    return std::string_view(converted);
  }
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
  if (bytes.find('\0') != std::string_view::npos) return std::nullopt;
  if (bytes.substr(0, 5) == "<?xml") {
    const std::string_view decl = bytes.substr(0, bytes.find("?>"));
    const size_t enc = decl.find("encoding");
    if (enc != std::string_view::npos) {
      const std::string name = ToLower(decl.substr(enc + 8));
      if (name.find("utf-8") == std::string::npos && name.find("utf8") == std::string::npos &&
          name.find("utf-16") == std::string::npos) {
        return std::nullopt;
      }
    }
  }
  return bytes;
}

// Whether the parsed tree and the scanned elements are the same elements
// in the same order, names matching (the parser drops a "prefix:").
bool SameElements(const Element& e, const std::vector<RawElement>& raw, size_t& index) {
  if (index >= raw.size()) return false;
  const std::string_view written = raw[index++].name;
  if (written != e.name) {
    if (written.size() <= e.name.size() ||
        written.substr(written.size() - e.name.size()) != e.name ||
        written[written.size() - e.name.size() - 1] != ':') {
      return false;
    }
  }
  if (raw[index - 1].leaf != e.children.empty()) return false;
  for (const auto& c : e.children) {
    if (!SameElements(c, raw, index)) return false;
  }
  return true;
}

// Gives each element written otherwise than SerializeSurface writes it
// its written form.
// Whether `end` is "</NAME>".
bool IsCanonicalEnd(std::string_view end, std::string_view name) {
  return end.size() == name.size() + 3 && end.substr(0, 2) == "</" && end.back() == '>' &&
         end.substr(2, name.size()) == name;
}

// Allocates nothing per element once `scratch` has grown: parsing a
// license runs this over every element.
void AttachWritten(Element& e, const std::vector<RawElement>& raw, size_t& index,
                   std::string& scratch, std::string& text_scratch) {
  const RawElement& r = raw[index++];
  scratch.clear();
  AppendCanonicalStart(e, scratch);
  bool differs = r.start != scratch;
  const bool self_closing = WrittenEmpty(e);
  if (!differs && e.children.empty() && !self_closing) {
    text_scratch.clear();
    AppendXmlEscaped(e.text, text_scratch);
    differs = r.text != text_scratch;
  }
  if (!differs && !self_closing) differs = !IsCanonicalEnd(r.end, e.name);
  if (differs) {
    auto w = std::make_shared<WrittenForm>();
    w->start = r.start;
    w->text = r.text;
    w->end = r.end;
    w->parsed_start = scratch;
    w->parsed_text = e.text;
    e.written = std::move(w);
  }
  for (auto& c : e.children) AttachWritten(c, raw, index, scratch, text_scratch);
}

void KeepWrittenForms(std::string_view bytes, Element& root) {
  std::string converted;
  const std::optional<std::string_view> source = WrittenSource(bytes, converted);
  if (!source) return;
  const auto raw = ScanWritten(*source);
  if (!raw) return;
  size_t index = 0;
  if (!SameElements(root, *raw, index) || index != raw->size()) return;
  index = 0;
  std::string scratch, text_scratch;
  AttachWritten(root, *raw, index, scratch, text_scratch);
}

// The element's written form, while the element is as it was parsed.
const WrittenForm* Written(const Element& e) {
  if (!e.written || e.text != e.written->parsed_text) return nullptr;
  std::string start;
  AppendCanonicalStart(e, start);
  return start == e.written->parsed_start ? e.written.get() : nullptr;
}

void SilentError(void*, const char*, ...) {}

void SerializeTo(const Element& e, std::string& out) {
  if (const WrittenForm* w = Written(e)) {
    out += w->start;
    if (e.children.empty()) {
      out += w->text;
    } else {
      for (const auto& c : e.children) SerializeTo(c, out);
    }
    out += w->end;
    return;
  }
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
  const WrittenForm* w = Written(e);
  if (w != nullptr) {
    out += w->start;
  } else {
    AppendStartTag(e, out);
    out += '>';
  }
  out += '\n';
  for (const auto& c : e.children) AppendPretty(c, indent + 1, out);
  out.append(pad, ' ');
  if (w != nullptr) {
    out += w->end;
  } else {
    out += "</";
    out += e.name;
    out += '>';
  }
  out += '\n';
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
  // UTF-16LE (with its byte-order mark) is converted here: libxml2 would
  // open an iconv converter for every document (a license's rights data is
  // UTF-16). Its written forms are then read from the same UTF-8 text.
  std::string utf8;
  std::string_view feed = bytes;
  const char* encoding = nullptr;
  if (bytes.substr(0, 2) == "\xFF\xFE") {
    if (auto converted = Utf16LeToUtf8(bytes); converted.ok()) {
      utf8 = std::move(converted).value();
      feed = utf8;
      encoding = "UTF-8";
    }
  }
  std::unique_ptr<xmlDoc, DocDeleter> doc(xmlCtxtReadMemory(
      ctxt, feed.data(), static_cast<int>(feed.size()), nullptr, encoding, options));
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
  if (limits.keep_written) KeepWrittenForms(feed, out);
  // The text may be secret (a license's rights data): not left in the heap.
  if (!utf8.empty()) OPENSSL_cleanse(utf8.data(), utf8.size());
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
