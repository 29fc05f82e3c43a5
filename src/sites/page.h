// The HTML frame shared by OpenRMS's web sites: one stylesheet, a header
// with the site's name, readable notices. Pages are plain server-rendered
// HTML that works without JavaScript.
#pragma once

#include <string>
#include <string_view>

namespace openrms::sites {

struct Page {
  std::string site;               // "OpenRMS Enrollment Service"
  std::string title;              // the page's heading and <title>
  std::string body_html;          // already escaped
  std::string header_right_html;  // e.g. the signed-in user and "Log off"
};

std::string Render(const Page& page);

enum class NoticeKind { kInfo, kSuccess, kWarning, kError };
// A boxed message: a bold title and an escaped detail.
std::string Notice(NoticeKind kind, std::string_view title, std::string_view detail_html);

// HTML-escaped text.
std::string E(std::string_view text);

}  // namespace openrms::sites
