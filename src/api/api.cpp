#include "api/api.h"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cctype>
#include <ctime>
#include <regex>

#include "api/multipart.h"
#include "api/problem.h"
#include "common/json_text.h"
#include "common/log.h"
#include "common/util.h"

namespace nil::api {

namespace json = boost::json;
namespace net = boost::asio;

namespace {

constexpr uint32_t kMaxTimeoutMs = 900'000;
constexpr uint32_t kMaxMemoryMb = 4096;

Error invalid(std::string code, std::string msg) {
  return make_error(ErrorKind::kInvalidInput, std::move(code), std::move(msg));
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// The media type without parameters, lower-cased.
std::string media_type(const Request& req) {
  auto it = req.find(http::field::content_type);
  if (it == req.end()) return {};
  std::string_view v = it->value();
  v = v.substr(0, v.find(';'));
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return lower(v);
}

bool is_json_media(std::string_view mt) {
  return mt == "application/json" || (mt.starts_with("application/") && mt.ends_with("+json"));
}

// Parses JSON and reports where it broke as line:column.
Expected<json::value> parse_json_text(std::string_view text) {
  json::stream_parser p;
  boost::system::error_code ec;
  size_t n = p.write(text.data(), text.size(), ec);
  if (!ec) p.finish(ec);
  if (ec) {
    size_t at = std::min(n, text.size());
    size_t line = 1 + std::count(text.begin(), text.begin() + static_cast<long>(at), '\n');
    size_t last_nl = text.rfind('\n', at == 0 ? 0 : at - 1);
    size_t col = last_nl == std::string_view::npos || at == 0 ? at + 1 : at - last_nl;
    return invalid("malformed_json", "malformed JSON at line " + std::to_string(line) + ", column " +
                                         std::to_string(col) + ": " + ec.message());
  }
  return p.release();
}

Expected<json::value> parse_json_body(const Request& req, bool empty_is_null) {
  std::string mt = media_type(req);
  if (req.body().empty() && empty_is_null && (mt.empty() || is_json_media(mt))) return json::value(nullptr);
  if (!is_json_media(mt)) {
    return make_error(ErrorKind::kUnsupported, "unsupported_media_type",
                      mt.empty() ? "Content-Type must be application/json"
                                 : "Content-Type must be application/json, not " + mt);
  }
  return parse_json_text(req.body());
}

Expected<json::object> parse_json_object(const Request& req) {
  json::value v = NIL_TRY(parse_json_body(req, false));
  if (!v.is_object()) return invalid("invalid_body", "the body must be a JSON object");
  return std::move(v.as_object());
}

Expected<void> only_fields(const json::object& o, std::initializer_list<std::string_view> known) {
  for (const auto& kv : o) {
    if (std::find(known.begin(), known.end(), kv.key()) == known.end()) {
      return invalid("unknown_field", "unknown field \"" + std::string(kv.key()) + "\"");
    }
  }
  return {};
}

Expected<std::optional<std::string>> string_field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<std::string>{};
  if (!it->value().is_string()) return invalid("invalid_field", "\"" + std::string(key) + "\" must be a string");
  return std::optional<std::string>(std::string(it->value().as_string()));
}

Expected<store::FunctionLimits> parse_limits(const json::object& o, store::FunctionLimits base) {
  auto it = o.find("limits");
  if (it == o.end() || it->value().is_null()) return base;
  if (!it->value().is_object()) return invalid("invalid_limits", "\"limits\" must be an object");
  const json::object& l = it->value().as_object();
  for (const auto& kv : l) {
    if (kv.key() != "timeoutMs" && kv.key() != "memoryMb") {
      return invalid("unknown_field", "unknown field \"limits." + std::string(kv.key()) + "\"");
    }
    if (!kv.value().is_int64() && !kv.value().is_uint64()) {
      return invalid("invalid_limits", "\"limits." + std::string(kv.key()) + "\" must be an integer");
    }
    int64_t v = kv.value().is_int64() ? kv.value().as_int64() : static_cast<int64_t>(kv.value().as_uint64());
    if (kv.key() == "timeoutMs") {
      if (v < 1 || v > kMaxTimeoutMs) {
        return invalid("invalid_limits", "limits.timeoutMs must be between 1 and " + std::to_string(kMaxTimeoutMs));
      }
      base.timeout_ms = static_cast<uint32_t>(v);
    } else {
      if (v < 1 || v > kMaxMemoryMb) {
        return invalid("invalid_limits", "limits.memoryMb must be between 1 and " + std::to_string(kMaxMemoryMb));
      }
      base.memory_mb = static_cast<uint32_t>(v);
    }
  }
  return base;
}

Expected<void> check_name(std::string_view name) {
  static const std::regex kName("^[a-z][a-z0-9-]{0,62}$");
  if (!std::regex_match(name.begin(), name.end(), kName)) {
    return invalid("invalid_name", "name must match ^[a-z][a-z0-9-]{0,62}$");
  }
  if (name == "deploy") return invalid("reserved_name", "\"deploy\" is reserved by POST /functions/v1/deploy");
  return {};
}

// --- environments and function access (issue 4) ------------------------------------------------

constexpr size_t kMaxEnvVars = 256;
constexpr size_t kMaxEnvValueBytes = 32 << 10;
// Redaction replaces a secret wherever it appears in logs and output; a very short one would
// match everywhere and still reveal little, so secrets must be at least this long.
constexpr size_t kMinSecretBytes = 4;
constexpr size_t kMaxAttachedEnvironments = 16;
constexpr size_t kMaxHttpAllow = 64;
constexpr std::string_view kSecretMask = "***";
constexpr std::string_view kKnownGrants[] = {"db:ddl"};

Expected<void> check_environment_name(std::string_view name) {
  static const std::regex kName("^[a-z][a-z0-9-]{0,62}$");
  if (!std::regex_match(name.begin(), name.end(), kName)) {
    return invalid("invalid_name", "name must match ^[a-z][a-z0-9-]{0,62}$");
  }
  return {};
}

// A list field: absent/null → nullopt; otherwise an array of strings.
Expected<std::optional<std::vector<std::string>>> string_list_field(const json::object& o,
                                                                    std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<std::vector<std::string>>{};
  std::string name(key);
  if (!it->value().is_array()) return invalid("invalid_field", "\"" + name + "\" must be an array of strings");
  std::vector<std::string> out;
  for (const auto& v : it->value().as_array()) {
    if (!v.is_string()) return invalid("invalid_field", "\"" + name + "\" must be an array of strings");
    out.emplace_back(v.as_string());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

// "environments": ids or names, in order (the store checks that they exist).
Expected<std::optional<std::vector<std::string>>> parse_environments(const json::object& o) {
  auto list = NIL_TRY(string_list_field(o, "environments"));
  if (!list) return list;
  if (list->size() > kMaxAttachedEnvironments) {
    return invalid("invalid_field", "\"environments\" holds at most " + std::to_string(kMaxAttachedEnvironments) + " entries");
  }
  for (size_t i = 0; i < list->size(); ++i) {
    if ((*list)[i].empty()) return invalid("invalid_field", "\"environments\" entries must not be empty");
    for (size_t j = 0; j < i; ++j) {
      if ((*list)[i] == (*list)[j]) return invalid("invalid_field", "environment \"" + (*list)[i] + "\" is listed twice");
    }
  }
  return list;
}

// "httpAllow": hosts a function may fetch from: "api.example.com", "api.example.com:8443",
// "127.0.0.1:8081", "[::1]:8081". Matching is exact on the host (no wildcards); without a port
// any port of that host is allowed. Lower-cased; no duplicates.
Expected<std::optional<std::vector<std::string>>> parse_http_allow(const json::object& o) {
  auto list = NIL_TRY(string_list_field(o, "httpAllow"));
  if (!list) return list;
  if (list->size() > kMaxHttpAllow) {
    return invalid("invalid_http_allow", "\"httpAllow\" holds at most " + std::to_string(kMaxHttpAllow) + " hosts");
  }
  static const std::regex kHost(
      "^(([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*|\\[[0-9a-f:.]+\\])(:([0-9]{1,5}))?$");
  std::vector<std::string> out;
  for (const auto& raw : *list) {
    std::string host = lower(raw);
    std::smatch m;
    if (host.size() > 261 || !std::regex_match(host, m, kHost)) {
      return invalid("invalid_http_allow", "\"" + raw + "\" is not a host or host:port (no scheme, path or wildcard)");
    }
    if (m[7].matched) {
      long port = std::strtol(m[7].str().c_str(), nullptr, 10);
      if (port < 1 || port > 65535) return invalid("invalid_http_allow", "\"" + raw + "\": port must be 1..65535");
    }
    if (std::find(out.begin(), out.end(), host) == out.end()) out.push_back(std::move(host));
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Expected<std::optional<std::vector<std::string>>> parse_grants(const json::object& o) {
  auto list = NIL_TRY(string_list_field(o, "grants"));
  if (!list) return list;
  std::vector<std::string> out;
  for (const auto& g : *list) {
    if (std::find(std::begin(kKnownGrants), std::end(kKnownGrants), g) == std::end(kKnownGrants)) {
      return invalid("unknown_grant", "unknown grant \"" + g + "\" (known: db:ddl)");
    }
    if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

// "vars": [{"key","value","secret"?}]. `current` (on PUT) lets a secret be kept without resending
// it: {"key":"TOKEN","secret":true} with no "value" keeps TOKEN's stored secret value.
Expected<std::vector<store::EnvironmentVar>> parse_vars(const json::object& o, const store::Environment* current) {
  auto it = o.find("vars");
  if (it == o.end() || it->value().is_null()) return std::vector<store::EnvironmentVar>{};
  if (!it->value().is_array()) return invalid("invalid_field", "\"vars\" must be an array of {\"key\",\"value\",\"secret\"}");
  const json::array& arr = it->value().as_array();
  if (arr.size() > kMaxEnvVars) {
    return invalid("too_many_env_vars", "an environment holds at most " + std::to_string(kMaxEnvVars) + " keys");
  }
  static const std::regex kKey("^[A-Za-z_][A-Za-z0-9_]{0,127}$");
  std::vector<store::EnvironmentVar> out;
  for (const auto& v : arr) {
    if (!v.is_object()) return invalid("invalid_field", "each of \"vars\" must be an object {\"key\",\"value\",\"secret\"}");
    const json::object& var = v.as_object();
    for (const auto& kv : var) {
      if (kv.key() != "key" && kv.key() != "value" && kv.key() != "secret") {
        return invalid("unknown_field", "unknown field \"vars[]." + std::string(kv.key()) + "\"");
      }
    }
    store::EnvironmentVar ev;
    auto key = NIL_TRY(string_field(var, "key"));
    if (!key) return invalid("missing_field", "\"vars[].key\" is required");
    if (!std::regex_match(*key, kKey)) {
      std::string shown = key->size() > 64 ? key->substr(0, 64) + "..." : *key;
      return invalid("invalid_env_key", "key \"" + shown + "\" must match ^[A-Za-z_][A-Za-z0-9_]{0,127}$");
    }
    ev.key = std::move(*key);
    if (auto s = var.find("secret"); s != var.end() && !s->value().is_null()) {
      if (!s->value().is_bool()) return invalid("invalid_field", "\"vars[].secret\" must be a boolean");
      ev.secret = s->value().as_bool();
    }
    auto value = NIL_TRY(string_field(var, "value"));
    if (!value) {
      const store::EnvironmentVar* kept = nullptr;
      if (current && ev.secret) {
        for (const auto& cv : current->vars) {
          if (cv.key == ev.key && cv.secret) kept = &cv;
        }
      }
      if (!kept) return invalid("missing_field", "\"vars[].value\" is required for key " + ev.key + " (only an existing secret may omit it to keep its value)");
      value = kept->value;
    }
    // Values are never echoed in errors: they may be secrets.
    if (value->size() > kMaxEnvValueBytes) {
      return invalid("invalid_env_value", "the value of " + ev.key + " is over " + std::to_string(kMaxEnvValueBytes) + " bytes");
    }
    if (value->find('\0') != std::string::npos) {
      return invalid("invalid_env_value", "the value of " + ev.key + " contains a NUL character");
    }
    if (ev.secret && value->size() < kMinSecretBytes) {
      return invalid("invalid_env_value", "the secret value of " + ev.key + " must be at least " + std::to_string(kMinSecretBytes) + " bytes");
    }
    ev.value = std::move(*value);
    for (const auto& prev : out) {
      if (prev.key == ev.key) return invalid("duplicate_env_key", "key " + ev.key + " appears twice");
    }
    out.push_back(std::move(ev));
  }
  return out;
}

json::object environment_json(const store::Environment& e) {
  json::array vars;
  for (const auto& v : e.vars) {
    vars.push_back(json::object{{"key", v.key}, {"value", v.secret ? kSecretMask : std::string_view(v.value)}, {"secret", v.secret}});
  }
  json::object o;
  o["id"] = e.id;
  o["name"] = e.name;
  o["vars"] = std::move(vars);
  json::array users, groups;
  for (const auto& u : e.allowed.users) users.push_back(json::value(u));
  for (const auto& g : e.allowed.groups) groups.push_back(json::value(g));
  o["allowedUsers"] = std::move(users);
  o["allowedGroups"] = std::move(groups);
  o["createdAt"] = format_rfc3339(e.created_at);
  o["updatedAt"] = format_rfc3339(e.updated_at);
  return o;
}

json::array string_array(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.push_back(json::string(s));
  return a;
}

// Responses: doubles (durations in ms) rounded to microseconds, as plain decimals
// (common/json_text.h).
std::string to_json_text(const json::value& v) { return nil::to_json_text(v, 3); }

json::value optional_string(const std::optional<std::string>& s) {
  return s ? json::value(*s) : json::value(nullptr);
}

// --- users, groups, keys, sessions (issue 5) ---------------------------------------------------

constexpr std::string_view kSessionCookie = "nil_session";
constexpr std::string_view kKnownUserGrants[] = {"deploy"};
constexpr size_t kMinPasswordBytes = 8;
constexpr size_t kMaxPasswordBytes = 1024;

Error forbidden(std::string msg) { return make_error(ErrorKind::kForbidden, "forbidden", std::move(msg)); }
Error unauthorized(std::string msg) { return make_error(ErrorKind::kUnauthenticated, "unauthorized", std::move(msg)); }
Error admin_only() { return forbidden("this needs the admin role"); }

Error function_not_found(std::string_view ref) {
  return make_error(ErrorKind::kNotFound, "function_not_found", "no function with id or name '" + std::string(ref) + "'");
}
Error environment_not_found(std::string_view ref) {
  return make_error(ErrorKind::kNotFound, "environment_not_found", "no environment with id or name '" + std::string(ref) + "'");
}
Error user_not_found(std::string_view ref) {
  return make_error(ErrorKind::kNotFound, "user_not_found", "no user with id or username '" + std::string(ref) + "'");
}

Expected<void> check_username(std::string_view name) {
  static const std::regex kUser("^[a-z][a-z0-9_.-]{0,62}$");
  if (!std::regex_match(name.begin(), name.end(), kUser) || is_uuid(name)) {
    return invalid("invalid_username", "username must match ^[a-z][a-z0-9_.-]{0,62}$ and not be a UUID");
  }
  return {};
}

Expected<void> check_password(std::string_view pw) {
  if (pw.size() < kMinPasswordBytes || pw.size() > kMaxPasswordBytes) {
    return invalid("invalid_password", "password must be " + std::to_string(kMinPasswordBytes) + " to " +
                                           std::to_string(kMaxPasswordBytes) + " bytes");
  }
  return {};
}

Expected<store::Role> parse_role_field(const json::object& o) {
  auto role = NIL_TRY(string_field(o, "role"));
  if (!role) return invalid("missing_field", "\"role\" is required");
  auto r = store::parse_role(*role);
  if (!r) return invalid("invalid_role", "role must be \"admin\" or \"dev\"");
  return *r;
}

Expected<std::optional<std::vector<std::string>>> parse_user_grants(const json::object& o) {
  auto list = NIL_TRY(string_list_field(o, "grants"));
  if (!list) return list;
  std::vector<std::string> out;
  for (const auto& g : *list) {
    if (std::find(std::begin(kKnownUserGrants), std::end(kKnownUserGrants), g) == std::end(kKnownUserGrants)) {
      return invalid("unknown_grant", "unknown grant \"" + g + "\" (known for users: deploy)");
    }
    if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

// RFC 3339 with a Z or ±HH:MM offset, optional fraction: microseconds since the epoch.
std::optional<int64_t> parse_rfc3339(std::string_view s) {
  static const std::regex kTs(
      "^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$");
  std::cmatch m;
  if (!std::regex_match(s.begin(), s.end(), m, kTs)) return std::nullopt;
  auto num = [&](int i) { return std::atoi(m[i].str().c_str()); };
  std::tm tm{};
  tm.tm_year = num(1) - 1900;
  tm.tm_mon = num(2) - 1;
  tm.tm_mday = num(3);
  tm.tm_hour = num(4);
  tm.tm_min = num(5);
  tm.tm_sec = num(6);
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  int64_t secs = static_cast<int64_t>(timegm(&tm));
  int64_t micros = 0;
  if (m[7].matched) {
    std::string frac = m[7].str().substr(1);
    frac.resize(6, '0');
    micros = std::atoll(frac.c_str());
  }
  std::string off = m[8].str();
  if (off != "Z" && off != "z") {
    int64_t o = (std::atoi(off.substr(1, 2).c_str()) * 60 + std::atoi(off.substr(4, 2).c_str())) * 60;
    secs -= off[0] == '+' ? o : -o;
  }
  return secs * 1'000'000 + micros;
}

json::value optional_time(const std::optional<int64_t>& t) { return t ? json::value(format_rfc3339(*t)) : json::value(nullptr); }

json::object user_json(const store::User& u) {
  json::array groups;
  for (const auto& g : u.groups) groups.push_back(json::object{{"id", g.id}, {"name", g.name}});
  json::array grants;
  for (const auto& g : u.grants) grants.push_back(json::value(g));
  return json::object{{"id", u.id},
                      {"username", u.username},
                      {"role", store::to_string(u.role)},
                      {"grants", std::move(grants)},
                      {"groups", std::move(groups)},
                      {"createdAt", format_rfc3339(u.created_at)}};
}

json::array members_json(const store::Group& g) {
  json::array members;
  for (const auto& m : g.members) members.push_back(json::object{{"id", m.id}, {"username", m.username}});
  return members;
}

json::object group_json(const store::Group& g) {
  return json::object{{"id", g.id}, {"name", g.name}, {"members", members_json(g)}, {"createdAt", format_rfc3339(g.created_at)}};
}

json::object api_key_json(const store::ApiKey& k) {
  return json::object{{"id", k.id},
                      {"name", k.name},
                      {"userId", k.user_id},
                      {"username", k.username},
                      {"prefix", k.prefix},
                      {"createdAt", format_rfc3339(k.created_at)},
                      {"expiresAt", optional_time(k.expires_at)},
                      {"lastUsedAt", optional_time(k.last_used_at)},
                      {"revoked", k.revoked}};
}

// The value of one cookie in the Cookie header, or "".
std::string_view cookie_value(const Request& req, std::string_view name) {
  auto it = req.find(http::field::cookie);
  if (it == req.end()) return {};
  std::string_view v = it->value();
  while (!v.empty()) {
    size_t semi = v.find(';');
    std::string_view pair = v.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
    if (semi == std::string_view::npos) break;
    v.remove_prefix(semi + 1);
  }
  return {};
}

std::string_view header_value(const Request& req, std::string_view name) {
  auto it = req.find(name);
  return it == req.end() ? std::string_view{} : std::string_view(it->value());
}

bool is_state_changing(http::verb m) {
  return m == http::verb::post || m == http::verb::put || m == http::verb::patch || m == http::verb::delete_;
}

bool is_self(const auth::Principal& p, std::string_view ref) { return ref == p.user_id || ref == p.username; }

json::array id_array(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.push_back(json::value(s));
  return a;
}

// `tier` is where the function runs now (or on its next call): "native" once its module's
// native artifact is built, else "interpreter".
json::object function_json(const store::Function& f, const invoke::Invoker& invoker) {
  json::object o;
  o["id"] = f.id;
  o["name"] = f.name;
  o["language"] = f.language;
  o["status"] = store::to_string(f.status);
  o["compileError"] = optional_string(f.compile_error);
  o["wasmSha256"] = optional_string(f.wasm_sha256);
  o["version"] = f.version;
  o["createdAt"] = format_rfc3339(f.created_at);
  o["updatedAt"] = format_rfc3339(f.updated_at);
  o["limits"] = json::object{{"timeoutMs", f.limits.timeout_ms}, {"memoryMb", f.limits.memory_mb}};
  o["environments"] = string_array(f.access.environments);
  o["httpAllow"] = string_array(f.access.http_allow);
  o["grants"] = string_array(f.access.grants);
  o["allowedUsers"] = id_array(f.allowed.users);
  o["allowedGroups"] = id_array(f.allowed.groups);
  o["public"] = f.is_public;
  o["tier"] = invoker.tier(f);
  return o;
}

json::value stored_json(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  return ec ? json::value(*text) : v;
}

json::value error_json(const std::optional<store::ExecutionError>& e) {
  if (!e) return nullptr;
  return json::object{{"type", e->type}, {"message", e->message}};
}

json::object execution_json(const store::Execution& e) {
  json::object o;
  o["id"] = e.id;
  o["functionId"] = e.function_id;
  o["status"] = store::to_string(e.status);
  o["input"] = stored_json(e.input);
  o["output"] = stored_json(e.output);
  o["error"] = error_json(e.error);
  o["logs"] = e.logs;
  o["durationMs"] = e.duration_ms;
  o["startedAt"] = format_rfc3339(e.started_at);
  o["finishedAt"] = format_rfc3339(e.finished_at);
  o["trigger"] = e.trigger;
  json::value calls = stored_json(e.host_calls);
  o["hostCalls"] = calls.is_array() ? calls : json::array();
  o["userId"] = optional_string(e.user_id);
  return o;
}

// The execute answer is on the hot path: the output is already validated JSON text, so it is
// spliced in as is instead of being parsed and re-serialised.
std::string execute_body(const store::Execution& e) {
  std::string s;
  s.reserve(128 + (e.output ? e.output->size() : 0));
  s += "{\"executionId\":\"";
  s += e.id;
  s += "\",\"status\":\"";
  s += store::to_string(e.status);
  s += "\",\"output\":";
  s += e.output ? *e.output : "null";
  s += ",\"error\":";
  s += json::serialize(error_json(e.error));
  s += ",\"durationMs\":";
  s += to_json_text(json::value(e.duration_ms));
  s += '}';
  return s;
}

}  // namespace

// Executes of functions that recently took this long or more leave the I/O loop (Api::handle).
// 1 ms: well above a trivial function's 2-10 us, and short enough that no connection sharing
// the loop waits for more than about that behind a function that became slow.
constexpr double kOffloadAfterMs = 1.0;
constexpr int kOffloadThreads = 16;

struct Api::Impl {
  Impl(ApiOptions o, ApiDeps d)
      : opts(std::move(o)),
        deps(std::move(d)),
        pool(std::max(1, opts.work_threads)),
        offload(kOffloadThreads),
        key_limiter(opts.key_rate, opts.key_burst),
        login_throttle(opts.login_max_failures_user, opts.login_max_failures_address, opts.login_window) {}

  ApiOptions opts;
  ApiDeps deps;
  net::thread_pool pool;
  net::thread_pool offload;  // slow executes, when requests otherwise run on the I/O loops
  auth::RateLimiter key_limiter;
  auth::LoginThrottle login_throttle;

  Response json_response(const Request& req, http::status status, const json::value& v) {
    return text_response(req, status, to_json_text(v), "application/json");
  }
  Response text_response(const Request& req, http::status status, std::string body, std::string_view ct) {
    Response res{status, req.version()};
    res.set(http::field::content_type, ct);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    return res;
  }
  Response fail(const Request& req, const Error& e) {
    if (e.kind == ErrorKind::kInternal) {
      log::error("request failed", {{"code", e.code}, {"error", e.message}, {"target", std::string(req.target())}});
    }
    return problem(e, std::string_view(req.target().data(), req.target().size()), req.version(), req.keep_alive());
  }

  Expected<store::PageRequest> page_request(const boost::urls::url_view& url) {
    store::PageRequest page;
    if (auto it = url.params().find("limit"); it != url.params().end()) {
      std::string v = (*it).value;
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 1 || n > 200) return invalid("invalid_limit", "limit must be between 1 and 200");
      page.limit = static_cast<uint32_t>(n);
    }
    if (auto it = url.params().find("cursor"); it != url.params().end()) {
      std::string v = (*it).value;
      if (!v.empty()) page.cursor = v;
    }
    return page;
  }

  Expected<std::string> source_from(const json::object& body, const std::string& language, bool required) {
    if (language == "wasm") {
      if (body.contains("source")) return invalid("invalid_field", "language \"wasm\" takes \"wasmBase64\", not \"source\"");
      auto b64 = NIL_TRY(string_field(body, "wasmBase64"));
      if (!b64) {
        if (!required) return std::string();
        return invalid("missing_field", "\"wasmBase64\" is required for language \"wasm\"");
      }
      auto bytes = base64_decode(*b64);
      if (!bytes) return invalid("invalid_base64", "\"wasmBase64\" is not valid base64");
      if (bytes->empty()) return invalid("invalid_field", "\"wasmBase64\" is empty");
      return std::move(*bytes);
    }
    if (body.contains("wasmBase64")) return invalid("invalid_field", "\"wasmBase64\" is only for language \"wasm\"");
    auto src = NIL_TRY(string_field(body, "source"));
    if (!src) {
      if (!required) return std::string();
      return invalid("missing_field", "\"source\" is required");
    }
    if (src->empty()) return invalid("invalid_field", "\"source\" is empty");
    if (src->size() > opts.max_source_bytes) {
      return make_error(ErrorKind::kTooLarge, "source_too_large",
                        "source is larger than " + std::to_string(opts.max_source_bytes) + " bytes");
    }
    return std::move(*src);
  }

  Expected<std::string> language_from(const json::object& body, bool required) {
    auto lang = NIL_TRY(string_field(body, "language"));
    if (!lang) {
      if (!required) return std::string();
      return invalid("missing_field", "\"language\" is required");
    }
    if (std::find(opts.languages.begin(), opts.languages.end(), *lang) == opts.languages.end()) {
      std::string list;
      for (const auto& l : opts.languages) list += (list.empty() ? "" : ", ") + l;
      return invalid("unsupported_language", "language \"" + *lang + "\" is not supported (supported: " + list + ")");
    }
    return std::move(*lang);
  }

  Response created(const Request& req, const store::Function& f) {
    log::info("function registered", {{"functionId", f.id}, {"function", f.name}, {"language", f.language}});
    deps.compile_enqueued();
    Response res = json_response(req, http::status::accepted, function_json(f, deps.invoker));
    res.set(http::field::location, "/functions/" + f.id);
    return res;
  }

  // Fields only an admin may set on a function: who may use it, and what it may reach.
  static Expected<void> admin_fields_only(const auth::Principal& p, const json::object& body) {
    if (p.is_admin()) return {};
    for (std::string_view f : {"allowedUsers", "allowedGroups", "public", "environments", "httpAllow", "grants"}) {
      if (body.contains(f)) return forbidden("only an admin may set \"" + std::string(f) + "\"");
    }
    return {};
  }

  static Expected<std::optional<bool>> bool_field(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return std::optional<bool>{};
    if (!it->value().is_bool()) return invalid("invalid_field", "\"" + std::string(key) + "\" must be a boolean");
    return std::optional<bool>(it->value().as_bool());
  }

  Expected<store::Function> accessible_function(const auth::Principal& p, std::string_view ref) {
    auto f = deps.store.get_function(ref);
    if (!f) return f.error();
    if (!auth::can_access(p, f->allowed)) return function_not_found(ref);
    return f;
  }

  Expected<store::Environment> accessible_environment(const auth::Principal& p, std::string_view ref) {
    auto e = deps.store.get_environment(ref);
    if (!e) return e.error();
    if (!auth::can_access(p, e->allowed)) return environment_not_found(ref);
    return e;
  }

  Expected<Response> create_function(const Request& req, const auth::Principal& p) {
    if (!auth::can_deploy(p)) return forbidden("deploying needs the admin role or the \"deploy\" grant");
    json::object body = NIL_TRY(parse_json_object(req));
    NIL_TRY_VOID(only_fields(body, {"name", "language", "source", "wasmBase64", "limits", "environments", "httpAllow", "grants",
                                    "allowedUsers", "allowedGroups", "public"}));
    NIL_TRY_VOID(admin_fields_only(p, body));
    auto name = NIL_TRY(string_field(body, "name"));
    if (!name) return invalid("missing_field", "\"name\" is required");
    NIL_TRY_VOID(check_name(*name));
    store::NewFunction nf;
    nf.name = *name;
    nf.language = NIL_TRY(language_from(body, true));
    nf.source = NIL_TRY(source_from(body, nf.language, true));
    nf.limits = NIL_TRY(parse_limits(body, store::FunctionLimits{}));
    nf.access.environments = NIL_TRY(parse_environments(body)).value_or(std::vector<std::string>{});
    nf.access.http_allow = NIL_TRY(parse_http_allow(body)).value_or(std::vector<std::string>{});
    nf.access.grants = NIL_TRY(parse_grants(body)).value_or(std::vector<std::string>{});
    nf.allowed.users = NIL_TRY(string_list_field(body, "allowedUsers")).value_or(std::vector<std::string>{});
    nf.allowed.groups = NIL_TRY(string_list_field(body, "allowedGroups")).value_or(std::vector<std::string>{});
    nf.is_public = NIL_TRY(bool_field(body, "public")).value_or(false);
    // A developer's function is theirs alone until an admin shares it.
    if (!p.is_admin()) nf.allowed.users = {p.user_id};
    store::Function f = NIL_TRY(deps.store.create_function(nf));
    return created(req, f);
  }

  Expected<Response> update_function(const Request& req, std::string_view ref, const auth::Principal& p) {
    store::Function current = NIL_TRY(accessible_function(p, ref));
    if (!auth::can_deploy(p)) return forbidden("changing a function needs the admin role or the \"deploy\" grant");
    json::object body = NIL_TRY(parse_json_object(req));
    NIL_TRY_VOID(only_fields(body, {"language", "source", "wasmBase64", "limits", "environments", "httpAllow", "grants",
                                    "allowedUsers", "allowedGroups", "public"}));
    NIL_TRY_VOID(admin_fields_only(p, body));
    store::FunctionUpdate u;
    std::string lang = NIL_TRY(language_from(body, false));
    if (!lang.empty() && lang != current.language) u.language = lang;
    const std::string& effective = lang.empty() ? current.language : lang;
    std::string src = NIL_TRY(source_from(body, effective, u.language.has_value()));
    if (!src.empty()) u.source = std::move(src);
    if (body.contains("limits")) u.limits = NIL_TRY(parse_limits(body, current.limits));
    u.environments = NIL_TRY(parse_environments(body));
    u.http_allow = NIL_TRY(parse_http_allow(body));
    u.grants = NIL_TRY(parse_grants(body));
    u.allowed_users = NIL_TRY(string_list_field(body, "allowedUsers"));
    u.allowed_groups = NIL_TRY(string_list_field(body, "allowedGroups"));
    u.is_public = NIL_TRY(bool_field(body, "public"));
    if (!u.language && !u.source && !u.limits && !u.environments && !u.http_allow && !u.grants && !u.allowed_users &&
        !u.allowed_groups && !u.is_public) {
      return invalid("invalid_body",
                     "nothing to update: give \"source\", \"language\", \"limits\", \"environments\", "
                     "\"httpAllow\", \"grants\", \"allowedUsers\", \"allowedGroups\" or \"public\"");
    }
    bool recompile = u.source.has_value() || u.language.has_value();
    store::Function f = NIL_TRY(deps.store.update_function(current.id, u));
    deps.invoker.invalidate(f.id);
    if (recompile) {
      deps.compile_enqueued();
      log::info("function updated", {{"functionId", f.id}, {"version", f.version}});
      return json_response(req, http::status::accepted, function_json(f, deps.invoker));
    }
    return json_response(req, http::status::ok, function_json(f, deps.invoker));
  }

  Expected<Response> deploy(const Request& req, const auth::Principal& p) {
    if (!auth::can_deploy(p)) return forbidden("deploying needs the admin role or the \"deploy\" grant");
    auto it = req.find(http::field::content_type);
    auto boundary = multipart_boundary(it == req.end() ? std::string_view{} : std::string_view(it->value()));
    if (!boundary) {
      return make_error(ErrorKind::kUnsupported, "unsupported_media_type",
                        "Content-Type must be multipart/form-data with a boundary");
    }
    auto parts = NIL_TRY(parse_multipart(req.body(), *boundary));
    const FormPart* name = nullptr;
    const FormPart* wasm = nullptr;
    for (const auto& p : parts) {
      if (p.name == "name") name = &p;
      if (p.name == "wasm") wasm = &p;
    }
    if (!name) return invalid("invalid_multipart", "the form needs a \"name\" field");
    if (!wasm || wasm->data.empty()) return invalid("invalid_multipart", "the form needs a non-empty \"wasm\" file part");
    NIL_TRY_VOID(check_name(name->data));
    // Deploy is an upsert: a new name creates the function, an existing one gets the new module.
    auto existing = deps.store.get_function(name->data);
    if (existing && !auth::can_access(p, existing->allowed)) return function_not_found(name->data);
    if (existing) {
      store::FunctionUpdate u;
      u.language = "wasm";
      u.source = wasm->data;
      store::Function f = NIL_TRY(deps.store.update_function(existing->id, u));
      deps.invoker.invalidate(f.id);
      deps.compile_enqueued();
      return json_response(req, http::status::accepted, function_json(f, deps.invoker));
    }
    if (existing.error().code != "function_not_found") return existing.error();
    store::NewFunction nf{name->data, "wasm", wasm->data, store::FunctionLimits{}, {}, {}, false};
    if (!p.is_admin()) nf.allowed.users = {p.user_id};
    store::Function f = NIL_TRY(deps.store.create_function(nf));
    return created(req, f);
  }

  // `p` null: an anonymous v1 call, allowed for public functions only.
  Expected<Response> execute(const Request& req, std::string_view ref, bool raw, const auth::Principal* p) {
    json::value input = NIL_TRY(parse_json_body(req, true));
    std::string input_text = req.body().empty() ? std::string("null") : std::string(req.body());
    (void)input;
    invoke::Caller caller;
    if (p != nullptr) {
      caller.user_id = p->user_id;
      caller.username = p->username;
      caller.role = std::string(store::to_string(p->role));
    }
    // Checked against the invoker's cached function: no store read on the hot path. The
    // per-function rate and concurrency limits are the invoker's (invoke::LimitEnforcer).
    caller.authorize = [p, ref](const store::Function& f) -> Expected<void> {
      if (p == nullptr) {
        if (!f.is_public) return unauthorized("authentication required (Authorization: Bearer nil_…)");
      } else if (!f.is_public && !auth::can_access(*p, f.allowed)) {
        return function_not_found(ref);
      }
      return {};
    };
    // invoke-context: this handler is a trigger; it builds the invocation's context and hands it over.
    auto invoked = deps.invoker.invoke(invoke::InvocationContext(
        std::string(ref), raw ? invoke::Trigger::kHttp : invoke::Trigger::kApi, std::move(input_text),
        std::move(caller)));
    if (!invoked && p == nullptr &&
        (invoked.error().code == "function_not_found" || invoked.error().code == "function_not_ready")) {
      // Anonymous callers learn nothing about functions that are not public.
      return unauthorized("authentication required (Authorization: Bearer nil_…)");
    }
    if (!invoked) return invoked.error();
    store::Execution ex = std::move(invoked).value();
    if (!raw) return text_response(req, http::status::ok, execute_body(ex), "application/json");
    if (ex.status == store::ExecutionStatus::kSucceeded) {
      Response res = text_response(req, http::status::ok, *ex.output, "application/json");
      res.set("X-Nil-Execution-Id", ex.id);
      return res;
    }
    json::object o;
    o["type"] = "urn:nil:problem:function_failed";
    o["title"] = "Bad Gateway";
    o["status"] = 502;
    o["detail"] = ex.error ? ex.error->type + ": " + ex.error->message : "the function failed";
    o["code"] = "function_failed";
    o["instance"] = std::string(req.target());
    o["executionId"] = ex.id;
    o["errorType"] = ex.error ? ex.error->type : "";
    Response res = text_response(req, http::status::bad_gateway, json::serialize(o), "application/problem+json");
    res.set("X-Nil-Execution-Id", ex.id);
    return res;
  }

  Expected<Response> list_functions(const Request& req, const boost::urls::url_view& url, const auth::Principal& p) {
    auto page = NIL_TRY(page_request(url));
    std::optional<store::AccessFilter> filter;
    if (!p.is_admin()) filter = store::AccessFilter{p.user_id};
    auto result = NIL_TRY(deps.store.list_functions(page, filter));
    json::array items;
    for (const auto& f : result.items) items.push_back(function_json(f, deps.invoker));
    return json_response(req, http::status::ok,
                         json::object{{"items", std::move(items)}, {"nextCursor", optional_string(result.next_cursor)}});
  }

  Expected<Response> list_executions(const Request& req, const boost::urls::url_view& url, std::string_view ref,
                                     const auth::Principal& p) {
    auto page = NIL_TRY(page_request(url));
    store::Function f = NIL_TRY(accessible_function(p, ref));
    deps.writer.sync();
    auto result = NIL_TRY(deps.store.list_executions(f.id, page));
    json::array items;
    for (const auto& e : result.items) items.push_back(execution_json(e));
    return json_response(req, http::status::ok,
                         json::object{{"items", std::move(items)}, {"nextCursor", optional_string(result.next_cursor)}});
  }

  Expected<Response> queues(const Request& req) {
    store::QueueStats q = NIL_TRY(deps.store.compile_queue_stats());
    json::array jobs;
    for (const auto& j : q.jobs) {
      jobs.push_back(json::object{{"id", j.id},
                                  {"functionId", j.function_id},
                                  {"functionName", j.function_name},
                                  {"functionVersion", j.function_version},
                                  {"language", j.language},
                                  {"state", store::to_string(j.state)},
                                  {"attempts", j.attempts},
                                  {"claimedBy", j.claimed_by.empty() ? json::value(nullptr) : json::value(j.claimed_by)},
                                  {"enqueuedAt", format_rfc3339(j.enqueued_at)},
                                  {"claimedAt", j.claimed_at ? json::value(format_rfc3339(j.claimed_at)) : json::value(nullptr)},
                                  {"leaseUntil", j.lease_until ? json::value(format_rfc3339(j.lease_until)) : json::value(nullptr)}});
    }
    json::object queue{{"name", q.name},
                       {"pending", q.pending},
                       {"running", q.running},
                       {"oldestPendingAt", q.oldest_pending_at ? json::value(format_rfc3339(q.oldest_pending_at)) : json::value(nullptr)},
                       {"jobs", std::move(jobs)}};
    return json_response(req, http::status::ok, json::object{{"queues", json::array{std::move(queue)}}});
  }

  // --- environments ---

  Expected<Response> create_environment(const Request& req) {
    json::object body = NIL_TRY(parse_json_object(req));
    NIL_TRY_VOID(only_fields(body, {"name", "vars", "allowedUsers", "allowedGroups"}));
    auto name = NIL_TRY(string_field(body, "name"));
    if (!name) return invalid("missing_field", "\"name\" is required");
    NIL_TRY_VOID(check_environment_name(*name));
    store::NewEnvironment ne{*name, NIL_TRY(parse_vars(body, nullptr)), {}};
    ne.allowed.users = NIL_TRY(string_list_field(body, "allowedUsers")).value_or(std::vector<std::string>{});
    ne.allowed.groups = NIL_TRY(string_list_field(body, "allowedGroups")).value_or(std::vector<std::string>{});
    store::Environment e = NIL_TRY(deps.store.create_environment(ne));
    // Never the values: they may be secrets.
    log::info("environment created", {{"environmentId", e.id}, {"environment", e.name},
                                      {"keys", static_cast<int64_t>(e.vars.size())}});
    Response res = json_response(req, http::status::created, environment_json(e));
    res.set(http::field::location, "/environments/" + e.id);
    return res;
  }

  Expected<Response> update_environment(const Request& req, std::string_view ref) {
    store::Environment current = NIL_TRY(deps.store.get_environment(ref));
    json::object body = NIL_TRY(parse_json_object(req));
    NIL_TRY_VOID(only_fields(body, {"name", "vars", "allowedUsers", "allowedGroups"}));
    store::EnvironmentUpdate u;
    if (auto name = NIL_TRY(string_field(body, "name"))) {
      NIL_TRY_VOID(check_environment_name(*name));
      u.name = std::move(*name);
    }
    if (body.contains("vars")) u.vars = NIL_TRY(parse_vars(body, &current));
    u.allowed_users = NIL_TRY(string_list_field(body, "allowedUsers"));
    u.allowed_groups = NIL_TRY(string_list_field(body, "allowedGroups"));
    if (!u.name && !u.vars && !u.allowed_users && !u.allowed_groups) {
      return invalid("invalid_body", "nothing to update: give \"vars\", \"name\", \"allowedUsers\" or \"allowedGroups\"");
    }
    store::Environment e = NIL_TRY(deps.store.update_environment(current.id, u));
    // Cached functions hold their environments' values: the next invocation must see the change.
    deps.invoker.invalidate_all();
    log::info("environment updated", {{"environmentId", e.id}, {"environment", e.name},
                                      {"keys", static_cast<int64_t>(e.vars.size())}});
    return json_response(req, http::status::ok, environment_json(e));
  }

  Expected<Response> list_environments(const Request& req, const boost::urls::url_view& url, const auth::Principal& p) {
    auto page = NIL_TRY(page_request(url));
    std::optional<store::AccessFilter> filter;
    if (!p.is_admin()) filter = store::AccessFilter{p.user_id};
    auto result = NIL_TRY(deps.store.list_environments(page, filter));
    json::array items;
    for (const auto& e : result.items) items.push_back(environment_json(e));
    return json_response(req, http::status::ok,
                         json::object{{"items", std::move(items)}, {"nextCursor", optional_string(result.next_cursor)}});
  }

  Expected<Response> environments(const Request& req, const boost::urls::url_view& url, const std::vector<std::string>& seg,
                                  const auth::Principal& p) {
    const auto m = req.method();
    if (seg.size() == 1) {
      if (m == http::verb::get) return list_environments(req, url, p);
      if (m == http::verb::post) {
        if (!p.is_admin()) return admin_only();
        return create_environment(req);
      }
      return method_not_allowed(req, "GET, POST");
    }
    if (seg.size() == 2) {
      if (m == http::verb::get) return json_response(req, http::status::ok, environment_json(NIL_TRY(accessible_environment(p, seg[1]))));
      if (m == http::verb::put || m == http::verb::delete_) {
        NIL_TRY(accessible_environment(p, seg[1]));
        if (!p.is_admin()) return admin_only();
      }
      if (m == http::verb::put) return update_environment(req, seg[1]);
      if (m == http::verb::delete_) {
        store::Environment e = NIL_TRY(deps.store.get_environment(seg[1]));
        NIL_TRY_VOID(deps.store.delete_environment(e.id));
        log::info("environment deleted", {{"environmentId", e.id}, {"environment", e.name}});
        Response res{http::status::no_content, req.version()};
        res.keep_alive(req.keep_alive());
        return res;
      }
      return method_not_allowed(req, "GET, PUT, DELETE");
    }
    return make_error(ErrorKind::kNotFound, "route_not_found", "no route for " + std::string(url.path()));
  }

  Response method_not_allowed(const Request& req, std::string_view allow) {
    Response res = problem(http::status::method_not_allowed, "method_not_allowed",
                           std::string(req.method_string()) + " is not allowed here (allowed: " + std::string(allow) + ")",
                           std::string_view(req.target().data(), req.target().size()), req.version(), req.keep_alive());
    res.set(http::field::allow, allow);
    return res;
  }

  // --- authentication ---

  // The request's credentials: a Bearer API key, else the session cookie, else none. Credentials
  // that are present but wrong are an error (401), never silently anonymous.
  // Null: no credentials at all.
  Expected<std::shared_ptr<const auth::Principal>> authenticate(const Request& req) {
    std::string_view authz = header_value(req, "Authorization");
    if (!authz.empty()) {
      constexpr std::string_view kBearer = "Bearer ";
      if (authz.size() <= kBearer.size() || lower(authz.substr(0, kBearer.size())) != "bearer ") {
        return Error(unauthorized("the Authorization header must be \"Bearer nil_…\""));
      }
      std::string_view token = authz.substr(kBearer.size());
      while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
      return deps.auth.authenticate_key(token);
    }
    std::string_view cookie = cookie_value(req, kSessionCookie);
    if (!cookie.empty()) return deps.auth.authenticate_session(cookie);
    return std::shared_ptr<const auth::Principal>();
  }

  std::string session_cookie(std::string_view token, bool clear) {
    std::string c = std::string(kSessionCookie) + "=" + std::string(token) + "; Path=/; HttpOnly; SameSite=Lax";
    if (clear) c += "; Max-Age=0";
    if (opts.secure_cookies) c += "; Secure";
    return c;
  }

  Response no_content(const Request& req) {
    Response res{http::status::no_content, req.version()};
    res.keep_alive(req.keep_alive());
    return res;
  }

  Expected<Response> login(const Request& req) {
    json::object body = NIL_TRY(parse_json_object(req));
    NIL_TRY_VOID(only_fields(body, {"username", "password"}));
    auto username = NIL_TRY(string_field(body, "username"));
    auto password = NIL_TRY(string_field(body, "password"));
    if (!username || !password) return invalid("missing_field", "\"username\" and \"password\" are required");
    std::string address(header_value(req, kPeerAddressField));
    if (int64_t wait = login_throttle.blocked_for(*username, address); wait > 0) {
      Error e = make_error(ErrorKind::kRateLimited, "login_throttled", "too many failed logins; try again later");
      e.retry_after_s = wait;
      return e;
    }
    auto r = deps.auth.login(*username, *password);
    if (!r) {
      if (r.error().code == "invalid_credentials") {
        login_throttle.failure(*username, address);
        log::warn("login failed", {{"username", *username}, {"address", address}});
      }
      return r.error();
    }
    login_throttle.success(*username);
    log::info("login", {{"userId", r->user.id}, {"username", r->user.username}});
    Response res = json_response(req, http::status::ok, json::object{{"user", user_json(r->user)}, {"csrfToken", r->csrf_token}});
    res.set(http::field::set_cookie, session_cookie(r->session_token, false));
    res.set(http::field::cache_control, "no-store");
    return res;
  }

  Expected<Response> me(const Request& req, const auth::Principal& p) {
    json::object o = user_json(NIL_TRY(deps.store.get_user(p.user_id)));
    o["authenticatedBy"] = p.method == auth::Principal::Method::kApiKey ? "api_key" : "session";
    return json_response(req, http::status::ok, o);
  }

  // --- users ---

  // True when the change would leave no admin: refused (last_admin) so nobody is locked out.
  Expected<bool> is_last_admin(const store::User& u) {
    if (u.role != store::Role::kAdmin) return false;
    store::PageRequest page;
    page.limit = 200;
    int admins = 0;
    while (true) {
      auto result = NIL_TRY(deps.store.list_users(page));
      for (const auto& x : result.items) admins += x.role == store::Role::kAdmin ? 1 : 0;
      if (admins > 1 || !result.next_cursor) break;
      page.cursor = result.next_cursor;
    }
    return admins <= 1;
  }

  Expected<Response> users(const Request& req, const boost::urls::url_view& url, const std::vector<std::string>& seg,
                           const auth::Principal& p) {
    const auto m = req.method();
    if (seg.size() == 1) {
      if (m != http::verb::get && m != http::verb::post) return method_not_allowed(req, "GET, POST");
      if (!p.is_admin()) return admin_only();
      if (m == http::verb::get) {
        auto page = NIL_TRY(page_request(url));
        auto result = NIL_TRY(deps.store.list_users(page));
        json::array items;
        for (const auto& u : result.items) items.push_back(user_json(u));
        return json_response(req, http::status::ok, json::object{{"items", std::move(items)}, {"nextCursor", optional_string(result.next_cursor)}});
      }
      json::object body = NIL_TRY(parse_json_object(req));
      NIL_TRY_VOID(only_fields(body, {"username", "password", "role", "grants"}));
      auto username = NIL_TRY(string_field(body, "username"));
      if (!username) return invalid("missing_field", "\"username\" is required");
      NIL_TRY_VOID(check_username(*username));
      auto password = NIL_TRY(string_field(body, "password"));
      if (!password) return invalid("missing_field", "\"password\" is required");
      NIL_TRY_VOID(check_password(*password));
      store::NewUser nu;
      nu.username = *username;
      nu.role = NIL_TRY(parse_role_field(body));
      nu.grants = NIL_TRY(parse_user_grants(body)).value_or(std::vector<std::string>{});
      nu.password_hash = NIL_TRY(auth::hash_password(*password));
      store::User u = NIL_TRY(deps.store.create_user(nu));
      log::info("user created", {{"userId", u.id}, {"username", u.username}, {"role", std::string(store::to_string(u.role))}});
      Response res = json_response(req, http::status::created, user_json(u));
      res.set(http::field::location, "/users/" + u.id);
      return res;
    }
    if (seg.size() != 2) return make_error(ErrorKind::kNotFound, "route_not_found", "no route for " + std::string(url.path()));
    const std::string& ref = seg[1];
    // A developer sees only themself; anyone else does not exist for them.
    if (!p.is_admin() && !is_self(p, ref)) return user_not_found(ref);
    if (m == http::verb::get) return json_response(req, http::status::ok, user_json(NIL_TRY(deps.store.get_user(ref))));
    if (m == http::verb::put) {
      json::object body = NIL_TRY(parse_json_object(req));
      NIL_TRY_VOID(only_fields(body, {"password", "role", "grants"}));
      if (!p.is_admin() && (body.contains("role") || body.contains("grants"))) {
        return forbidden("only an admin may change a role or grants");
      }
      store::User current = NIL_TRY(deps.store.get_user(ref));
      store::UserUpdate u;
      if (auto pw = NIL_TRY(string_field(body, "password"))) {
        NIL_TRY_VOID(check_password(*pw));
        u.password_hash = NIL_TRY(auth::hash_password(*pw));
      }
      if (body.contains("role")) u.role = NIL_TRY(parse_role_field(body));
      u.grants = NIL_TRY(parse_user_grants(body));
      if (!u.password_hash && !u.role && !u.grants) return invalid("invalid_body", "nothing to update: give \"password\", \"role\" or \"grants\"");
      if (u.role && *u.role != store::Role::kAdmin && NIL_TRY(is_last_admin(current))) {
        return make_error(ErrorKind::kConflict, "last_admin", "the last admin cannot be demoted");
      }
      store::User updated = NIL_TRY(deps.store.update_user(current.id, u));
      deps.auth.invalidate_all();  // cached principals carry the role and grants
      log::info("user updated", {{"userId", updated.id}, {"username", updated.username}});
      return json_response(req, http::status::ok, user_json(updated));
    }
    if (m == http::verb::delete_) {
      if (!p.is_admin()) return admin_only();
      store::User current = NIL_TRY(deps.store.get_user(ref));
      if (NIL_TRY(is_last_admin(current))) return make_error(ErrorKind::kConflict, "last_admin", "the last admin cannot be deleted");
      NIL_TRY_VOID(deps.store.delete_user(current.id));
      deps.auth.invalidate_all();  // its keys and sessions are gone: no cached principal may outlive them
      log::info("user deleted", {{"userId", current.id}, {"username", current.username}});
      return no_content(req);
    }
    return method_not_allowed(req, "GET, PUT, DELETE");
  }

  // --- groups (admin only) ---

  Expected<Response> groups(const Request& req, const boost::urls::url_view& url, const std::vector<std::string>& seg,
                            const auth::Principal& p) {
    const auto m = req.method();
    const size_t n = seg.size();
    if (n > 4) return make_error(ErrorKind::kNotFound, "route_not_found", "no route for " + std::string(url.path()));
    if (!p.is_admin()) return admin_only();
    if (n == 1) {
      if (m == http::verb::get) {
        auto page = NIL_TRY(page_request(url));
        auto result = NIL_TRY(deps.store.list_groups(page));
        json::array items;
        for (const auto& g : result.items) items.push_back(group_json(g));
        return json_response(req, http::status::ok, json::object{{"items", std::move(items)}, {"nextCursor", optional_string(result.next_cursor)}});
      }
      if (m == http::verb::post) {
        json::object body = NIL_TRY(parse_json_object(req));
        NIL_TRY_VOID(only_fields(body, {"name"}));
        auto name = NIL_TRY(string_field(body, "name"));
        if (!name) return invalid("missing_field", "\"name\" is required");
        NIL_TRY_VOID(check_environment_name(*name));
        if (is_uuid(*name)) return invalid("invalid_name", "a group name must not be a UUID");
        store::Group g = NIL_TRY(deps.store.create_group(*name));
        log::info("group created", {{"groupId", g.id}, {"group", g.name}});
        Response res = json_response(req, http::status::created, group_json(g));
        res.set(http::field::location, "/groups/" + g.id);
        return res;
      }
      return method_not_allowed(req, "GET, POST");
    }
    const std::string& ref = seg[1];
    if (n == 2) {
      if (m == http::verb::get) return json_response(req, http::status::ok, group_json(NIL_TRY(deps.store.get_group(ref))));
      if (m == http::verb::delete_) {
        store::Group g = NIL_TRY(deps.store.get_group(ref));
        NIL_TRY_VOID(deps.store.delete_group(g.id));
        deps.auth.invalidate_all();  // cached principals carry their group ids
        log::info("group deleted", {{"groupId", g.id}, {"group", g.name}});
        return no_content(req);
      }
      return method_not_allowed(req, "GET, DELETE");
    }
    if (seg[2] != "members") return make_error(ErrorKind::kNotFound, "route_not_found", "no route for " + std::string(url.path()));
    if (n == 3) {
      if (m == http::verb::get) {
        store::Group g = NIL_TRY(deps.store.get_group(ref));
        return json_response(req, http::status::ok, json::object{{"items", members_json(g)}});
      }
      if (m == http::verb::post) {
        json::object body = NIL_TRY(parse_json_object(req));
        NIL_TRY_VOID(only_fields(body, {"userId", "username"}));
        auto uid = NIL_TRY(string_field(body, "userId"));
        auto uname = NIL_TRY(string_field(body, "username"));
        if (!uid && !uname) return invalid("missing_field", "give \"userId\" or \"username\"");
        NIL_TRY_VOID(deps.store.add_group_member(ref, uid ? *uid : *uname));
        deps.auth.invalidate_all();
        return no_content(req);
      }
      return method_not_allowed(req, "GET, POST");
    }
    if (m != http::verb::delete_) return method_not_allowed(req, "DELETE");
    NIL_TRY_VOID(deps.store.remove_group_member(ref, seg[3]));
    deps.auth.invalidate_all();
    return no_content(req);
  }

  // --- API keys ---

  Expected<Response> api_keys(const Request& req, const boost::urls::url_view& url, const std::vector<std::string>& seg,
                              const auth::Principal& p) {
    const auto m = req.method();
    if (seg.size() == 1) {
      if (m == http::verb::get) {
        auto page = NIL_TRY(page_request(url));
        std::optional<std::string> user_id;
        if (auto it = url.params().find("userId"); it != url.params().end()) user_id = std::string((*it).value);
        if (!p.is_admin()) {
          if (user_id && !is_self(p, *user_id)) return forbidden("only an admin may list other users' keys");
          user_id = p.user_id;
        } else if (user_id) {
          user_id = NIL_TRY(deps.store.get_user(*user_id)).id;
        }
        deps.auth.flush_last_used();
        auto result = NIL_TRY(deps.store.list_api_keys(page, user_id));
        json::array items;
        for (const auto& k : result.items) items.push_back(api_key_json(k));
        return json_response(req, http::status::ok, json::object{{"items", std::move(items)}, {"nextCursor", optional_string(result.next_cursor)}});
      }
      if (m == http::verb::post) {
        json::object body = NIL_TRY(parse_json_object(req));
        NIL_TRY_VOID(only_fields(body, {"name", "expiresAt", "userId"}));
        auto name = NIL_TRY(string_field(body, "name"));
        if (!name || name->empty() || name->size() > 100) return invalid("invalid_field", "\"name\" is required, 1 to 100 characters");
        std::optional<int64_t> expires;
        if (auto e = NIL_TRY(string_field(body, "expiresAt"))) {
          expires = parse_rfc3339(*e);
          if (!expires) return invalid("invalid_field", "\"expiresAt\" must be an RFC 3339 time, e.g. 2027-01-31T12:00:00Z");
          if (*expires <= now_micros()) return invalid("invalid_field", "\"expiresAt\" is in the past");
        }
        std::string owner = p.user_id;
        if (auto uid = NIL_TRY(string_field(body, "userId"))) {
          if (!p.is_admin() && !is_self(p, *uid)) return forbidden("only an admin may create keys for other users");
          owner = *uid;
        }
        auto created = auth::create_api_key(deps.store, owner, *name, expires);
        if (!created && created.error().code == "user_not_found") return invalid("unknown_user", created.error().message);
        if (!created) return created.error();
        log::info("API key created", {{"keyId", created->key.id}, {"userId", created->key.user_id}, {"prefix", created->key.prefix}});
        json::object o = api_key_json(created->key);
        o["key"] = created->token;
        Response res = json_response(req, http::status::created, o);
        res.set(http::field::location, "/api-keys/" + created->key.id);
        res.set(http::field::cache_control, "no-store");
        return res;
      }
      return method_not_allowed(req, "GET, POST");
    }
    if (seg.size() != 2) return make_error(ErrorKind::kNotFound, "route_not_found", "no route for " + std::string(url.path()));
    if (m != http::verb::delete_) return method_not_allowed(req, "DELETE");
    auto key = deps.store.get_api_key(seg[1]);
    if (!key || (!p.is_admin() && key->user_id != p.user_id)) {
      if (key || key.error().code == "api_key_not_found") {
        return make_error(ErrorKind::kNotFound, "api_key_not_found", "no API key with id '" + seg[1] + "'");
      }
      return key.error();
    }
    NIL_TRY_VOID(deps.store.revoke_api_key(key->id));
    deps.auth.invalidate_key(key->id);
    log::info("API key revoked", {{"keyId", key->id}, {"userId", key->user_id}});
    return no_content(req);
  }

  Expected<Response> execution(const Request& req, std::string_view id, const auth::Principal& p) {
    deps.writer.sync();
    store::Execution e = NIL_TRY(deps.store.get_execution(id));
    bool allowed = p.is_admin() || (e.user_id && *e.user_id == p.user_id);
    if (!allowed) {
      auto f = deps.store.get_function(e.function_id);
      allowed = f && auth::can_access(p, f->allowed);
    }
    if (!allowed) return make_error(ErrorKind::kNotFound, "execution_not_found", "no execution with id '" + std::string(id) + "'");
    return json_response(req, http::status::ok, execution_json(e));
  }

  Expected<Response> dispatch(const Request& req) {
    auto parsed = boost::urls::parse_origin_form(std::string_view(req.target().data(), req.target().size()));
    if (!parsed) return invalid("malformed_request", "malformed request target");
    boost::urls::url_view url = *parsed;
    std::vector<std::string> seg;
    for (auto s : url.segments()) seg.push_back(s);
    if (!seg.empty() && seg.back().empty()) seg.pop_back();  // tolerate a trailing slash
    const auto m = req.method();
    const size_t n = seg.size();

    if (n == 1 && (seg[0] == "healthz" || seg[0] == "readyz")) {
      if (m != http::verb::get && m != http::verb::head) return method_not_allowed(req, "GET, HEAD");
      if (seg[0] == "healthz") return json_response(req, http::status::ok, json::object{{"status", "ok"}});
      if (deps.draining()) return make_error(ErrorKind::kUnavailable, "shutting_down", "the server is shutting down");
      NIL_TRY_VOID(deps.store.ping());
      return json_response(req, http::status::ok, json::object{{"status", "ready"}});
    }
    if (n == 2 && seg[0] == "auth" && seg[1] == "login") {
      if (m != http::verb::post) return method_not_allowed(req, "POST");
      return login(req);
    }

    auto who = NIL_TRY(authenticate(req));
    const bool v1_call = n == 3 && seg[0] == "functions" && seg[1] == "v1" && seg[2] != "deploy" && m == http::verb::post;
    if (!who) {
      if (v1_call) return execute(req, seg[2], true, nullptr);  // public functions only
      return unauthorized("authentication required (Authorization: Bearer nil_… or a session cookie)");
    }
    const auth::Principal& p = *who;
    // A cookie rides along on cross-site requests; a state change must prove it comes from our
    // own page by echoing the CSRF token it got at login.
    if (p.method == auth::Principal::Method::kSession && is_state_changing(m) &&
        !auth::Authenticator::check_csrf(p, header_value(req, "X-CSRF-Token"))) {
      return make_error(ErrorKind::kForbidden, "csrf_failed", "a cookie-authenticated change needs the X-CSRF-Token header from login");
    }
    if (int64_t wait = key_limiter.acquire(p.credential_id); wait > 0) {
      Error e = make_error(ErrorKind::kRateLimited, "rate_limited", "this API key is over its rate limit");
      e.retry_after_s = wait;
      return e;
    }

    if (n >= 1 && seg[0] == "functions") {
      if (n == 1) {
        if (m == http::verb::get) return list_functions(req, url, p);
        if (m == http::verb::post) return create_function(req, p);
        return method_not_allowed(req, "GET, POST");
      }
      if (n == 3 && seg[1] == "v1") {
        if (m != http::verb::post) return method_not_allowed(req, "POST");
        if (seg[2] == "deploy") return deploy(req, p);
        return execute(req, seg[2], true, &p);
      }
      if (n == 2) {
        if (m == http::verb::get) return json_response(req, http::status::ok, function_json(NIL_TRY(accessible_function(p, seg[1])), deps.invoker));
        if (m == http::verb::put) return update_function(req, seg[1], p);
        if (m == http::verb::delete_) {
          store::Function f = NIL_TRY(accessible_function(p, seg[1]));
          if (!p.is_admin()) return admin_only();
          NIL_TRY_VOID(deps.store.delete_function(f.id));
          deps.invoker.invalidate(f.id);
          log::info("function deleted", {{"functionId", f.id}, {"function", f.name}});
          return no_content(req);
        }
        return method_not_allowed(req, "GET, PUT, DELETE");
      }
      if (n == 3 && seg[2] == "execute") {
        if (m != http::verb::post) return method_not_allowed(req, "POST");
        return execute(req, seg[1], false, &p);
      }
      if (n == 3 && seg[2] == "executions") {
        if (m != http::verb::get) return method_not_allowed(req, "GET");
        return list_executions(req, url, seg[1], p);
      }
    }
    if (n >= 1 && seg[0] == "environments") return environments(req, url, seg, p);
    if (n == 2 && seg[0] == "executions") {
      if (m != http::verb::get) return method_not_allowed(req, "GET");
      return execution(req, seg[1], p);
    }
    if (n == 2 && seg[0] == "admin" && seg[1] == "queues") {
      if (m != http::verb::get) return method_not_allowed(req, "GET");
      if (!p.is_admin()) return admin_only();
      return queues(req);
    }
    if (n >= 1 && seg[0] == "users") return users(req, url, seg, p);
    if (n >= 1 && seg[0] == "groups") return groups(req, url, seg, p);
    if (n >= 1 && seg[0] == "api-keys") return api_keys(req, url, seg, p);
    if (n == 2 && seg[0] == "auth" && seg[1] == "logout") {
      if (m != http::verb::post) return method_not_allowed(req, "POST");
      NIL_TRY_VOID(deps.auth.logout(p));
      Response res = no_content(req);
      res.set(http::field::set_cookie, session_cookie("", true));
      return res;
    }
    if (n == 2 && seg[0] == "auth" && seg[1] == "me") {
      if (m != http::verb::get) return method_not_allowed(req, "GET");
      return me(req, p);
    }
    return make_error(ErrorKind::kNotFound, "route_not_found", "no route for " + std::string(url.path()));
  }
};

Api::Api(ApiOptions opts, ApiDeps deps) : impl_(std::make_unique<Impl>(std::move(opts), std::move(deps))) {}

Api::~Api() { stop(); }

void Api::stop() {
  impl_->pool.join();
  impl_->offload.join();
}

namespace {

// The function an execute request names (POST /functions/{ref}/execute or the v1 call), or "".
std::string_view executed_function(const Request& req) {
  if (req.method() != http::verb::post) return {};
  std::string_view t(req.target().data(), req.target().size());
  t = t.substr(0, t.find('?'));
  constexpr std::string_view kFunctions = "/functions/";
  constexpr std::string_view kV1 = "v1/";
  constexpr std::string_view kExecute = "/execute";
  if (!t.starts_with(kFunctions)) return {};
  t.remove_prefix(kFunctions.size());
  if (t.starts_with(kV1)) {
    t.remove_prefix(kV1.size());
    return t == "deploy" || t.find('/') != std::string_view::npos ? std::string_view{} : t;
  }
  if (!t.ends_with(kExecute)) return {};
  t.remove_suffix(kExecute.size());
  return t.find('/') == std::string_view::npos ? t : std::string_view{};
}

}  // namespace

Response Api::route(const Request& req) {
  auto r = impl_->dispatch(req);
  if (!r) return impl_->fail(req, r.error());
  return std::move(r).value();
}

void Api::handle(Request&& req, Respond respond) {
  auto shared = std::make_shared<Request>(std::move(req));
  auto work = [this, shared, respond = std::move(respond)] {
    Response res;
    try {
      res = route(*shared);
    } catch (const std::exception& e) {
      // Nothing on the request path throws by design; this is the last line against a bug
      // (or std::bad_alloc) taking the server down.
      log::error("unhandled exception", {{"error", e.what()}, {"target", std::string(shared->target())}});
      res = problem(http::status::internal_server_error, "internal_error", "internal error",
                    std::string_view(shared->target().data(), shared->target().size()), shared->version(), false);
    }
    if (shared->method() == http::verb::head) res.body().clear();
    respond(std::move(res));
  };
  if (impl_->opts.work_threads == 0) {
    // Inline on the calling I/O loop, unless it executes a function whose recent invocations
    // took kOffloadAfterMs or more: that one would hold up every other connection on this loop
    // for as long, so it runs on the offload pool and the loop keeps serving. The first call of
    // a function (no history yet) runs inline.
    std::string_view fn = executed_function(*shared);
    std::optional<double> recent;
    if (!fn.empty()) recent = impl_->deps.invoker.recent_ms(fn);
    if (recent && *recent >= kOffloadAfterMs) {
      net::post(impl_->offload, std::move(work));
    } else {
      work();
    }
  } else {
    net::post(impl_->pool, std::move(work));
  }
}

Response Api::reject(http::status status, std::string_view code, std::string_view detail) {
  return problem(status, code, detail, "", 11, false);
}

}  // namespace nil::api
