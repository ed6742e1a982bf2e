// nil::api request JSON — the parsers and field validation of every request body and query
// parameter the API takes, as pure functions (no store, no clock, no principal beyond a flag), so
// that each rule is unit-tested on its own (tests/api/request_json_test.cpp) and fuzzed
// (tests/fuzz/fuzz_request_json.cpp).
//
// Every failure is an Error whose code is part of the API (docs/errors.md): invalid_input for
// bad fields (unknown_field, missing_field, invalid_field, invalid_name, invalid_limits, …),
// unsupported_media_type, source_too_large, and `forbidden` where a field is admin-only. The
// checks run in a fixed order and the first failure is the answer: the order is part of the
// behaviour (the integration tests pin several of them).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"
#include "store/store.h"

namespace nil::api {

// --- bodies --------------------------------------------------------------------------------------

// The media type of a Content-Type value without parameters, lower-cased ("" when absent).
std::string media_type(std::string_view content_type);
bool is_json_media(std::string_view media_type);
// JSON text; a syntax error is malformed_json with "line L, column C".
Expected<boost::json::value> parse_json_text(std::string_view text);
// A JSON body: the Content-Type must be JSON (unsupported_media_type otherwise). With
// `empty_is_null` an empty body (without a Content-Type, or with a JSON one) is null.
Expected<boost::json::value> parse_json_body(std::string_view content_type, std::string_view body,
                                             bool empty_is_null);
// A JSON body that must be an object (invalid_body otherwise).
Expected<boost::json::object> parse_json_object(std::string_view content_type,
                                                std::string_view body);

// --- fields --------------------------------------------------------------------------------------

Expected<void> only_fields(const boost::json::object& o,
                           std::initializer_list<std::string_view> known);
// Absent or null → nullopt.
Expected<std::optional<std::string>> string_field(const boost::json::object& o,
                                                  std::string_view key);
Expected<std::optional<bool>> bool_field(const boost::json::object& o, std::string_view key);
Expected<std::optional<std::vector<std::string>>> string_list_field(const boost::json::object& o,
                                                                    std::string_view key);

// "limits": {"timeoutMs", "memoryMb"} over `base` (absent or null: `base` unchanged).
inline constexpr uint32_t kMaxTimeoutMs = 900'000;
// limits.maxConcurrency (1..; null: unlimited) and limits.maxQueueMs (0: never wait in line).
inline constexpr int64_t kMaxConcurrency = 100'000;
inline constexpr int64_t kMaxQueueMs = 300'000;
inline constexpr uint32_t kMaxMemoryMb = 4096;
Expected<store::FunctionLimits> parse_limits(const boost::json::object& o,
                                             store::FunctionLimits base);
// "retry": {"maxAttempts", "backoff", "initialDelayMs", "maxDelayMs", "maxEventAgeS"} over
// `base` (invalid_retry, unknown_field; docs/openapi.yaml, POST /functions/{ref}/invocations).
Expected<store::RetryPolicy> parse_retry(const boost::json::object& o, store::RetryPolicy base);

Expected<void> check_function_name(std::string_view name);  // ^[a-z][a-z0-9-]{0,62}$, not "deploy"
Expected<void> check_environment_name(
    std::string_view name);                                // ^[a-z][a-z0-9-]{0,62}$ (groups too)
Expected<void> check_username(std::string_view name);      // ^[a-z][a-z0-9_.-]{0,62}$, not a UUID
Expected<void> check_password(std::string_view password);  // 8..1024 bytes

Expected<std::optional<std::vector<std::string>>> parse_environments(const boost::json::object& o);
Expected<std::optional<std::vector<std::string>>> parse_http_allow(const boost::json::object& o);
Expected<std::optional<std::vector<std::string>>> parse_grants(
    const boost::json::object& o);  // functions
Expected<std::optional<std::vector<std::string>>> parse_user_grants(
    const boost::json::object& o);  // users
Expected<store::Role> parse_role_field(const boost::json::object& o);
// "vars": `current` (on PUT) lets a secret be kept by sending it without a value.
Expected<std::vector<store::EnvironmentVar>> parse_vars(const boost::json::object& o,
                                                        const store::Environment* current);

// RFC 3339 with a Z or ±HH:MM offset and an optional fraction: microseconds since the epoch.
std::optional<int64_t> parse_rfc3339(std::string_view s);

// ?limit=1..200 (invalid_limit) and ?cursor= (empty: none). Absent parameters: nullopt.
Expected<store::PageRequest> parse_page(const std::optional<std::string>& limit,
                                        const std::optional<std::string>& cursor);

// --- whole requests ------------------------------------------------------------------------------

// What a function body may hold besides its fields' own rules.
struct FunctionRules {
  const std::vector<std::string>* languages = nullptr;  // accepted "language" values
  uint64_t max_source_bytes = 1 << 20;
  bool admin = false;  // only an admin may set who may use a function and what it may reach
};

// POST /functions. `allowed` is as sent: the handler makes a developer's function theirs alone.
// "managers" (admin only) holds user ids or usernames as sent: the handler resolves them to ids.
Expected<store::NewFunction> parse_new_function(const boost::json::object& body,
                                                const FunctionRules& rules);
// PUT /functions/{ref} over the current function; an empty update is invalid_body.
Expected<store::FunctionUpdate> parse_function_update(const boost::json::object& body,
                                                      const store::Function& current,
                                                      const FunctionRules& rules);

// POST /environments, PUT /environments/{ref}.
Expected<store::NewEnvironment> parse_new_environment(const boost::json::object& body);
Expected<store::EnvironmentUpdate> parse_environment_update(const boost::json::object& body,
                                                            const store::Environment& current);

// POST /users (the password is hashed by the handler).
struct NewUserRequest {
  std::string username;
  std::string password;
  store::Role role = store::Role::kDev;
  std::vector<std::string> grants;
};
Expected<NewUserRequest> parse_new_user(const boost::json::object& body);

// PUT /users/{ref} in two steps, as the handler looks the user up in between: the fields
// (a non-admin may change only the password), then their values.
struct UserUpdateRequest {
  std::optional<std::string> password;
  std::optional<store::Role> role;
  std::optional<std::vector<std::string>> grants;
};
Expected<void> check_user_update_fields(const boost::json::object& body, bool admin);
Expected<UserUpdateRequest> parse_user_update(const boost::json::object& body);

// POST /groups: the group's name.
Expected<std::string> parse_new_group(const boost::json::object& body);
// POST /groups/{ref}/members: the member's user id or username.
Expected<std::string> parse_group_member(const boost::json::object& body);

// POST /api-keys. `now_micros`: "expiresAt" must be later.
struct NewApiKeyRequest {
  std::string name;
  std::optional<int64_t> expires_at;
  std::optional<std::string> user_ref;  // "userId": for whom (an admin's choice)
};
Expected<NewApiKeyRequest> parse_new_api_key(const boost::json::object& body, int64_t now_micros);

// POST /auth/login.
struct LoginRequest {
  std::string username;
  std::string password;
};
Expected<LoginRequest> parse_login(const boost::json::object& body);

}  // namespace nil::api
