#include "sites/page.h"

#include "base/text.h"

namespace openrms::sites {

namespace {

constexpr char kStyle[] = R"css(
:root { --ink:#1f2933; --muted:#52606d; --line:#d9e2ec; --bg:#f5f7fa; --accent:#0b5cad;
        --ok:#1e7b34; --warn:#8a5a00; --err:#b42318; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
       color:var(--ink); background:var(--bg); }
header { background:#102a43; color:#fff; padding:12px 24px; display:flex;
         justify-content:space-between; align-items:center; }
header .site { font-weight:600; letter-spacing:.2px; }
header a { color:#fff; }
main { max-width:960px; margin:24px auto; padding:0 24px; }
h1 { font-size:24px; margin:0 0 16px; }
h2 { font-size:18px; margin:24px 0 8px; }
section.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:20px;
               margin-bottom:20px; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line);
         vertical-align:top; }
th { color:var(--muted); font-weight:600; width:30%; }
table.list th { width:auto; }
code, .mono { font-family:ui-monospace,Menlo,Consolas,monospace; font-size:13px; }
label { display:block; font-weight:600; margin:12px 0 4px; }
input[type=text], input[type=password], input[type=file], select {
  font:inherit; padding:6px 8px; border:1px solid #9fb3c8; border-radius:4px; width:100%;
  max-width:420px; background:#fff; }
button, .button { font:inherit; padding:7px 16px; border-radius:4px; border:1px solid var(--accent);
  background:var(--accent); color:#fff; cursor:pointer; text-decoration:none; display:inline-block; }
button.secondary, .button.secondary { background:#fff; color:var(--accent); }
.actions { margin-top:16px; display:flex; gap:10px; flex-wrap:wrap; align-items:center; }
.hint { color:var(--muted); font-size:13px; margin:4px 0 0; }
.notice { border-left:5px solid; padding:10px 14px; border-radius:4px; margin:0 0 16px;
          background:#fff; }
.notice strong { display:block; }
.notice.info { border-color:var(--accent); }
.notice.success { border-color:var(--ok); background:#f0faf2; }
.notice.warning { border-color:var(--warn); background:#fff8e6; }
.notice.error { border-color:var(--err); background:#fdf0ef; }
ol.steps li { margin-bottom:10px; }
h3 { font-size:15px; margin:16px 0 6px; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:13px; font-weight:600; }
.badge.ok { background:#e3f5e8; color:var(--ok); }
.badge.warn { background:#fff1cc; color:var(--warn); }
.badge.err { background:#fde3e0; color:var(--err); }
nav.crumbs { margin:-8px 0 12px; font-size:14px; }
.dialog { background:#fff; border:1px solid var(--line); border-radius:8px; padding:20px 24px;
          box-shadow:0 8px 24px rgba(16,42,67,.12); max-width:720px; }
.dialog h2 { margin-top:0; }
form.inline { display:inline; }
button.link { background:none; border:none; color:#fff; text-decoration:underline; padding:0 0 0 8px; }
fieldset.choice { border:1px solid var(--line); border-radius:6px; padding:8px 14px; margin:12px 0; }
label.radio { font-weight:normal; display:block; margin:6px 0; }
.part { border-left:3px solid var(--line); padding:0 0 0 14px; margin:14px 0; }
section.card.narrow { max-width:460px; }
tr.warning td { background:#fffaf0; }
tr.error td { background:#fdf3f2; }
)css";

}  // namespace

std::string E(std::string_view text) { return HtmlEscape(text); }

std::string Render(const Page& page) {
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  html += "<title>" + E(page.title) + " - " + E(page.site) + "</title>";
  html += "<style>";
  html += kStyle;
  html += "</style></head><body><header><span class=\"site\">" + E(page.site) + "</span><span>" +
          page.header_right_html + "</span></header><main><h1>" + E(page.title) + "</h1>";
  html += page.body_html;
  html += "</main></body></html>\n";
  return html;
}

std::string Notice(NoticeKind kind, std::string_view title, std::string_view detail_html) {
  const char* cls = kind == NoticeKind::kSuccess   ? "success"
                    : kind == NoticeKind::kWarning ? "warning"
                    : kind == NoticeKind::kError   ? "error"
                                                   : "info";
  std::string role = kind == NoticeKind::kError ? " role=\"alert\"" : " role=\"status\"";
  return "<div class=\"notice " + std::string(cls) + "\"" + role + "><strong>" + E(title) +
         "</strong>" + std::string(detail_html) + "</div>";
}

}  // namespace openrms::sites
