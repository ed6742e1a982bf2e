// The `nil` binary against a real nild: every command, its --json output, the nil.toml project,
// the terminal progress line under a pseudo-terminal (script), and bad input (unknown command,
// invalid --data JSON, unreachable server, wrong key, missing file). Exit codes per docs/cli.md:
// 0 ok, 1 error, 2 usage, 3 the function failed.
#include <sys/stat.h>

#include <fstream>

#include "cli_runner.h"
#include "harness.h"

namespace nil::clitest {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using it::NildSuite;
using it::str;
using it::unique_name;

// stdout as JSON (fails the test if it is not exactly one JSON value).
json::value parse(const CliResult& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.out, ec);
  EXPECT_FALSE(ec) << "stdout is not JSON: " << ec.message() << "\n" << r.describe();
  return v;
}

size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

bool contains(const std::string& s, const std::string& piece) {
  return s.find(piece) != std::string::npos;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class CliTest : public NildSuite<CliTest> {
 protected:
  void SetUp() override {
    NildSuite<CliTest>::SetUp();
    cli_ = std::make_unique<CliSession>(nild().port(), nild().api_key());
  }
  CliSession& cli() { return *cli_; }
  const fs::path& dir() { return work_.path(); }

  // Writes a source file under the work dir and returns its path.
  std::string file(const std::string& name, const std::string& text) {
    write_text(dir() / name, text);
    return (dir() / name).string();
  }
  // Deploys a WAT guest of tests/integration/wat under `name`; expects success.
  void deploy_wat(const std::string& name, const std::string& guest) {
    CliResult r = cli().run({"deploy", file(name + ".wat", it::wat(guest))});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
  }

  std::unique_ptr<CliSession> cli_;
  it::TempDir work_;
};

// --- functions ---------------------------------------------------------------------------------

TEST_F(CliTest, DeployWatThenLsGetInvokeRm) {
  std::string name = unique_name("hello");
  CliResult d = cli().run({"deploy", file("hello.wat", it::wat("echo")), "--name", name});
  ASSERT_EQ(d.exit_code, 0) << d.describe();
  EXPECT_TRUE(contains(d.out, name + ": READY")) << d.describe();

  CliResult ls = cli().run({"ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.describe();
  EXPECT_TRUE(contains(ls.out, "NAME")) << ls.describe();
  EXPECT_TRUE(contains(ls.out, name)) << ls.describe();

  CliResult get = cli().run({"get", name});
  ASSERT_EQ(get.exit_code, 0) << get.describe();
  EXPECT_TRUE(contains(get.out, "READY")) << get.describe();
  EXPECT_TRUE(contains(get.out, "wat")) << get.describe();

  CliResult inv = cli().run({"invoke", name, "--data", R"({"a":[1,2]})"});
  ASSERT_EQ(inv.exit_code, 0) << inv.describe();
  EXPECT_EQ(json::parse(inv.out), json::parse(R"({"a":[1,2]})")) << inv.describe();

  CliResult rm = cli().run({"rm", name});
  ASSERT_EQ(rm.exit_code, 0) << rm.describe();
  CliResult gone = cli().run({"get", name});
  EXPECT_EQ(gone.exit_code, 1) << gone.describe();
  EXPECT_TRUE(contains(gone.err, "function_not_found")) << gone.describe();
  EXPECT_EQ(count_lines(gone.err), 1u) << gone.describe();
}

TEST_F(CliTest, DeployUpdatesAnExistingFunction) {
  std::string name = unique_name("upd");
  std::string src = file(name + ".wat", it::wat("echo"));
  ASSERT_EQ(cli().run({"deploy", src}).exit_code, 0);
  write_text(src, it::wat("constant"));
  CliResult again = cli().run({"deploy", src, "--timeout-ms", "2000", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.describe();
  json::value f = parse(again);
  EXPECT_EQ(str(f, "status"), "READY");
  EXPECT_EQ(f.at("version").to_number<int64_t>(), 2);
  EXPECT_EQ(f.at("limits").at("timeoutMs").to_number<int64_t>(), 2000);
}

TEST_F(CliTest, DeployNoWaitAndServerRefusals) {
  std::string name = unique_name("nowait");
  CliResult r = cli().run({"deploy", file(name + ".wat", it::wat("echo")), "--no-wait", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  json::value f = parse(r);
  EXPECT_EQ(str(f, "name"), name);
  EXPECT_EQ(str(f, "status"), "PENDING");  // the answer of the POST, not awaited
  EXPECT_TRUE(r.err.empty()) << r.describe();
  it::wait_terminal(http(), str(f, "id"));

  // The server's refusals are one line with its detail and code, exit 1.
  CliResult env =
      cli().run({"deploy", file(name + "-2.wat", it::wat("echo")), "--env", "no-such-env"});
  EXPECT_EQ(env.exit_code, 1) << env.describe();
  EXPECT_TRUE(contains(env.err, "(unknown_environment)")) << env.describe();
  EXPECT_EQ(count_lines(env.err), 1u) << env.describe();
  CliResult bad_name =
      cli().run({"deploy", file("Bad Name.wat", it::wat("echo")), "--name", "Bad_Name"});
  EXPECT_EQ(bad_name.exit_code, 1) << bad_name.describe();
  EXPECT_TRUE(contains(bad_name.err, "(invalid_name)")) << bad_name.describe();
  CliResult limits =
      cli().run({"deploy", file(name + "-3.wat", it::wat("echo")), "--timeout-ms", "0"});
  EXPECT_EQ(limits.exit_code, 1) << limits.describe();
  EXPECT_TRUE(contains(limits.err, "(invalid_limits)")) << limits.describe();
}

TEST_F(CliTest, DeployCFileAndInvoke) {
  std::string name = unique_name("wc");
  std::string src = file("wordcount.c", it::read_file(it::source_dir() / "examples/c/wordcount.c"));
  CliResult d = cli().run({"deploy", src, "--name", name, "--memory-mb", "64"});
  ASSERT_EQ(d.exit_code, 0) << d.describe();
  CliResult inv = cli().run({"invoke", name, "-d", R"({"text":"hello wasm world"})"});
  ASSERT_EQ(inv.exit_code, 0) << inv.describe();
  json::value out = parse(inv);
  EXPECT_EQ(out.at("words").to_number<int64_t>(), 3) << inv.describe();
  EXPECT_EQ(str(out, "upper"), "HELLO WASM WORLD");
}

TEST_F(CliTest, DeployWasmModule) {
  std::string name = unique_name("bin");
  std::string path = (dir() / "echo.wasm").string();
  write_text(path, it::wasm_bytes("echo"));
  CliResult d = cli().run({"deploy", path, "--name", name, "--json"});
  ASSERT_EQ(d.exit_code, 0) << d.describe();
  EXPECT_EQ(str(parse(d), "language"), "wasm");
  CliResult inv = cli().run({"invoke", name, "--data", "[true]"});
  ASSERT_EQ(inv.exit_code, 0) << inv.describe();
  EXPECT_EQ(json::parse(inv.out), json::parse("[true]"));
}

TEST_F(CliTest, CompileFailureShowsTheSourceLineAndExits3) {
  std::string name = unique_name("broken");
  std::string src =
      file("broken.c", "#include <stdio.h>\nint main(void) {\n  puts(\"{}\");\n  return 0\n}\n");
  CliResult r = cli().run({"deploy", src, "--name", name});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_TRUE(contains(r.err, name + " failed to compile")) << r.describe();
  // The diagnostics name the user's file, then the offending line with a caret under column 11.
  EXPECT_TRUE(contains(r.err, src + ":4:11: error")) << r.describe();
  EXPECT_TRUE(contains(r.err, "--> " + src + ":4:11")) << r.describe();
  EXPECT_TRUE(contains(r.err, "4 |   return 0\n  |           ^\n")) << r.describe();
  EXPECT_FALSE(contains(r.err, "function.c")) << r.describe();

  CliResult j = cli().run({"deploy", src, "--name", name, "--json"});
  EXPECT_EQ(j.exit_code, 3) << j.describe();
  json::value f = parse(j);
  EXPECT_EQ(str(f, "status"), "FAILED");
  EXPECT_TRUE(contains(str(f, "compileError"), "function.c:4:11")) << j.describe();
}

TEST_F(CliTest, WatCompileFailurePointsAtTheLine) {
  std::string src =
      file("bad.wat",
           "(module\n  (func $f (result i32)\n    i32.const 1\n    i64.const 2\n    i32.add))\n");
  CliResult r = cli().run({"deploy", src, "--name", unique_name("badwat")});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_TRUE(contains(r.err, "5 |     i32.add))\n  |     ^\n")) << r.describe();
}

TEST_F(CliTest, InvokeInputFromDataFileAndStdin) {
  std::string name = unique_name("echo");
  deploy_wat(name, "echo");
  std::string input = file("input.json", R"({"from":"file"})");
  CliResult f = cli().run({"invoke", name, "--data", "@" + input});
  ASSERT_EQ(f.exit_code, 0) << f.describe();
  EXPECT_EQ(json::parse(f.out), json::parse(R"({"from":"file"})"));

  CliResult s = cli().run({"invoke", name}, {.stdin_data = R"({"from":"stdin"})"});
  ASSERT_EQ(s.exit_code, 0) << s.describe();
  EXPECT_EQ(json::parse(s.out), json::parse(R"({"from":"stdin"})"));

  CliResult dash = cli().run({"invoke", name, "--data", "@-"}, {.stdin_data = "[1,2,3]"});
  ASSERT_EQ(dash.exit_code, 0) << dash.describe();
  EXPECT_EQ(json::parse(dash.out), json::parse("[1,2,3]"));

  CliResult j = cli().run({"invoke", name, "--data", "42", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.describe();
  json::value v = parse(j);
  EXPECT_EQ(str(v, "status"), "SUCCEEDED");
  EXPECT_EQ(v.at("output").to_number<int64_t>(), 42);
  EXPECT_FALSE(str(v, "executionId").empty());
}

TEST_F(CliTest, FunctionFailureExits3WithTheError) {
  std::string name = unique_name("trap");
  deploy_wat(name, "unreachable");
  CliResult r = cli().run({"invoke", name, "--data", "{}"});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_TRUE(r.out.empty()) << r.describe();
  EXPECT_TRUE(contains(r.err, name + " failed: trap")) << r.describe();
  EXPECT_EQ(count_lines(r.err), 1u) << r.describe();

  CliResult j = cli().run({"invoke", name, "--json"}, {.stdin_data = "{}"});
  EXPECT_EQ(j.exit_code, 3) << j.describe();
  json::value v = parse(j);
  EXPECT_EQ(str(v, "status"), "FAILED");
  EXPECT_EQ(str(v.at("error"), "type"), "trap");
}

TEST_F(CliTest, LogsShowExecutionsWithTheirLogs) {
  std::string name = unique_name("logger");
  deploy_wat(name, "log");
  ASSERT_EQ(cli().run({"invoke", name, "--data", "1"}).exit_code, 0);
  ASSERT_EQ(cli().run({"invoke", name, "--data", "2"}).exit_code, 0);
  CliResult r = cli().run({"logs", name});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "SUCCEEDED")) << r.describe();
  EXPECT_TRUE(contains(r.out, "  | log line from the guest")) << r.describe();

  CliResult one = cli().run({"logs", name, "--limit", "1", "--json"});
  ASSERT_EQ(one.exit_code, 0) << one.describe();
  json::value v = parse(one);
  ASSERT_EQ(v.at("items").as_array().size(), 1u);
  EXPECT_EQ(str(v.at("items").at(0), "logs"), "log line from the guest\n");
  // Newest first, as the server lists them: the second invocation.
  EXPECT_EQ(v.at("items").at(0).at("input").to_number<int64_t>(), 2);
}

TEST_F(CliTest, LogsFollowPrintsNewExecutions) {
  std::string name = unique_name("follow");
  deploy_wat(name, "log");
  CliChild follow(cli(), {"logs", name, "--follow", "--json"});
  // No execution yet; the first one appears as a JSON line once it has run.
  ASSERT_EQ(cli().run({"invoke", name, "--data", R"({"n":1})"}).exit_code, 0);
  ASSERT_TRUE(follow.wait_for_output("\n")) << follow.out();
  ASSERT_EQ(cli().run({"invoke", name, "--data", R"({"n":2})"}).exit_code, 0);
  ASSERT_TRUE(follow.wait_for_output(R"("n":2)")) << follow.out();
  follow.interrupt();
  // Each line is one execution, oldest first, none twice.
  std::vector<json::value> lines;
  std::string out = follow.out();
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) break;
    lines.push_back(json::parse(out.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  ASSERT_EQ(lines.size(), 2u) << out;
  EXPECT_EQ(lines[0].at("input").at("n").to_number<int64_t>(), 1);
  EXPECT_EQ(lines[1].at("input").at("n").to_number<int64_t>(), 2);
}

TEST_F(CliTest, JsonOutputsAreTheServersJson) {
  std::string name = unique_name("js");
  deploy_wat(name, "echo");
  ASSERT_EQ(cli().run({"invoke", name, "--data", "0.5"}).exit_code, 0);

  json::value ls = parse(cli().run({"ls", "--json"}));
  bool found = false;
  for (const auto& f : ls.at("items").as_array()) found |= str(f, "name") == name;
  EXPECT_TRUE(found) << json::serialize(ls);
  EXPECT_TRUE(ls.at("nextCursor").is_null());

  json::value get = parse(cli().run({"--json", "get", name}));
  EXPECT_EQ(str(get, "name"), name);
  EXPECT_EQ(get, http().get("/functions/" + name).json());

  CliResult logs = cli().run({"logs", name, "--json"});
  EXPECT_EQ(parse(logs), http().get("/functions/" + name + "/executions?limit=20").json());
  // Durations keep the server's decimal form (not 5E-1).
  EXPECT_FALSE(contains(logs.out, "E-")) << logs.out;

  json::value rm = parse(cli().run({"rm", name, "--json"}));
  EXPECT_EQ(str(rm, "removed"), name);
}

TEST_F(CliTest, StatsSaysNotAvailableUntilTheServerHasThem) {
  std::string name = unique_name("st");
  deploy_wat(name, "echo");
  CliResult r = cli().run({"stats", name});
  if (http().get("/functions/" + name + "/stats").status == 404) {
    EXPECT_EQ(r.exit_code, 1) << r.describe();
    EXPECT_TRUE(contains(r.err, "not available")) << r.describe();
  } else {
    EXPECT_EQ(r.exit_code, 0) << r.describe();
  }
}

// --- terminal progress ---------------------------------------------------------------------------

TEST_F(CliTest, ProgressLineIsRedrawnOnATerminal) {
  std::string name = unique_name("tty");
  std::string src = file("tty.c", it::read_file(it::source_dir() / "examples/c/wordcount.c"));
  std::string cmd =
      shell_quote(nil_binary().string()) + " deploy " + shell_quote(src) + " --name " + name;
  // script gives nil a pseudo-terminal for stdin, stdout and stderr; its output is the terminal's.
  CliResult r = cli().run_program({"script", "-qec", cmd, "/dev/null"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  // The status line is drawn with carriage return + erase-line, never as separate lines …
  EXPECT_TRUE(contains(r.out, "\r\033[2K")) << r.describe();
  EXPECT_TRUE(contains(r.out, name + ": PENDING")) << r.describe();
  EXPECT_FALSE(contains(r.out, name + ": PENDING\r\n")) << r.describe();
  // … and erased before the final line.
  EXPECT_TRUE(contains(r.out, "\r\033[2K" + name + ": READY (c, version 1)")) << r.describe();
}

TEST_F(CliTest, ProgressIsPlainLinesWhenNotATerminal) {
  std::string name = unique_name("pipe");
  CliResult r = cli().run({"deploy", file("pipe.wat", it::wat("echo")), "--name", name});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_FALSE(contains(r.err, "\r")) << r.describe();
  EXPECT_FALSE(contains(r.err, "\033")) << r.describe();
  EXPECT_TRUE(contains(r.err, name + ": PENDING\n")) << r.describe();
  EXPECT_EQ(r.out, name + ": READY (wat, version 1)\n");
}

// --- environments ----------------------------------------------------------------------------

TEST_F(CliTest, EnvCommands) {
  std::string env = unique_name("env");
  CliResult c = cli().run({"env", "create", env, "REGION=eu", "--secret", "TOKEN=sk-12345"});
  ASSERT_EQ(c.exit_code, 0) << c.describe();
  CliResult s = cli().run({"env", "set", env, "MODE=fast", "--unset", "REGION"});
  ASSERT_EQ(s.exit_code, 0) << s.describe();

  json::value e = parse(cli().run({"env", "get", env, "--json"}));
  std::map<std::string, std::string> vars;
  for (const auto& v : e.at("vars").as_array()) vars[str(v, "key")] = str(v, "value");
  EXPECT_EQ(vars, (std::map<std::string, std::string>{{"MODE", "fast"}, {"TOKEN", "***"}}));

  // The secret kept its value through `set`: a function attached to the environment sees it.
  std::string fn = unique_name("envfn");
  // --env takes one value each time: the file after it is still the file.
  CliResult d = cli().run({"deploy", "--env", env, file(fn + ".wat", it::wat("environ"))});
  ASSERT_EQ(d.exit_code, 0) << d.describe();
  CliResult inv = cli().run({"invoke", fn, "--json"});
  ASSERT_EQ(inv.exit_code, 0) << inv.describe();
  EXPECT_TRUE(contains(inv.out, "MODE=fast")) << inv.out;
  EXPECT_TRUE(contains(inv.out, "TOKEN=***")) << inv.out;  // present, and redacted in output

  CliResult human = cli().run({"env", "get", env});
  EXPECT_TRUE(contains(human.out, "TOKEN  ***    yes")) << human.describe();
  CliResult ls = cli().run({"env", "ls"});
  EXPECT_TRUE(contains(ls.out, env)) << ls.describe();
  ASSERT_EQ(cli().run({"rm", fn}).exit_code, 0);
  ASSERT_EQ(cli().run({"env", "rm", env}).exit_code, 0);
  CliResult gone = cli().run({"env", "get", env});
  EXPECT_EQ(gone.exit_code, 1) << gone.describe();
  EXPECT_TRUE(contains(gone.err, "environment_not_found")) << gone.describe();

  CliResult bad = cli().run({"env", "create", unique_name("e"), "NOEQUALS"});
  EXPECT_EQ(bad.exit_code, 2) << bad.describe();
}

// --- the nil.toml project ----------------------------------------------------------------------

TEST_F(CliTest, ProjectDeployIsIdempotent) {
  std::string a = unique_name("proj-a"), b = unique_name("proj-b");
  fs::path proj = dir() / "proj";
  write_text(proj / "a.wat", it::wat("echo"));
  write_text(proj / "src" / "b.wat", it::wat("log"));
  write_text(proj / "nil.toml", "[[function]]\nname = \"" + a +
                                    "\"\nsource = \"a.wat\"\ntimeout_ms = 3000\n\n"
                                    "[[function]]\nname = \"" +
                                    b +
                                    "\"\nsource = \"src/b.wat\"\nlanguage = \"wat\"\n"
                                    "memory_mb = 32\n");
  // From a subdirectory: nil.toml is found in a parent.
  CliResult first = cli().run({"deploy"}, {.cwd = proj / "src"});
  ASSERT_EQ(first.exit_code, 0) << first.describe();
  EXPECT_TRUE(contains(first.out, "2 functions: 0 unchanged, 2 deployed, 0 failed"))
      << first.describe();
  EXPECT_TRUE(fs::exists(proj / ".nil" / "state.json"));
  EXPECT_EQ(http().get("/functions/" + a).json().at("limits").at("timeoutMs").to_number<int64_t>(),
            3000);

  CliResult second = cli().run({"deploy", "--json"}, {.cwd = proj});
  ASSERT_EQ(second.exit_code, 0) << second.describe();
  json::value s = parse(second);
  EXPECT_EQ(s.at("unchanged").to_number<int64_t>(), 2) << second.out;
  EXPECT_EQ(s.at("deployed").to_number<int64_t>(), 0) << second.out;
  EXPECT_EQ(http().get("/functions/" + a).json().at("version").to_number<int64_t>(), 1);

  // Editing one source redeploys only that function.
  write_text(proj / "src" / "b.wat", it::wat("echo"));
  CliResult third = cli().run({"deploy"}, {.cwd = proj});
  ASSERT_EQ(third.exit_code, 0) << third.describe();
  EXPECT_TRUE(contains(third.out, "2 functions: 1 unchanged, 1 deployed, 0 failed"))
      << third.describe();
  EXPECT_EQ(http().get("/functions/" + a).json().at("version").to_number<int64_t>(), 1);
  EXPECT_EQ(http().get("/functions/" + b).json().at("version").to_number<int64_t>(), 2);

  // Changing a setting counts as a change too.
  std::string toml = it::read_file(proj / "nil.toml");
  toml.replace(toml.find("timeout_ms = 3000"), 17, "timeout_ms = 4000");
  write_text(proj / "nil.toml", toml);
  json::value fourth = parse(cli().run({"deploy", "--json"}, {.cwd = proj}));
  EXPECT_EQ(fourth.at("deployed").to_number<int64_t>(), 1);
  EXPECT_EQ(http().get("/functions/" + a).json().at("limits").at("timeoutMs").to_number<int64_t>(),
            4000);

  // A function the server no longer has is deployed again.
  ASSERT_EQ(cli().run({"rm", b}).exit_code, 0);
  CliResult fifth = cli().run({"deploy"}, {.cwd = proj});
  ASSERT_EQ(fifth.exit_code, 0) << fifth.describe();
  EXPECT_TRUE(contains(fifth.out, "2 functions: 1 unchanged, 1 deployed, 0 failed"))
      << fifth.describe();
  EXPECT_EQ(http().get("/functions/" + b).status, 200);
}

TEST_F(CliTest, ProjectWithACompileErrorReportsItAndExits3) {
  std::string good = unique_name("pg"), bad = unique_name("pb");
  fs::path proj = dir() / "proj2";
  write_text(proj / "good.wat", it::wat("echo"));
  write_text(proj / "bad.c", "int main(void) {\n  return 0\n}\n");
  write_text(proj / "nil.toml", "[[function]]\nname = \"" + good +
                                    "\"\nsource = \"good.wat\"\n"
                                    "[[function]]\nname = \"" +
                                    bad + "\"\nsource = \"bad.c\"\n");
  CliResult r = cli().run({"deploy"}, {.cwd = proj});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_TRUE(contains(r.out, "2 functions: 0 unchanged, 1 deployed, 1 failed")) << r.describe();
  EXPECT_TRUE(contains(r.err, "bad.c:2:11")) << r.describe();
  // The failed one is tried again next time; the good one is not.
  CliResult again = cli().run({"deploy"}, {.cwd = proj});
  EXPECT_EQ(again.exit_code, 3) << again.describe();
  EXPECT_TRUE(contains(again.out, "2 functions: 1 unchanged, 0 deployed, 1 failed"))
      << again.describe();
}

TEST_F(CliTest, BadProjectFilesAreExplained) {
  fs::path proj = dir() / "proj3";
  write_text(proj / "nil.toml",
             "[[function]]\nname = \"x\"\nsource = \"x.wat\"\ncolour = \"red\"\n");
  CliResult r = cli().run({"deploy"}, {.cwd = proj});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "unknown key \"colour\"")) << r.describe();

  write_text(proj / "nil.toml", "[[function]\nname = \n");
  CliResult syntax = cli().run({"deploy"}, {.cwd = proj});
  EXPECT_EQ(syntax.exit_code, 1) << syntax.describe();
  EXPECT_TRUE(contains(syntax.err, "nil.toml")) << syntax.describe();
  EXPECT_EQ(count_lines(syntax.err), 1u) << syntax.describe();

  CliResult none = cli().run({"deploy"}, {.cwd = dir()});
  EXPECT_EQ(none.exit_code, 2) << none.describe();
  EXPECT_TRUE(contains(none.err, "nil.toml")) << none.describe();
}

// --- login and configuration -------------------------------------------------------------------

TEST_F(CliTest, LoginStoresUrlAndKeyWithMode0600) {
  std::string key = nild().api_key().empty() ? "nil_not_checked_by_this_server" : nild().api_key();
  RunOptions no_env{.env = {{"NIL_URL", ""}, {"NIL_API_KEY", ""}}};
  RunOptions login_opts = no_env;
  CliResult r = cli().run({"login", "--url", cli().url(), "--api-key", key}, login_opts);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  fs::path cfg = cli().home() / ".config" / "nil" / "config.toml";
  ASSERT_TRUE(fs::exists(cfg)) << r.describe();
  struct stat st {};
  ASSERT_EQ(::stat(cfg.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string text = it::read_file(cfg);
  EXPECT_TRUE(contains(text, cli().url())) << text;
  EXPECT_TRUE(contains(text, key)) << text;

  // Later commands use the stored login without any environment.
  CliResult ls = cli().run({"ls"}, no_env);
  EXPECT_EQ(ls.exit_code, 0) << ls.describe();
  // --url wins over the stored URL.
  CliResult other =
      cli().run({"--url", "http://127.0.0.1:" + std::to_string(closed_port()), "ls"}, no_env);
  EXPECT_EQ(other.exit_code, 1) << other.describe();

  // A login that cannot be checked leaves the stored one alone.
  CliResult bad = cli().run(
      {"login", "--url", "http://127.0.0.1:" + std::to_string(closed_port()), "--api-key", "k"},
      no_env);
  EXPECT_EQ(bad.exit_code, 1) << bad.describe();
  EXPECT_EQ(it::read_file(cfg), text);

  CliResult nokey = cli().run({"login", "--url", cli().url()}, no_env);
  EXPECT_EQ(nokey.exit_code, 2) << nokey.describe();
}

TEST_F(CliTest, LoginPromptsOnATerminal) {
  std::string key = nild().api_key().empty() ? "nil_typed_at_the_prompt" : nild().api_key();
  std::string cmd = shell_quote(nil_binary().string()) + " login";
  // URL prompt: Enter takes the offered $NIL_URL; then the key (read with echo off).
  CliResult r =
      cli().run_program({"script", "-qec", cmd, "/dev/null"}, {.stdin_data = "\n" + key + "\n"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "Server URL [" + cli().url() + "]: ")) << r.describe();
  EXPECT_TRUE(contains(r.out, "API key: ")) << r.describe();
  std::string text = it::read_file(cli().home() / ".config" / "nil" / "config.toml");
  EXPECT_TRUE(contains(text, key)) << text;
  EXPECT_TRUE(contains(text, cli().url())) << text;
}

TEST_F(CliTest, WrongKeyIsOneLineWithTheServersDetail) {
  it::HttpResponse probe =
      http().request("GET", "/functions", {}, {}, {{"Authorization", "Bearer nil_wrong"}});
  ASSERT_EQ(probe.status, 401) << "a wrong key must be refused";
  CliResult r = cli().run({"ls"}, {.env = {{"NIL_API_KEY", "nil_wrong"}}});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_EQ(count_lines(r.err), 1u) << r.describe();
  EXPECT_TRUE(contains(r.err, "(unauthorized)")) << r.describe();
  EXPECT_TRUE(r.out.empty()) << r.describe();
}

// --- bad input -----------------------------------------------------------------------------------

TEST_F(CliTest, UnknownCommandIsAUsageError) {
  CliResult r = cli().run({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_EQ(r.err, "nil: unknown command \"frobnicate\" (run `nil --help` for the list)\n");
  CliResult nested = cli().run({"env", "frob"});
  EXPECT_EQ(nested.exit_code, 2) << nested.describe();
  EXPECT_TRUE(contains(nested.err, "unknown command \"env frob\"")) << nested.describe();
  CliResult opt = cli().run({"ls", "--no-such-option"});
  EXPECT_EQ(opt.exit_code, 2) << opt.describe();
  EXPECT_TRUE(contains(opt.err, "--no-such-option")) << opt.describe();
  CliResult missing_arg = cli().run({"invoke"});
  EXPECT_EQ(missing_arg.exit_code, 2) << missing_arg.describe();
  CliResult none = cli().run({});
  EXPECT_EQ(none.exit_code, 2) << none.describe();
  CliResult help = cli().run({"--help"});
  EXPECT_EQ(help.exit_code, 0) << help.describe();
  EXPECT_TRUE(contains(help.out, "deploy")) << help.describe();
}

TEST_F(CliTest, InvalidJsonInDataIsAUsageError) {
  std::string name = unique_name("inv");
  deploy_wat(name, "echo");
  CliResult r = cli().run({"invoke", name, "--data", "{\"a\": 1,}"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_EQ(count_lines(r.err), 1u) << r.describe();
  EXPECT_TRUE(contains(r.err, "--data is not valid JSON (line 1, column 9")) << r.describe();
  CliResult s = cli().run({"invoke", name}, {.stdin_data = "not json"});
  EXPECT_EQ(s.exit_code, 2) << s.describe();
  EXPECT_TRUE(contains(s.err, "the input on stdin is not valid JSON")) << s.describe();
  // Nothing was executed.
  EXPECT_TRUE(
      http().get("/functions/" + name + "/executions").json().at("items").as_array().empty());
}

TEST_F(CliTest, UnreachableServerIsOneLine) {
  uint16_t port = closed_port();
  std::string url = "http://127.0.0.1:" + std::to_string(port);
  for (std::vector<std::string> args : {std::vector<std::string>{"ls"},
                                        {"invoke", "x", "--data", "{}"},
                                        {"deploy", file("u.wat", it::wat("echo"))},
                                        {"env", "ls", "--json"}}) {
    CliResult r = cli().run(args, {.env = {{"NIL_URL", url}}});
    EXPECT_EQ(r.exit_code, 1) << r.describe();
    EXPECT_EQ(r.err, "nil: cannot reach " + url + ": connection refused\n") << r.describe();
    EXPECT_TRUE(r.out.empty()) << r.describe();
  }
  CliResult bad_url = cli().run({"ls"}, {.env = {{"NIL_URL", "localhost:8080"}}});
  EXPECT_EQ(bad_url.exit_code, 2) << bad_url.describe();
  EXPECT_FALSE(contains(bad_url.err, "terminate called")) << bad_url.describe();
}

TEST_F(CliTest, MissingFileIsAUsageError) {
  std::string missing = (dir() / "nothere.c").string();
  CliResult r = cli().run({"deploy", missing});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_EQ(r.err, "nil: cannot read " + missing + ": No such file or directory\n");
  CliResult d = cli().run({"invoke", "x", "--data", "@" + missing});
  EXPECT_EQ(d.exit_code, 2) << d.describe();
  EXPECT_TRUE(contains(d.err, "cannot read " + missing)) << d.describe();
  CliResult ext = cli().run({"deploy", file("notes.txt", "hello")});
  EXPECT_EQ(ext.exit_code, 2) << ext.describe();
  EXPECT_TRUE(contains(ext.err, "--lang")) << ext.describe();
}

// --- administration (needs the authentication API of issue 5) ------------------------------------

TEST_F(CliTest, UsersGroupsAndKeys) {
  std::string user = unique_name("dev");
  CliResult c = cli().run({"users", "create", user, "--role", "dev", "--password-stdin", "--json"},
                          {.stdin_data = "correct horse battery staple\n"});
  ASSERT_EQ(c.exit_code, 0) << c.describe();
  json::value u = parse(c);
  EXPECT_EQ(str(u, "username"), user);
  EXPECT_EQ(str(u, "role"), "dev");
  CliResult ls = cli().run({"users", "ls"});
  EXPECT_EQ(ls.exit_code, 0) << ls.describe();
  EXPECT_TRUE(contains(ls.out, user)) << ls.describe();
  json::value got = parse(cli().run({"users", "get", user, "--json"}));
  EXPECT_EQ(str(got, "id"), str(u, "id"));
  CliResult set = cli().run({"users", "set", user, "--grant", "deploy", "--json"});
  ASSERT_EQ(set.exit_code, 0) << set.describe();
  EXPECT_EQ(parse(set).at("grants"), json::parse(R"(["deploy"])"));

  std::string group = unique_name("team");
  ASSERT_EQ(cli().run({"groups", "create", group}).exit_code, 0);
  ASSERT_EQ(cli().run({"groups", "add", group, user}).exit_code, 0);
  json::value members = parse(cli().run({"groups", "members", group, "--json"}));
  ASSERT_EQ(members.at("items").as_array().size(), 1u);
  EXPECT_EQ(str(members.at("items").at(0), "username"), user);
  EXPECT_TRUE(contains(cli().run({"groups", "ls"}).out, group));
  ASSERT_EQ(cli().run({"groups", "remove", group, user}).exit_code, 0);
  EXPECT_TRUE(
      parse(cli().run({"groups", "members", group, "--json"})).at("items").as_array().empty());
  ASSERT_EQ(cli().run({"groups", "rm", group}).exit_code, 0);

  CliResult key = cli().run({"keys", "create", "ci", "--user", user, "--json"});
  ASSERT_EQ(key.exit_code, 0) << key.describe();
  json::value k = parse(key);
  EXPECT_TRUE(str(k, "key").starts_with("nil_")) << key.out;
  // The new key works, and whoami says whose it is.
  CliResult who = cli().run({"whoami", "--json"}, {.env = {{"NIL_API_KEY", str(k, "key")}}});
  ASSERT_EQ(who.exit_code, 0) << who.describe();
  EXPECT_EQ(str(parse(who), "username"), user);
  CliResult keys = cli().run({"keys", "ls", "--user", user});
  EXPECT_TRUE(contains(keys.out, str(k, "id"))) << keys.describe();
  ASSERT_EQ(cli().run({"keys", "rm", str(k, "id")}).exit_code, 0);
  CliResult revoked = cli().run({"ls"}, {.env = {{"NIL_API_KEY", str(k, "key")}}});
  EXPECT_EQ(revoked.exit_code, 1) << revoked.describe();

  ASSERT_EQ(cli().run({"users", "rm", user}).exit_code, 0);
  EXPECT_EQ(cli().run({"users", "get", user}).exit_code, 1);
}

// --- idempotency keys, async invocations, dead letters (issue 13) --------------------------------

TEST_F(CliTest, InvokeWithAnIdempotencyKeyRunsOnce) {
  std::string name = unique_name("idem");
  deploy_wat(name, "echo");
  const std::string key = unique_name("cli-key");
  CliResult first =
      cli().run({"invoke", name, "--data", R"({"a":1})", "--idempotency-key", key, "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.describe();
  CliResult again =
      cli().run({"invoke", name, "--data", R"({"a":1})", "--idempotency-key", key, "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.describe();
  EXPECT_EQ(str(parse(again), "executionId"), str(parse(first), "executionId"));
  auto list = http().get("/functions/" + name + "/executions");
  EXPECT_EQ(list.json().at("items").as_array().size(), 1u) << list.describe();

  CliResult plain = cli().run({"invoke", name, "--data", R"({"a":1})", "--idempotency-key", key});
  ASSERT_EQ(plain.exit_code, 0) << plain.describe();
  EXPECT_EQ(plain.out, "{\"a\":1}\n");

  CliResult reused = cli().run({"invoke", name, "--data", R"({"a":2})", "--idempotency-key", key});
  EXPECT_EQ(reused.exit_code, 1) << reused.describe();
  EXPECT_TRUE(contains(reused.err, "(idempotency_key_reused)")) << reused.describe();
  EXPECT_EQ(count_lines(reused.err), 1u) << reused.describe();
  CliResult empty = cli().run({"invoke", name, "--data", "1", "--idempotency-key", ""});
  EXPECT_EQ(empty.exit_code, 1) << empty.describe();
  EXPECT_TRUE(contains(empty.err, "(invalid_idempotency_key)")) << empty.describe();
  CliResult too_long =
      cli().run({"invoke", name, "--data", "1", "--idempotency-key", std::string(256, 'k')});
  EXPECT_EQ(too_long.exit_code, 1) << too_long.describe();
  EXPECT_TRUE(contains(too_long.err, "(idempotency_key_too_long)")) << too_long.describe();
}

TEST_F(CliTest, DeployWithAnIdempotencyKeyDeploysOnce) {
  std::string name = unique_name("idemdeploy");
  std::string src = file(name + ".wat", it::wat("echo"));
  const std::string key = unique_name("cli-deploy-key");
  CliResult first = cli().run({"deploy", src, "--idempotency-key", key, "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.describe();
  json::value f = parse(first);
  EXPECT_EQ(f.at("version").to_number<int64_t>(), 1);
  // The repeat (as after a lost answer) finds the function, is refused the PUT under the POST's
  // key, and takes the POST's kept answer: still version 1, not a redeploy.
  CliResult again = cli().run({"deploy", src, "--idempotency-key", key, "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.describe();
  json::value g = parse(again);
  EXPECT_EQ(str(g, "id"), str(f, "id"));
  EXPECT_EQ(g.at("version").to_number<int64_t>(), 1);
  EXPECT_EQ(http().get("/functions/" + name).json().at("version").as_int64(), 1);

  // Another key is another deploy: a new version.
  CliResult other = cli().run({"deploy", src, "--idempotency-key", key + "-2", "--json"});
  ASSERT_EQ(other.exit_code, 0) << other.describe();
  EXPECT_EQ(parse(other).at("version").to_number<int64_t>(), 2);

  // A project deploy takes no key.
  CliResult project = cli().run({"deploy", "--idempotency-key", key}, {.cwd = dir()});
  EXPECT_EQ(project.exit_code, 2) << project.describe();
  EXPECT_TRUE(contains(project.err, "--idempotency-key need")) << project.describe();
}

TEST_F(CliTest, AsyncAndDeadLetterUsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"invoke", "f", "--wait"}, "--async"},                      // --wait needs --async
      {{"dlq"}, "subcommand"},                                     // ls, redrive or purge
      {{"dlq", "ls"}, "name"},                                     // the function
      {{"dlq", "redrive", "f"}, "EXECUTION_ID or --all"},          // neither
      {{"dlq", "redrive", "f", "some-id", "--all"}, "excludes"},   // both
      {{"dlq", "redrive", "f", "--error-type", "trap"}, "--all"},  // --error-type needs --all
      {{"dlq", "purge"}, "name"},
      {{"dlq", "nope", "f"}, "nope"},
  };
  for (const auto& c : cases) {
    CliResult r = cli().run(c.args);
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_TRUE(contains(r.err, c.says)) << "expected \"" << c.says << "\"\n" << r.describe();
    EXPECT_TRUE(r.out.empty()) << r.describe();
  }
}

// Until the async invocation API is merged (branch asyncq) this server answers 404
// route_not_found for /invocations and /dead-letters: the CLI says what is missing, exit 1.
// After the merge the other branch runs: extend it there (see the report of branch idem).
TEST_F(CliTest, AsyncInvokeAndDeadLettersAgainstThisServer) {
  std::string name = unique_name("async");
  deploy_wat(name, "echo");
  auto probe = http().get("/functions/" + name + "/dead-letters");
  const bool has_async = !(probe.status == 404 && contains(probe.body, "route_not_found"));
  CliResult async = cli().run({"invoke", "--async", name, "--data", R"({"q":1})"});
  CliResult waited = cli().run({"invoke", "--async", name, "--data", R"({"q":2})", "--wait"});
  CliResult ls = cli().run({"dlq", "ls", name});
  CliResult one = cli().run({"dlq", "redrive", name, "00000000-0000-0000-0000-000000000000"});
  CliResult all = cli().run({"dlq", "redrive", name, "--all", "--error-type", "trap"});
  CliResult purge_one = cli().run({"dlq", "purge", name, "00000000-0000-0000-0000-000000000000"});
  CliResult purge_all = cli().run({"dlq", "purge", name});
  if (!has_async) {
    for (const CliResult* r : {&async, &waited}) {
      EXPECT_EQ(r->exit_code, 1) << r->describe();
      EXPECT_TRUE(contains(r->err,
                           "async invocations are not available on this server (it has "
                           "no POST /functions/{name}/invocations)"))
          << r->describe();
    }
    for (const CliResult* r : {&ls, &one, &all, &purge_one, &purge_all}) {
      EXPECT_EQ(r->exit_code, 1) << r->describe();
      EXPECT_TRUE(contains(r->err, "dead letters are not available on this server"))
          << r->describe();
      EXPECT_EQ(count_lines(r->err), 1u) << r->describe();
    }
    return;
  }
  // With the async API: the executionId at once, the output once it ran, no dead letters.
  EXPECT_EQ(async.exit_code, 0) << async.describe();
  EXPECT_EQ(async.out.size(), 37u) << "a UUID and a newline\n" << async.describe();
  EXPECT_EQ(waited.exit_code, 0) << waited.describe();
  EXPECT_EQ(waited.out, "{\"q\":2}\n") << waited.describe();
  EXPECT_EQ(ls.exit_code, 0) << ls.describe();
  EXPECT_TRUE(contains(ls.out, "no dead letters")) << ls.describe();
  EXPECT_EQ(one.exit_code, 1) << one.describe();  // no such dead letter: the server's code
  EXPECT_EQ(purge_all.exit_code, 0) << purge_all.describe();
}

}  // namespace
}  // namespace nil::clitest
