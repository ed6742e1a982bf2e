// Every bad input answers the documented problem (docs/errors.md), and bad modules end FAILED
// with a compileError that says why.
#include "harness.h"

namespace nil::it {
namespace {

class BadInput : public NildSuite<BadInput> {};

TEST_F(BadInput, MalformedJsonIsAProblemDocument) {
  auto r = http().post_raw("/functions", R"({"name": "x",)");
  ASSERT_TRUE(is_problem(r, 400, "malformed_json"));
  // docs/errors.md: the detail gives the line and column ("1:14" or "line 1, column 14").
  std::string detail = str(r.json(), "detail");
  EXPECT_TRUE(has_line_column(detail) || (detail.find("line") != std::string::npos &&
                                          detail.find("column") != std::string::npos))
      << r.describe();
}

TEST_F(BadInput, MalformedJsonOnEveryJsonEndpoint) {
  std::string id = deploy_ready(http(), unique_name("target"), wat("echo"));
  std::string name = str(http().get("/functions/" + id).json(), "name");
  struct Case {
    std::string method, target;
  };
  std::vector<Case> cases = {{"POST", "/functions"},
                             {"PUT", "/functions/" + id},
                             {"POST", "/functions/" + id + "/execute"},
                             {"POST", "/functions/v1/" + name}};
  for (auto& c : cases) {
    for (std::string body : {"{", "nope", "{\"a\":1}}", "[1,2", "\"unterminated"}) {
      auto r = http().request(c.method, c.target, body, "application/json");
      EXPECT_TRUE(is_problem(r, 400, "malformed_json"))
          << c.method << " " << c.target << " body: " << body;
    }
  }
  // The function is unharmed.
  EXPECT_EQ(execute(http(), id, json::value(1)).at("output"), json::value(1));
}

TEST_F(BadInput, WrongContentTypeIs415) {
  std::string id = deploy_ready(http(), unique_name("ctype"), wat("echo"));
  json::object valid = wat_function(unique_name("never"), wat("echo"));
  for (std::string ct : {"text/plain", "application/x-www-form-urlencoded", "application/xml"}) {
    EXPECT_TRUE(is_problem(http().post_raw("/functions", json::serialize(valid), ct), 415,
                           "unsupported_media_type"))
        << ct;
    EXPECT_TRUE(is_problem(http().post_raw("/functions/" + id + "/execute", "{}", ct), 415,
                           "unsupported_media_type"))
        << ct;
  }
  // No Content-Type at all is not JSON either.
  EXPECT_TRUE(is_problem(http().request("POST", "/functions", json::serialize(valid), ""), 415,
                         "unsupported_media_type"));
  // Parameters on the media type are fine.
  auto ok =
      http().post_raw("/functions/" + id + "/execute", "{}", "application/json; charset=utf-8");
  EXPECT_EQ(ok.status, 200) << http().describe_exchange();
}

struct ValidationCase {
  const char* what;
  const char* body;  // NAME is replaced by a fresh valid name, SRC by a valid WAT source
  const char* code;
};

TEST_F(BadInput, CreateValidationTable) {
  const ValidationCase cases[] = {
      {"array body", R"([1,2])", "invalid_body"},
      {"string body", R"("hello")", "invalid_body"},
      {"no name", R"({"language":"wat","source":SRC})", "missing_field"},
      {"no language", R"({"name":NAME,"source":SRC})", "missing_field"},
      {"no source", R"({"name":NAME,"language":"wat"})", "missing_field"},
      {"wasm without wasmBase64", R"({"name":NAME,"language":"wasm"})", "missing_field"},
      {"name not a string", R"({"name":42,"language":"wat","source":SRC})", "invalid_field"},
      {"source not a string", R"({"name":NAME,"language":"wat","source":7})", "invalid_field"},
      {"upper-case name", R"({"name":"Hello","language":"wat","source":SRC})", "invalid_name"},
      {"name with underscore", R"({"name":"a_b","language":"wat","source":SRC})", "invalid_name"},
      {"name starting with a digit", R"({"name":"1abc","language":"wat","source":SRC})",
       "invalid_name"},
      {"empty name", R"({"name":"","language":"wat","source":SRC})", "invalid_name"},
      {"name of 64 characters",
       R"({"name":"a123456789012345678901234567890123456789012345678901234567890123","language":"wat","source":SRC})",
       "invalid_name"},
      {"reserved name", R"({"name":"deploy","language":"wat","source":SRC})", "reserved_name"},
      {"unknown language", R"({"name":NAME,"language":"cobol","source":SRC})",
       "unsupported_language"},
      {"unknown field", R"({"name":NAME,"language":"wat","source":SRC,"sorce":"x"})",
       "unknown_field"},
      {"timeout 0", R"({"name":NAME,"language":"wat","source":SRC,"limits":{"timeoutMs":0}})",
       "invalid_limits"},
      {"timeout too long",
       R"({"name":NAME,"language":"wat","source":SRC,"limits":{"timeoutMs":900001}})",
       "invalid_limits"},
      {"memory 0", R"({"name":NAME,"language":"wat","source":SRC,"limits":{"memoryMb":0}})",
       "invalid_limits"},
      {"memory too big",
       R"({"name":NAME,"language":"wat","source":SRC,"limits":{"memoryMb":4097}})",
       "invalid_limits"},
      {"maxConcurrency 0",
       R"({"name":NAME,"language":"wat","source":SRC,"limits":{"maxConcurrency":0}})",
       "invalid_limits"},
      {"maxConcurrency negative",
       R"({"name":NAME,"language":"wat","source":SRC,"limits":{"maxConcurrency":-1}})",
       "invalid_limits"},
      {"maxConcurrency too big",
       R"({"name":NAME,"language":"wat","source":SRC,"limits":{"maxConcurrency":100001}})",
       "invalid_limits"},
      {"maxConcurrency a string",
       R"({"name":NAME,"language":"wat","source":SRC,"limits":{"maxConcurrency":"2"}})",
       "invalid_limits"},
      {"maxConcurrency fractional",
       R"({"name":NAME,"language":"wat","source":SRC,"limits":{"maxConcurrency":1.5}})",
       "invalid_limits"},
      {"maxQueueMs negative",
       R"({"name":NAME,"language":"wat","source":SRC,"limits":{"maxQueueMs":-1}})",
       "invalid_limits"},
      {"maxQueueMs too long",
       R"({"name":NAME,"language":"wat","source":SRC,"limits":{"maxQueueMs":300001}})",
       "invalid_limits"},
      {"unknown limits field",
       R"({"name":NAME,"language":"wat","source":SRC,"limits":{"maxConcurency":2}})",
       "unknown_field"},
      {"wasmBase64 not base64", R"({"name":NAME,"language":"wasm","wasmBase64":"!!not base64!!"})",
       "invalid_base64"},
  };
  std::string src = json::serialize(json::value(wat("echo")));
  for (auto& c : cases) {
    std::string body = c.body;
    if (auto p = body.find("NAME"); p != std::string::npos) {
      body.replace(p, 4, "\"" + unique_name("valid") + "\"");
    }
    if (auto p = body.find("SRC"); p != std::string::npos) body.replace(p, 3, src);
    auto r = http().post_raw("/functions", body);
    EXPECT_TRUE(is_problem(r, 400, c.code)) << c.what;
  }
  // The longest legal name (63 characters) is accepted.
  std::string longest = "a12345678901234567890123456789012345678901234567890123456789012";
  ASSERT_EQ(longest.size(), 63u);
  auto ok = http().post_json("/functions", wat_function(longest, wat("echo")));
  EXPECT_EQ(ok.status, 202) << http().describe_exchange();
}

TEST_F(BadInput, PaginationParametersAreChecked) {
  for (std::string q : {"limit=0", "limit=201", "limit=-1", "limit=abc"}) {
    EXPECT_TRUE(is_problem(http().get("/functions?" + q), 400, "invalid_limit")) << q;
  }
  EXPECT_TRUE(
      is_problem(http().get("/functions?cursor=not-a-cursor-we-gave"), 400, "invalid_cursor"));
  auto ok = http().get("/functions?limit=200");
  EXPECT_EQ(ok.status, 200) << ok.describe();
}

TEST_F(BadInput, UnknownThingsAre404) {
  struct Case {
    const char* method;
    const char* target;
    const char* body;
    const char* code;
  };
  const Case cases[] = {
      {"GET", "/functions/no-such-function", nullptr, "function_not_found"},
      {"GET", "/functions/00000000-0000-0000-0000-000000000000", nullptr, "function_not_found"},
      {"PUT", "/functions/no-such-function", R"j({"source":"(module)"})j", "function_not_found"},
      {"DELETE", "/functions/no-such-function", nullptr, "function_not_found"},
      {"POST", "/functions/no-such-function/execute", "{}", "function_not_found"},
      {"GET", "/functions/no-such-function/executions", nullptr, "function_not_found"},
      {"POST", "/functions/v1/no-such-function", "{}", "function_not_found"},
      {"GET", "/executions/no-such-execution", nullptr, "execution_not_found"},
      {"GET", "/executions/00000000-0000-0000-0000-000000000000", nullptr, "execution_not_found"},
      {"GET", "/no/such/route", nullptr, "route_not_found"},
      {"GET", "/functions/a/b/c", nullptr, "route_not_found"},
  };
  for (auto& c : cases) {
    auto r = c.body ? http().request(c.method, c.target, c.body, "application/json")
                    : http().request(c.method, c.target);
    EXPECT_TRUE(is_problem(r, 404, c.code)) << c.method << " " << c.target;
  }
}

TEST_F(BadInput, WrongMethodIs405WithAllow) {
  auto r = http().request("PATCH", "/functions");
  EXPECT_TRUE(is_problem(r, 405, "method_not_allowed"));
  EXPECT_FALSE(r.header("allow").empty()) << r.describe();
  EXPECT_NE(r.header("allow").find("POST"), std::string::npos) << r.describe();
}

TEST_F(BadInput, DuplicateNameIs409) {
  std::string name = unique_name("twice");
  auto first = http().post_json("/functions", wat_function(name, wat("echo")));
  ASSERT_EQ(first.status, 202) << http().describe_exchange();
  auto second = http().post_json("/functions", wat_function(name, wat("constant")));
  EXPECT_TRUE(is_problem(second, 409, "name_taken"));
  EXPECT_NE(str(second.json(), "detail").find(name), std::string::npos) << second.describe();
  // The multipart deploy is an upsert (docs/openapi.yaml): a taken name gets a new version of
  // that same function, never a second function with the name.
  std::string b = "xyzzy";
  std::string body = "--" + b + "\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n" + name +
                     "\r\n--" + b +
                     "\r\nContent-Disposition: form-data; name=\"wasm\"; filename=\"m.wasm\"\r\n"
                     "Content-Type: application/wasm\r\n\r\n" +
                     wasm_bytes("echo") + "\r\n--" + b + "--\r\n";
  auto again = http().post_raw("/functions/v1/deploy", body, "multipart/form-data; boundary=" + b);
  ASSERT_EQ(again.status, 202) << again.describe();
  EXPECT_EQ(str(again.json(), "id"), str(first.json(), "id")) << again.describe();
  EXPECT_EQ(again.json().at("version"), 2) << again.describe();
  EXPECT_EQ(str(again.json(), "language"), "wasm") << again.describe();
  int with_name = 0;
  auto list = http().get("/functions?limit=200");
  json::value lv = list.json();
  for (auto& item : lv.at("items").as_array()) with_name += str(item, "name") == name;
  EXPECT_EQ(with_name, 1) << list.describe();
}

struct CompileFailureCase {
  const char* what;
  json::object body;            // name is added
  std::vector<std::string> in;  // substrings expected in compileError
};

TEST_F(BadInput, BadModulesFailToCompileWithAReason) {
  std::string forbidden_wasm = wasm_bytes("forbidden_import");
  const CompileFailureCase cases[] = {
      {"invalid WAT",
       {{"language", "wat"}, {"source", wat("invalid_syntax")}},
       {"function.wat:3:5"}},
      {"WAT importing env.system",
       {{"language", "wat"}, {"source", wat("forbidden_import")}},
       {"env.system"}},
      {"wasm importing env.system",
       {{"language", "wasm"}, {"wasmBase64", base64_encode(forbidden_wasm)}},
       {"env.system"}},
      {"bytes that are not wasm",
       {{"language", "wasm"}, {"wasmBase64", base64_encode("this is not a wasm module")}},
       {}},
      {"truncated wasm",
       {{"language", "wasm"},
        {"wasmBase64", base64_encode(std::string("\0asm\x01\0\0\0\x01\x05\x01", 11))}},
       {}},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.what);
    json::object body = c.body;
    body["name"] = unique_name("broken");
    auto r = http().post_json("/functions", body);
    ASSERT_EQ(r.status, 202) << http().describe_exchange();
    auto f = wait_terminal(http(), str(r.json(), "id"));
    EXPECT_EQ(str(f, "status"), "FAILED") << json::serialize(f);
    std::string error = str(f, "compileError");
    EXPECT_FALSE(error.empty()) << json::serialize(f);
    for (auto& s : c.in) EXPECT_NE(error.find(s), std::string::npos) << "compileError: " << error;
    EXPECT_TRUE(
        is_problem(http().post_json("/functions/" + str(f, "id") + "/execute", json::object{}), 409,
                   "function_not_ready"));
  }
}

}  // namespace
}  // namespace nil::it
