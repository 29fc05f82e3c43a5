// The HTML templates of the sites, compiled into the program from
// src/sites/templates (see embed_templates.cmake).
#pragma once

#include <span>
#include <string_view>

namespace openrms::sites {

struct TemplateFile {
  std::string_view name;  // "admin/cluster" for templates/admin/cluster.mustache
  std::string_view text;
};

std::span<const TemplateFile> TemplateFiles();

}  // namespace openrms::sites
