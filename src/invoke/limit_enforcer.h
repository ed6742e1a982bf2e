// nil::invoke::LimitEnforcer — the one place an invocation's limits are decided.
//
// Per invocation: the engine limits it runs under (timeout and memory from the function, output
// and log sizes from the server) — resolve(). Per function, across all its callers and triggers:
// a token-bucket rate limit and a cap on invocations running at once — admit(). Every trigger
// goes through the Invoker, so a cron tick or a queue message is limited exactly like an HTTP
// call, without re-implementing anything.
//
// Refusals (kind kRateLimited, 429 with Retry-After in the API; docs/errors.md):
//   rate_limited       the function's token bucket is empty; retry_after_s = seconds until a
//                      token is back (≥ 1). Message: function "NAME" is over its rate limit
//   concurrency_limit  the function already runs its maximum number of invocations at once;
//                      retry_after_s = 1 (a slot frees when any of them finishes)
// A refused invocation never starts: it takes no concurrency slot and spends no token.
//
// Time comes from the injected Clock (steady_now() for token refills and deadlines), so tests
// drive it with a ManualClock instead of sleeping.
//
// Thread safety: every method may be called from any thread. An Admission belongs to one
// invocation (its InvocationContext) and releases its slot when destroyed.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/expected.h"
#include "engine/engine.h"
#include "store/store.h"

namespace nil::invoke {

struct LimitSettings {
  // Executions per second per function, all callers and triggers together (0: unlimited), and
  // the bucket size (tokens available at once; at least 1).
  double function_rate = 0;
  double function_burst = 0;
  // Invocations of one function running at once (0: unlimited). A server setting for every
  // function; a per-function value can later override it.
  uint32_t function_concurrency = 0;
  // Per invocation, the same for every function.
  uint32_t output_bytes = engine::Limits{}.output_bytes;
  uint32_t log_bytes = engine::Limits{}.log_bytes;
};

class LimitEnforcer {
 public:
  // The right to run one invocation: holds one of the function's concurrency slots (if that
  // limit is on) until destroyed. Move-only.
  class Admission {
   public:
    Admission() = default;
    Admission(Admission&& o) noexcept;
    Admission& operator=(Admission&& o) noexcept;
    Admission(const Admission&) = delete;
    Admission& operator=(const Admission&) = delete;
    ~Admission();

   private:
    friend class LimitEnforcer;
    void release();
    LimitEnforcer* enforcer_ = nullptr;
    std::string function_id_;
  };

  explicit LimitEnforcer(LimitSettings settings = {}, const Clock& clock = SystemClock::instance());
  LimitEnforcer(const LimitEnforcer&) = delete;
  LimitEnforcer& operator=(const LimitEnforcer&) = delete;

  // The limits one invocation of `fn` runs under.
  engine::Limits resolve(const store::Function& fn) const;

  // Admits one invocation of `fn` or refuses it (rate_limited, concurrency_limit). The
  // concurrency slot is checked first, so a refusal for concurrency spends no rate token.
  Expected<Admission> admit(const store::Function& fn);

  // Invocations of this function running now (admitted, not yet released). For tests and stats.
  uint32_t running(std::string_view function_id) const;

  const Clock& clock() const { return clock_; }
  const LimitSettings& settings() const { return settings_; }

 private:
  struct Bucket {
    double tokens;
    Clock::SteadyTime last;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;    // rate limit, by function id
    std::unordered_map<std::string, uint32_t> running;  // concurrency, by function id
  };
  static constexpr size_t kShards = 16;

  Shard& shard(std::string_view function_id) const;
  // 0 when a token was taken, else whole seconds until one is back (≥ 1).
  int64_t take_token(Shard& s, const std::string& function_id);
  void release(const std::string& function_id);

  LimitSettings settings_;
  const Clock& clock_;
  mutable Shard shards_[kShards];
};

}  // namespace nil::invoke
