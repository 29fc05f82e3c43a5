// A plain XML element tree, the form in which XrML documents are parsed,
// built and written. XrML (MS-RMPR 2.2.9) has no mixed content, so an
// element holds either text or child elements.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace openrms::xrml {

struct Element {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attributes;  // document order
  std::string text;                                             // decoded
  std::vector<Element> children;

  Element() = default;
  explicit Element(std::string n) : name(std::move(n)) {}

  // Builders, for writing documents.
  Element& Attr(std::string key, std::string value);
  Element& Text(std::string value);
  // Appends and returns the new child.
  Element& Add(Element child);
  Element& Add(std::string child_name) { return Add(Element(std::move(child_name))); }

  const Element* Child(std::string_view child_name) const;
  Element* Child(std::string_view child_name);
  std::vector<const Element*> Children(std::string_view child_name) const;
  // The first descendant along `path` of child names, e.g. {"OBJECT","ID"}.
  const Element* Find(std::initializer_list<std::string_view> path) const;
  std::optional<std::string> Attribute(std::string_view key) const;
};

struct ParseLimits {
  size_t max_bytes = 1 << 20;  // one XrML document
  int max_depth = 48;
  size_t max_elements = 20000;
};

// Parses XML with libxml2: no network, no DTD (a document that declares one
// is refused), no entity expansion beyond the five predefined ones. Input
// may be UTF-8 (with or without byte-order mark) or UTF-16 with a BOM.
// White space between tags is dropped. kTooLarge or kMalformed with a
// message that names the problem and, where known, the line.
Result<Element> ParseXml(std::string_view bytes, const ParseLimits& limits = {});

// XrML "surface-coding": the element written with no white space between
// tags, attributes in document order with their text escaped, and empty
// elements as <NAME attr="v" />. This is what signatures are computed over
// (after conversion to UTF-16LE).
std::string SerializeSurface(const Element& element);

// The same content with one element per line and two-space indentation,
// for files people read. Whitespace between tags does not change
// signatures, so both forms verify.
std::string SerializePretty(const Element& element, int indent = 0);

}  // namespace openrms::xrml
