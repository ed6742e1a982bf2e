// nil::compile native builder — turns a validated wasm module into the native tier's shared
// object: wasm2c translates it to C, a generated glue file binds its imports to the runtime's
// function table (engine/native), and gcc compiles both with -O2 -fPIC -shared. Translation and
// compilation run inside the compile sandbox (compile/sandbox.h) with time and memory limits:
// the C is derived from user bytes and compilers are large attack surfaces.
//
// NativeBuilder is the background queue nild uses: request(sha256) after a function becomes
// READY (or when the invoker finds the artifact missing); a built artifact lands in the cache
// directory under engine::native_artifact_name() (temp name + rename, so a reader never sees a
// half-written file), and `on_built` is told the sha256. Failures are logged, never user-facing:
// the function simply stays on the interpreter.
//
// Threads: build_native is safe from any thread; NativeBuilder's methods too.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/expected.h"

namespace nil::compile {

struct NativeBuildOptions {
  std::string compiler = "gcc";  // "gcc" or "clang-16"
  std::string optimization = "-O2";
  uint32_t timeout_ms = 300'000;       // wasm2c + cc, wall clock
  uint64_t memory_bytes = 3ull << 30;  // address space of each tool
  std::filesystem::path work_dir;      // scratch space (a temp dir is made under it); default /tmp
  bool sandboxed = true;               // false only where bwrap cannot run (documented in tests)
  // Set by NativeBuilder::stop(): the build in flight is killed instead of awaited.
  const std::atomic<bool>* cancel = nullptr;
};

// Synchronous: builds `output_so` from `wasm` (which must have passed engine::validate_module).
// Writes to a temporary name beside output_so and renames. Errors: native_build_failed (with the
// tool's diagnostics, trimmed).
Expected<void> build_native(std::string_view wasm, const std::filesystem::path& output_so,
                            const NativeBuildOptions& options = {});

class NativeBuilder {
 public:
  // fetch_wasm: the module bytes for a sha256 (from the store); on_built: called on a builder
  // thread after an artifact is in place.
  NativeBuilder(std::filesystem::path cache_dir, int workers, NativeBuildOptions options,
                std::function<Expected<std::string>(const std::string& sha256)> fetch_wasm,
                std::function<void(const std::string& sha256)> on_built);
  ~NativeBuilder();  // stop()

  // Queues a build unless one is queued or running, or one for this sha256 already failed.
  void request(const std::string& sha256);
  // Finishes the build that is running, drops the queue, joins the workers.
  void stop();
  // Tests and tools: blocks until the queue is empty and no build runs.
  void wait_idle();

  std::filesystem::path artifact_path(std::string_view sha256) const;

 private:
  void run();

  std::filesystem::path cache_dir_;
  NativeBuildOptions options_;
  std::function<Expected<std::string>(const std::string&)> fetch_wasm_;
  std::function<void(const std::string&)> on_built_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<std::string> queue_;
  std::set<std::string> pending_;  // queued or running
  std::set<std::string> failed_;
  int running_ = 0;
  bool stopping_ = false;
  std::atomic<bool> cancel_{false};
  std::vector<std::thread> threads_;
};

}  // namespace nil::compile
