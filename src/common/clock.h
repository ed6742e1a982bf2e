// nil::Clock — the one seam through which NIL reads time.
//
// Everything that expires, schedules or rate-limits (sessions, API-key touches, token buckets,
// leases, cron ticks, invocation deadlines) asks a Clock instead of std::chrono directly, so that
// tests drive time with a ManualClock instead of sleeping. Production code gets
// SystemClock::instance().
//
// Two readings, because they answer different questions:
//  - now_micros(): wall-clock time, microseconds since the Unix epoch. For what is stored or shown
//    (createdAt, expiresAt, lastUsedAt) and compared with stored values. It may jump (NTP).
//  - steady_now(): a monotonic time point. For deadlines and intervals measured within this
//    process (timeouts, token-bucket refills, lease heartbeats). It never goes back.
//
// Thread safety: every method may be called from any thread. A ManualClock's setters may race
// with readers; readers see either the old or the new time, never a torn one.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace nil {

class Clock {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  virtual int64_t now_micros() const = 0;
  virtual SteadyTime steady_now() const = 0;
};

// The real clocks of the machine.
class SystemClock final : public Clock {
 public:
  static const SystemClock& instance() {
    static const SystemClock kClock;
    return kClock;
  }
  int64_t now_micros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  SteadyTime steady_now() const override { return std::chrono::steady_clock::now(); }
};

// A clock that moves only when told to: advance() moves both readings by the same amount, so a
// test that advances 31 minutes sees a 30-minute session expire and a token bucket refill.
class ManualClock final : public Clock {
 public:
  // Starts at a fixed, recognisable instant (2026-01-01T00:00:00Z) unless told otherwise.
  explicit ManualClock(int64_t start_micros = 1'767'225'600'000'000) : wall_(start_micros) {}

  int64_t now_micros() const override { return wall_.load(std::memory_order_acquire); }
  SteadyTime steady_now() const override {
    return SteadyTime(std::chrono::microseconds(steady_.load(std::memory_order_acquire)));
  }

  template <typename Rep, typename Period>
  void advance(std::chrono::duration<Rep, Period> d) {
    const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    wall_.fetch_add(us, std::memory_order_acq_rel);
    steady_.fetch_add(us, std::memory_order_acq_rel);
  }
  // Moves only the wall clock (an NTP step); the steady reading is unaffected, as on a real
  // machine.
  void set_wall_micros(int64_t micros) { wall_.store(micros, std::memory_order_release); }

 private:
  std::atomic<int64_t> wall_;
  // Starts well above zero so that "a time point before the first reading" is representable.
  std::atomic<int64_t> steady_{1'000'000'000};
};

}  // namespace nil
