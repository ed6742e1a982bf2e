// nil::compile — the compile pipeline: drivers per language and the queue workers.
//
// Workers claim jobs from the store's compile queue (a table), run the language's driver,
// validate the result against the engine's host interface, and record READY or FAILED. A claim
// is a lease: one heartbeat thread renews the lease of every job being compiled every third of
// its length, so a job of a crashed node (no heartbeats) is claimed again by any node once its
// lease expires (docs/storage.md, "The lease model"). Artifacts are cached on disk by
// sha256(language, options, source), so recompiling the same source is a file read.
//
// Threads: CompilePool owns its worker threads and its heartbeat thread; start/stop from the
// owning (main) thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "compile/driver.h"
#include "store/store.h"

namespace nil::compile {

struct ToolchainConfig {
  std::filesystem::path project_dir;  // where sdk/, node_modules/ and src/compile/*.mjs live
  std::filesystem::path work_dir;     // scratch space for sandboxed compiles
  bool prewarm = true;  // start long-lived compilers (asc) at start-up, not on first use
};

class DriverRegistry {
 public:
  void add(std::unique_ptr<Driver> d);
  Driver* find(std::string_view language) const;
  std::vector<std::string> languages() const;

 private:
  std::map<std::string, std::unique_ptr<Driver>, std::less<>> drivers_;
};

// wat + wasm, plus the source languages (assemblyscript, c, cpp) registered by
// register_source_drivers (compile/source_drivers.cpp).
std::unique_ptr<DriverRegistry> make_registry(const ToolchainConfig& cfg);
void register_source_drivers(DriverRegistry& registry, const ToolchainConfig& cfg);

struct PoolOptions {
  int workers = 2;
  CompileOptions compile;
  std::filesystem::path cache_dir;  // empty: no artifact cache
  // A claim's lease, renewed every third of it while the job compiles (nild --compile-lease-ms).
  int64_t lease_micros = 30 * 1'000'000LL;
  // Fault injection for tests only (NIL_DEBUG_COMPILE_DELAY_MS): sleep this long after claiming
  // a job, so a test can kill -9 the server while a compile is RUNNING.
  uint32_t debug_delay_ms = 0;
};

class CompilePool {
 public:
  // on_done is called (from a worker thread) after a job's outcome is stored.
  CompilePool(store::Store& store, const DriverRegistry& drivers, PoolOptions opts,
              std::function<void(const std::string& function_id)> on_done);
  ~CompilePool();
  void start();
  void notify();         // a job was enqueued
  void stop();           // finishes the jobs being compiled, then joins
  void stop_claiming();  // the jobs being compiled go on; no new claim (drain's first step)
  // The drain of a node on SIGTERM: claims nothing more at once; waits until `deadline` for the
  // jobs being compiled to finish and be stored; releases the leases of those still compiling
  // then (release_held), so any node claims them at once; then joins the workers (a released
  // compile still runs to its end, within --compile-timeout-ms, and its result is dropped).
  void drain(std::chrono::steady_clock::time_point deadline);
  // Gives every job still being compiled back to the queue now (Store::release_compile_job) and
  // drops their results when they come. Any thread; returns how many were released.
  int release_held();

  // Runs one job synchronously (used by workers; exposed for tests).
  store::CompileOutcome compile(const store::CompileJob& job);

 private:
  void run(int index);
  void renew_leases();  // the heartbeat thread
  void hold(int index, const store::CompileJob& job);
  // The worker is done with its job; false if release_held gave it back meanwhile (drop it).
  bool let_go(int index);

  store::Store& store_;
  const DriverRegistry& drivers_;
  PoolOptions opts_;
  std::function<void(const std::string&)> on_done_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t wakeups_ = 0;
  std::atomic<bool> stopping_{false};

  // The jobs being compiled, by worker index (sources dropped), for the heartbeat.
  std::mutex held_mu_;
  std::condition_variable held_cv_;
  std::map<int, store::CompileJob> held_;
  std::set<int> released_;  // workers whose job release_held gave back
  bool heartbeat_stopping_ = false;
  std::thread heartbeat_;
};

}  // namespace nil::compile
