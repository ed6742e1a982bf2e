// The request parsers of src/api/request_json.h, one rule at a time; the codes are the API's
// (docs/errors.md). Integration tests check the same rules end to end over HTTP.
#include "api/request_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace nil::api {
namespace {

namespace json = boost::json;

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

// "" when ok, else the error's code.
template <typename T>
std::string code_of(const Expected<T>& r) {
  return r.ok() ? std::string() : std::string(r.error().wire_code());
}

TEST(RequestJson, MediaType) {
  EXPECT_EQ(media_type("Application/JSON; charset=utf-8"), "application/json");
  EXPECT_EQ(media_type(""), "");
  EXPECT_TRUE(is_json_media("application/json"));
  EXPECT_TRUE(is_json_media("application/merge-patch+json"));
  EXPECT_FALSE(is_json_media("text/json"));
  EXPECT_FALSE(is_json_media(""));
}

TEST(RequestJson, MalformedJsonSaysWhere) {
  auto r = parse_json_text("{\n  \"a\": 1,\n  \"b\": }");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kMalformedJson);
  EXPECT_NE(r.error().message.find("line 3, column 8"), std::string::npos) << r.error().message;
}

TEST(RequestJson, BodyNeedsAJsonMediaTypeAndAnObject) {
  struct Case {
    std::string_view content_type, body;
    bool empty_is_null;
    std::string_view code;  // "" = ok
  } cases[] = {
      {"application/json", "{}", false, ""},
      {"application/json", "", true, ""},
      {"", "", true, ""},
      {"text/plain", "", true, "unsupported_media_type"},
      {"", "{}", false, "unsupported_media_type"},
      {"text/plain", "{}", false, "unsupported_media_type"},
      {"application/json", "", false, "malformed_json"},
      {"application/json", "{", false, "malformed_json"},
      {"application/json", "[1]", false, ""},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(code_of(parse_json_body(c.content_type, c.body, c.empty_is_null)), c.code)
        << c.content_type << " / " << c.body;
  }
  EXPECT_EQ(code_of(parse_json_object("application/json", "[1]")), "invalid_body");
  EXPECT_EQ(code_of(parse_json_object("application/json", "{\"a\":1}")), "");
  auto null = parse_json_body("", "", true);
  ASSERT_TRUE(null.ok());
  EXPECT_TRUE(null->is_null());
}

TEST(RequestJson, Fields) {
  json::object o = obj(R"j({"s":"x","n":1,"b":true,"z":null,"l":["a","b"],"bad":["a",1]})j");
  EXPECT_EQ(code_of(only_fields(o, {"s", "n", "b", "z", "l", "bad"})), "");
  auto unknown = only_fields(o, {"s"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kUnknownField);
  EXPECT_EQ(*string_field(o, "s").value(), "x");
  EXPECT_FALSE(string_field(o, "z").value().has_value());
  EXPECT_FALSE(string_field(o, "missing").value().has_value());
  EXPECT_EQ(code_of(string_field(o, "n")), "invalid_field");
  EXPECT_EQ(*bool_field(o, "b").value(), true);
  EXPECT_EQ(code_of(bool_field(o, "s")), "invalid_field");
  EXPECT_EQ(string_list_field(o, "l").value()->size(), 2u);
  EXPECT_EQ(code_of(string_list_field(o, "bad")), "invalid_field");
  EXPECT_EQ(code_of(string_list_field(o, "s")), "invalid_field");
}

TEST(RequestJson, Limits) {
  struct Case {
    std::string_view body, code;
    uint32_t timeout_ms = 0, memory_mb = 0;
  } cases[] = {
      {R"j({})j", "", 10'000, 128},
      {R"j({"limits":null})j", "", 10'000, 128},
      {R"j({"limits":{"timeoutMs":1,"memoryMb":4096}})j", "", 1, 4096},
      {R"j({"limits":{"timeoutMs":900000}})j", "", 900'000, 128},
      {R"j({"limits":{"timeoutMs":0}})j", "invalid_limits"},
      {R"j({"limits":{"timeoutMs":900001}})j", "invalid_limits"},
      {R"j({"limits":{"memoryMb":4097}})j", "invalid_limits"},
      {R"j({"limits":{"memoryMb":-1}})j", "invalid_limits"},
      {R"j({"limits":{"memoryMb":1.5}})j", "invalid_limits"},
      {R"j({"limits":{"memoryMb":"64"}})j", "invalid_limits"},
      {R"j({"limits":{"cpu":1}})j", "unknown_field"},
      {R"j({"limits":[]})j", "invalid_limits"},
      {R"j({"limits":{"timeoutMs":18446744073709551615}})j", "invalid_limits"},
  };
  for (const auto& c : cases) {
    auto r = parse_limits(obj(c.body), store::FunctionLimits{});
    EXPECT_EQ(code_of(r), c.code) << c.body;
    if (r.ok()) {
      EXPECT_EQ(r->timeout_ms, c.timeout_ms) << c.body;
      EXPECT_EQ(r->memory_mb, c.memory_mb) << c.body;
    }
  }
}

TEST(RequestJson, Names) {
  struct Case {
    std::string_view name, function_code, environment_code, username_code;
  } cases[] = {
      {"hello", "", "", ""},
      {"a", "", "", ""},
      {"hello-world-2", "", "", ""},
      {"deploy", "reserved_name", "", ""},
      {"Hello", "invalid_name", "invalid_name", "invalid_username"},
      {"2fast", "invalid_name", "invalid_name", "invalid_username"},
      {"", "invalid_name", "invalid_name", "invalid_username"},
      {"a.b_c", "invalid_name", "invalid_name", ""},
      {"12345678-1234-4234-8234-123456789012", "invalid_name", "invalid_name", "invalid_username"},
      {"a123456789012345678901234567890123456789012345678901234567890123", "invalid_name",
       "invalid_name", "invalid_username"},  // 64 characters
      {"a12345678901234567890123456789012345678901234567890123456789012", "", "", ""},  // 63
      {"a-", "", "", ""},
      {"a._-", "invalid_name", "invalid_name", ""},
      {"-a", "invalid_name", "invalid_name", "invalid_username"},
      {".a", "invalid_name", "invalid_name", "invalid_username"},
      {"_a", "invalid_name", "invalid_name", "invalid_username"},
      {"a b", "invalid_name", "invalid_name", "invalid_username"},
      {"a\n", "invalid_name", "invalid_name", "invalid_username"},
      {std::string_view("a\0b", 3), "invalid_name", "invalid_name", "invalid_username"},
      {"caf\xc3\xa9", "invalid_name", "invalid_name", "invalid_username"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(code_of(check_function_name(c.name)), c.function_code) << c.name;
    EXPECT_EQ(code_of(check_environment_name(c.name)), c.environment_code) << c.name;
    EXPECT_EQ(code_of(check_username(c.name)), c.username_code) << c.name;
  }
  EXPECT_EQ(code_of(check_password("1234567")), "invalid_password");
  EXPECT_EQ(code_of(check_password("12345678")), "");
  EXPECT_EQ(code_of(check_password(std::string(1025, 'x'))), "invalid_password");
}

TEST(RequestJson, HttpAllow) {
  const std::string kLabel63(63, 'a');
  const std::string kHost255 = kLabel63 + "." + kLabel63 + "." + kLabel63 + "." + kLabel63;
  struct Case {
    std::string host;
    std::string_view code;
  } cases[] = {
      {"api.example.com", ""},
      {"API.Example.com", ""},
      {"127.0.0.1:8081", ""},
      {"[::1]:9000", ""},
      {"example.com:65535", ""},
      {"https://example.com", "invalid_http_allow"},
      {"*.example.com", "invalid_http_allow"},
      {"example.com/path", "invalid_http_allow"},
      {"example.com:0", "invalid_http_allow"},
      {"example.com:70000", "invalid_http_allow"},
      {"", "invalid_http_allow"},
      {"-bad.com", "invalid_http_allow"},
      // Labels: 1 to 63 of [a-z0-9-], neither starting nor ending with '-', none empty.
      {"a", ""},
      {"0.a-b.c9", ""},
      {kLabel63 + ".com", ""},
      {kLabel63 + "x.com", "invalid_http_allow"},  // 64
      {"bad-.com", "invalid_http_allow"},
      {"a.com-", "invalid_http_allow"},
      {"a..com", "invalid_http_allow"},
      {".a.com", "invalid_http_allow"},
      {"a.com.", "invalid_http_allow"},
      {"a_b.com", "invalid_http_allow"},
      {"caf\xc3\xa9.com", "invalid_http_allow"},
      {"a.com\n", "invalid_http_allow"},
      // Ports: 1 to 5 digits, 1..65535.
      {"a.com:1", ""},
      {"a.com:00080", ""},
      {"a.com:65536", "invalid_http_allow"},
      {"a.com:123456", "invalid_http_allow"},
      {"a.com:", "invalid_http_allow"},
      {"a.com:8x", "invalid_http_allow"},
      {"a.com:1:2", "invalid_http_allow"},
      {":80", "invalid_http_allow"},
      // Bracketed literals: [0-9a-f:.]+ between the brackets.
      {"[::1]", ""},
      {"[::FFFF:127.0.0.1]:1", ""},  // lower-cased first
      {"[]", "invalid_http_allow"},
      {"[::1", "invalid_http_allow"},
      {"::1]", "invalid_http_allow"},
      {"::1", "invalid_http_allow"},
      {"[::g]", "invalid_http_allow"},
      {"[::1]x", "invalid_http_allow"},
      {"[::1]]", "invalid_http_allow"},
      {"[[::1]]", "invalid_http_allow"},
      {"[::1]:", "invalid_http_allow"},
      {"[::1]:0", "invalid_http_allow"},
      {"[::1]:65536", "invalid_http_allow"},
      // At most 261 characters in all.
      {kHost255 + ".b:123", ""},                     // 261
      {kHost255 + ".b:1234", "invalid_http_allow"},  // 262
  };
  for (const auto& c : cases) {
    json::object o{{"httpAllow", json::array{json::string(c.host)}}};
    EXPECT_EQ(code_of(parse_http_allow(o)), c.code) << c.host;
  }
  // A port out of range says so; six digits are not a port at all.
  auto port = parse_http_allow(obj(R"j({"httpAllow":["a.com:65536"]})j"));
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.error().message.find("port must be 1..65535"), std::string::npos);
  auto six = parse_http_allow(obj(R"j({"httpAllow":["a.com:123456"]})j"));
  ASSERT_FALSE(six.ok());
  EXPECT_NE(six.error().message.find("is not a host or host:port"), std::string::npos);

  auto r = parse_http_allow(obj(R"j({"httpAllow":["A.com","a.com","b.com:1"]})j"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(**r, (std::vector<std::string>{"a.com", "b.com:1"}));  // lower-cased, deduplicated
  json::array many;
  for (int i = 0; i < 65; ++i) many.push_back(json::string("h" + std::to_string(i) + ".com"));
  EXPECT_EQ(code_of(parse_http_allow(json::object{{"httpAllow", many}})), "invalid_http_allow");
}

TEST(RequestJson, EnvironmentsAndGrants) {
  EXPECT_EQ(code_of(parse_environments(obj(R"j({"environments":["a","b"]})j"))), "");
  EXPECT_EQ(code_of(parse_environments(obj(R"j({"environments":["a","a"]})j"))), "invalid_field");
  EXPECT_EQ(code_of(parse_environments(obj(R"j({"environments":[""]})j"))), "invalid_field");
  json::array many;
  for (int i = 0; i < 17; ++i) many.push_back(json::string("e" + std::to_string(i)));
  EXPECT_EQ(code_of(parse_environments(json::object{{"environments", many}})), "invalid_field");
  EXPECT_EQ(**parse_grants(obj(R"j({"grants":["db:ddl","db:ddl"]})j")),
            std::vector<std::string>{"db:ddl"});
  EXPECT_EQ(code_of(parse_grants(obj(R"j({"grants":["deploy"]})j"))), "unknown_grant");
  EXPECT_EQ(code_of(parse_user_grants(obj(R"j({"grants":["deploy"]})j"))), "");
  EXPECT_EQ(code_of(parse_user_grants(obj(R"j({"grants":["db:ddl"]})j"))), "unknown_grant");
  EXPECT_EQ(*parse_role_field(obj(R"j({"role":"admin"})j")), store::Role::kAdmin);
  EXPECT_EQ(code_of(parse_role_field(obj(R"j({"role":"root"})j"))), "invalid_role");
  EXPECT_EQ(code_of(parse_role_field(obj(R"j({})j"))), "missing_field");
}

TEST(RequestJson, Vars) {
  struct Case {
    std::string_view body, code;
  } cases[] = {
      {R"j({"vars":[{"key":"A","value":"1"},{"key":"T","value":"secret","secret":true}]})j", ""},
      {R"j({"vars":null})j", ""},
      {R"j({"vars":{}})j", "invalid_field"},
      {R"j({"vars":[1]})j", "invalid_field"},
      {R"j({"vars":[{"key":"A","value":"1","extra":1}]})j", "unknown_field"},
      {R"j({"vars":[{"value":"1"}]})j", "missing_field"},
      {R"j({"vars":[{"key":"1A","value":"1"}]})j", "invalid_env_key"},
      {R"j({"vars":[{"key":"_a_Z_9","value":"1"}]})j", ""},
      {R"j({"vars":[{"key":"","value":"1"}]})j", "invalid_env_key"},
      {R"j({"vars":[{"key":"A-B","value":"1"}]})j", "invalid_env_key"},
      {R"j({"vars":[{"key":"A.B","value":"1"}]})j", "invalid_env_key"},
      {R"j({"vars":[{"key":"A\n","value":"1"}]})j", "invalid_env_key"},
      {R"j({"vars":[{"key":"\u00c9","value":"1"}]})j", "invalid_env_key"},
      {R"j({"vars":[{"key":"A"}]})j", "missing_field"},
      {R"j({"vars":[{"key":"A","value":"1","secret":"yes"}]})j", "invalid_field"},
      {R"j({"vars":[{"key":"A","value":"abc","secret":true}]})j", "invalid_env_value"},
      {R"j({"vars":[{"key":"A","value":"a\u0000b"}]})j", "invalid_env_value"},
      {R"j({"vars":[{"key":"A","value":"1"},{"key":"A","value":"2"}]})j", "duplicate_env_key"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(code_of(parse_vars(obj(c.body), nullptr)), c.code) << c.body;
  // Keys are 1 to 128 characters.
  auto key_of_length = [](size_t n) {
    return json::object{
        {"vars", json::array{json::object{{"key", std::string(n, 'K')}, {"value", "1"}}}}};
  };
  EXPECT_EQ(code_of(parse_vars(key_of_length(128), nullptr)), "");
  EXPECT_EQ(code_of(parse_vars(key_of_length(129), nullptr)), "invalid_env_key");

  // On PUT a secret is kept by sending it without a value; a plain variable cannot be.
  store::Environment current;
  current.vars = {{"TOKEN", "s3cret!", true}, {"PLAIN", "p", false}};
  auto kept = parse_vars(obj(R"j({"vars":[{"key":"TOKEN","secret":true}]})j"), &current);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->at(0).value, "s3cret!");
  EXPECT_EQ(code_of(parse_vars(obj(R"j({"vars":[{"key":"PLAIN"}]})j"), &current)), "missing_field");
}

TEST(RequestJson, Rfc3339) {
  struct Case {
    std::string_view text;
    std::optional<int64_t> micros;
  } cases[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"1970-01-01t00:00:01z", 1'000'000},
      {"2027-01-31T12:00:00Z", 1'801'396'800'000'000},
      {"2027-01-31T12:00:00.5Z", 1'801'396'800'500'000},
      {"2027-01-31T12:00:00.123456789Z", 1'801'396'800'123'456},
      {"2027-01-31T14:00:00+02:00", 1'801'396'800'000'000},
      {"2027-01-31T10:30:00-01:30", 1'801'396'800'000'000},
      {"2027-01-31 12:00:00Z", std::nullopt},
      {"2027-01-31T12:00:00", std::nullopt},
      {"2027-13-01T00:00:00Z", std::nullopt},
      {"2027-01-32T00:00:00Z", std::nullopt},
      {"2027-01-31T24:00:00Z", std::nullopt},
      {"2027-01-31T12:00:00.Z", std::nullopt},
      {"2027-01-31T12:00:00.1234567891Z", std::nullopt},  // 10 fraction digits
      {"2027-01-31T14:00:00+0200", std::nullopt},
      {"2027-01-31T14:00:00+02:00 ", std::nullopt},
      {"2027-01-31T12:00:00ZZ", std::nullopt},
      {"2027-1-31T12:00:00Z", std::nullopt},
      {"2027-01-31T12:00:0aZ", std::nullopt},
      {"2027-01-31X12:00:00Z", std::nullopt},
      {"tomorrow", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(parse_rfc3339(c.text), c.micros) << c.text;
}

TEST(RequestJson, Page) {
  struct Case {
    std::optional<std::string> limit, cursor;
    std::string_view code;
    uint32_t want_limit = 50;
  } cases[] = {
      {std::nullopt, std::nullopt, "", 50},
      {"1", std::nullopt, "", 1},
      {"200", "abc", "", 200},
      {"0", std::nullopt, "invalid_limit"},
      {"201", std::nullopt, "invalid_limit"},
      {"", std::nullopt, "invalid_limit"},
      {"5x", std::nullopt, "invalid_limit"},
      {"-1", std::nullopt, "invalid_limit"},
  };
  for (const auto& c : cases) {
    auto r = parse_page(c.limit, c.cursor);
    EXPECT_EQ(code_of(r), c.code) << c.limit.value_or("(none)");
    if (r.ok()) {
      EXPECT_EQ(r->limit, c.want_limit);
    }
  }
  EXPECT_EQ(parse_page(std::nullopt, "abc")->cursor, "abc");
  EXPECT_FALSE(parse_page(std::nullopt, "")->cursor.has_value());
}

const std::vector<std::string> kLanguages{"wat", "wasm", "c"};

TEST(RequestJson, NewFunction) {
  struct Case {
    std::string_view body;
    bool admin;
    std::string_view code;
  } cases[] = {
      {R"j({"name":"f","language":"wat","source":"(module)"})j", false, ""},
      {R"j({"name":"f","language":"wasm","wasmBase64":"AGFzbQEAAAA="})j", false, ""},
      {R"j({"name":"f","language":"wat","source":"(module)","public":true})j", false, "forbidden"},
      {R"j({"name":"f","language":"wat","source":"(module)","public":true,"httpAllow":["a.com"]})j",
       true, ""},
      {R"j({"name":"f","language":"wat","source":"(module)","extra":1})j", true, "unknown_field"},
      {R"j({"language":"wat","source":"(module)"})j", false, "missing_field"},
      {R"j({"name":"F","language":"wat","source":"(module)"})j", false, "invalid_name"},
      {R"j({"name":"deploy","language":"wat","source":"(module)"})j", false, "reserved_name"},
      {R"j({"name":"f","source":"(module)"})j", false, "missing_field"},
      {R"j({"name":"f","language":"cobol","source":"x"})j", false, "unsupported_language"},
      {R"j({"name":"f","language":"wat"})j", false, "missing_field"},
      {R"j({"name":"f","language":"wat","source":""})j", false, "invalid_field"},
      {R"j({"name":"f","language":"wat","source":"0123456789a"})j", false, "source_too_large"},
      {R"j({"name":"f","language":"wat","wasmBase64":"AA=="})j", false, "invalid_field"},
      {R"j({"name":"f","language":"wasm","source":"x"})j", false, "invalid_field"},
      {R"j({"name":"f","language":"wasm","wasmBase64":"!!"})j", false, "invalid_base64"},
      {R"j({"name":"f","language":"wasm","wasmBase64":""})j", false, "invalid_field"},
      {R"j({"name":"f","language":"wat","source":"(module)","limits":{"timeoutMs":0}})j", false,
       "invalid_limits"},
      {R"j({"name":"f","language":"wat","source":"(module)","public":"yes"})j", true,
       "invalid_field"},
      {R"j({"name":"f","language":"wat","source":"(module)","managers":["bob"]})j", false,
       "forbidden"},
      {R"j({"name":"f","language":"wat","source":"(module)","managers":["bob"]})j", true, ""},
      {R"j({"name":"f","language":"wat","source":"(module)","managers":"bob"})j", true,
       "invalid_field"},
  };
  for (const auto& c : cases) {
    FunctionRules rules{&kLanguages, 10, c.admin};
    EXPECT_EQ(code_of(parse_new_function(obj(c.body), rules)), c.code) << c.body;
  }
  auto f = parse_new_function(
      obj(R"j({"name":"f","language":"wat","source":"(m)","limits":{"memoryMb":64},
                                      "allowedUsers":["bob"],"public":true})j"),
      FunctionRules{&kLanguages, 100, true});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->source, "(m)");
  EXPECT_EQ(f->limits.memory_mb, 64u);
  EXPECT_EQ(f->limits.timeout_ms, 10'000u);
  EXPECT_EQ(f->allowed.users, std::vector<std::string>{"bob"});
  EXPECT_TRUE(f->is_public);
}

TEST(RequestJson, FunctionUpdate) {
  store::Function current;
  current.language = "wat";
  current.limits.timeout_ms = 5'000;
  current.limits.memory_mb = 256;
  FunctionRules dev{&kLanguages, 100, false};
  struct Case {
    std::string_view body, code;
  } cases[] = {
      {R"j({})j", "invalid_body"},
      {R"j({"name":"g"})j", "unknown_field"},
      {R"j({"source":"(module)"})j", ""},
      {R"j({"language":"wat"})j", "invalid_body"},  // the same language changes nothing
      {R"j({"language":"c"})j", "missing_field"},   // a new language needs its source
      {R"j({"language":"wasm","wasmBase64":"AGFzbQEAAAA="})j", ""},
      {R"j({"limits":{"memoryMb":64}})j", ""},
      {R"j({"public":false})j", "forbidden"},
      {R"j({"managers":[]})j", "forbidden"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(code_of(parse_function_update(obj(c.body), current, dev)), c.code) << c.body;
  auto u = parse_function_update(obj(R"j({"limits":{"memoryMb":64}})j"), current, dev);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->limits->timeout_ms, 5'000u);  // over the current limits
  EXPECT_EQ(u->limits->memory_mb, 64u);
  EXPECT_FALSE(u->source.has_value());
}

TEST(RequestJson, Environments) {
  EXPECT_EQ(
      code_of(parse_new_environment(obj(R"j({"name":"prod","vars":[{"key":"A","value":"1"}]})j"))),
      "");
  EXPECT_EQ(code_of(parse_new_environment(obj(R"j({"vars":[]})j"))), "missing_field");
  EXPECT_EQ(code_of(parse_new_environment(obj(R"j({"name":"Prod"})j"))), "invalid_name");
  EXPECT_EQ(code_of(parse_new_environment(obj(R"j({"name":"p","x":1})j"))), "unknown_field");
  store::Environment current;
  EXPECT_EQ(code_of(parse_environment_update(obj(R"j({})j"), current)), "invalid_body");
  EXPECT_EQ(code_of(parse_environment_update(obj(R"j({"name":"b"})j"), current)), "");
  EXPECT_EQ(code_of(parse_environment_update(obj(R"j({"allowedUsers":[]})j"), current)), "");
}

TEST(RequestJson, Users) {
  struct Case {
    std::string_view body, code;
  } cases[] = {
      {R"j({"username":"ann","password":"12345678","role":"dev"})j", ""},
      {R"j({"username":"ann","password":"12345678","role":"dev","grants":["deploy"]})j", ""},
      {R"j({"password":"12345678","role":"dev"})j", "missing_field"},
      {R"j({"username":"Ann","password":"12345678","role":"dev"})j", "invalid_username"},
      {R"j({"username":"ann","role":"dev"})j", "missing_field"},
      {R"j({"username":"ann","password":"short","role":"dev"})j", "invalid_password"},
      {R"j({"username":"ann","password":"12345678"})j", "missing_field"},
      {R"j({"username":"ann","password":"12345678","role":"dev","grants":["x"]})j",
       "unknown_grant"},
      {R"j({"username":"ann","password":"12345678","role":"dev","email":"x"})j", "unknown_field"},
  };
  for (const auto& c : cases) EXPECT_EQ(code_of(parse_new_user(obj(c.body))), c.code) << c.body;

  EXPECT_EQ(code_of(check_user_update_fields(obj(R"j({"password":"12345678"})j"), false)), "");
  EXPECT_EQ(code_of(check_user_update_fields(obj(R"j({"role":"admin"})j"), false)), "forbidden");
  EXPECT_EQ(code_of(check_user_update_fields(obj(R"j({"grants":[]})j"), false)), "forbidden");
  EXPECT_EQ(code_of(check_user_update_fields(obj(R"j({"role":"admin"})j"), true)), "");
  EXPECT_EQ(code_of(check_user_update_fields(obj(R"j({"username":"x"})j"), true)), "unknown_field");
  EXPECT_EQ(code_of(parse_user_update(obj(R"j({})j"))), "invalid_body");
  EXPECT_EQ(code_of(parse_user_update(obj(R"j({"password":"short"})j"))), "invalid_password");
  auto u = parse_user_update(obj(R"j({"role":"admin","grants":["deploy"]})j"));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->role, store::Role::kAdmin);
  EXPECT_FALSE(u->password.has_value());
}

TEST(RequestJson, GroupsKeysAndLogin) {
  EXPECT_EQ(*parse_new_group(obj(R"j({"name":"ops"})j")), "ops");
  EXPECT_EQ(code_of(parse_new_group(obj(R"j({"name":"12345678-1234-4234-8234-123456789012"})j"))),
            "invalid_name");
  EXPECT_EQ(code_of(parse_new_group(obj(R"j({})j"))), "missing_field");
  EXPECT_EQ(*parse_group_member(obj(R"j({"username":"ann"})j")), "ann");
  EXPECT_EQ(*parse_group_member(obj(R"j({"userId":"u1","username":"ann"})j")), "u1");
  EXPECT_EQ(code_of(parse_group_member(obj(R"j({})j"))), "missing_field");

  const int64_t now = 1'801'396'800'000'000;  // 2027-01-31T12:00:00Z
  struct Case {
    std::string_view body, code;
  } keys[] = {
      {R"j({"name":"ci"})j", ""},
      {R"j({"name":"ci","expiresAt":"2027-02-01T00:00:00Z","userId":"bob"})j", ""},
      {R"j({"name":""})j", "invalid_field"},
      {R"j({})j", "invalid_field"},
      {R"j({"name":"ci","expiresAt":"2027-01-31T12:00:00Z"})j",
       "invalid_field"},  // not later than now
      {R"j({"name":"ci","expiresAt":"next week"})j", "invalid_field"},
      {R"j({"name":"ci","userId":7})j", "invalid_field"},
      {R"j({"name":"ci","scope":"all"})j", "unknown_field"},
  };
  for (const auto& c : keys)
    EXPECT_EQ(code_of(parse_new_api_key(obj(c.body), now)), c.code) << c.body;
  auto k = parse_new_api_key(
      obj(R"j({"name":"ci","expiresAt":"2027-02-01T00:00:00Z","userId":"bob"})j"), now);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->user_ref, "bob");
  EXPECT_EQ(k->expires_at, now + 12LL * 3600 * 1'000'000);

  EXPECT_EQ(code_of(parse_login(obj(R"j({"username":"a","password":"b"})j"))), "");
  EXPECT_EQ(code_of(parse_login(obj(R"j({"username":"a"})j"))), "missing_field");
  EXPECT_EQ(code_of(parse_login(obj(R"j({"username":"a","password":"b","otp":1})j"))),
            "unknown_field");
  EXPECT_EQ(code_of(parse_login(obj(R"j({"username":1,"password":"b"})j"))), "invalid_field");
}

}  // namespace
}  // namespace nil::api
