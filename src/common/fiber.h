// nil::fiber — work that waits without holding a thread (issue 13).
//
// A fiber is a function running on its own small stack (Boost.Context's fcontext switch, our own
// stacks and sanitizer annotations). FiberThreads is a set of threads, each running its own event
// loop (an Asio io_context run by exactly that thread); spawn() starts a fiber on one of them and
// the fiber stays on that thread for its whole life (pinned: the native tier's trap state, signal
// stack and watchdog slot are per thread, src/engine/native/native_runtime.h). When a fiber must
// wait — an outbound HTTP request, a place in an admission queue — it calls await(): the fiber
// switches back to its thread's loop, which runs other fibers meanwhile, and is resumed on the
// same thread once its Waker is woken (from any thread) or its deadline passes.
//
// await() works off fibers too: on a plain thread (the async queue's workers, tests, the
// inline fast path on an I/O loop) or under a NoSuspend guard it blocks the calling thread until
// the same wake-up, so a caller of a suspending API never needs two code paths.
//
// Stacks: fixed size (FiberThreads' stack_bytes) with an inaccessible guard (64 KiB) below, so an
// overflow faults instead of writing into a neighbour; the native tier turns a fault in the
// guard page into "call stack exhausted" (current_stack() tells it the bounds). A thread keeps up
// to kStackPool of them for reuse, with their pages given back to the kernel on release.
//
// Thread safety: spawn() and Waker::wake() from any thread; await(), on_fiber(), current_stack()
// act on the calling thread. Kept C++17-compatible: the interpreter's translation unit includes it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace nil::fiber {

struct Fiber;
struct Worker;

// A one-shot wake-up for one await(). Thread-safe: the first of wake() and the deadline wins.
class Waker {
 public:
  // Wakes the waiting caller. False if it was already woken or gave up (deadline): whoever
  // handed something over with the wake-up (an admission slot) must then take it back.
  bool wake() { return fire(false); }

  // Internal to fiber.cpp.
  bool fire(bool timed_out);
  struct State;
  explicit Waker(std::shared_ptr<State> s) : s_(std::move(s)) {}
  bool timed_out() const;

 private:
  std::shared_ptr<State> s_;
};
using WakerPtr = std::shared_ptr<Waker>;

using SteadyTime = std::chrono::steady_clock::time_point;

// Suspends the caller until the Waker handed to `arm` is woken, or `deadline` passes. `arm` runs
// at once, on the caller's thread and stack, and hands the Waker to whoever will wake it (it may
// call wake() right away). Returns true when woken, false when the deadline passed first. On a
// fiber (and not under NoSuspend) the thread runs other fibers meanwhile; elsewhere it blocks.
bool await(const std::function<void(const WakerPtr&)>& arm,
           std::optional<SteadyTime> deadline = std::nullopt);

// Whether the caller runs on a fiber, and whether await() would give the thread back.
bool on_fiber();
bool can_suspend();

// While alive, await() on this thread blocks instead of suspending (the interpreter tier: its
// per-thread wabt Store must not be shared by two interleaved invocations).
class NoSuspend {
 public:
  NoSuspend();
  ~NoSuspend();
  NoSuspend(const NoSuspend&) = delete;
  NoSuspend& operator=(const NoSuspend&) = delete;
};

// The running fiber's usable stack [lo, hi) (its guard page lies just below lo), or nullopt off
// fibers (the thread's own stack applies).
struct StackBounds {
  uintptr_t lo = 0;
  uintptr_t hi = 0;
};
std::optional<StackBounds> current_stack();

class FiberThreads {
 public:
  static constexpr size_t kStackPool = 64;  // per thread

  // `threads` event-loop threads; every fiber gets `stack_bytes` of stack (rounded to pages).
  FiberThreads(int threads, size_t stack_bytes);
  ~FiberThreads();
  FiberThreads(const FiberThreads&) = delete;
  FiberThreads& operator=(const FiberThreads&) = delete;

  // Runs `fn` on a new fiber on one of the threads (round robin). `fn` must not throw.
  void spawn(std::function<void()> fn);
  // Fibers started and not yet finished (for stats and tests).
  size_t live() const;
  // Waits until every fiber has finished, then stops and joins the threads. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nil::fiber
