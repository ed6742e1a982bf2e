#include <cstdio>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/output.h"

namespace nil::cli {

Expected<ApiClient*> Context::client() {
  if (!client_) {
    Login login = NIL_TRY(resolve_login(url_flag));
    client_ = std::make_unique<ApiClient>(login.url, login.api_key);
  }
  return client_.get();
}

Expected<json::array> list_all(ApiClient& c, const std::string& path, size_t max_items) {
  json::array items;
  std::string cursor;
  const char sep = path.find('?') == std::string::npos ? '?' : '&';
  for (;;) {
    std::string target = path + sep + "limit=200";
    if (!cursor.empty()) target += "&cursor=" + path_segment(cursor);
    JsonReply r = NIL_TRY(c.get(target));
    if (!r.value.is_object()) return failure("unexpected answer from GET " + path);
    const json::object& o = r.value.as_object();
    if (auto it = o.find("items"); it != o.end() && it->value().is_array()) {
      for (const auto& v : it->value().as_array()) {
        items.push_back(v);
        if (max_items && items.size() >= max_items) return items;
      }
    }
    auto next = o.find("nextCursor");
    if (next == o.end() || !next->value().is_string() || next->value().as_string().empty()) break;
    cursor = std::string(next->value().as_string());
  }
  return items;
}

void print_json_reply(const JsonReply& r) { print_line(r.text.empty() ? "null" : r.text); }

}  // namespace nil::cli
