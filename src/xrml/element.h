// A plain XML element tree, the form in which XrML documents are parsed,
// built and written. XrML (MS-RMPR 2.2.9) has no mixed content, so an
// element holds either text or child elements.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace openrms::xrml {

// How a parsed element was written, kept where that differs from how
// SerializeSurface would write it (defined in element.cc).
struct WrittenForm;

struct Element {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attributes;  // document order
  std::string text;                                             // decoded
  std::vector<Element> children;
  // Set by ParseXml where this element's tags or text were written
  // otherwise than SerializeSurface writes them (`<A></A>`, `name = "v"`,
  // single quotes, an unescaped '>'); used while the element's name,
  // attributes and text stay as parsed, so a changed element is written
  // canonically.
  std::shared_ptr<const WrittenForm> written;

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
  // Whether to keep how elements were written (Element::written), which
  // only a document whose signature is checked needs.
  bool keep_written = true;
};

// Parses XML with libxml2: no network, no DTD (a document that declares one
// is refused), no entity expansion beyond the five predefined ones. Input
// may be UTF-8 (with or without byte-order mark) or UTF-16 with a BOM.
// White space between tags is dropped. kTooLarge or kMalformed with a
// message that names the problem and, where known, the line.
Result<Element> ParseXml(std::string_view bytes, const ParseLimits& limits = {});

// XrML "surface-coding" (MS-RMPR 2.2.9.1.12, SIGNATURE): the element as
// it was written, with the white space between tags left out. This is
// what signatures are computed over (after conversion to UTF-16LE), so a
// parsed element keeps its tags and text as written (see
// Element::written). An element OpenRMS builds, or one changed since it
// was parsed, is written with attributes in order, double-quoted and
// escaped, text escaped, and empty elements as <NAME attr="v" />.
std::string SerializeSurface(const Element& element);

// The same content with one element per line and two-space indentation,
// for files people read. White space between tags does not change
// signatures, and tags and text are written as SerializeSurface writes
// them, so both forms verify.
std::string SerializePretty(const Element& element, int indent = 0);

}  // namespace openrms::xrml
