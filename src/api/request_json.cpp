#include "api/request_json.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cstdlib>
#include <ctime>

#include "common/util.h"

namespace nil::api {

namespace json = boost::json;

namespace {

Error invalid(ErrorCode code, std::string msg) { return make_error(code, std::move(msg)); }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Matchers for the patterns that the error messages quote. Hand-written rather than std::regex:
// <regex> trips g++ 12's -Wmaybe-uninitialized (a false positive inside libstdc++) and the build
// uses -Werror. ASCII only, like the regexes they replace: a byte >= 0x80 is in no class.
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_digits(std::string_view s) { return std::all_of(s.begin(), s.end(), is_digit); }

// ^first rest{0,max_len-1}$
template <typename First, typename Rest>
bool matches_word(std::string_view s, size_t max_len, First first, Rest rest) {
  return !s.empty() && s.size() <= max_len && first(s[0]) &&
         std::all_of(s.begin() + 1, s.end(), rest);
}

// ^[a-z][a-z0-9-]{0,62}$ (functions, environments)
bool is_name(std::string_view s) {
  return matches_word(s, 63, is_lower,
                      [](char c) { return is_lower(c) || is_digit(c) || c == '-'; });
}

// ^[A-Za-z_][A-Za-z0-9_]{0,127}$ (environment variable keys)
bool is_env_key(std::string_view s) {
  auto first = [](char c) { return is_lower(c) || is_upper(c) || c == '_'; };
  return matches_word(s, 128, first, [&](char c) { return first(c) || is_digit(c); });
}

// ^[a-z][a-z0-9_.-]{0,62}$ (usernames)
bool is_username_text(std::string_view s) {
  return matches_word(s, 63, is_lower, [](char c) {
    return is_lower(c) || is_digit(c) || c == '_' || c == '.' || c == '-';
  });
}

// One DNS label: [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?
bool is_label(std::string_view s) {
  auto alnum = [](char c) { return is_lower(c) || is_digit(c); };
  return !s.empty() && s.size() <= 63 && alnum(s.front()) && alnum(s.back()) &&
         std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-'; });
}

// ^(label(\.label)*|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$ on a lower-cased httpAllow entry. On a match
// `port` holds the digits after ':', empty when there is no port.
bool match_host_port(std::string_view s, std::string_view& port) {
  port = {};
  std::string_view host = s, rest;
  if (s.starts_with('[')) {
    // [0-9a-f:.] holds no ']', so the first ']' must close the literal.
    size_t close = s.find(']');
    if (close == std::string_view::npos) return false;
    host = s.substr(1, close - 1);
    rest = s.substr(close + 1);
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
          return is_digit(c) || (c >= 'a' && c <= 'f') || c == ':' || c == '.';
        })) {
      return false;
    }
  } else {
    // Labels hold no ':', so the first ':' starts the port.
    size_t colon = s.find(':');
    if (colon != std::string_view::npos) {
      host = s.substr(0, colon);
      rest = s.substr(colon);
    }
    for (size_t start = 0;;) {
      size_t dot = host.find('.', start);
      if (!is_label(host.substr(start, dot == std::string_view::npos ? dot : dot - start)))
        return false;
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }
  if (rest.empty()) return true;
  if (rest[0] != ':') return false;
  port = rest.substr(1);
  return !port.empty() && port.size() <= 5 && is_digits(port);
}

// ^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?
//  ([Zz]|[+-][0-9]{2}:[0-9]{2})$ (one line). On a match group[i] is the pattern's group i;
// group[7], the fraction with its '.', is empty when there is none.
bool match_rfc3339(std::string_view s, std::string_view (&group)[9]) {
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
      s[13] != ':' || s[16] != ':') {
    return false;
  }
  constexpr size_t kStarts[] = {0, 5, 8, 11, 14, 17};
  for (size_t i = 0; i < 6; ++i) {
    group[i + 1] = s.substr(kStarts[i], i == 0 ? 4 : 2);
    if (!is_digits(group[i + 1])) return false;
  }
  std::string_view rest = s.substr(19);
  group[7] = {};
  if (rest.starts_with('.')) {
    size_t n = 1;
    while (n < rest.size() && is_digit(rest[n])) ++n;
    if (n == 1 || n > 10) return false;  // 1 to 9 digits
    group[7] = rest.substr(0, n);
    rest.remove_prefix(n);
  }
  group[8] = rest;
  if (rest == "Z" || rest == "z") return true;
  return rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && is_digit(rest[1]) &&
         is_digit(rest[2]) && rest[3] == ':' && is_digit(rest[4]) && is_digit(rest[5]);
}

constexpr size_t kMaxEnvVars = 256;
constexpr size_t kMaxEnvValueBytes = 32 << 10;
// Redaction replaces a secret wherever it appears in logs and output; a very short one would
// match everywhere and still reveal little, so secrets must be at least this long.
constexpr size_t kMinSecretBytes = 4;
constexpr size_t kMaxAttachedEnvironments = 16;
constexpr size_t kMaxHttpAllow = 64;
constexpr std::string_view kKnownGrants[] = {"db:ddl"};
constexpr std::string_view kKnownUserGrants[] = {"deploy"};
constexpr size_t kMinPasswordBytes = 8;
constexpr size_t kMaxPasswordBytes = 1024;

Error forbidden(std::string msg) { return make_error(ErrorCode::kForbidden, std::move(msg)); }

}  // namespace

std::string media_type(std::string_view content_type) {
  std::string_view v = content_type.substr(0, content_type.find(';'));
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return lower(v);
}

bool is_json_media(std::string_view mt) {
  return mt == "application/json" || (mt.starts_with("application/") && mt.ends_with("+json"));
}

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
    return invalid(ErrorCode::kMalformedJson, "malformed JSON at line " + std::to_string(line) +
                                                  ", column " + std::to_string(col) + ": " +
                                                  ec.message());
  }
  return p.release();
}

Expected<json::value> parse_json_body(std::string_view content_type, std::string_view body,
                                      bool empty_is_null) {
  std::string mt = media_type(content_type);
  if (body.empty() && empty_is_null && (mt.empty() || is_json_media(mt)))
    return json::value(nullptr);
  if (!is_json_media(mt)) {
    return make_error(ErrorCode::kUnsupportedMediaType,
                      mt.empty() ? "Content-Type must be application/json"
                                 : "Content-Type must be application/json, not " + mt);
  }
  return parse_json_text(body);
}

Expected<json::object> parse_json_object(std::string_view content_type, std::string_view body) {
  json::value v = NIL_TRY(parse_json_body(content_type, body, false));
  if (!v.is_object()) return invalid(ErrorCode::kInvalidBody, "the body must be a JSON object");
  return std::move(v.as_object());
}

Expected<void> only_fields(const json::object& o, std::initializer_list<std::string_view> known) {
  for (const auto& kv : o) {
    if (std::find(known.begin(), known.end(), kv.key()) == known.end()) {
      return invalid(ErrorCode::kUnknownField, "unknown field \"" + std::string(kv.key()) + "\"");
    }
  }
  return {};
}

Expected<std::optional<std::string>> string_field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<std::string>{};
  if (!it->value().is_string())
    return invalid(ErrorCode::kInvalidField, "\"" + std::string(key) + "\" must be a string");
  return std::optional<std::string>(std::string(it->value().as_string()));
}

Expected<std::optional<bool>> bool_field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<bool>{};
  if (!it->value().is_bool())
    return invalid(ErrorCode::kInvalidField, "\"" + std::string(key) + "\" must be a boolean");
  return std::optional<bool>(it->value().as_bool());
}

Expected<store::FunctionLimits> parse_limits(const json::object& o, store::FunctionLimits base) {
  auto it = o.find("limits");
  if (it == o.end() || it->value().is_null()) return base;
  if (!it->value().is_object())
    return invalid(ErrorCode::kInvalidLimits, "\"limits\" must be an object");
  const json::object& l = it->value().as_object();
  for (const auto& kv : l) {
    const bool admission = kv.key() == "maxConcurrency" || kv.key() == "maxQueueMs";
    if (kv.key() != "timeoutMs" && kv.key() != "memoryMb" && !admission) {
      return invalid(ErrorCode::kUnknownField,
                     "unknown field \"limits." + std::string(kv.key()) + "\"");
    }
    if (admission && kv.value().is_null()) {
      // null: back to the default (unlimited concurrency; the server's queue wait).
      if (kv.key() == "maxConcurrency") {
        base.max_concurrency = 0;
      } else {
        base.max_queue_ms.reset();
      }
      continue;
    }
    if (!kv.value().is_int64() && !kv.value().is_uint64()) {
      return invalid(ErrorCode::kInvalidLimits,
                     "\"limits." + std::string(kv.key()) + "\" must be an integer");
    }
    int64_t v =
        kv.value().is_int64()
            ? kv.value().as_int64()
            : static_cast<int64_t>(std::min<uint64_t>(kv.value().as_uint64(), uint64_t{INT64_MAX}));
    if (kv.key() == "timeoutMs") {
      if (v < 1 || v > kMaxTimeoutMs) {
        return invalid(ErrorCode::kInvalidLimits,
                       "limits.timeoutMs must be between 1 and " + std::to_string(kMaxTimeoutMs));
      }
      base.timeout_ms = static_cast<uint32_t>(v);
    } else if (kv.key() == "memoryMb") {
      if (v < 1 || v > kMaxMemoryMb) {
        return invalid(ErrorCode::kInvalidLimits,
                       "limits.memoryMb must be between 1 and " + std::to_string(kMaxMemoryMb));
      }
      base.memory_mb = static_cast<uint32_t>(v);
    } else if (kv.key() == "maxConcurrency") {
      if (v < 1 || v > kMaxConcurrency) {
        return invalid(ErrorCode::kInvalidLimits, "limits.maxConcurrency must be between 1 and " +
                                                      std::to_string(kMaxConcurrency) +
                                                      " (null: unlimited)");
      }
      base.max_concurrency = static_cast<uint32_t>(v);
    } else {
      if (v < 0 || v > kMaxQueueMs) {
        return invalid(ErrorCode::kInvalidLimits, "limits.maxQueueMs must be between 0 and " +
                                                      std::to_string(kMaxQueueMs) +
                                                      " (null: the server's default)");
      }
      base.max_queue_ms = static_cast<uint32_t>(v);
    }
  }
  return base;
}

Expected<store::RetryPolicy> parse_retry(const json::object& o, store::RetryPolicy base) {
  auto it = o.find("retry");
  if (it == o.end() || it->value().is_null()) return base;
  if (!it->value().is_object())
    return invalid(ErrorCode::kInvalidRetry, "\"retry\" must be an object");
  for (const auto& kv : it->value().as_object()) {
    const std::string key(kv.key());
    if (key == "backoff") {
      if (!kv.value().is_string() ||
          (kv.value().as_string() != "exponential" && kv.value().as_string() != "fixed"))
        return invalid(ErrorCode::kInvalidRetry,
                       "retry.backoff must be \"exponential\" or \"fixed\"");
      base.backoff =
          kv.value().as_string() == "fixed" ? store::Backoff::kFixed : store::Backoff::kExponential;
      continue;
    }
    if (key != "maxAttempts" && key != "initialDelayMs" && key != "maxDelayMs" &&
        key != "maxEventAgeS")
      return invalid(ErrorCode::kUnknownField, "unknown field \"retry." + key + "\"");
    if (!kv.value().is_int64() && !kv.value().is_uint64())
      return invalid(ErrorCode::kInvalidRetry, "retry." + key + " must be an integer");
    int64_t v = kv.value().is_int64() ? kv.value().as_int64()
                                      : static_cast<int64_t>(kv.value().as_uint64());
    auto range = [&](int64_t lo, int64_t hi) -> Expected<uint32_t> {
      if (v < lo || v > hi) {
        return invalid(ErrorCode::kInvalidRetry, "retry." + key + " must be between " +
                                                     std::to_string(lo) + " and " +
                                                     std::to_string(hi));
      }
      return static_cast<uint32_t>(v);
    };
    if (key == "maxAttempts") base.max_attempts = NIL_TRY(range(1, 10));
    if (key == "initialDelayMs") base.initial_delay_ms = NIL_TRY(range(0, 86'400'000));
    if (key == "maxDelayMs") base.max_delay_ms = NIL_TRY(range(0, 86'400'000));
    if (key == "maxEventAgeS") base.max_event_age_s = NIL_TRY(range(60, 86'400));
  }
  if (base.initial_delay_ms > base.max_delay_ms)
    return invalid(ErrorCode::kInvalidRetry, "retry.initialDelayMs must not exceed maxDelayMs");
  return base;
}

Expected<void> check_function_name(std::string_view name) {
  if (!is_name(name)) {
    return invalid(ErrorCode::kInvalidName, "name must match ^[a-z][a-z0-9-]{0,62}$");
  }
  if (name == "deploy")
    return invalid(ErrorCode::kReservedName, "\"deploy\" is reserved by POST /functions/v1/deploy");
  return {};
}

Expected<void> check_environment_name(std::string_view name) {
  if (!is_name(name)) {
    return invalid(ErrorCode::kInvalidName, "name must match ^[a-z][a-z0-9-]{0,62}$");
  }
  return {};
}

// A list field: absent/null → nullopt; otherwise an array of strings.
Expected<std::optional<std::vector<std::string>>> string_list_field(const json::object& o,
                                                                    std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<std::vector<std::string>>{};
  std::string name(key);
  if (!it->value().is_array())
    return invalid(ErrorCode::kInvalidField, "\"" + name + "\" must be an array of strings");
  std::vector<std::string> out;
  for (const auto& v : it->value().as_array()) {
    if (!v.is_string())
      return invalid(ErrorCode::kInvalidField, "\"" + name + "\" must be an array of strings");
    out.emplace_back(v.as_string());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

// "environments": ids or names, in order (the store checks that they exist).
Expected<std::optional<std::vector<std::string>>> parse_environments(const json::object& o) {
  auto list = NIL_TRY(string_list_field(o, "environments"));
  if (!list) return list;
  if (list->size() > kMaxAttachedEnvironments) {
    return invalid(
        ErrorCode::kInvalidField,
        "\"environments\" holds at most " + std::to_string(kMaxAttachedEnvironments) + " entries");
  }
  for (size_t i = 0; i < list->size(); ++i) {
    if ((*list)[i].empty())
      return invalid(ErrorCode::kInvalidField, "\"environments\" entries must not be empty");
    for (size_t j = 0; j < i; ++j) {
      if ((*list)[i] == (*list)[j])
        return invalid(ErrorCode::kInvalidField,
                       "environment \"" + (*list)[i] + "\" is listed twice");
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
    return invalid(ErrorCode::kInvalidHttpAllow,
                   "\"httpAllow\" holds at most " + std::to_string(kMaxHttpAllow) + " hosts");
  }
  std::vector<std::string> out;
  for (const auto& raw : *list) {
    std::string host = lower(raw);
    std::string_view digits;
    if (host.size() > 261 || !match_host_port(host, digits)) {
      return invalid(ErrorCode::kInvalidHttpAllow,
                     "\"" + raw + "\" is not a host or host:port (no scheme, path or wildcard)");
    }
    if (!digits.empty()) {
      long port = std::strtol(std::string(digits).c_str(), nullptr, 10);
      if (port < 1 || port > 65535)
        return invalid(ErrorCode::kInvalidHttpAllow, "\"" + raw + "\": port must be 1..65535");
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
      return invalid(ErrorCode::kUnknownGrant, "unknown grant \"" + g + "\" (known: db:ddl)");
    }
    if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

// "vars": [{"key","value","secret"?}]. `current` (on PUT) lets a secret be kept without resending
// it: {"key":"TOKEN","secret":true} with no "value" keeps TOKEN's stored secret value.
Expected<std::vector<store::EnvironmentVar>> parse_vars(const json::object& o,
                                                        const store::Environment* current) {
  auto it = o.find("vars");
  if (it == o.end() || it->value().is_null()) return std::vector<store::EnvironmentVar>{};
  if (!it->value().is_array())
    return invalid(ErrorCode::kInvalidField,
                   "\"vars\" must be an array of {\"key\",\"value\",\"secret\"}");
  const json::array& arr = it->value().as_array();
  if (arr.size() > kMaxEnvVars) {
    return invalid(ErrorCode::kTooManyEnvVars,
                   "an environment holds at most " + std::to_string(kMaxEnvVars) + " keys");
  }
  std::vector<store::EnvironmentVar> out;
  for (const auto& v : arr) {
    if (!v.is_object())
      return invalid(ErrorCode::kInvalidField,
                     "each of \"vars\" must be an object {\"key\",\"value\",\"secret\"}");
    const json::object& var = v.as_object();
    for (const auto& kv : var) {
      if (kv.key() != "key" && kv.key() != "value" && kv.key() != "secret") {
        return invalid(ErrorCode::kUnknownField,
                       "unknown field \"vars[]." + std::string(kv.key()) + "\"");
      }
    }
    store::EnvironmentVar ev;
    auto key = NIL_TRY(string_field(var, "key"));
    if (!key) return invalid(ErrorCode::kMissingField, "\"vars[].key\" is required");
    if (!is_env_key(*key)) {
      std::string shown = key->size() > 64 ? key->substr(0, 64) + "..." : *key;
      return invalid(ErrorCode::kInvalidEnvKey,
                     "key \"" + shown + "\" must match ^[A-Za-z_][A-Za-z0-9_]{0,127}$");
    }
    ev.key = std::move(*key);
    if (auto s = var.find("secret"); s != var.end() && !s->value().is_null()) {
      if (!s->value().is_bool())
        return invalid(ErrorCode::kInvalidField, "\"vars[].secret\" must be a boolean");
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
      if (!kept)
        return invalid(ErrorCode::kMissingField,
                       "\"vars[].value\" is required for key " + ev.key +
                           " (only an existing secret may omit it to keep its value)");
      value = kept->value;
    }
    // Values are never echoed in errors: they may be secrets.
    if (value->size() > kMaxEnvValueBytes) {
      return invalid(ErrorCode::kInvalidEnvValue, "the value of " + ev.key + " is over " +
                                                      std::to_string(kMaxEnvValueBytes) + " bytes");
    }
    if (value->find('\0') != std::string::npos) {
      return invalid(ErrorCode::kInvalidEnvValue,
                     "the value of " + ev.key + " contains a NUL character");
    }
    if (ev.secret && value->size() < kMinSecretBytes) {
      return invalid(ErrorCode::kInvalidEnvValue, "the secret value of " + ev.key +
                                                      " must be at least " +
                                                      std::to_string(kMinSecretBytes) + " bytes");
    }
    ev.value = std::move(*value);
    for (const auto& prev : out) {
      if (prev.key == ev.key)
        return invalid(ErrorCode::kDuplicateEnvKey, "key " + ev.key + " appears twice");
    }
    out.push_back(std::move(ev));
  }
  return out;
}

Expected<void> check_username(std::string_view name) {
  if (!is_username_text(name) || is_uuid(name)) {
    return invalid(ErrorCode::kInvalidUsername,
                   "username must match ^[a-z][a-z0-9_.-]{0,62}$ and not be a UUID");
  }
  return {};
}

Expected<void> check_password(std::string_view pw) {
  if (pw.size() < kMinPasswordBytes || pw.size() > kMaxPasswordBytes) {
    return invalid(ErrorCode::kInvalidPassword, "password must be " +
                                                    std::to_string(kMinPasswordBytes) + " to " +
                                                    std::to_string(kMaxPasswordBytes) + " bytes");
  }
  return {};
}

Expected<store::Role> parse_role_field(const json::object& o) {
  auto role = NIL_TRY(string_field(o, "role"));
  if (!role) return invalid(ErrorCode::kMissingField, "\"role\" is required");
  auto r = store::parse_role(*role);
  if (!r) return invalid(ErrorCode::kInvalidRole, "role must be \"admin\" or \"dev\"");
  return *r;
}

Expected<std::optional<std::vector<std::string>>> parse_user_grants(const json::object& o) {
  auto list = NIL_TRY(string_list_field(o, "grants"));
  if (!list) return list;
  std::vector<std::string> out;
  for (const auto& g : *list) {
    if (std::find(std::begin(kKnownUserGrants), std::end(kKnownUserGrants), g) ==
        std::end(kKnownUserGrants)) {
      return invalid(ErrorCode::kUnknownGrant,
                     "unknown grant \"" + g + "\" (known for users: deploy)");
    }
    if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

// RFC 3339 with a Z or ±HH:MM offset, optional fraction: microseconds since the epoch.
std::optional<int64_t> parse_rfc3339(std::string_view s) {
  std::string_view m[9];
  if (!match_rfc3339(s, m)) return std::nullopt;
  auto num = [&](int i) { return std::atoi(std::string(m[i]).c_str()); };
  std::tm tm{};
  tm.tm_year = num(1) - 1900;
  tm.tm_mon = num(2) - 1;
  tm.tm_mday = num(3);
  tm.tm_hour = num(4);
  tm.tm_min = num(5);
  tm.tm_sec = num(6);
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  int64_t secs = static_cast<int64_t>(timegm(&tm));
  int64_t micros = 0;
  if (!m[7].empty()) {
    std::string frac(m[7].substr(1));
    frac.resize(6, '0');
    micros = std::atoll(frac.c_str());
  }
  std::string off(m[8]);
  if (off != "Z" && off != "z") {
    int64_t o =
        (std::atoi(off.substr(1, 2).c_str()) * 60 + std::atoi(off.substr(4, 2).c_str())) * 60;
    secs -= off[0] == '+' ? o : -o;
  }
  return secs * 1'000'000 + micros;
}

Expected<store::PageRequest> parse_page(const std::optional<std::string>& limit,
                                        const std::optional<std::string>& cursor) {
  store::PageRequest page;
  if (limit) {
    const std::string& v = *limit;
    char* end = nullptr;
    long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < 1 || n > 200)
      return invalid(ErrorCode::kInvalidLimit, "limit must be between 1 and 200");
    page.limit = static_cast<uint32_t>(n);
  }
  if (cursor && !cursor->empty()) page.cursor = *cursor;
  return page;
}

// --- whole requests ------------------------------------------------------------------------------

namespace {

Expected<std::string> source_from(const json::object& body, const std::string& language,
                                  bool required, const FunctionRules& rules) {
  if (language == "wasm") {
    if (body.contains("source"))
      return invalid(ErrorCode::kInvalidField,
                     "language \"wasm\" takes \"wasmBase64\", not \"source\"");
    auto b64 = NIL_TRY(string_field(body, "wasmBase64"));
    if (!b64) {
      if (!required) return std::string();
      return invalid(ErrorCode::kMissingField, "\"wasmBase64\" is required for language \"wasm\"");
    }
    auto bytes = base64_decode(*b64);
    if (!bytes) return invalid(ErrorCode::kInvalidBase64, "\"wasmBase64\" is not valid base64");
    if (bytes->empty()) return invalid(ErrorCode::kInvalidField, "\"wasmBase64\" is empty");
    return std::move(*bytes);
  }
  if (body.contains("wasmBase64"))
    return invalid(ErrorCode::kInvalidField, "\"wasmBase64\" is only for language \"wasm\"");
  auto src = NIL_TRY(string_field(body, "source"));
  if (!src) {
    if (!required) return std::string();
    return invalid(ErrorCode::kMissingField, "\"source\" is required");
  }
  if (src->empty()) return invalid(ErrorCode::kInvalidField, "\"source\" is empty");
  if (src->size() > rules.max_source_bytes) {
    return make_error(ErrorCode::kSourceTooLarge,
                      "source is larger than " + std::to_string(rules.max_source_bytes) + " bytes");
  }
  return std::move(*src);
}

Expected<std::string> language_from(const json::object& body, bool required,
                                    const FunctionRules& rules) {
  auto lang = NIL_TRY(string_field(body, "language"));
  if (!lang) {
    if (!required) return std::string();
    return invalid(ErrorCode::kMissingField, "\"language\" is required");
  }
  static const std::vector<std::string> kNone;
  const std::vector<std::string>& languages = rules.languages ? *rules.languages : kNone;
  if (std::find(languages.begin(), languages.end(), *lang) == languages.end()) {
    std::string list;
    for (const auto& l : languages) list += (list.empty() ? "" : ", ") + l;
    return invalid(ErrorCode::kUnsupportedLanguage,
                   "language \"" + *lang + "\" is not supported (supported: " + list + ")");
  }
  return std::move(*lang);
}

// Fields only an admin may set on a function: who may use it, and what it may reach.
Expected<void> admin_fields_only(const json::object& body, bool admin) {
  if (admin) return {};
  for (std::string_view f : {"allowedUsers", "allowedGroups", "public", "environments", "httpAllow",
                             "grants", "managers"}) {
    if (body.contains(f)) return forbidden("only an admin may set \"" + std::string(f) + "\"");
  }
  return {};
}

}  // namespace

Expected<store::NewFunction> parse_new_function(const json::object& body,
                                                const FunctionRules& rules) {
  NIL_TRY_VOID(only_fields(
      body, {"name", "language", "source", "wasmBase64", "limits", "environments", "httpAllow",
             "grants", "allowedUsers", "allowedGroups", "public", "managers", "retry"}));
  NIL_TRY_VOID(admin_fields_only(body, rules.admin));
  auto name = NIL_TRY(string_field(body, "name"));
  if (!name) return invalid(ErrorCode::kMissingField, "\"name\" is required");
  NIL_TRY_VOID(check_function_name(*name));
  store::NewFunction nf;
  nf.name = *name;
  nf.language = NIL_TRY(language_from(body, true, rules));
  nf.source = NIL_TRY(source_from(body, nf.language, true, rules));
  nf.limits = NIL_TRY(parse_limits(body, store::FunctionLimits{}));
  nf.retry = NIL_TRY(parse_retry(body, store::RetryPolicy{}));
  nf.access.environments = NIL_TRY(parse_environments(body)).value_or(std::vector<std::string>{});
  nf.access.http_allow = NIL_TRY(parse_http_allow(body)).value_or(std::vector<std::string>{});
  nf.access.grants = NIL_TRY(parse_grants(body)).value_or(std::vector<std::string>{});
  nf.allowed.users =
      NIL_TRY(string_list_field(body, "allowedUsers")).value_or(std::vector<std::string>{});
  nf.allowed.groups =
      NIL_TRY(string_list_field(body, "allowedGroups")).value_or(std::vector<std::string>{});
  nf.is_public = NIL_TRY(bool_field(body, "public")).value_or(false);
  nf.managers = NIL_TRY(string_list_field(body, "managers")).value_or(std::vector<std::string>{});
  return nf;
}

Expected<store::FunctionUpdate> parse_function_update(const json::object& body,
                                                      const store::Function& current,
                                                      const FunctionRules& rules) {
  NIL_TRY_VOID(only_fields(
      body, {"language", "source", "wasmBase64", "limits", "environments", "httpAllow", "grants",
             "allowedUsers", "allowedGroups", "public", "managers", "retry"}));
  NIL_TRY_VOID(admin_fields_only(body, rules.admin));
  store::FunctionUpdate u;
  std::string lang = NIL_TRY(language_from(body, false, rules));
  if (!lang.empty() && lang != current.language) u.language = lang;
  const std::string& effective = lang.empty() ? current.language : lang;
  std::string src = NIL_TRY(source_from(body, effective, u.language.has_value(), rules));
  if (!src.empty()) u.source = std::move(src);
  if (body.contains("limits")) u.limits = NIL_TRY(parse_limits(body, current.limits));
  if (body.contains("retry")) u.retry = NIL_TRY(parse_retry(body, current.retry));
  u.environments = NIL_TRY(parse_environments(body));
  u.http_allow = NIL_TRY(parse_http_allow(body));
  u.grants = NIL_TRY(parse_grants(body));
  u.allowed_users = NIL_TRY(string_list_field(body, "allowedUsers"));
  u.allowed_groups = NIL_TRY(string_list_field(body, "allowedGroups"));
  u.is_public = NIL_TRY(bool_field(body, "public"));
  u.managers = NIL_TRY(string_list_field(body, "managers"));
  if (!u.language && !u.source && !u.limits && !u.retry && !u.environments && !u.http_allow &&
      !u.grants && !u.allowed_users && !u.allowed_groups && !u.is_public && !u.managers) {
    return invalid(
        ErrorCode::kInvalidBody,
        "nothing to update: give \"source\", \"language\", \"limits\", \"environments\", "
        "\"httpAllow\", \"grants\", \"allowedUsers\", \"allowedGroups\", \"public\" or "
        "\"managers\"");
  }
  return u;
}

Expected<store::NewEnvironment> parse_new_environment(const json::object& body) {
  NIL_TRY_VOID(only_fields(body, {"name", "vars", "allowedUsers", "allowedGroups"}));
  auto name = NIL_TRY(string_field(body, "name"));
  if (!name) return invalid(ErrorCode::kMissingField, "\"name\" is required");
  NIL_TRY_VOID(check_environment_name(*name));
  // Not inside the braces: NIL_TRY's early return out of an aggregate initializer leaks the
  // members already built (found by fuzz_request_json).
  auto vars = NIL_TRY(parse_vars(body, nullptr));
  store::NewEnvironment ne{*name, std::move(vars), {}};
  ne.allowed.users =
      NIL_TRY(string_list_field(body, "allowedUsers")).value_or(std::vector<std::string>{});
  ne.allowed.groups =
      NIL_TRY(string_list_field(body, "allowedGroups")).value_or(std::vector<std::string>{});
  return ne;
}

Expected<store::EnvironmentUpdate> parse_environment_update(const json::object& body,
                                                            const store::Environment& current) {
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
    return invalid(
        ErrorCode::kInvalidBody,
        "nothing to update: give \"vars\", \"name\", \"allowedUsers\" or \"allowedGroups\"");
  }
  return u;
}

Expected<NewUserRequest> parse_new_user(const json::object& body) {
  NIL_TRY_VOID(only_fields(body, {"username", "password", "role", "grants"}));
  auto username = NIL_TRY(string_field(body, "username"));
  if (!username) return invalid(ErrorCode::kMissingField, "\"username\" is required");
  NIL_TRY_VOID(check_username(*username));
  auto password = NIL_TRY(string_field(body, "password"));
  if (!password) return invalid(ErrorCode::kMissingField, "\"password\" is required");
  NIL_TRY_VOID(check_password(*password));
  NewUserRequest nu;
  nu.username = std::move(*username);
  nu.password = std::move(*password);
  nu.role = NIL_TRY(parse_role_field(body));
  nu.grants = NIL_TRY(parse_user_grants(body)).value_or(std::vector<std::string>{});
  return nu;
}

Expected<void> check_user_update_fields(const json::object& body, bool admin) {
  NIL_TRY_VOID(only_fields(body, {"password", "role", "grants"}));
  if (!admin && (body.contains("role") || body.contains("grants"))) {
    return forbidden("only an admin may change a role or grants");
  }
  return {};
}

Expected<UserUpdateRequest> parse_user_update(const json::object& body) {
  UserUpdateRequest u;
  if (auto pw = NIL_TRY(string_field(body, "password"))) {
    NIL_TRY_VOID(check_password(*pw));
    u.password = std::move(*pw);
  }
  if (body.contains("role")) u.role = NIL_TRY(parse_role_field(body));
  u.grants = NIL_TRY(parse_user_grants(body));
  if (!u.password && !u.role && !u.grants)
    return invalid(ErrorCode::kInvalidBody,
                   "nothing to update: give \"password\", \"role\" or \"grants\"");
  return u;
}

Expected<std::string> parse_new_group(const json::object& body) {
  NIL_TRY_VOID(only_fields(body, {"name"}));
  auto name = NIL_TRY(string_field(body, "name"));
  if (!name) return invalid(ErrorCode::kMissingField, "\"name\" is required");
  NIL_TRY_VOID(check_environment_name(*name));
  if (is_uuid(*name)) return invalid(ErrorCode::kInvalidName, "a group name must not be a UUID");
  return std::move(*name);
}

Expected<std::string> parse_group_member(const json::object& body) {
  NIL_TRY_VOID(only_fields(body, {"userId", "username"}));
  auto uid = NIL_TRY(string_field(body, "userId"));
  auto uname = NIL_TRY(string_field(body, "username"));
  if (!uid && !uname) return invalid(ErrorCode::kMissingField, "give \"userId\" or \"username\"");
  return uid ? std::move(*uid) : std::move(*uname);
}

Expected<NewApiKeyRequest> parse_new_api_key(const json::object& body, int64_t now_micros) {
  NIL_TRY_VOID(only_fields(body, {"name", "expiresAt", "userId"}));
  auto name = NIL_TRY(string_field(body, "name"));
  if (!name || name->empty() || name->size() > 100)
    return invalid(ErrorCode::kInvalidField, "\"name\" is required, 1 to 100 characters");
  NewApiKeyRequest k;
  k.name = std::move(*name);
  if (auto e = NIL_TRY(string_field(body, "expiresAt"))) {
    k.expires_at = parse_rfc3339(*e);
    if (!k.expires_at)
      return invalid(ErrorCode::kInvalidField,
                     "\"expiresAt\" must be an RFC 3339 time, e.g. 2027-01-31T12:00:00Z");
    if (*k.expires_at <= now_micros)
      return invalid(ErrorCode::kInvalidField, "\"expiresAt\" is in the past");
  }
  k.user_ref = NIL_TRY(string_field(body, "userId"));
  return k;
}

Expected<LoginRequest> parse_login(const json::object& body) {
  NIL_TRY_VOID(only_fields(body, {"username", "password"}));
  auto username = NIL_TRY(string_field(body, "username"));
  auto password = NIL_TRY(string_field(body, "password"));
  if (!username || !password)
    return invalid(ErrorCode::kMissingField, "\"username\" and \"password\" are required");
  return LoginRequest{std::move(*username), std::move(*password)};
}

}  // namespace nil::api
