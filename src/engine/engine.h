// nil::engine — runs WebAssembly functions, each invocation in a fresh sandbox.
//
// Guest contract (docs/abi.md): a WASI preview1 command. `_start` reads the input JSON on stdin
// and writes the output JSON on stdout; stderr lines become the execution's logs. Only the host
// interface below may be imported: the WASI subset (wasi_snapshot_preview1.*) and `nil.*`.
//
// Tiers sit behind `Sandbox`: the interpreter (libwabt) and the native tier (wasm2c output
// compiled into a shared object by compile::build_native, run by the project's own wasm-rt
// runtime in src/engine/native/). The engine never touches the store or HTTP; it takes bytes
// (or a built artifact) and an input and returns a result.
//
// Thread safety: validate_module and Engine's methods may be called from any thread; a
// PreparedModule is immutable and shared between concurrent invocations.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/expected.h"

namespace nil::engine {

struct Limits {
  uint32_t timeout_ms = 10'000;
  uint32_t memory_mb = 128;
  uint32_t output_bytes = 1 << 20;  // stdout
  uint32_t log_bytes = 64 << 10;    // stderr; past it logs are truncated, not fatal
};

// Host services behind the `nil` import module (docs/abi.md): env, http_fetch, db_query.
// Implemented outside the engine (src/host, per invocation); the engine only moves bytes between
// guest memory and these calls, enforces bounds, and accounts for them. `nil.log` needs no
// service: the engine writes it into the logs. Called on the invoking thread while the guest is
// paused; the guest's deadline is passed so a service never runs past it.
class HostServices {
 public:
  virtual ~HostServices() = default;
  virtual std::optional<std::string> env(std::string_view key) = 0;
  // request: JSON {"method","url","headers":{},"body"}; response JSON {"status","headers","body"}.
  virtual Expected<std::string> http_fetch(std::string_view request_json,
                                           std::chrono::steady_clock::time_point deadline) = 0;
  // One statement; params: JSON array. Answer: JSON
  // {"columns":[...],"rows":[[...]],"rowsAffected"}.
  virtual Expected<std::string> db_query(std::string_view sql, std::string_view params_json,
                                         std::chrono::steady_clock::time_point deadline) = 0;
};

// Accounting per host function, reported with the result and stored with the execution.
struct HostCallStats {
  std::string name;  // "log", "env", "http_fetch", "db_query"
  uint32_t count = 0;
  uint64_t bytes_in = 0;   // guest → host
  uint64_t bytes_out = 0;  // host → guest
  double ms = 0;
};

struct Invocation {
  std::string_view input;        // stdin (JSON text)
  HostServices* host = nullptr;  // null: nil.* calls answer "unavailable"
  Limits limits;
  std::vector<std::pair<std::string, std::string>> env;  // WASI environ
  std::vector<std::string> args;                         // WASI argv (argv[0] = function name)
};

// error.type values (stable, part of the API):
//   timeout        the deadline passed
//   memory_limit   the module asked for more linear memory than its limit
//   output_limit   stdout exceeded its limit
//   trap           a wasm trap; the message names its kind (unreachable, out of bounds memory
//                  access, integer divide by zero, call stack exhausted, ...)
//   invalid_output stdout was not JSON
//   exit           proc_exit with a non-zero code
//   instantiate    the module could not be instantiated (e.g. a start function trapped)
struct Failure {
  std::string type;
  std::string message;
};

struct Result {
  bool succeeded = false;
  std::string output;              // stdout (trimmed), when succeeded or invalid_output
  std::optional<Failure> failure;  // when !succeeded
  std::string logs;                // stderr, up to log_bytes (then "[logs truncated]")
  int exit_code = 0;
  std::chrono::nanoseconds duration{0};
  std::vector<HostCallStats> host_calls;  // only host functions that were called
};

// What validation learned about a module.
struct ModuleInfo {
  std::vector<std::string> imports;  // "module.name" of each import
  std::vector<std::string> exports;
  uint32_t initial_memory_pages = 0;
};

// Parses and validates a binary module against the host interface: it must be valid wasm,
// export `_start` as () -> (), export its memory as "memory" if it imports WASI, and import
// nothing but the host interface with the right signatures. Errors (kind kInvalidInput):
//   invalid_wasm      not a valid module (message from the validator, with the byte offset)
//   forbidden_import  names the import, e.g. "import env.system is not part of the host interface"
//   missing_export    "_start" or "memory" is missing or has the wrong type
//   unsafe_name       an import or export name outside the safe set (is_safe_name below)
Expected<ModuleInfo> validate_module(std::string_view wasm);

// Import and export names must be 1..kMaxNameBytes bytes of [A-Za-z0-9_.$#:@-]. The native
// tier's translator (wasm2c 1.0.32) copies names unescaped into C comments of the code it
// generates, which nild then compiles and loads into its own process: a name holding "*/" and
// a newline would be C source. The set excludes everything that can end a comment or splice
// lines ('*', '/', '\', '?' of "??/" trigraphs, control characters, NUL, non-ASCII) and keeps
// what toolchains emit ("_start", "memory", "__heap_base", AssemblyScript's "Foo#bar").
inline constexpr size_t kMaxNameBytes = 256;
bool is_safe_name(std::string_view name);

// The module without its custom sections (the "name" section, producers, debug info): what the
// native builder hands to wasm2c, so that no user-chosen debug name reaches generated C. The
// input must have passed validate_module. Errors: invalid_wasm (a malformed section header).
Expected<std::string> strip_custom_sections(std::string_view wasm);

class PreparedModule {
 public:
  virtual ~PreparedModule() = default;
};

// One execution tier.
class Sandbox {
 public:
  virtual ~Sandbox() = default;
  virtual std::string_view tier() const = 0;  // "interpreter" or "native"
  // Parses/instruments a validated module once; the result serves many invocations.
  virtual Expected<std::shared_ptr<const PreparedModule>> prepare(std::string_view wasm) = 0;
  // Instantiates a fresh sandbox, runs `_start`, tears it down. Never throws; a guest failure
  // is a Result with succeeded=false. Blocks the calling thread for at most about the timeout.
  virtual Result invoke(const PreparedModule& module, const Invocation& inv) = 0;
};

std::unique_ptr<Sandbox> make_interpreter_sandbox();

// ---- the native tier ----------------------------------------------------------------------

// The version of the contract between a built shared object (the glue compile::build_native
// generates) and the runtime that loads it. Part of the artifact's cache name: an artifact of
// another version is never loaded, it is rebuilt.
inline constexpr uint32_t kNativeAbiVersion = 1;

struct NativeOptions {
  // Where prepare(wasm) looks for artifacts: <artifact_dir>/<native_artifact_name(sha256)>.
  // Empty: prepare() answers native_not_built and only load() works.
  std::string artifact_dir;
};

// "<sha256_hex>.v<kNativeAbiVersion>.so", sha256_hex being the module's (as the store keeps it).
std::string native_artifact_name(std::string_view sha256_hex);
// Lowercase hex sha256 of the module bytes.
std::string module_sha256(std::string_view wasm);

// The native tier. invoke() is thread-safe; every thread that invokes gets its own alternate
// signal stack and a slot in the process's one timeout watchdog thread on first use (released
// when the thread exits; native/native_runtime.h, "Timeouts").
class NativeSandbox : public Sandbox {
 public:
  // Loads a shared object built by compile::build_native. Errors: native_load_failed (not a
  // loadable artifact of this ABI version). The module stays loaded while the result lives.
  virtual Expected<std::shared_ptr<const PreparedModule>> load(const std::string& so_path) = 0;
};

std::unique_ptr<NativeSandbox> make_native_sandbox(NativeOptions options = {});

}  // namespace nil::engine
