// Issue 11's engine findings through a real nild:
//   - modules whose import/export names could inject C into the native build (wasm2c writes
//     names into comments unescaped) end FAILED with a compileError naming the name, whether
//     deployed as WAT, as wasm bytes or from C (`export_name`);
//   - a module with a name section (hostile debug names included) is still built natively and
//     runs;
//   - on the interpreter, host-call and bulk-memory loops end as `timeout`, call_indirect
//     recursion as a `trap` ("call stack exhausted"), and tables above memoryMb as
//     `memory_limit`.
#include <chrono>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace nil::it {
namespace {

namespace fs = std::filesystem;

std::string leb(uint32_t n) {
  std::string out;
  do {
    uint8_t b = n & 0x7f;
    n >>= 7;
    out += static_cast<char>(n ? (b | 0x80) : b);
  } while (n);
  return out;
}
std::string section(uint8_t id, const std::string& payload) {
  return std::string(1, static_cast<char>(id)) + leb(static_cast<uint32_t>(payload.size())) +
         payload;
}
std::string wasm_name(std::string_view s) {
  return leb(static_cast<uint32_t>(s.size())) + std::string(s);
}

std::string bytes(std::initializer_list<int> b) {
  std::string out;
  for (int c : b) out += static_cast<char>(c);
  return out;
}

// A WASI command that writes {} to stdout, exporting `extra` too (as another name of _start),
// with `trailer` (custom sections) at the end.
std::string module_bytes(std::string_view extra, const std::string& trailer = {}) {
  std::string types =
      bytes({0x02, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x00});
  std::string imports = bytes({0x01}) + wasm_name("wasi_snapshot_preview1") +
                        wasm_name("fd_write") + bytes({0x00, 0x00});
  std::string exports = bytes({extra.empty() ? 0x02 : 0x03}) + wasm_name("_start") +
                        bytes({0x00, 0x01}) + wasm_name("memory") + bytes({0x02, 0x00});
  if (!extra.empty()) exports += wasm_name(extra) + bytes({0x00, 0x01});
  // _start: iovec {8, 2} at 0, "{}" at 8; fd_write(1, 0, 1, 16); drop
  std::string body =
      bytes({0x00,                                            // no locals
             0x41, 0x00, 0x41, 0x08, 0x36, 0x02, 0x00,        // [0] = 8
             0x41, 0x04, 0x41, 0x02, 0x36, 0x02, 0x00,        // [4] = 2
             0x41, 0x08, 0x41, 0xfb, 0x00, 0x3a, 0x00, 0x00,  // [8] = '{'
             0x41, 0x09, 0x41, 0xfd, 0x00, 0x3a, 0x00, 0x00,  // [9] = '}'
             0x41, 0x01, 0x41, 0x00, 0x41, 0x01, 0x41, 0x10,  // fd_write(1, 0, 1, 16)
             0x10, 0x00, 0x1a, 0x0b});
  std::string code = bytes({0x01}) + leb(static_cast<uint32_t>(body.size())) + body;
  return std::string("\0asm\x01\0\0\0", 8) + section(1, types) + section(2, imports) +
         section(3, bytes({0x01, 0x01})) + section(5, bytes({0x01, 0x00, 0x01})) +
         section(7, exports) + section(10, code) + trailer;
}

std::string name_section(std::string_view fname) {
  std::string sub = leb(1) + leb(1) + wasm_name(fname);
  std::string payload = wasm_name("name") + "\x01" + leb(static_cast<uint32_t>(sub.size())) + sub;
  return section(0, payload);
}

struct BadName {
  const char* what;
  json::object body;
  std::string shown;  // expected in compileError
};

class HostileNames : public NildSuite<HostileNames> {
 public:
  static NildOptions options() { return NildOptions{{"--native-tier", "on"}}; }
};

TEST_F(HostileNames, ModulesWithUnsafeNamesEndFailedWithTheName) {
  std::vector<BadName> cases = {
      {"WAT export with */ and newlines",
       {{"language", "wat"},
        {"source",
         R"((module (func (export "_start")) (func (export "x*/\0aint injected = 1;\0a/*"))))"}},
       "x*/\\x0aint injected = 1;"},
      {"WAT export with a backslash",
       {{"language", "wat"},
        {"source", R"((module (func (export "_start")) (func (export "a\5c"))))"}},
       "a\\x5c"},
      // "?" "?/" is ??/, split so that the C++ source holds no trigraph (-Wtrigraphs).
      {"WAT export with a ?"
       "?/ trigraph",
       {{"language", "wat"},
        {"source", R"((module (func (export "_start")) (func (export "a??/"))))"}},
       "a?"
       "?/"},
      {"WAT export with NUL",
       {{"language", "wat"},
        {"source", R"((module (func (export "_start")) (func (export "a\00b"))))"}},
       "a\\x00b"},
      {"WAT import with */",
       {{"language", "wat"},
        {"source", R"((module (import "wasi_snapshot_preview1" "proc_exit*/" (func (param i32)))
                    (memory (export "memory") 1) (func (export "_start"))))"}},
       "proc_exit*/"},
      {"wasm export with */ and a newline",
       {{"language", "wasm"},
        {"wasmBase64", base64_encode(module_bytes("e*/\nint injected;\n/*"))}},
       "e*/\\x0aint injected;"},
      {"wasm export with NUL",
       {{"language", "wasm"}, {"wasmBase64", base64_encode(module_bytes(std::string("a\0b", 3)))}},
       "a\\x00b"},
      {"C export_name with */",
       {{"language", "c"},
        {"source",
         "__attribute__((export_name(\"f*/\\nint injected = 1;\\n/*\"))) int f(void) { return 1; "
         "}\n"
         "int main(void) { return 0; }\n"}},
       "f*/\\x0aint injected = 1;"},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.what);
    json::object body = c.body;
    body["name"] = unique_name("badname");
    auto r = http().post_json("/functions", body);
    ASSERT_EQ(r.status, 202) << http().describe_exchange();
    auto f = wait_terminal(http(), str(r.json(), "id"), nullptr, 120s);
    EXPECT_EQ(str(f, "status"), "FAILED") << json::serialize(f);
    std::string error = str(f, "compileError");
    EXPECT_NE(error.find("name \"" + c.shown), std::string::npos) << "compileError: " << error;
    EXPECT_NE(error.find("is not allowed"), std::string::npos) << "compileError: " << error;
  }
  // Nothing of them was ever handed to the native builder.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(nild().data_dir() / "native", ec)) {
    EXPECT_EQ(entry.path().string().find("tmp"), std::string::npos) << entry.path();
  }
}

TEST_F(HostileNames, ModuleWithANameSectionIsBuiltNativelyAndRuns) {
  std::string wasm = module_bytes("helper", name_section("x*/\nint injected = 1;\n/*"));
  auto r = http().post_json("/functions", json::object{{"name", unique_name("named")},
                                                       {"language", "wasm"},
                                                       {"wasmBase64", base64_encode(wasm)}});
  ASSERT_EQ(r.status, 202) << http().describe_exchange();
  std::string id = str(r.json(), "id");
  auto f = wait_terminal(http(), id);
  ASSERT_EQ(str(f, "status"), "READY") << json::serialize(f);
  std::string sha = str(f, "wasmSha256");
  ASSERT_FALSE(sha.empty()) << json::serialize(f);
  // Executes start the background build; wait for the artifact and the switch to native.
  fs::path so = nild().data_dir() / "native" / (sha + ".v1.so");
  auto until = std::chrono::steady_clock::now() + 180s;
  bool native = false;
  while (!native && std::chrono::steady_clock::now() < until) {
    auto e = execute(http(), id, json::object{});
    ASSERT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
    if (fs::exists(so)) {
      auto fn = http().get("/functions/" + id).json();
      native = !fn.as_object().contains("tier") || str(fn, "tier") == "native";
    }
    if (!native) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(native) << "no native artifact after 180 s\n" << nild().log_tail();
  auto e = execute(http(), id, json::object{});
  EXPECT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
  EXPECT_EQ(json::serialize(e.at("output")), "{}") << json::serialize(e);
}

// The interpreter's limits (the native tier enforces them through signals and its stack guard).
class InterpreterLimits : public NildSuite<InterpreterLimits> {
 public:
  static NildOptions options() { return NildOptions{{"--native-tier", "off"}}; }

 protected:
  json::object run(std::string_view source, Limits limits) {
    std::string id = deploy_ready(http(), unique_name("limits"), source, limits);
    if (id.empty()) return {};
    auto r = http().post_json("/functions/" + id + "/execute", json::object{});
    EXPECT_EQ(r.status, 200) << http().describe_exchange();
    return r.json().as_object();
  }
  static void expect_error(const json::object& e, std::string_view type, std::string_view words) {
    EXPECT_EQ(str(e, "status"), "FAILED") << json::serialize(e);
    ASSERT_TRUE(e.contains("error") && e.at("error").is_object()) << json::serialize(e);
    EXPECT_EQ(str(e.at("error"), "type"), type) << json::serialize(e);
    EXPECT_NE(str(e.at("error"), "message").find(words), std::string::npos) << json::serialize(e);
  }
};

TEST_F(InterpreterLimits, LoopOfLargeRandomGetTimesOut) {
  auto e = run(R"((module
    (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
    (memory (export "memory") 33)
    (func (export "_start") (local $i i32)
      (loop $l
        (drop (call $random (i32.const 0) (i32.const 2097152)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const 1000)))))))",
               Limits{300, std::nullopt});
  expect_error(e, "timeout", "300 ms");
}

TEST_F(InterpreterLimits, LoopOfLargeMemoryFillTimesOut) {
  auto e = run(R"((module
    (memory (export "memory") 256)
    (func (export "_start") (local $i i32)
      (loop $l
        (memory.fill (i32.const 0) (i32.const 7) (i32.const 16777216))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const 2000)))))))",
               Limits{300, 64});
  expect_error(e, "timeout", "300 ms");
}

TEST_F(InterpreterLimits, RecursionThroughCallIndirectTraps) {
  auto e = run(R"((module
    (type $t (func (param i32) (result i32)))
    (table 1 funcref)
    (elem (i32.const 0) $f)
    (func $f (param i32) (result i32)
      (i32.add (call_indirect (type $t) (i32.add (local.get 0) (i32.const 1)) (i32.const 0))
               (i32.const 1)))
    (func (export "_start") (drop (call_indirect (type $t) (i32.const 0) (i32.const 0))))))",
               Limits{});
  expect_error(e, "trap", "call stack exhausted");
}

TEST_F(InterpreterLimits, TablesCountAgainstMemoryMb) {
  auto e =
      run(R"((module (table 3000000 funcref) (func (export "_start"))))", Limits{std::nullopt, 16});
  expect_error(e, "memory_limit", "table");
}

}  // namespace
}  // namespace nil::it
