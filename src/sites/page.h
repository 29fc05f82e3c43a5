// The HTML frame shared by OpenRMS's web sites: one stylesheet, a header
// with the site's name, readable notices. Pages are plain server-rendered
// HTML that works without JavaScript, written as Mustache templates under
// templates/ and compiled into the program. Internal to the sites.
#pragma once

#include <kainjow/mustache.hpp>
#include <string>
#include <string_view>

namespace openrms::sites {

// What a template shows. {{name}} escapes the value; {{{name}}} is only for
// HTML that another template produced, never for data. Numbers go in as
// text (std::to_string): kainjow would take an int for a bool.
using TemplateData = kainjow::mustache::data;
using TemplateList = kainjow::mustache::list;

// Renders templates/NAME.mustache. {{> other/name}} includes another
// template. The templates are ours and sites_test renders each of them;
// should one still be malformed, the result is a short message saying so,
// never an exception.
std::string RenderTemplate(std::string_view name, const TemplateData& data);

struct Page {
  std::string site;               // "OpenRMS Enrollment Service"
  std::string title;              // the page's heading and <title>
  std::string body_html;          // rendered from a template
  std::string header_right_html;  // e.g. the signed-in user and "Log off"
};

std::string Render(const Page& page);

enum class NoticeKind { kInfo, kSuccess, kWarning, kError };
// Data for templates/notice.mustache, a boxed message: a bold title and a
// line of text. A page shows it with {{#notice}}{{> notice}}{{/notice}}, or
// alone with RenderTemplate("notice", Notice(...)).
TemplateData Notice(NoticeKind kind, std::string title, std::string text);

}  // namespace openrms::sites
