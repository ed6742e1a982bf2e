#include "invoke/redact.h"

#include <boost/json.hpp>

#include <algorithm>

namespace nil::invoke {

namespace json = boost::json;

namespace {

constexpr std::string_view kMask = "***";

// Replaces every occurrence of `what` in `s`; returns whether any was found.
bool replace_all(std::string& s, std::string_view what) {
  if (what.empty()) return false;
  bool found = false;
  size_t at = 0;
  while ((at = s.find(what, at)) != std::string::npos) {
    s.replace(at, what.size(), kMask);
    at += kMask.size();
    found = true;
  }
  return found;
}

}  // namespace

Redactor::Redactor(std::vector<std::string> secrets) {
  std::erase_if(secrets, [](const std::string& s) { return s.empty(); });
  std::sort(secrets.begin(), secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  secrets.erase(std::unique(secrets.begin(), secrets.end()), secrets.end());
  for (const auto& s : secrets) {
    std::string q = json::serialize(json::string(s));
    escaped_.push_back(q.substr(1, q.size() - 2));
  }
  secrets_ = std::move(secrets);
}

std::string Redactor::text(std::string_view in) const {
  std::string s(in);
  for (size_t i = 0; i < secrets_.size(); ++i) {
    replace_all(s, secrets_[i]);
    if (escaped_[i] != secrets_[i]) replace_all(s, escaped_[i]);
  }
  return s;
}

std::string Redactor::json(std::string s) const {
  if (secrets_.empty()) return s;
  boost::system::error_code ec;
  json::value v = json::parse(s, ec);
  if (ec) return text(s);
  bool changed = false;
  auto redact_string = [&](std::string_view str) -> std::optional<std::string> {
    std::string out(str);
    bool hit = false;
    for (const auto& secret : secrets_) hit |= replace_all(out, secret);
    if (!hit) return std::nullopt;
    return out;
  };
  // Iterative walk: guest output may nest deeply.
  std::vector<json::value*> todo{&v};
  while (!todo.empty()) {
    json::value* cur = todo.back();
    todo.pop_back();
    switch (cur->kind()) {
      case json::kind::string:
        if (auto r = redact_string(cur->get_string())) {
          *cur = json::string(*r);
          changed = true;
        }
        break;
      case json::kind::array:
        for (auto& e : cur->get_array()) todo.push_back(&e);
        break;
      case json::kind::object: {
        json::object& o = cur->get_object();
        bool key_hit = false;
        for (const auto& kv : o) key_hit |= redact_string(kv.key()).has_value();
        if (key_hit) {
          json::object rebuilt;
          for (auto& kv : o) {
            auto k = redact_string(kv.key());
            rebuilt[k ? json::string_view(*k) : kv.key()] = std::move(kv.value());
          }
          o = std::move(rebuilt);
          changed = true;
        }
        for (auto& kv : o) todo.push_back(&kv.value());
        break;
      }
      case json::kind::int64:
      case json::kind::uint64:
      case json::kind::double_: {
        std::string num = json::serialize(*cur);
        if (redact_string(num)) {
          *cur = json::string(kMask);
          changed = true;
        }
        break;
      }
      default:
        break;
    }
  }
  return changed ? json::serialize(v) : s;
}

}  // namespace nil::invoke
