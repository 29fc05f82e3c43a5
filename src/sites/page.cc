#include "sites/page.h"

#include <map>

#include "sites/template_files.h"

namespace openrms::sites {

namespace {

// The compiled-in templates, as data that {{> name}} finds. Never
// destroyed: a server thread may still render while the process exits.
const std::map<std::string, TemplateData, std::less<>>& Partials() {
  static const auto* partials = [] {
    auto* map = new std::map<std::string, TemplateData, std::less<>>;
    for (const TemplateFile& file : TemplateFiles()) {
      map->emplace(std::string(file.name), TemplateData(std::string(file.text)));
    }
    return map;
  }();
  return *partials;
}

// A rendering context whose partials are the compiled-in templates rather
// than entries of the data.
class TemplateContext final : public kainjow::mustache::context<std::string> {
 public:
  explicit TemplateContext(const TemplateData* data) : context(data) {}
  const TemplateData* get_partial(const std::string& name) const override {
    auto it = Partials().find(name);
    return it == Partials().end() ? nullptr : &it->second;
  }
};

std::string Failure(std::string_view name, const std::string& message) {
  return kainjow::mustache::html_escape("[template " + std::string(name) +
                                        " cannot be rendered: " + message + "]");
}

}  // namespace

std::string RenderTemplate(std::string_view name, const TemplateData& data) {
  auto it = Partials().find(name);
  if (it == Partials().end()) return Failure(name, "no such template");
  kainjow::mustache::mustache tmpl(it->second.string_value());
  if (!tmpl.is_valid()) return Failure(name, tmpl.error_message());
  TemplateContext context(&data);
  std::string html = tmpl.render(context);
  if (!tmpl.is_valid()) return Failure(name, tmpl.error_message());
  return html;
}

std::string Render(const Page& page) {
  TemplateData data;
  data.set("site", page.site);
  data.set("title", page.title);
  data.set("body", page.body_html);
  data.set("header_right", page.header_right_html);
  return RenderTemplate("frame", data);
}

TemplateData Notice(NoticeKind kind, std::string title, std::string text) {
  TemplateData data;
  data.set("kind", kind == NoticeKind::kSuccess   ? "success"
                   : kind == NoticeKind::kWarning ? "warning"
                   : kind == NoticeKind::kError   ? "error"
                                                  : "info");
  data.set("role", kind == NoticeKind::kError ? "alert" : "status");
  data.set("title", std::move(title));
  data.set("text", std::move(text));
  return data;
}

}  // namespace openrms::sites
