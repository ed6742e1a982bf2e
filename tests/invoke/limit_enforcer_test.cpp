// LimitEnforcer: the per-function rate limit (moved here from src/api, same code, message and
// Retry-After) and the per-function concurrency limit, driven by a ManualClock — no sleeping —
// and the admission queue (issue 13): past a cap an invocation waits in line (off a fiber, its
// thread blocks) until a slot frees or its wait ends. Those wait on real time (short waits).
#include "invoke/limit_enforcer.h"

#include <gtest/gtest.h>

#include <future>
#include <optional>
#include <thread>
#include <vector>

#include "common/clock.h"

namespace nil::invoke {
namespace {

store::Function function(std::string id, std::string name) {
  store::Function f;
  f.id = std::move(id);
  f.name = std::move(name);
  return f;
}

TEST(LimitEnforcer, NoLimitsAdmitsEverything) {
  ManualClock clock;
  LimitEnforcer limits({}, clock);
  auto f = function("f1", "free");
  std::vector<LimitEnforcer::Admission> held;
  for (int i = 0; i < 1000; ++i) {
    auto a = limits.admit(f);
    ASSERT_TRUE(a.ok()) << a.error().code;
    held.push_back(std::move(*a));
  }
}

TEST(LimitEnforcer, RateLimitRefusesPastTheBurstUntilTheClockRefills) {
  ManualClock clock;
  LimitEnforcer limits({.function_rate = 0.5, .function_burst = 2}, clock);  // a token every 2 s
  auto f = function("f1", "hello");
  EXPECT_TRUE(limits.admit(f).ok());
  EXPECT_TRUE(limits.admit(f).ok());
  auto refused = limits.admit(f);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(http_status(refused.error().code), 429);
  EXPECT_EQ(refused.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(refused.error().message, "function \"hello\" is over its rate limit");
  EXPECT_EQ(refused.error().retry_after_s, 2);  // one token at 0.5/s

  clock.advance(std::chrono::seconds(1));  // half a token: still refused, 1 s to go
  refused = limits.admit(f);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().retry_after_s, 1);

  clock.advance(std::chrono::seconds(1));  // a whole token
  EXPECT_TRUE(limits.admit(f).ok());
  EXPECT_FALSE(limits.admit(f).ok());

  clock.advance(std::chrono::hours(1));  // refills up to the burst, not beyond
  EXPECT_TRUE(limits.admit(f).ok());
  EXPECT_TRUE(limits.admit(f).ok());
  EXPECT_FALSE(limits.admit(f).ok());
}

TEST(LimitEnforcer, RateLimitIsPerFunction) {
  ManualClock clock;
  LimitEnforcer limits({.function_rate = 1, .function_burst = 1}, clock);
  auto a = function("fa", "a");
  auto b = function("fb", "b");
  EXPECT_TRUE(limits.admit(a).ok());
  EXPECT_FALSE(limits.admit(a).ok());
  EXPECT_TRUE(limits.admit(b).ok());
}

TEST(LimitEnforcer, BurstIsAtLeastOne) {
  ManualClock clock;
  LimitEnforcer limits({.function_rate = 1, .function_burst = 0}, clock);
  auto f = function("f1", "f");
  EXPECT_TRUE(limits.admit(f).ok());
  EXPECT_FALSE(limits.admit(f).ok());
}

TEST(LimitEnforcer, ConcurrencyLimitRefusesWhileTheSlotsAreHeld) {
  ManualClock clock;
  LimitEnforcer limits({.function_concurrency = 2}, clock);
  auto f = function("f1", "busy");
  std::optional<LimitEnforcer::Admission> first;
  {
    auto a = limits.admit(f);
    ASSERT_TRUE(a.ok());
    first = std::move(*a);
  }
  auto second = limits.admit(f);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(limits.running("f1"), 2u);

  auto refused = limits.admit(f);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(http_status(refused.error().code), 429);  // 429 in the API
  EXPECT_EQ(refused.error().code, ErrorCode::kConcurrencyLimit);
  EXPECT_EQ(refused.error().retry_after_s, 1);
  EXPECT_NE(refused.error().message.find("\"busy\""), std::string::npos) << refused.error().message;
  EXPECT_EQ(limits.running("f1"), 2u);  // a refusal takes no slot

  EXPECT_TRUE(limits.admit(function("f2", "other")).ok());  // per function

  first.reset();  // one finishes: its slot is free again
  EXPECT_EQ(limits.running("f1"), 1u);
  auto third = limits.admit(f);
  EXPECT_TRUE(third.ok());
}

TEST(LimitEnforcer, MovedAdmissionReleasesOnce) {
  ManualClock clock;
  LimitEnforcer limits({.function_concurrency = 1}, clock);
  auto f = function("f1", "f");
  {
    auto a = limits.admit(f);
    ASSERT_TRUE(a.ok());
    LimitEnforcer::Admission moved = std::move(*a);
    LimitEnforcer::Admission again;
    again = std::move(moved);
    EXPECT_EQ(limits.running("f1"), 1u);
  }
  EXPECT_EQ(limits.running("f1"), 0u);
  EXPECT_TRUE(limits.admit(f).ok());
}

TEST(LimitEnforcer, ConcurrencyRefusalSpendsNoRateToken) {
  ManualClock clock;
  LimitEnforcer limits({.function_rate = 1, .function_burst = 2, .function_concurrency = 1}, clock);
  auto f = function("f1", "f");
  auto held = limits.admit(f);  // token 1 of 2
  ASSERT_TRUE(held.ok());
  for (int i = 0; i < 5; ++i) {
    auto r = limits.admit(f);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kConcurrencyLimit);
  }
  held = LimitEnforcer::Admission();  // released
  EXPECT_TRUE(limits.admit(f).ok());  // token 2 of 2 was still there
}

TEST(LimitEnforcer, ResolvesTheFunctionsLimitsAndTheServersSizes) {
  LimitEnforcer limits({.output_bytes = 4096, .log_bytes = 512});
  store::Function f = function("f1", "f");
  f.limits.timeout_ms = 250;
  f.limits.memory_mb = 16;
  engine::Limits l = limits.resolve(f);
  EXPECT_EQ(l.timeout_ms, 250u);
  EXPECT_EQ(l.memory_mb, 16u);
  EXPECT_EQ(l.output_bytes, 4096u);
  EXPECT_EQ(l.log_bytes, 512u);
}

// Waits (bounded) until `limits` has `n` waiters in line.
void wait_for_queued(const LimitEnforcer& limits, size_t n) {
  for (int i = 0; i < 6000 && limits.queued() != n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(limits.queued(), n);
}

TEST(AdmissionQueue, AWaiterGetsTheSlotWhenItFrees) {
  LimitEnforcer limits({.queue_ms = 60'000});
  auto f = function("f1", "busy");
  f.limits.max_concurrency = 1;
  std::optional<LimitEnforcer::Admission> first = limits.admit(f).value();
  auto second = std::async(std::launch::async, [&] { return limits.admit(f); });
  wait_for_queued(limits, 1);
  EXPECT_EQ(limits.running("f1"), 1u);
  first.reset();  // the running invocation ends: its slot goes to the waiter
  auto admitted = second.get();
  ASSERT_TRUE(admitted.ok()) << admitted.error().message;
  EXPECT_EQ(limits.running("f1"), 1u);
  EXPECT_EQ(limits.queued(), 0u);
}

TEST(AdmissionQueue, PastItsWaitTheAnswerIsConcurrencyLimit) {
  LimitEnforcer limits({.queue_ms = 60'000});
  auto f = function("f1", "busy");
  f.limits.max_concurrency = 1;
  f.limits.max_queue_ms = 20;  // the function's own wait wins over the server's
  auto first = limits.admit(f);
  ASSERT_TRUE(first.ok());
  auto refused = limits.admit(f);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConcurrencyLimit);
  EXPECT_EQ(refused.error().retry_after_s, 1);
  EXPECT_EQ(refused.error().message,
            "function \"busy\" already runs 1 invocations at once (its concurrency limit); no "
            "slot freed within 20 ms in line");
  EXPECT_EQ(limits.queued(), 0u);
  EXPECT_EQ(limits.running("f1"), 1u);
}

TEST(AdmissionQueue, AWaitOfZeroOrAFullLineRefusesAtOnce) {
  LimitEnforcer limits({.max_queued = 1, .queue_ms = 60'000});
  auto f = function("f1", "busy");
  f.limits.max_concurrency = 1;
  auto first = limits.admit(f);
  ASSERT_TRUE(first.ok());
  auto g = f;
  g.limits.max_queue_ms = 0;
  auto at_once = limits.admit(g);
  ASSERT_FALSE(at_once.ok());
  EXPECT_EQ(at_once.error().code, ErrorCode::kConcurrencyLimit);
  // One waiter fills the line; the next is refused without waiting.
  auto waiting = std::async(std::launch::async, [&] { return limits.admit(f); });
  wait_for_queued(limits, 1);
  auto full = limits.admit(f);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kConcurrencyLimit);
  EXPECT_NE(full.error().message.find("already wait in line (--max-queued)"), std::string::npos);
  first.value() = LimitEnforcer::Admission();  // frees the slot: the waiter runs
  EXPECT_TRUE(waiting.get().ok());
}

TEST(AdmissionQueue, TheServerCapCountsEveryFunction) {
  LimitEnforcer limits({.max_in_flight = 2, .queue_ms = 60'000});
  auto a = function("fa", "a");
  auto b = function("fb", "b");
  std::optional<LimitEnforcer::Admission> a1 = limits.admit(a).value();
  auto b1 = limits.admit(b);
  ASSERT_TRUE(b1.ok());
  EXPECT_EQ(limits.in_flight(), 2u);
  auto b2 = std::async(std::launch::async, [&] { return limits.admit(b); });
  wait_for_queued(limits, 1);
  a1.reset();  // another function's slot frees: the server-wide waiter takes it
  auto admitted = b2.get();
  ASSERT_TRUE(admitted.ok());
  EXPECT_EQ(limits.in_flight(), 2u);
}

}  // namespace
}  // namespace nil::invoke
