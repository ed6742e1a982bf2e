// Logic of the `nil` tool that needs no server: languages from extensions, compile-error
// locations and excerpts, --data checking, KEY=VALUE, nil.toml parsing and fingerprints, the
// login file's mode, JSON text.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

#include "cli/config.h"
#include "cli/errors.h"
#include "cli/input.h"
#include "cli/output.h"
#include "cli/project.h"
#include "cli/source.h"

namespace nil::cli {
namespace {

namespace fs = std::filesystem;

struct TmpDir {
  TmpDir() {
    char tmpl[] = "/tmp/nil-cli-unit-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TmpDir() { fs::remove_all(path); }
  fs::path path;
};

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

TEST(CliSource, LanguageFromExtension) {
  EXPECT_EQ(language_for_path("a/b/hello.ts"), "assemblyscript");
  EXPECT_EQ(language_for_path("x.c"), "c");
  EXPECT_EQ(language_for_path("x.cpp"), "cpp");
  EXPECT_EQ(language_for_path("x.cc"), "cpp");
  EXPECT_EQ(language_for_path("X.WAT"), "wat");
  EXPECT_EQ(language_for_path("m.wasm"), "wasm");
  EXPECT_EQ(language_for_path("notes.txt"), std::nullopt);
  EXPECT_EQ(language_for_path("Makefile"), std::nullopt);
  EXPECT_EQ(name_from_path("src/Hello_World.c"), "hello-world");
}

TEST(CliSource, FirstLocationOfEachCompilersFormat) {
  auto clang = first_location("function.c:4:11: error: expected ';'\n  return 0\n", "function.c");
  ASSERT_TRUE(clang);
  EXPECT_EQ(clang->line, 4);
  EXPECT_EQ(clang->column, 11);
  auto asc = first_location("ERROR TS1109: Expression expected.\n    └─ in function.ts(2,13)\n",
                            "function.ts");
  ASSERT_TRUE(asc);
  EXPECT_EQ(asc->line, 2);
  EXPECT_EQ(asc->column, 13);
  auto line_only = first_location("function.wat:7: something", "function.wat");
  ASSERT_TRUE(line_only);
  EXPECT_EQ(line_only->line, 7);
  EXPECT_EQ(line_only->column, 0);
  // function.cpp is not function.c; a mention without a position is not a location.
  EXPECT_FALSE(first_location("function.cpp:1:2: error", "function.c"));
  EXPECT_FALSE(first_location("in function.c: undefined main", "function.c"));
  EXPECT_FALSE(first_location("myfunction.c:1:1: x", "function.c"));
}

TEST(CliSource, DiagnosticsNameTheUsersFile) {
  EXPECT_EQ(with_file_name("function.c:2:3: error\nfunction.c:5:1: note\nsee function.c",
                           "function.c", "src/x.c"),
            "src/x.c:2:3: error\nsrc/x.c:5:1: note\nsee function.c");
  EXPECT_EQ(with_file_name("in function.ts(1,2)", "function.ts", "a.ts"), "in a.ts(1,2)");
}

TEST(CliSource, ExcerptPutsTheCaretUnderTheColumn) {
  std::string src = "int main(void) {\n  return 0\n}\n";
  EXPECT_EQ(source_excerpt(src, {2, 11}, "x.c"),
            " --> x.c:2:11\n  |\n2 |   return 0\n  |           ^\n");
  // Tabs are kept so the caret lines up on any tab width.
  EXPECT_EQ(source_excerpt("\tfoo(;\n", {1, 6}, "t.c"),
            " --> t.c:1:6\n  |\n1 | \tfoo(;\n  | \t    ^\n");
  EXPECT_EQ(source_excerpt(src, {9, 1}, "x.c"), "");
  EXPECT_EQ(source_excerpt("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n", {10, 0}, "y"),
            "  --> y:10\n   |\n10 | j\n");
}

TEST(CliInput, DataMustBeJson) {
  EXPECT_TRUE(check_json(R"({"a":1})", "--data"));
  auto bad = check_json("{\"a\":\n 1,}", "--data");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().wire_code(), "usage");
  EXPECT_EQ(exit_code_for(bad.error()), kExitUsage);
  EXPECT_NE(bad.error().message.find("line 2, column 4"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(check_json("1 2", "--data"));
  auto blank = invocation_input(std::string("  "), true);
  ASSERT_FALSE(blank);
  EXPECT_EQ(blank.error().wire_code(), "usage");
  auto none = invocation_input(std::nullopt, true);
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, "");
  auto missing = invocation_input(std::string("@/nonexistent/in.json"), true);
  ASSERT_FALSE(missing);
  EXPECT_EQ(exit_code_for(missing.error()), kExitUsage);
}

TEST(CliInput, Assignments) {
  auto kv = parse_assignment("A=b=c");
  ASSERT_TRUE(kv);
  EXPECT_EQ(kv->first, "A");
  EXPECT_EQ(kv->second, "b=c");
  auto empty_value = parse_assignment("A=");
  ASSERT_TRUE(empty_value);
  EXPECT_EQ(empty_value->second, "");
  EXPECT_FALSE(parse_assignment("A"));
  EXPECT_FALSE(parse_assignment("=x"));
}

TEST(CliOutput, JsonTextKeepsDecimals) {
  EXPECT_EQ(json_text(boost::json::parse(R"({"d":0.5,"n":[1,-2],"s":"x\"y","b":true,"z":null})")),
            R"({"d":0.5,"n":[1,-2],"s":"x\"y","b":true,"z":null})");
  EXPECT_EQ(short_time("2026-12-04T08:40:01.123Z"), "2026-12-04 08:40:01");
}

TEST(CliProject, ParsesFunctionsAndRejectsMistakes) {
  TmpDir d;
  write(
      d.path / "nil.toml",
      "[[function]]\nname = \"a\"\nsource = \"src/a.c\"\nenvironment = \"prod\"\ntimeout_ms = 100\n"
      "[[function]]\nname = \"b\"\nsource = \"b.bin\"\nlanguage = \"wasm\"\nenvironments = [\"x\", "
      "\"y\"]\n");
  fs::create_directories(d.path / "sub" / "deeper");
  auto found = find_project_file(d.path / "sub" / "deeper");
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, d.path / "nil.toml");
  auto p = load_project(*found);
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->functions.size(), 2u);
  EXPECT_EQ(p->functions[0].language, "c");
  EXPECT_EQ(p->functions[0].source, d.path / "src/a.c");
  EXPECT_EQ(p->functions[0].environments, std::vector<std::string>{"prod"});
  EXPECT_EQ(p->functions[0].timeout_ms, 100);
  EXPECT_EQ(p->functions[1].environments, (std::vector<std::string>{"x", "y"}));

  struct Bad {
    const char* toml;
    const char* says;
  };
  for (const Bad& b :
       {Bad{"[[function]]\nname = \"a\"\n", "\"source\""},
        Bad{"[[function]]\nsource = \"a.c\"\n", "\"name\""},
        Bad{"[[function]]\nname = \"a\"\nsource = \"a.txt\"\n", "cannot tell the language"},
        Bad{"[[function]]\nname = \"a\"\nsource = \"a.c\"\ntimeout_ms = \"x\"\n", "integer"},
        Bad{"[[function]]\nname = \"a\"\nsource = \"a.c\"\n[[function]]\nname = \"a\"\nsource = "
            "\"b.c\"\n",
            "twice"},
        Bad{"name = \"a\"\n", "unknown table or key"}, Bad{"", "no [[function]]"}}) {
    write(d.path / "nil.toml", b.toml);
    auto r = load_project(d.path / "nil.toml");
    ASSERT_FALSE(r) << b.toml;
    EXPECT_NE(r.error().message.find(b.says), std::string::npos) << r.error().message;
  }
}

TEST(CliProject, FingerprintCoversSourceAndSettings) {
  ProjectFunction f;
  f.name = "a";
  f.language = "c";
  std::string base = fingerprint(f, "int main(){}");
  EXPECT_EQ(base, fingerprint(f, "int main(){}"));
  EXPECT_NE(base, fingerprint(f, "int main(){ }"));
  ProjectFunction g = f;
  g.timeout_ms = 5;
  EXPECT_NE(base, fingerprint(g, "int main(){}"));
  g = f;
  g.environments = std::vector<std::string>{};
  EXPECT_NE(base, fingerprint(g, "int main(){}"));
  g = f;
  g.language = "cpp";
  EXPECT_NE(base, fingerprint(g, "int main(){}"));
}

TEST(CliProject, StateRoundTrips) {
  TmpDir d;
  Project p;
  p.dir = d.path;
  ProjectState s{{"a", {"fp", "id-1", 3}}};
  ASSERT_TRUE(save_state(p, s));
  ProjectState back = load_state(p);
  ASSERT_EQ(back.count("a"), 1u);
  EXPECT_EQ(back["a"].fingerprint, "fp");
  EXPECT_EQ(back["a"].id, "id-1");
  EXPECT_EQ(back["a"].version, 3);
  write(state_path(p), "not json");
  EXPECT_TRUE(load_state(p).empty());
}

TEST(CliConfig, LoginFileIsPrivateAndUrlsAreChecked) {
  TmpDir d;
  ::setenv("XDG_CONFIG_HOME", d.path.c_str(), 1);
  ::unsetenv("NIL_URL");
  ::unsetenv("NIL_API_KEY");
  ASSERT_TRUE(save_login({"http://127.0.0.1:9", "nil_secret"}));
  struct stat st {};
  ASSERT_EQ(::stat((d.path / "nil" / "config.toml").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto l = resolve_login(std::nullopt);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->url, "http://127.0.0.1:9");
  EXPECT_EQ(l->api_key, "nil_secret");
  ::setenv("NIL_URL", "http://127.0.0.1:10/", 1);
  ::setenv("NIL_API_KEY", "nil_env", 1);
  l = resolve_login(std::nullopt);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->url, "http://127.0.0.1:10");
  EXPECT_EQ(l->api_key, "nil_env");
  l = resolve_login(std::string("https://nil.example"));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->url, "https://nil.example");
  auto bad = resolve_login(std::string("localhost:8080"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(exit_code_for(bad.error()), kExitUsage);
  ::unsetenv("NIL_URL");
  ::unsetenv("NIL_API_KEY");
  ::unsetenv("XDG_CONFIG_HOME");
}

}  // namespace
}  // namespace nil::cli
