#include "enrollment/renewal_info.h"

#include "base/json.h"
#include "base/text.h"

namespace openrms::enrollment {

RenewalWindow DefaultRenewalWindow(Time from, Time until) {
  const long life = std::max(0L, static_cast<long>((until - from).count()));
  return {from + Duration(life * 2 / 3), from + Duration(life * 5 / 6)};
}

std::string WriteRenewalInfo(const RenewalInfo& info) {
  nlohmann::json j = {
      {"suggested_window",
       {{"start", FormatIso8601(info.window.start)}, {"end", FormatIso8601(info.window.end)}}}};
  if (!info.explanation_url.empty()) j["explanation_url"] = info.explanation_url;
  return WriteJson(j);
}

Result<RenewalInfo> ParseRenewalInfo(std::string_view text) {
  auto j = ParseJson(text, {64 << 10, 8});
  if (!j.ok()) {
    return Status(Code::kMalformed, "the renewal information is not JSON: " + j.status().message());
  }
  const auto window = j->is_object() ? j->find("suggested_window") : j->end();
  if (!j->is_object() || window == j->end() || !window->is_object()) {
    return Status(Code::kMalformed, "the renewal information has no suggested_window object");
  }
  RenewalInfo info;
  for (const char* name : {"start", "end"}) {
    auto field = StringField(*window, name, "", 64);
    if (!field.ok())
      return Status(Code::kMalformed, "the renewal information's " + field.status().message());
    const std::optional<Time> t = ParseTime(*field);
    if (!t) {
      return Status(Code::kMalformed, "the renewal information's suggested_window." +
                                          std::string(name) + " \"" + *field +
                                          "\" is not an ISO 8601 UTC time");
    }
    (std::string_view(name) == "start" ? info.window.start : info.window.end) = *t;
  }
  if (info.window.end <= info.window.start) {
    return Status(Code::kMalformed, "the renewal information's suggested window ends (" +
                                        FormatIso8601(info.window.end) + ") before it starts (" +
                                        FormatIso8601(info.window.start) + ")");
  }
  auto url = StringField(*j, "explanation_url", "", 2048);
  if (!url.ok())
    return Status(Code::kMalformed, "the renewal information's " + url.status().message());
  if (!url->empty() && !IsExplanationUrl(*url)) {
    return Status(Code::kMalformed,
                  "the renewal information's explanation_url is not an http(s) URL");
  }
  info.explanation_url = *url;
  return info;
}

std::optional<Duration> ParseRetryAfter(std::string_view header) {
  header = Trim(header);
  if (header.empty() || header.size() > 12) return std::nullopt;
  long seconds = 0;
  for (char c : header) {
    if (c < '0' || c > '9') return std::nullopt;
    seconds = seconds * 10 + (c - '0');
  }
  return Duration(std::min(seconds, 86400L));
}

bool IsExplanationUrl(std::string_view url) {
  const bool scheme = url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0;
  const size_t host = url.find("//") + 2;
  return scheme && url.size() > host && url.size() <= 2048 &&
         url.find_first_of(" \t\r\n\"'<>\\") == std::string_view::npos && url[host] != '/';
}

}  // namespace openrms::enrollment
