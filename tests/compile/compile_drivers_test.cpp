// Source-language drivers against the real compilers (clang-16, asc in Node) and the real
// bubblewrap sandbox: every example compiles to a WASI command that exports _start, imports only
// wasi_snapshot_preview1 and computes the right answer; mistakes come back as compile_error with
// line:column diagnostics; host paths stay invisible; bombs end in a timeout, and the driver
// keeps working afterwards.
//
// The modules are run with Node's WASI (node is on the machine for asc anyway), so these tests do
// not depend on the engine.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "compile/driver.h"
#include "compile/source_drivers.h"
#include "compile/worker.h"
#include "engine/engine.h"

namespace nil::compile {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = NIL_TEST_SOURCE_DIR;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// --- a minimal reader of a module's import and export sections ---------------------------------

struct ModuleShape {
  bool valid = false;
  std::vector<std::string> imports;  // "module.name"
  std::set<std::string> func_exports;
};

ModuleShape shape_of(const std::string& wasm) {
  ModuleShape m;
  size_t pos = 8;
  auto u32 = [&](size_t& p) {
    uint32_t v = 0;
    for (int shift = 0; p < wasm.size(); shift += 7) {
      uint8_t b = static_cast<uint8_t>(wasm[p++]);
      v |= uint32_t(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    return v;
  };
  auto name = [&](size_t& p) {
    uint32_t n = u32(p);
    std::string s = wasm.substr(p, n);
    p += n;
    return s;
  };
  if (wasm.size() < 8 || wasm.compare(0, 4, std::string("\0asm", 4)) != 0) return m;
  while (pos < wasm.size()) {
    uint8_t id = static_cast<uint8_t>(wasm[pos++]);
    uint32_t size = u32(pos);
    size_t p = pos, end = pos + size;
    if (end > wasm.size()) return m;
    if (id == 2) {
      for (uint32_t i = 0, n = u32(p); i < n; ++i) {
        std::string mod = name(p);
        std::string field = name(p);
        uint8_t kind = static_cast<uint8_t>(wasm[p++]);
        if (kind == 0)
          u32(p);
        else if (kind == 1) {
          p++;
          uint8_t f = wasm[p++];
          u32(p);
          if (f & 1) u32(p);
        } else if (kind == 2) {
          uint8_t f = wasm[p++];
          u32(p);
          if (f & 1) u32(p);
        } else
          p += 2;
        m.imports.push_back(mod + "." + field);
      }
    } else if (id == 7) {
      for (uint32_t i = 0, n = u32(p); i < n; ++i) {
        std::string field = name(p);
        uint8_t kind = static_cast<uint8_t>(wasm[p++]);
        u32(p);
        if (kind == 0) m.func_exports.insert(field);
      }
    }
    pos = end;
  }
  m.valid = true;
  return m;
}

// --- running a module with Node's WASI ----------------------------------------------------------

struct Outcome {
  int status = -1;
  std::string out;
};

class Runner {
 public:
  Runner() {
    dir_ = fs::temp_directory_path() / ("nil-compile-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "run.mjs") << R"(
import { WASI } from "node:wasi"; import { readFileSync } from "node:fs";
process.removeAllListeners("warning");
const wasi = new WASI({ version: "preview1", args: [], env: {}, returnOnExit: true });
const m = await WebAssembly.instantiate(readFileSync(process.argv[2]), wasi.getImportObject());
process.exitCode = wasi.start(m.instance);
)";
  }
  ~Runner() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Outcome run(const std::string& wasm, const std::string& input) {
    static int n = 0;
    fs::path w = dir_ / ("m" + std::to_string(n++) + ".wasm");
    std::ofstream(w, std::ios::binary) << wasm;
    std::ofstream(dir_ / "in.json") << input;
    std::string cmd = "node --no-warnings " + (dir_ / "run.mjs").string() + " " + w.string() +
                      " < " + (dir_ / "in.json").string() + " 2>/dev/null";
    Outcome r;
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return r;
    char buf[4096];
    for (size_t got; (got = fread(buf, 1, sizeof buf, f)) > 0;) r.out.append(buf, got);
    r.status = ::pclose(f);
    return r;
  }

 private:
  fs::path dir_;
};

// --- fixture: one registry (and so one AssemblyScript worker) for the whole suite ---------------

class CompileDrivers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The drivers are built directly (not through register_source_drivers) so that the
    // AssemblyScript worker starts only in test processes that compile AssemblyScript: ctest
    // runs every test in its own process.
    registry_ = new DriverRegistry();
    ClangToolchain clang;
    clang.sdk_include = kSource / "sdk/c";
    clang.work_dir = work_dir();
    for (auto lang : {ClangLanguage::kC, ClangLanguage::kCpp}) {
      auto d = make_clang_driver(lang, clang);
      if (d) registry_->add(std::move(d));
    }
    if (auto d = make_assemblyscript_driver(asc_toolchain())) registry_->add(std::move(d));
    registry_->add(make_wat_driver());
    runner_ = new Runner();
  }
  static AscToolchain asc_toolchain() {
    AscToolchain tc;
    tc.node_modules = kSource / "node_modules";
    tc.worker_script = kSource / "src/compile/asc_worker.mjs";
    tc.sdk_dir = kSource / "sdk/assemblyscript";
    tc.prewarm = false;
    return tc;
  }
  static fs::path work_dir() {
    return fs::temp_directory_path() / ("nil-compile-work-" + std::to_string(::getpid()));
  }
  static void TearDownTestSuite() {
    delete registry_;
    delete runner_;
    std::error_code ec;
    fs::remove_all(work_dir(), ec);
  }

  static Driver& driver(const std::string& lang) {
    Driver* d = registry_->find(lang);
    if (!d) {
      ADD_FAILURE() << "no driver for " << lang;
      std::abort();
    }
    return *d;
  }
  static Expected<std::string> compile(const std::string& lang, const std::string& src,
                                       CompileOptions opts = {}) {
    return driver(lang).compile(src, opts);
  }

  static inline DriverRegistry* registry_ = nullptr;
  static inline Runner* runner_ = nullptr;
};

void expect_wasi_command(const std::string& wasm) {
  ModuleShape m = shape_of(wasm);
  ASSERT_TRUE(m.valid);
  EXPECT_TRUE(m.func_exports.count("_start")) << "no _start export";
  for (const auto& imp : m.imports) {
    EXPECT_EQ(imp.rfind("wasi_snapshot_preview1.", 0), 0u) << "unexpected import " << imp;
  }
  // And the engine's own check against its host interface (what the compile worker runs).
  auto v = engine::validate_module(wasm);
  EXPECT_TRUE(v.ok()) << v.error().code << ": " << v.error().message;
}

void expect_compile_error(const Expected<std::string>& r) {
  ASSERT_FALSE(r.ok()) << "compiled unexpectedly";
  EXPECT_EQ(http_status(r.error().code), 400);
  EXPECT_EQ(r.error().code, ErrorCode::kCompileError);
}

TEST(RegisterSourceDrivers, AddsCCppAndAssemblyScript) {
  DriverRegistry registry;
  ToolchainConfig cfg;
  cfg.project_dir = kSource;
  cfg.work_dir = fs::temp_directory_path() / ("nil-compile-reg-" + std::to_string(::getpid()));
  register_source_drivers(registry, cfg);
  for (const char* lang : {"c", "cpp", "assemblyscript"}) {
    EXPECT_NE(registry.find(lang), nullptr) << lang;
  }
  std::error_code ec;
  fs::remove_all(cfg.work_dir, ec);
}

// --- the examples, every language ---------------------------------------------------------------

struct Example {
  const char* language;
  const char* path;
};

void PrintTo(const Example& e, std::ostream* os) { *os << e.language << " " << e.path; }

class Examples : public CompileDrivers, public ::testing::WithParamInterface<Example> {};

TEST_P(Examples, CompileToWasiCommandThatCountsWords) {
  const Example& ex = GetParam();
  auto r = compile(ex.language, slurp(kSource / ex.path));
  ASSERT_TRUE(r.ok()) << r.error().message;
  expect_wasi_command(*r);
  Outcome run = runner_->run(*r, R"({"text": "hello wasm  world"})");
  EXPECT_EQ(run.status, 0);
  EXPECT_EQ(run.out, R"({"words":3,"upper":"HELLO WASM  WORLD"})");
  run = runner_->run(*r, R"({"text": "tab\tand \"quotes\""})");
  EXPECT_EQ(run.out, R"({"words":3,"upper":"TAB\tAND \"QUOTES\""})");
}

INSTANTIATE_TEST_SUITE_P(AllLanguages, Examples,
                         ::testing::Values(Example{"c", "examples/c/wordcount.c"},
                                           Example{"cpp", "examples/cpp/wordcount.cpp"},
                                           Example{"assemblyscript",
                                                   "examples/assemblyscript/wordcount.ts"},
                                           Example{"wat", "examples/wat/wordcount.wat"}),
                         [](const auto& info) { return std::string(info.param.language); });

TEST_F(CompileDrivers, PlainWasiCommandWithoutSdkWorks) {
  auto r = compile("c", R"(#include <stdio.h>
int main(void) {
  char buf[256];
  size_t n = fread(buf, 1, sizeof buf - 1, stdin);
  buf[n] = 0;
  printf("{\"bytes\":%zu}", n);
  return 0;
})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  expect_wasi_command(*r);
  EXPECT_EQ(runner_->run(*r, "{\"a\":1}").out, "{\"bytes\":7}");
}

TEST_F(CompileDrivers, CppStandardLibraryIsTheWasmOne) {
  auto r = compile("cpp", R"(#include <cstdio>
#include <map>
#include <string>
#include <vector>
int main() {
  std::map<std::string, std::vector<int>> m{{"a", {1, 2}}};
  std::printf("{\"n\":%zu}", m["a"].size());
})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  expect_wasi_command(*r);
  EXPECT_EQ(runner_->run(*r, "{}").out, "{\"n\":2}");
}

// --- diagnostics -------------------------------------------------------------------------------

TEST_F(CompileDrivers, SyntaxErrorsHaveLineAndColumn) {
  auto c = compile("c", "int main(void) {\n  return x\n}\n");
  expect_compile_error(c);
  EXPECT_NE(c.error().message.find("function.c:2:10: error"), std::string::npos)
      << c.error().message;
  EXPECT_EQ(c.error().message.find("/work"), std::string::npos);

  auto cpp = compile("cpp", "#include <vector>\nint main() {\n  std::vector<int> v = ;\n}\n");
  expect_compile_error(cpp);
  EXPECT_NE(cpp.error().message.find("function.cpp:3:"), std::string::npos) << cpp.error().message;

  auto as = compile("assemblyscript", "const a: i32 = 1;\nlet b: string = a;\n");
  expect_compile_error(as);
  EXPECT_NE(as.error().message.find("function.ts(2,"), std::string::npos) << as.error().message;
}

TEST_F(CompileDrivers, MissingMainIsExplained) {
  auto r = compile("c", "int add(int a, int b) { return a + b; }\n");
  expect_compile_error(r);
  EXPECT_NE(r.error().message.find("no main()"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("_start"), std::string::npos);
}

// --- the sandbox -------------------------------------------------------------------------------

TEST_F(CompileDrivers, HostPathsCannotBeIncluded) {
  const std::string hostname = slurp("/etc/hostname");
  for (const char* lang : {"c", "cpp"}) {
    for (const char* path :
         {"/etc/passwd", "/etc/hostname", "/proc/self/environ", "../../../../../../etc/hostname"}) {
      auto r =
          compile(lang, std::string("#include \"") + path + "\"\nint main(void) { return 0; }\n");
      expect_compile_error(r);
      const std::string& msg = r.error().message;
      EXPECT_NE(msg.find("file not found"), std::string::npos)
          << lang << " " << path << ": " << msg;
      EXPECT_EQ(msg.find("root:"), std::string::npos) << msg;
      if (hostname.size() > 3) {
        EXPECT_EQ(msg.find(hostname), std::string::npos) << msg;
      }
    }
  }
  // Sources in the repo (outside the sandbox) are invisible too.
  auto r = compile("c", "#include \"" + (kSource / "CMakeLists.txt").string() + "\"\n");
  expect_compile_error(r);
  EXPECT_EQ(r.error().message.find("cmake_minimum_required"), std::string::npos);
}

TEST_F(CompileDrivers, AssemblyScriptImportsOfHostPathsFail) {
  for (const char* path : {"/etc/passwd", "../../etc/hostname", "../../../../../../etc/passwd",
                           "../node_modules/assemblyscript/package"}) {
    auto r = compile("assemblyscript",
                     std::string("import { x } from \"") + path + "\";\nexport const y = x;\n");
    expect_compile_error(r);
    const std::string& msg = r.error().message;
    EXPECT_NE(msg.find("not found"), std::string::npos) << path << ": " << msg;
    EXPECT_EQ(msg.find("root:"), std::string::npos) << msg;
  }
}

TEST_F(CompileDrivers, TemplateBombTimesOutAndTheNextCompileWorks) {
  CompileOptions opts;
  opts.timeout_ms = 3000;
  auto start = std::chrono::steady_clock::now();
  auto r = compile("cpp", R"(
template <int N, unsigned long M> struct B {
  static constexpr unsigned long v = B<N - 1, M * 2>::v + B<N - 1, M * 2 + 1>::v;
};
template <unsigned long M> struct B<0, M> { static constexpr unsigned long v = M; };
int main() { return (int)B<60, 1>::v; }
)",
                   opts);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  expect_compile_error(r);
  const std::string& msg = r.error().message;
  EXPECT_TRUE(msg.find("timed out after 3000 ms") != std::string::npos ||
              msg.find("limit") != std::string::npos)
      << msg;
  EXPECT_LT(ms, 6000);
  auto ok = compile("cpp", slurp(kSource / "examples/cpp/wordcount.cpp"));
  EXPECT_TRUE(ok.ok()) << ok.error().message;
}

TEST_F(CompileDrivers, MacroBombTimesOut) {
  std::string src = "#define L0 +1\n";
  for (int i = 1; i <= 14; ++i) {
    std::string prev = "L" + std::to_string(i - 1);
    src += "#define L" + std::to_string(i) + " ";
    for (int k = 0; k < 10; ++k) src += prev + " ";
    src += "\n";
  }
  src += "int main(void) { return 0 L14; }\n";
  CompileOptions opts;
  opts.timeout_ms = 2000;
  auto start = std::chrono::steady_clock::now();
  auto r = compile("c", src, opts);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  expect_compile_error(r);
  EXPECT_TRUE(r.error().message.find("timed out after 2000 ms") != std::string::npos ||
              r.error().message.find("limit") != std::string::npos)
      << r.error().message;
  EXPECT_LT(ms, 5000);
}

TEST_F(CompileDrivers, AssemblyScriptTimeoutKillsTheWorkerAndTheNextCompileWorks) {
  CompileOptions opts;
  opts.timeout_ms = 1;
  auto r = compile("assemblyscript", slurp(kSource / "examples/assemblyscript/wordcount.ts"), opts);
  expect_compile_error(r);
  EXPECT_NE(r.error().message.find("timed out after 1 ms"), std::string::npos) << r.error().message;
  auto ok = compile("assemblyscript", slurp(kSource / "examples/assemblyscript/wordcount.ts"));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  expect_wasi_command(*ok);
}

TEST_F(CompileDrivers, AssemblyScriptMemoryLimitKillsTheWorker) {
  CompileOptions opts;
  opts.memory_bytes = 32ull << 20;  // below what Node itself needs
  auto r = compile("assemblyscript", slurp(kSource / "examples/assemblyscript/wordcount.ts"), opts);
  expect_compile_error(r);
  EXPECT_NE(r.error().message.find("memory limit of 32 MiB"), std::string::npos)
      << r.error().message;
}

TEST_F(CompileDrivers, ClangMemoryLimitEndsAsCompileError) {
  CompileOptions opts;
  opts.memory_bytes = 64ull << 20;  // RLIMIT_AS: clang cannot even map its libraries
  auto r = compile("c", slurp(kSource / "examples/c/wordcount.c"), opts);
  expect_compile_error(r);
  EXPECT_NE(r.error().message.find("out of memory (limit 64 MiB)"), std::string::npos)
      << r.error().message;
}

TEST_F(CompileDrivers, ArtifactLimitIsEnforced) {
  CompileOptions opts;
  opts.max_artifact_bytes = 1000;
  for (const char* lang : {"c", "assemblyscript"}) {
    const char* path = std::string(lang) == "c" ? "examples/c/wordcount.c"
                                                : "examples/assemblyscript/wordcount.ts";
    auto r = compile(lang, slurp(kSource / path), opts);
    expect_compile_error(r);
    EXPECT_NE(r.error().message.find("artifact limit of 1000 bytes"), std::string::npos)
        << r.error().message;
  }
}

// The drivers do not filter imports: a module that imports something outside WASI compiles,
// and the worker's validation against the host interface rejects it with forbidden_import.
TEST_F(CompileDrivers, UnknownImportsAreLeftForValidation) {
  auto c = compile("c", R"(
__attribute__((import_module("env"), import_name("system"))) int host_system(const char*);
int main(void) { return host_system("ls"); }
)");
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto shape = shape_of(*c);
  EXPECT_NE(std::find(shape.imports.begin(), shape.imports.end(), "env.system"),
            shape.imports.end());
  auto v = engine::validate_module(*c);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kForbiddenImport);

  auto as = compile("assemblyscript", R"(
@external("env", "system") declare function system(x: i32): i32;
system(1);
)");
  ASSERT_TRUE(as.ok()) << as.error().message;
  auto as_shape = shape_of(*as);
  EXPECT_NE(std::find(as_shape.imports.begin(), as_shape.imports.end(), "env.system"),
            as_shape.imports.end());
  auto as_v = engine::validate_module(*as);
  ASSERT_FALSE(as_v.ok());
  EXPECT_EQ(as_v.error().code, ErrorCode::kForbiddenImport);
}

TEST_F(CompileDrivers, AssemblyScriptAbortGoesToWasiNotEnv) {
  auto r = compile("assemblyscript", R"(
import { readInput, log } from "nil";
const s = readInput();
log("got " + s.length.toString());
assert(s.length < 3, "input too long");
)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  expect_wasi_command(*r);
  Outcome run = runner_->run(*r, "{\"long\":true}");
  EXPECT_NE(run.status, 0);
}

// Latency figures for docs/languages.md (printed, not asserted: the machines are noisy).
TEST_F(CompileDrivers, ReportLatency) {
  auto time_ms = [](auto&& f) {
    auto t = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  };
  const std::string as_src = slurp(kSource / "examples/assemblyscript/wordcount.ts");
  const std::string c_src = slurp(kSource / "examples/c/wordcount.c");
  const std::string cpp_src = slurp(kSource / "examples/cpp/wordcount.cpp");
  std::vector<double> as, c, cpp;
  for (int i = 0; i < 3; ++i) {
    as.push_back(time_ms([&] { ASSERT_TRUE(compile("assemblyscript", as_src).ok()); }));
    c.push_back(time_ms([&] { ASSERT_TRUE(compile("c", c_src).ok()); }));
  }
  for (int i = 0; i < 1; ++i)
    cpp.push_back(time_ms([&] { ASSERT_TRUE(compile("cpp", cpp_src).ok()); }));
  auto med = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  // First compile of a fresh AssemblyScript worker (Node start-up + optimizer warm-up), without
  // the prewarm the server does at start.
  auto cold = make_assemblyscript_driver(asc_toolchain());
  ASSERT_TRUE(cold);
  double first = time_ms([&] { ASSERT_TRUE(cold->compile(as_src, CompileOptions{}).ok()); });
  std::printf(
      "[latency] assemblyscript first (cold worker) %.0f ms, warm p50 %.0f ms; "
      "c p50 %.0f ms; cpp p50 %.0f ms\n",
      first, med(as), med(c), med(cpp));
}

}  // namespace
}  // namespace nil::compile
