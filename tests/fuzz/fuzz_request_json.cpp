// Fuzz target: the request-JSON parsers (src/api/request_json.h). Input layout: the first byte
// picks the parser, the rest is the body as sent with Content-Type application/json. Every
// parser must return a value or an Error with a code, never crash, and never accept what it
// promises to refuse (checked below for a few invariants).
#include <boost/json.hpp>
#include <cstdint>
#include <string_view>

#include "api/request_json.h"

namespace {

using namespace nil::api;

const std::vector<std::string> kLanguages{"wat", "wasm", "c", "cpp", "assemblyscript"};

void check(bool ok) {
  if (!ok) __builtin_trap();
}

template <typename T>
void expect_code(const nil::Expected<T>& r) {
  if (!r.ok()) check(!r.error().wire_code().empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t which = data[0];
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  // Query-parameter and timestamp parsers take the raw text.
  switch (which % 16) {
    case 14: {
      auto t = parse_rfc3339(body);
      (void)t;
      return 0;
    }
    case 15: {
      auto p = parse_page(std::string(body), std::string(body));
      expect_code(p);
      if (p.ok()) check(p->limit >= 1 && p->limit <= 200);
      return 0;
    }
    default:
      break;
  }
  auto parsed = parse_json_object("application/json", body);
  expect_code(parsed);
  if (!parsed.ok()) return 0;
  const boost::json::object& o = *parsed;
  const bool admin = (which & 0x80) != 0;
  FunctionRules rules{&kLanguages, 1 << 16, admin};
  switch (which % 16) {
    case 0: {
      auto f = parse_new_function(o, rules);
      expect_code(f);
      if (f.ok()) {
        check(check_function_name(f->name).ok());
        check(f->limits.timeout_ms >= 1 && f->limits.timeout_ms <= kMaxTimeoutMs);
        check(f->limits.memory_mb >= 1 && f->limits.memory_mb <= kMaxMemoryMb);
        check(admin || (f->allowed.users.empty() && f->access.http_allow.empty() && !f->is_public));
      }
      break;
    }
    case 1: {
      nil::store::Function current;
      current.language = "wat";
      expect_code(parse_function_update(o, current, rules));
      break;
    }
    case 2: {
      auto e = parse_new_environment(o);
      expect_code(e);
      if (e.ok()) {
        for (const auto& v : e->vars) check(v.value.find('\0') == std::string::npos);
      }
      break;
    }
    case 3: {
      nil::store::Environment current;
      current.vars = {{"TOKEN", "secret-value", true}};
      expect_code(parse_environment_update(o, current));
      break;
    }
    case 4: {
      auto u = parse_new_user(o);
      expect_code(u);
      if (u.ok()) check(check_username(u->username).ok() && check_password(u->password).ok());
      break;
    }
    case 5:
      if (check_user_update_fields(o, admin).ok()) expect_code(parse_user_update(o));
      break;
    case 6:
      expect_code(parse_new_group(o));
      break;
    case 7:
      expect_code(parse_group_member(o));
      break;
    case 8: {
      auto k = parse_new_api_key(o, 1'801'396'800'000'000);
      expect_code(k);
      if (k.ok()) check(!k->name.empty() && k->name.size() <= 100);
      break;
    }
    case 9:
      expect_code(parse_login(o));
      break;
    case 10: {
      auto l = parse_limits(o, nil::store::FunctionLimits{});
      expect_code(l);
      break;
    }
    case 11: {
      auto h = parse_http_allow(o);
      expect_code(h);
      if (h.ok() && *h) {
        for (const auto& host : **h) check(!host.empty() && host.find('/') == std::string::npos);
      }
      break;
    }
    case 12:
      expect_code(parse_vars(o, nullptr));
      break;
    default:
      expect_code(parse_environments(o));
      expect_code(parse_grants(o));
      expect_code(parse_user_grants(o));
      break;
  }
  return 0;
}
