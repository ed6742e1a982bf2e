// AssemblyScript driver: one long-lived Node process running src/compile/asc_worker.mjs inside
// bubblewrap, fed one source at a time over a length-prefixed pipe protocol (see the .mjs).
//
// Why a long-lived worker: Node + asc start-up costs ~0.6 s and the first compile ~2.4 s
// (optimizer warm-up); warm compiles are ~0.2-0.3 s (docs/languages.md has our measurements).
// Requests are serialized by a mutex: asc is single-threaded and one worker uses ~300-450 MB.
//
// Limits: a wall-clock deadline per compile (on expiry the worker is killed and respawned by the
// next compile); memory is watched as the resident size of the worker's process tree, polled
// while a compile runs, plus V8's --max-old-space-size (RLIMIT_AS does not fit V8, which
// reserves far more address space than it uses). The file system the compiler sees is the
// worker's in-memory map (only the source and the SDK), and the process itself can see only
// node, its libraries, node_modules, the worker script and the SDK.
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>

#include "common/log.h"
#include "compile/sandbox.h"
#include "compile/source_drivers.h"

namespace nil::compile {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kWarmupSource =
    "import { readInput, writeOutput, Json, JsonObject } from \"nil\";\n"
    "const v = Json.parse(readInput());\n"
    "writeOutput(new JsonObject().str(\"t\", v.getString(\"text\").toUpperCase()).toString());\n";

// Resident set size of pid and all its descendants, in bytes.
uint64_t tree_rss_bytes(pid_t pid, int depth = 0) {
  if (depth > 8) return 0;
  uint64_t total = 0;
  {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmRSS:", 0) == 0) {
        total += std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
        break;
      }
    }
  }
  std::ifstream children("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) +
                         "/children");
  for (pid_t child; children >> child;) total += tree_rss_bytes(child, depth + 1);
  return total;
}

enum class Wait { kOk, kEof, kTimeout, kMemory, kError };

class AscDriver final : public Driver {
 public:
  AscDriver(AscToolchain tc, std::vector<std::string> libs)
      : tc_(std::move(tc)), libs_(std::move(libs)) {
    if (tc_.prewarm) {
      // Start Node now and let it compile a small program while the server has nothing to do,
      // so the first user compile does not pay for start-up and optimizer warm-up.
      std::lock_guard lock(mu_);
      if (spawn(CompileOptions{}) &&
          send_request(kWarmupSource, Clock::now() + std::chrono::seconds(5))) {
        owed_responses_ = 1;
      }
    }
  }

  std::string_view language() const override { return "assemblyscript"; }

  Expected<std::string> compile(std::string_view source, const CompileOptions& opts) override {
    std::lock_guard lock(mu_);
    const auto deadline = Clock::now() + std::chrono::milliseconds(opts.timeout_ms);
    if (!worker_ && !spawn(opts)) {
      return make_error(ErrorCode::kCompileSandboxFailed,
                        "cannot start the AssemblyScript compile worker");
    }
    if (!send_request(source, deadline)) {
      return fail_and_reset("the AssemblyScript compiler stopped unexpectedly", opts);
    }
    // Responses owed to the warm-up request come first.
    for (;;) {
      uint8_t header[5];
      Wait w = read_exact(header, sizeof header, deadline, opts);
      std::string payload;
      if (w == Wait::kOk) {
        uint32_t len;
        std::memcpy(&len, header + 1, 4);  // little-endian on every target we run on
        if (len > opts.max_artifact_bytes + (1u << 20)) {
          return fail_and_reset("the compiled module is larger than the artifact limit of " +
                                    std::to_string(opts.max_artifact_bytes) + " bytes",
                                opts);
        }
        payload.resize(len);
        w = read_exact(payload.data(), len, deadline, opts);
      }
      switch (w) {
        case Wait::kOk:
          break;
        case Wait::kTimeout:
          return fail_and_reset(
              "compile timed out after " + std::to_string(opts.timeout_ms) + " ms", opts);
        case Wait::kMemory:
          return fail_and_reset("the compiler exceeded the memory limit of " +
                                    std::to_string(opts.memory_bytes >> 20) + " MiB",
                                opts);
        case Wait::kEof:
        case Wait::kError:
          return fail_and_reset("the AssemblyScript compiler crashed", opts);
      }
      if (owed_responses_ > 0) {
        --owed_responses_;
        continue;
      }
      if (header[0] != 0) return compile_error(clean(payload));
      if (payload.size() > opts.max_artifact_bytes) {
        return compile_error("the compiled module is larger than the artifact limit of " +
                             std::to_string(opts.max_artifact_bytes) + " bytes");
      }
      if (payload.empty()) return compile_error("the compiler produced no module");
      return payload;
    }
  }

 private:
  bool spawn(const CompileOptions& opts) {
    SandboxSpec spec;
    spec.binds.push_back({tc_.node.string(), "/usr/bin/node"});
    for (const auto& lib : libs_) spec.binds.push_back({lib, lib});
    spec.binds.push_back({tc_.node_modules.string(), "/nil/node_modules"});
    spec.binds.push_back({tc_.worker_script.string(), "/nil/asc_worker.mjs"});
    spec.binds.push_back({tc_.sdk_dir.string(), "/nil/sdk"});
    spec.symlinks = {{"usr/lib", "/lib"}, {"usr/lib64", "/lib64"}};
    spec.env = {{"PATH", "/usr/bin"}, {"LC_ALL", "C"}, {"NODE_ENV", "production"}};
    spec.chdir = "/nil";
    const uint64_t heap_mib = std::max<uint64_t>(256, (opts.memory_bytes >> 20) / 2);
    spec.argv = {"/usr/bin/node", "--max-old-space-size=" + std::to_string(heap_mib),
                 "/nil/asc_worker.mjs", "/nil/sdk"};
    auto p = Subprocess::spawn(bwrap_argv(spec), Limits{}, Subprocess::Stdin::kPipe,
                               Subprocess::Stderr::kInherit);
    if (!p.ok()) {
      log::error("cannot start the AssemblyScript compile worker", {{"error", p.error().message}});
      return false;
    }
    worker_ = std::make_unique<Subprocess>(std::move(p).value());
    owed_responses_ = 0;
    log::info("AssemblyScript compile worker started",
              {{"pid", static_cast<int64_t>(worker_->pid())}});
    return true;
  }

  bool send_request(std::string_view source, Clock::time_point deadline) {
    boost::json::object req;
    req["source"] = source;
    req["optimize"] = "O3";
    std::string body = boost::json::serialize(req);
    uint32_t len = static_cast<uint32_t>(body.size());
    std::string frame(reinterpret_cast<const char*>(&len), 4);
    frame += body;
    size_t off = 0;
    while (off < frame.size()) {
      ssize_t n = ::send(worker_->stdin_fd(), frame.data() + off, frame.size() - off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        struct pollfd pfd {
          worker_->stdin_fd(), POLLOUT, 0
        };
        ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
        continue;
      }
      return false;
    }
    return true;
  }

  Wait read_exact(void* buf, size_t len, Clock::time_point deadline, const CompileOptions& opts) {
    auto* p = static_cast<char*>(buf);
    size_t got = 0;
    while (got < len) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return Wait::kTimeout;
      struct pollfd pfd {
        worker_->stdout_fd(), POLLIN, 0
      };
      int r = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
      if (r < 0 && errno != EINTR) return Wait::kError;
      if (r <= 0) {
        if (tree_rss_bytes(worker_->pid()) > opts.memory_bytes) return Wait::kMemory;
        continue;
      }
      ssize_t n = ::read(worker_->stdout_fd(), p + got, len - got);
      if (n == 0) return Wait::kEof;
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return Wait::kError;
      }
      got += static_cast<size_t>(n);
    }
    return Wait::kOk;
  }

  Error fail_and_reset(std::string message, const CompileOptions&) {
    if (worker_) {
      worker_->kill_group();
      int st = worker_->wait();
      log::warn("AssemblyScript compile worker stopped",
                {{"reason", message}, {"status", describe_wait_status(st)}});
    }
    worker_.reset();  // the next compile starts a fresh one
    owed_responses_ = 0;
    return compile_error(std::move(message));
  }

  // asc's paths: the user's file is function.ts already; the SDK shows as ~lib/nil.
  static std::string clean(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

  AscToolchain tc_;
  std::vector<std::string> libs_;
  std::mutex mu_;
  std::unique_ptr<Subprocess> worker_;
  int owed_responses_ = 0;
};

}  // namespace

std::unique_ptr<Driver> make_assemblyscript_driver(const AscToolchain& tc) {
  if (find_bwrap().empty()) {
    log::warn("compile driver disabled: bubblewrap (bwrap) is not installed",
              {{"language", "assemblyscript"}});
    return nullptr;
  }
  for (const fs::path& p : {tc.node, tc.node_modules / "assemblyscript/dist/asc.js",
                            tc.worker_script, tc.sdk_dir / "nil.ts"}) {
    if (!fs::exists(p)) {
      log::warn("compile driver disabled: toolchain path missing (run scripts/bootstrap)",
                {{"language", "assemblyscript"}, {"path", p.string()}});
      return nullptr;
    }
  }
  auto libs = shared_library_closure({tc.node.string()});
  if (libs.empty()) {
    log::warn("compile driver disabled: cannot list node's shared libraries",
              {{"language", "assemblyscript"}});
    return nullptr;
  }
  return std::make_unique<AscDriver>(tc, std::move(libs));
}

}  // namespace nil::compile
