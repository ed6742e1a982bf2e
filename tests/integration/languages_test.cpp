// Server-side compilation through the API (issue 3): every example in every language is deployed
// from source, compiled in the sandbox, and executed; and each bad source ends as it should.
#include "harness.h"

namespace nil::it {
namespace {

// The default compile timeout (60 s): a first AssemblyScript compile on a cold worker takes
// seconds on a loaded 2-core machine (Node start-up and optimizer warm-up).
class Languages : public NildSuite<Languages> {
 public:
  static NildOptions options() { return {.args = {"--max-source-bytes", "200000"}}; }
};

json::object source_function(std::string_view name, std::string_view language,
                             std::string_view source) {
  return json::object{{"name", name}, {"language", language}, {"source", source}};
}

// Deploys `source`, waits for a terminal status, returns the function JSON.
json::object deploy(HttpClient& c, std::string_view language, std::string_view source,
                    std::chrono::milliseconds cap = 90s) {
  auto r = c.post_json("/functions",
                       source_function(unique_name(language == "assemblyscript" ? "as" : language),
                                       language, source));
  EXPECT_EQ(r.status, 202) << c.describe_exchange();
  if (r.status != 202) return {};
  return wait_terminal(c, str(r.json(), "id"), nullptr, cap);
}

struct Example {
  const char* language;
  const char* path;
};

class ExampleApps : public Languages, public ::testing::WithParamInterface<Example> {};

TEST_P(ExampleApps, DeployCompileAndExecute) {
  const Example& ex = GetParam();
  json::object f = deploy(http(), ex.language, read_file(source_dir() / ex.path));
  ASSERT_EQ(str(f, "status"), "READY") << json::serialize(f);
  EXPECT_TRUE(is_lower_hex(str(f, "wasmSha256"), 64));

  auto e = execute(http(), str(f, "id"), json::object{{"text", "hello  wasm\tworld"}});
  ASSERT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
  const json::value& out = e.at("output");
  ASSERT_TRUE(out.is_object()) << json::serialize(e);
  EXPECT_EQ(out.at("words"), 3) << json::serialize(out);
  EXPECT_EQ(out.at("upper"), "HELLO  WASM\tWORLD") << json::serialize(out);

  auto e2 = execute(http(), str(f, "id"), json::object{{"text", ""}});
  ASSERT_EQ(str(e2, "status"), "SUCCEEDED") << json::serialize(e2);
  EXPECT_EQ(e2.at("output").at("words"), 0) << json::serialize(e2);
}

INSTANTIATE_TEST_SUITE_P(AllLanguages, ExampleApps,
                         ::testing::Values(Example{"wat", "examples/wat/wordcount.wat"},
                                           Example{"c", "examples/c/wordcount.c"},
                                           Example{"cpp", "examples/cpp/wordcount.cpp"},
                                           Example{"assemblyscript",
                                                   "examples/assemblyscript/wordcount.ts"}),
                         [](const auto& info) {
                           std::string n = info.param.language;
                           return n == "assemblyscript" ? std::string("AssemblyScript") : n;
                         });

// A plain WASI command, no SDK: stdio only.
TEST_F(Languages, PlainWasiCProgramWorksWithoutTheSdk) {
  const char* src = R"(#include <stdio.h>
int main(void) {
  char buf[256]; size_t n = fread(buf, 1, sizeof buf - 1, stdin); buf[n] = 0;
  fprintf(stderr, "got %zu bytes\n", n);
  printf("{\"echo\":%s}", buf);
  return 0;
})";
  json::object f = deploy(http(), "c", src);
  ASSERT_EQ(str(f, "status"), "READY") << json::serialize(f);
  auto e = execute(http(), str(f, "id"), json::array{1, 2, 3});
  ASSERT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
  EXPECT_EQ(e.at("output"), (json::object{{"echo", json::array{1, 2, 3}}}));
  auto rec = http().get("/executions/" + str(e, "executionId"));
  ASSERT_EQ(rec.status, 200);
  EXPECT_NE(str(rec.json(), "logs").find("got 7 bytes"), std::string::npos) << rec.body;
}

struct BadSource {
  const char* label;
  const char* language;
  const char* source;
  const char* expect_in_error;  // the compileError must contain one of these '|'-separated pieces
};

// A short compile timeout so the bomb ends quickly; long enough for a cold worker's syntax error.
class BadSources : public NildSuite<BadSources>, public ::testing::WithParamInterface<BadSource> {
 public:
  static NildOptions options() { return {.args = {"--compile-timeout-ms", "8000"}}; }
};

TEST_P(BadSources, FailWithACompileError) {
  const BadSource& b = GetParam();
  json::object f = deploy(http(), b.language, b.source);
  ASSERT_EQ(str(f, "status"), "FAILED") << json::serialize(f);
  std::string err = str(f, "compileError");
  bool found = false;
  std::string_view pieces = b.expect_in_error;
  while (!pieces.empty()) {
    auto bar = pieces.find('|');
    found |= err.find(pieces.substr(0, bar)) != std::string::npos;
    pieces = bar == std::string_view::npos ? std::string_view{} : pieces.substr(bar + 1);
  }
  EXPECT_TRUE(found) << "expected one of \"" << b.expect_in_error << "\" in: " << err;
  EXPECT_TRUE(is_null_or_absent(f, "wasmSha256"));
  // Nothing of the host leaks into diagnostics.
  EXPECT_EQ(err.find("root:x:0:0"), std::string::npos) << err;
  // The server keeps serving.
  EXPECT_EQ(http().get("/healthz").status, 200);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadSources,
    ::testing::Values(
        BadSource{"CSyntaxError", "c", "int main(void) {\n  return 0\n}\n", "function.c:2:"},
        BadSource{"CppSyntaxError", "cpp", "int main() {\n  int x = ;\n}\n", "function.cpp:2:"},
        BadSource{"AsSyntaxError", "assemblyscript",
                  "export function f(): i32 {\n  return 1 +;\n}\n", "function.ts"},
        BadSource{"CNoMain", "c", "int helper(int x) { return x + 1; }\n", "main"},
        BadSource{"CIncludesHostPath", "c", "#include \"/etc/passwd\"\nint main(void){return 0;}\n",
                  "not found"},
        BadSource{"AsImportsHostPath", "assemblyscript",
                  "import { x } from \"/etc/passwd\";\nexport function _start(): void {}\n",
                  "not found"},
        BadSource{
            "CppTemplateBomb", "cpp",
            "template <int N, unsigned long M> struct B {\n"
            "  static constexpr unsigned long v = B<N - 1, M * 2>::v + B<N - 1, M * 2 + "
            "1>::v;\n};\n"
            "template <unsigned long M> struct B<0, M> { static constexpr unsigned long v = M; };\n"
            "int main() { return (int)B<60, 1>::v; }\n",
            "timed out|limit"},
        BadSource{"CForbiddenImport", "c",
                  "__attribute__((import_module(\"env\"), import_name(\"system\"))) int sys(const "
                  "char*);\n"
                  "int main(void) { return sys(\"id\"); }\n",
                  "env.system"}),
    [](const auto& info) { return std::string(info.param.label); });

TEST_F(Languages, UnknownLanguageIs400) {
  auto r =
      http().post_json("/functions", source_function(unique_name("x"), "cobol", "DISPLAY 'HI'."));
  EXPECT_TRUE(is_problem(r, 400, "unsupported_language")) << r.describe();
}

TEST_F(Languages, OversizedSourceIs413) {
  std::string big = "int main(void) { return 0; }\n" + std::string(250'000, ' ');
  auto r = http().post_json("/functions", source_function(unique_name("big"), "c", big));
  EXPECT_TRUE(is_problem(r, 413, "source_too_large")) << r.status;
  EXPECT_EQ(http().get("/healthz").status, 200);
}

TEST_F(Languages, SameSourceTwiceReusesTheCachedArtifact) {
  const char* src = "#include <stdio.h>\nint main(void){ printf(\"{\\\"n\\\":42}\"); return 0; }\n";
  json::object a = deploy(http(), "c", src);
  json::object b = deploy(http(), "c", src);
  ASSERT_EQ(str(a, "status"), "READY");
  ASSERT_EQ(str(b, "status"), "READY");
  EXPECT_EQ(str(a, "wasmSha256"), str(b, "wasmSha256"));
  // The second compile was served from the cache: the log says where the artifact came from.
  int compiled = 0, cached = 0;
  for (const auto& line : nild().log_lines()) {
    if (line.find("\"compile finished\"") == std::string::npos) continue;
    if (line.find(str(b, "id")) != std::string::npos) {
      if (line.find("\"cached\":true") != std::string::npos)
        ++cached;
      else
        ++compiled;
    }
  }
  EXPECT_EQ(cached, 1);
  EXPECT_EQ(compiled, 0);
}

}  // namespace
}  // namespace nil::it
