// nil::invoke::LimitEnforcer — the one place an invocation's limits are decided.
//
// Per invocation: the engine limits it runs under (timeout and memory from the function, output
// and log sizes from the server) — resolve(). Per function, across all its callers and triggers:
// a token-bucket rate limit and a cap on invocations running at once — admit(). Every trigger
// goes through the Invoker, so a cron tick or a queue message is limited exactly like an HTTP
// call, without re-implementing anything.
//
// Concurrency (issue 13): a function runs at most limits.maxConcurrency invocations at once
// (0: the server's --concurrency-limit-function, 0 there too: unlimited), and the server at most
// max_in_flight (0: unlimited). Past either cap an invocation waits in line — one FIFO for the
// server; a slot that frees goes to the first waiter it fits — for up to limits.maxQueueMs (else
// the server's queue_ms); the line holds at most max_queued waiters. Waiting is fiber::await():
// on a fiber (the API's executes) the thread runs other invocations meanwhile; on a plain thread
// (the async queue's workers) the thread blocks.
//
// Refusals (kind kRateLimited, 429 with Retry-After in the API; docs/errors.md):
//   rate_limited       the function's token bucket is empty; retry_after_s = seconds until a
//                      token is back (≥ 1). Message: function "NAME" is over its rate limit
//   concurrency_limit  no slot freed within the wait (or the line is full, or the wait is 0);
//                      retry_after_s = 1 (a slot frees when any running invocation finishes)
// A refused invocation never starts: it takes no concurrency slot and spends no token.
//
// Time comes from the injected Clock (steady_now() for token refills and deadlines), so tests
// drive it with a ManualClock instead of sleeping.
//
// Thread safety: every method may be called from any thread. An Admission belongs to one
// invocation (its InvocationContext) and releases its slot when destroyed.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/expected.h"
#include "common/fiber.h"
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
  // Invocations running at once on the server, every function together (0: unlimited).
  uint32_t max_in_flight = 0;
  // Waiters in line at once, and how long one waits when its function sets no maxQueueMs
  // (0: refuse at once, the behaviour before issue 13; nild's default is 10 s).
  uint32_t max_queued = 10'000;
  uint32_t queue_ms = 0;
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
    bool function_slot_ = false;  // counted against the function's cap
    bool server_slot_ = false;    // counted against max_in_flight
  };

  explicit LimitEnforcer(LimitSettings settings = {}, const Clock& clock = SystemClock::instance());
  LimitEnforcer(const LimitEnforcer&) = delete;
  LimitEnforcer& operator=(const LimitEnforcer&) = delete;

  // The limits one invocation of `fn` runs under.
  engine::Limits resolve(const store::Function& fn) const;

  // Admits one invocation of `fn` or refuses it (rate_limited, concurrency_limit), waiting in
  // line for a concurrency slot first if need be (see above). The concurrency slot is checked
  // first, so a refusal for concurrency spends no rate token.
  Expected<Admission> admit(const store::Function& fn);

  // Invocations of this function running now (admitted, not yet released; counted while a
  // concurrency cap applies to it). For tests and stats.
  uint32_t running(std::string_view function_id) const;
  // Invocations running under max_in_flight, and waiting in line now.
  uint32_t in_flight() const;
  size_t queued() const;

  const Clock& clock() const { return clock_; }
  const LimitSettings& settings() const { return settings_; }

 private:
  struct Bucket {
    double tokens;
    Clock::SteadyTime last;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;  // rate limit, by function id
  };
  static constexpr size_t kShards = 16;

  struct Waiter {
    std::string function_id;
    uint32_t function_max = 0;
    fiber::WakerPtr waker;  // null until the waiter is ready to be woken
    bool queued = true;     // false once granted a slot (or gone); under slots_mu_
  };

  Shard& shard(std::string_view function_id) const;
  // 0 when a token was taken, else whole seconds until one is back (≥ 1).
  int64_t take_token(Shard& s, const std::string& function_id);
  void release(Admission& a);
  // A concurrency slot for `fn` (function cap `function_max`), now or after waiting in line.
  Expected<void> acquire_slot(const store::Function& fn, uint32_t function_max, Admission& a);
  // Under slots_mu_: whether a slot fits, taking and giving one back, and handing freed slots
  // to the waiters they fit, first come first served.
  bool fits(const std::string& function_id, uint32_t function_max);
  void take(const std::string& function_id, uint32_t function_max);
  void give_back(const std::string& function_id, bool function_slot, bool server_slot);
  void grant_waiters();

  LimitSettings settings_;
  const Clock& clock_;
  mutable Shard shards_[kShards];  // rate buckets

  mutable std::mutex slots_mu_;
  std::unordered_map<std::string, uint32_t> running_;  // by function id, while a cap applies
  uint32_t in_flight_ = 0;                             // while max_in_flight > 0
  std::list<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace nil::invoke
