#include "invoke/limit_enforcer.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace nil::invoke {

// --- Admission -----------------------------------------------------------------------------------

LimitEnforcer::Admission::Admission(Admission&& o) noexcept
    : enforcer_(o.enforcer_),
      function_id_(std::move(o.function_id_)),
      function_slot_(o.function_slot_),
      server_slot_(o.server_slot_) {
  o.enforcer_ = nullptr;
}

LimitEnforcer::Admission& LimitEnforcer::Admission::operator=(Admission&& o) noexcept {
  if (this != &o) {
    release();
    enforcer_ = o.enforcer_;
    function_id_ = std::move(o.function_id_);
    function_slot_ = o.function_slot_;
    server_slot_ = o.server_slot_;
    o.enforcer_ = nullptr;
  }
  return *this;
}

LimitEnforcer::Admission::~Admission() { release(); }

void LimitEnforcer::Admission::release() {
  if (enforcer_ != nullptr) enforcer_->release(*this);
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
  const uint32_t function_max =
      fn.limits.max_concurrency > 0 ? fn.limits.max_concurrency : settings_.function_concurrency;
  const bool rate_on = settings_.function_rate > 0;
  Admission a;
  if (function_max > 0 || settings_.max_in_flight > 0) {
    NIL_TRY_VOID(acquire_slot(fn, function_max, a));
  }
  if (rate_on) {
    Shard& s = shard(fn.id);
    std::lock_guard lk(s.mu);
    if (int64_t wait = take_token(s, fn.id); wait > 0) {
      Error e = make_error(ErrorCode::kRateLimited,
                           "function \"" + fn.name + "\" is over its rate limit");
      e.retry_after_s = wait;
      return e;  // `a` gives its slot back
    }
  }
  return a;
}

bool LimitEnforcer::fits(const std::string& function_id, uint32_t function_max) {
  if (settings_.max_in_flight > 0 && in_flight_ >= settings_.max_in_flight) return false;
  if (function_max == 0) return true;
  auto it = running_.find(function_id);
  return it == running_.end() || it->second < function_max;
}

void LimitEnforcer::take(const std::string& function_id, uint32_t function_max) {
  if (function_max > 0) ++running_[function_id];
  if (settings_.max_in_flight > 0) ++in_flight_;
}

void LimitEnforcer::give_back(const std::string& function_id, bool function_slot,
                              bool server_slot) {
  if (function_slot) {
    auto it = running_.find(function_id);
    if (it != running_.end() && --it->second == 0) running_.erase(it);  // idle: no memory
  }
  if (server_slot && in_flight_ > 0) --in_flight_;
}

void LimitEnforcer::grant_waiters() {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (settings_.max_in_flight > 0 && in_flight_ >= settings_.max_in_flight) return;
    Waiter& w = **it;
    if (!w.waker || !fits(w.function_id, w.function_max)) {
      ++it;
      continue;
    }
    take(w.function_id, w.function_max);
    w.queued = false;
    std::shared_ptr<Waiter> kept = *it;
    it = waiters_.erase(it);
    // False: its wait ended a moment ago (deadline); the slot goes to the next one.
    if (!kept->waker->wake()) {
      give_back(kept->function_id, kept->function_max > 0, settings_.max_in_flight > 0);
    }
  }
}

Expected<void> LimitEnforcer::acquire_slot(const store::Function& fn, uint32_t function_max,
                                           Admission& a) {
  const bool server_cap = settings_.max_in_flight > 0;
  auto admitted = [&] {
    a.enforcer_ = this;
    a.function_id_ = fn.id;
    a.function_slot_ = function_max > 0;
    a.server_slot_ = server_cap;
  };
  const uint32_t wait_ms = fn.limits.max_queue_ms.value_or(settings_.queue_ms);
  std::unique_lock lk(slots_mu_);
  // A waiter ahead in line gets a freed slot first: join the line behind it (unless this
  // invocation would not wait at all).
  if (fits(fn.id, function_max) && (waiters_.empty() || wait_ms == 0)) {
    take(fn.id, function_max);
    admitted();
    return {};
  }
  auto running = running_.find(fn.id);
  bool function_full =
      function_max > 0 && running != running_.end() && running->second >= function_max;
  std::string why =
      function_full ? "function \"" + fn.name + "\" already runs " + std::to_string(function_max) +
                          " invocations at once (its concurrency limit)"
                    : "the server already runs " + std::to_string(settings_.max_in_flight) +
                          " invocations at once (--max-in-flight)";
  auto refuse = [&](std::string detail) {
    Error e = make_error(ErrorCode::kConcurrencyLimit, std::move(detail));
    e.retry_after_s = 1;
    return e;
  };
  if (wait_ms == 0) return refuse(why);
  if (waiters_.size() >= settings_.max_queued) {
    return refuse(why + "; " + std::to_string(waiters_.size()) +
                  " invocations already wait in line (--max-queued)");
  }
  auto waiter = std::make_shared<Waiter>();
  waiter->function_id = fn.id;
  waiter->function_max = function_max;
  waiters_.push_back(waiter);
  lk.unlock();
  bool granted = fiber::await(
      [&](const fiber::WakerPtr& waker) {
        std::lock_guard g(slots_mu_);
        waiter->waker = waker;
        grant_waiters();  // a slot may have freed while it joined the line
      },
      std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms));
  if (granted) {
    admitted();
    return {};
  }
  lk.lock();
  if (waiter->queued) waiters_.remove(waiter);
  return refuse(why + "; no slot freed within " + std::to_string(wait_ms) + " ms in line");
}

void LimitEnforcer::release(Admission& a) {
  std::lock_guard lk(slots_mu_);
  give_back(a.function_id_, a.function_slot_, a.server_slot_);
  grant_waiters();
}

uint32_t LimitEnforcer::running(std::string_view function_id) const {
  std::lock_guard lk(slots_mu_);
  auto it = running_.find(std::string(function_id));
  return it == running_.end() ? 0 : it->second;
}

uint32_t LimitEnforcer::in_flight() const {
  std::lock_guard lk(slots_mu_);
  return in_flight_;
}

size_t LimitEnforcer::queued() const {
  std::lock_guard lk(slots_mu_);
  return waiters_.size();
}

}  // namespace nil::invoke
