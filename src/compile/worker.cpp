#include "compile/worker.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "common/util.h"
#include "engine/engine.h"

namespace nil::compile {

void DriverRegistry::add(std::unique_ptr<Driver> d) {
  std::string lang(d->language());
  drivers_[lang] = std::move(d);
}

Driver* DriverRegistry::find(std::string_view language) const {
  auto it = drivers_.find(language);
  return it == drivers_.end() ? nullptr : it->second.get();
}

std::vector<std::string> DriverRegistry::languages() const {
  std::vector<std::string> out;
  out.reserve(drivers_.size());
  for (const auto& [k, v] : drivers_) out.push_back(k);
  return out;
}

std::unique_ptr<DriverRegistry> make_registry(const ToolchainConfig& cfg) {
  auto r = std::make_unique<DriverRegistry>();
  r->add(make_wat_driver());
  r->add(make_wasm_driver());
  register_source_drivers(*r, cfg);
  return r;
}

CompilePool::CompilePool(store::Store& store, const DriverRegistry& drivers, PoolOptions opts,
                         std::function<void(const std::string&)> on_done)
    : store_(store), drivers_(drivers), opts_(std::move(opts)), on_done_(std::move(on_done)) {}

CompilePool::~CompilePool() { stop(); }

void CompilePool::start() {
  if (!opts_.cache_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(opts_.cache_dir, ec);
  }
  for (int i = 0; i < opts_.workers; ++i) threads_.emplace_back([this, i] { run(i); });
  if (opts_.workers > 0) {
    {
      std::lock_guard lk(held_mu_);
      heartbeat_stopping_ = false;
    }
    heartbeat_ = std::thread([this] { renew_leases(); });
  }
}

void CompilePool::notify() {
  {
    std::lock_guard lk(mu_);
    ++wakeups_;
  }
  cv_.notify_all();
}

void CompilePool::stop() {
  stopping_ = true;
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  // The heartbeat stops last: the workers finish their jobs under a live lease.
  {
    std::lock_guard lk(held_mu_);
    heartbeat_stopping_ = true;
  }
  held_cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

void CompilePool::stop_claiming() {
  stopping_ = true;
  cv_.notify_all();
}

void CompilePool::drain(std::chrono::steady_clock::time_point deadline) {
  stop_claiming();
  {
    std::unique_lock lk(held_mu_);
    held_cv_.wait_until(lk, deadline, [&] { return held_.empty(); });
  }
  if (int n = release_held(); n > 0) {
    log::info("compile jobs released at shutdown", {{"jobs", static_cast<int64_t>(n)}});
  }
  stop();
}

int CompilePool::release_held() {
  std::vector<store::CompileJob> jobs;
  {
    std::lock_guard lk(held_mu_);
    for (auto& [index, job] : held_) {
      released_.insert(index);
      jobs.push_back(std::move(job));
    }
    held_.clear();
  }
  int released = 0;
  for (const auto& job : jobs) {
    auto r = store_.release_compile_job(job);
    if (!r) {
      log::error(
          "compile job not released",
          {{"functionId", job.function_id}, {"jobId", job.id}, {"error", r.error().message}});
    } else if (*r) {
      ++released;
      log::info("compile job released",
                {{"functionId", job.function_id}, {"jobId", job.id}, {"attempt", job.attempts}});
    }
  }
  return released;
}

void CompilePool::hold(int index, const store::CompileJob& job) {
  store::CompileJob held = job;
  held.source.clear();  // renewal needs the claim, not the source
  std::lock_guard lk(held_mu_);
  held_[index] = std::move(held);
}

bool CompilePool::let_go(int index) {
  bool kept = true;
  {
    std::lock_guard lk(held_mu_);
    held_.erase(index);
    kept = released_.erase(index) == 0;
  }
  held_cv_.notify_all();  // drain() waits for held_ to empty
  return kept;
}

void CompilePool::renew_leases() {
  const auto every = std::chrono::microseconds(std::max<int64_t>(opts_.lease_micros / 3, 1000));
  std::unique_lock lk(held_mu_);
  while (true) {
    held_cv_.wait_for(lk, every, [&] { return heartbeat_stopping_; });
    if (heartbeat_stopping_) return;
    std::vector<store::CompileJob> jobs;
    jobs.reserve(held_.size());
    for (const auto& [index, job] : held_) jobs.push_back(job);
    lk.unlock();
    for (const auto& job : jobs) {
      auto renewed = store_.renew_compile_lease(job, opts_.lease_micros);
      if (!renewed) {
        log::error("compile lease not renewed", {{"functionId", job.function_id},
                                                 {"jobId", job.id},
                                                 {"error", renewed.error().message}});
      } else if (!*renewed) {
        log::warn("compile lease lost",
                  {{"functionId", job.function_id}, {"jobId", job.id}, {"attempt", job.attempts}});
      }
    }
    lk.lock();
  }
}

namespace {

// Bump when driver flags change so cached artifacts from older flags are not reused.
constexpr std::string_view kCacheEpoch = "nil-compile-v1";

std::optional<std::string> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return std::move(ss).str();
}

void write_file_atomically(const std::filesystem::path& p, std::string_view bytes) {
  auto tmp = p;
  tmp += ".tmp." + new_uuid();
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, p, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

}  // namespace

store::CompileOutcome CompilePool::compile(const store::CompileJob& job) {
  store::CompileOutcome out;
  Driver* driver = drivers_.find(job.language);
  if (driver == nullptr) {
    out.error = "unsupported language \"" + job.language + "\"";
    return out;
  }
  std::filesystem::path cache_path;
  const bool cacheable = !opts_.cache_dir.empty() && job.language != "wasm";
  if (cacheable) {
    std::string key_material;
    key_material.append(kCacheEpoch).append("\n").append(job.language).append("\n");
    key_material.append(std::to_string(opts_.compile.max_artifact_bytes)).append("\n");
    key_material.append(job.source);
    cache_path = opts_.cache_dir / (sha256_hex(key_material) + ".wasm");
  }
  std::string wasm;
  bool from_cache = false;
  if (cacheable) {
    if (auto cached = read_file(cache_path)) {
      wasm = std::move(*cached);
      from_cache = true;
    }
  }
  if (!from_cache) {
    auto compiled = driver->compile(job.source, opts_.compile);
    if (!compiled) {
      out.error = compiled.error().message;
      return out;
    }
    wasm = std::move(compiled).value();
  }
  auto info = engine::validate_module(wasm);
  if (!info) {
    out.error = info.error().message;
    return out;
  }
  if (cacheable && !from_cache) write_file_atomically(cache_path, wasm);
  out.ok = true;
  out.from_cache = from_cache;
  out.wasm_sha256 = sha256_hex(wasm);
  out.wasm = std::move(wasm);
  return out;
}

void CompilePool::run(int index) {
  const std::string worker = "compile-" + std::to_string(index);
  uint64_t seen = 0;
  while (!stopping_) {
    auto claimed = store_.claim_compile_job(worker, opts_.lease_micros);
    if (!claimed) {
      log::error("compile queue claim failed", {{"error", claimed.error().message}});
    }
    if (!claimed || !claimed->has_value()) {
      // Idle: wait for a notify, or poll again in a second (another node may enqueue later).
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, std::chrono::seconds(1), [&] { return stopping_ || wakeups_ != seen; });
      seen = wakeups_;
      continue;
    }
    const store::CompileJob& job = **claimed;
    hold(index, job);
    log::info("compile started", {{"functionId", job.function_id},
                                  {"function", job.function_name},
                                  {"language", job.language},
                                  {"jobId", job.id},
                                  {"attempt", job.attempts}});
    if (opts_.debug_delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(opts_.debug_delay_ms));
    }
    auto t0 = std::chrono::steady_clock::now();
    store::CompileOutcome outcome = compile(job);
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!let_go(index)) {
      log::info("compile result dropped: the job was released at shutdown",
                {{"functionId", job.function_id}, {"jobId", job.id}});
      continue;
    }
    auto stored = store_.complete_compile_job(job, outcome);
    if (!stored) {
      log::error(
          "compile result not stored",
          {{"functionId", job.function_id}, {"jobId", job.id}, {"error", stored.error().message}});
      continue;
    }
    if (outcome.ok) {
      log::info("compile finished", {{"functionId", job.function_id},
                                     {"status", "READY"},
                                     {"cached", outcome.from_cache},
                                     {"durationMs", ms},
                                     {"wasmBytes", static_cast<int64_t>(outcome.wasm.size())},
                                     {"wasmSha256", outcome.wasm_sha256}});
    } else {
      log::info("compile finished", {{"functionId", job.function_id},
                                     {"status", "FAILED"},
                                     {"durationMs", ms},
                                     {"compileError", outcome.error}});
    }
    if (on_done_) on_done_(job.function_id);
  }
}

}  // namespace nil::compile
