#include "invoke/limit_enforcer.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace nil::invoke {

// --- Admission -----------------------------------------------------------------------------------

LimitEnforcer::Admission::Admission(Admission&& o) noexcept
    : enforcer_(o.enforcer_), function_id_(std::move(o.function_id_)) {
  o.enforcer_ = nullptr;
}

LimitEnforcer::Admission& LimitEnforcer::Admission::operator=(Admission&& o) noexcept {
  if (this != &o) {
    release();
    enforcer_ = o.enforcer_;
    function_id_ = std::move(o.function_id_);
    o.enforcer_ = nullptr;
  }
  return *this;
}

LimitEnforcer::Admission::~Admission() { release(); }

void LimitEnforcer::Admission::release() {
  if (enforcer_ != nullptr) enforcer_->release(function_id_);
  enforcer_ = nullptr;
}

// --- LimitEnforcer -------------------------------------------------------------------------------

LimitEnforcer::LimitEnforcer(LimitSettings settings, const Clock& clock)
    : settings_(settings), clock_(clock) {
  settings_.function_burst = std::max(1.0, settings_.function_burst);
}

engine::Limits LimitEnforcer::resolve(const store::Function& fn) const {
  engine::Limits l;
  l.timeout_ms = fn.limits.timeout_ms;
  l.memory_mb = fn.limits.memory_mb;
  l.output_bytes = settings_.output_bytes;
  l.log_bytes = settings_.log_bytes;
  return l;
}

LimitEnforcer::Shard& LimitEnforcer::shard(std::string_view function_id) const {
  return shards_[std::hash<std::string_view>{}(function_id) % kShards];
}

int64_t LimitEnforcer::take_token(Shard& s, const std::string& function_id) {
  const double rate = settings_.function_rate;
  const double burst = settings_.function_burst;
  const Clock::SteadyTime now = clock_.steady_now();
  auto [it, inserted] = s.buckets.try_emplace(function_id, Bucket{burst, now});
  Bucket& b = it->second;
  if (!inserted) {
    double elapsed = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(burst, b.tokens + elapsed * rate);
    b.last = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - b.tokens) / rate)));
}

Expected<LimitEnforcer::Admission> LimitEnforcer::admit(const store::Function& fn) {
  const uint32_t max_running = settings_.function_concurrency;
  const bool rate_on = settings_.function_rate > 0;
  Admission a;
  if (max_running == 0 && !rate_on) return a;  // the common case: nothing to count
  Shard& s = shard(fn.id);
  std::lock_guard lk(s.mu);
  if (max_running > 0) {
    auto it = s.running.find(fn.id);
    if (it != s.running.end() && it->second >= max_running) {
      Error e =
          make_error(ErrorCode::kConcurrencyLimit,
                     "function \"" + fn.name + "\" already runs " + std::to_string(max_running) +
                         " invocations at once (its concurrency limit)");
      e.retry_after_s = 1;
      return e;
    }
  }
  if (rate_on) {
    if (int64_t wait = take_token(s, fn.id); wait > 0) {
      Error e = make_error(ErrorCode::kRateLimited,
                           "function \"" + fn.name + "\" is over its rate limit");
      e.retry_after_s = wait;
      return e;
    }
  }
  if (max_running > 0) {
    ++s.running[fn.id];
    a.enforcer_ = this;
    a.function_id_ = fn.id;
  }
  return a;
}

void LimitEnforcer::release(const std::string& function_id) {
  Shard& s = shard(function_id);
  std::lock_guard lk(s.mu);
  auto it = s.running.find(function_id);
  if (it == s.running.end()) return;
  if (--it->second == 0) s.running.erase(it);  // idle functions cost no memory
}

uint32_t LimitEnforcer::running(std::string_view function_id) const {
  Shard& s = shard(function_id);
  std::lock_guard lk(s.mu);
  auto it = s.running.find(std::string(function_id));
  return it == s.running.end() ? 0 : it->second;
}

}  // namespace nil::invoke
