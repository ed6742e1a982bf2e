// nil::fiber (see fiber.h). Context switches use Boost.Context's fcontext primitives directly
// rather than boost::context::fiber: that class has no AddressSanitizer annotations for its
// fcontext flavour, and the test build runs under ASan (and TSan), which must be told about every
// stack switch or they report the other stack's frames as errors.
#include "common/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/context/detail/fcontext.hpp>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "common/log.h"

#if defined(__SANITIZE_ADDRESS__)
#define NIL_FIBER_ASAN 1
extern "C" {
void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, size_t size);
void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old,
                                     size_t* size_old);
void __asan_unpoison_memory_region(void const volatile* addr, size_t size);
}
#endif
#if defined(__SANITIZE_THREAD__)
#define NIL_FIBER_TSAN 1
extern "C" {
void* __tsan_get_current_fiber(void);
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
}
#endif

namespace nil::fiber {

namespace ctx = boost::context::detail;
namespace net = boost::asio;

namespace {

size_t page_size() {
  static const size_t kPageSize = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return kPageSize;
}

// Inaccessible memory below every stack: more than one page, so that a large frame (a guest's
// locals) cannot step over it into a neighbouring mapping.
constexpr size_t kGuardBytes = 64u << 10;

struct Stack {
  uint8_t* base = nullptr;  // the guard; usable memory is [base + kGuardBytes, base + bytes)
  size_t bytes = 0;         // guard included
  uintptr_t lo() const { return reinterpret_cast<uintptr_t>(base) + kGuardBytes; }
  uintptr_t hi() const { return reinterpret_cast<uintptr_t>(base) + bytes; }
};

}  // namespace

struct Worker {
  net::io_context ioc{1};
  std::vector<Stack> pool;
  size_t stack_bytes = 0;
  std::thread thread;

  Stack take_stack() {
    if (!pool.empty()) {
      Stack s = pool.back();
      pool.pop_back();
      return s;
    }
    Stack s;
    s.bytes = stack_bytes + kGuardBytes;
    void* p = ::mmap(nullptr, s.bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) return Stack{};
    ::mprotect(p, kGuardBytes, PROT_NONE);
    s.base = static_cast<uint8_t*>(p);
    return s;
  }

  void give_stack(Stack s) {
#if NIL_FIBER_ASAN
    // The ended fiber's frames stay poisoned in ASan's shadow; the next fiber on this stack
    // starts clean.
    __asan_unpoison_memory_region(reinterpret_cast<void*>(s.lo()), s.hi() - s.lo());
#endif
    if (pool.size() < FiberThreads::kStackPool) {
      // Back to the kernel except the top 16 KiB (the part every fiber touches): a fiber that
      // recursed deeply does not leave megabytes resident in the pool.
      constexpr size_t kKeep = 16u << 10;
      size_t usable = s.bytes - kGuardBytes;
      // The stack's bounds are addresses of an mmap'd region kept as integers for the arithmetic.
      // NOLINTNEXTLINE(performance-no-int-to-ptr)
      if (usable > kKeep) ::madvise(reinterpret_cast<void*>(s.lo()), usable - kKeep, MADV_DONTNEED);
      pool.push_back(s);
    } else {
      ::munmap(s.base, s.bytes);
    }
  }

  ~Worker() {
    for (Stack& s : pool) ::munmap(s.base, s.bytes);
  }
};

struct Fiber {
  Worker* worker = nullptr;
  std::atomic<size_t>* live = nullptr;
  Stack stack;
  ctx::fcontext_t self = nullptr;    // the fiber, while it is suspended
  ctx::fcontext_t caller = nullptr;  // the loop that resumed it, while it runs
  std::function<void()> fn;
  bool done = false;
#if NIL_FIBER_ASAN
  void* fake_stack = nullptr;
  const void* caller_bottom = nullptr;
  size_t caller_size = 0;
#endif
#if NIL_FIBER_TSAN
  void* tsan_fiber = nullptr;
  void* tsan_caller = nullptr;
#endif
};

namespace {

thread_local Fiber* tls_fiber = nullptr;
thread_local int tls_no_suspend = 0;

void release(Fiber* f) {
#if NIL_FIBER_TSAN
  __tsan_destroy_fiber(f->tsan_fiber);
#endif
  f->worker->give_stack(f->stack);
  f->live->fetch_sub(1, std::memory_order_acq_rel);
  delete f;
}

// From the loop into the fiber; returns when it suspends or ends. On the fiber's thread only.
void resume(Fiber* f) {
  tls_fiber = f;
#if NIL_FIBER_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, reinterpret_cast<void*>(f->stack.lo()),
                                 f->stack.hi() - f->stack.lo());
#endif
#if NIL_FIBER_TSAN
  f->tsan_caller = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(f->tsan_fiber, 0);
#endif
  ctx::transfer_t t = ctx::jump_fcontext(f->self, f);
#if NIL_FIBER_ASAN
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
  tls_fiber = nullptr;
  if (f->done) {
    release(f);
  } else {
    f->self = t.fctx;
  }
}

// From the fiber back to the loop that resumed it (the fiber's stack stays as it is).
void switch_to_loop(Fiber* f, bool ending) {
#if NIL_FIBER_ASAN
  // An ending fiber passes no save slot: ASan frees its fake stack.
  __sanitizer_start_switch_fiber(ending ? nullptr : &f->fake_stack, f->caller_bottom,
                                 f->caller_size);
#endif
#if NIL_FIBER_TSAN
  __tsan_switch_to_fiber(f->tsan_caller, 0);
#endif
  ctx::transfer_t t = ctx::jump_fcontext(f->caller, nullptr);
  // Resumed (never reached by an ending fiber).
  f->caller = t.fctx;
#if NIL_FIBER_ASAN
  __sanitizer_finish_switch_fiber(f->fake_stack, &f->caller_bottom, &f->caller_size);
#endif
}

void entry(ctx::transfer_t t) {
  Fiber* f = static_cast<Fiber*>(t.data);
  f->caller = t.fctx;
#if NIL_FIBER_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &f->caller_bottom, &f->caller_size);
#endif
  {
    std::function<void()> fn = std::move(f->fn);
    fn();
  }  // its captures die on the fiber, before it ends
  f->done = true;
  switch_to_loop(f, true);
  std::abort();  // unreachable: an ended fiber is never resumed
}

}  // namespace

// ---- Waker ---------------------------------------------------------------------------------

struct Waker::State {
  std::atomic<bool> fired{false};
  bool timed_out = false;  // written by the winner of `fired`, read after the wake-up
  Fiber* fiber = nullptr;  // null: a blocked thread waits on cv
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
};

bool Waker::fire(bool timed_out) {
  if (s_->fired.exchange(true, std::memory_order_acq_rel)) return false;
  s_->timed_out = timed_out;
  if (Fiber* f = s_->fiber) {
    // The fiber suspended before anything could wake it: await() armed the Waker on the fiber's
    // own thread, which cannot run this resume before the fiber has switched out.
    net::post(f->worker->ioc, [f] { resume(f); });
  } else {
    std::lock_guard lk(s_->mu);
    s_->done = true;
    s_->cv.notify_all();
  }
  return true;
}

bool Waker::timed_out() const { return s_->timed_out; }

bool on_fiber() { return tls_fiber != nullptr; }
bool can_suspend() { return tls_fiber != nullptr && tls_no_suspend == 0; }

NoSuspend::NoSuspend() { ++tls_no_suspend; }
NoSuspend::~NoSuspend() { --tls_no_suspend; }

std::optional<StackBounds> current_stack() {
  if (!tls_fiber) return std::nullopt;
  return StackBounds{tls_fiber->stack.lo(), tls_fiber->stack.hi()};
}

bool await(const std::function<void(const WakerPtr&)>& arm, std::optional<SteadyTime> deadline) {
  auto state = std::make_shared<Waker::State>();
  auto waker = std::make_shared<Waker>(state);
  if (can_suspend()) {
    Fiber* f = tls_fiber;
    state->fiber = f;
    std::optional<net::steady_timer> timer;
    if (deadline) {
      timer.emplace(f->worker->ioc, *deadline);
      timer->async_wait([waker](const boost::system::error_code& ec) {
        if (!ec) waker->fire(true);
      });
    }
    arm(waker);
    switch_to_loop(f, false);
    tls_fiber = f;  // resume() set it already; kept explicit for the reader
    if (timer) timer->cancel();
    return !state->timed_out;
  }
  arm(waker);
  std::unique_lock lk(state->mu);
  if (deadline) {
    while (!state->done) {
      if (state->cv.wait_until(lk, *deadline) == std::cv_status::timeout && !state->done) {
        lk.unlock();
        if (waker->fire(true)) return false;
        lk.lock();  // the wake-up won the race: wait for it to finish signalling
      }
    }
  } else {
    state->cv.wait(lk, [&] { return state->done; });
  }
  return !state->timed_out;
}

// ---- FiberThreads ----------------------------------------------------------------------------

struct FiberThreads::Impl {
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  std::atomic<size_t> next{0};
  std::atomic<size_t> live{0};
  std::mutex stop_mu;
  bool stopped = false;
};

FiberThreads::FiberThreads(int threads, size_t stack_bytes) : impl_(std::make_unique<Impl>()) {
  size_t page = page_size();
  stack_bytes = (std::max<size_t>(stack_bytes, 64u << 10) + page - 1) / page * page;
  for (int i = 0; i < std::max(1, threads); ++i) {
    auto w = std::make_unique<Worker>();
    w->stack_bytes = stack_bytes;
    impl_->guards.push_back(net::make_work_guard(w->ioc));
    Worker* raw = w.get();
    w->thread = std::thread([raw] { raw->ioc.run(); });
    impl_->workers.push_back(std::move(w));
  }
}

FiberThreads::~FiberThreads() { stop(); }

void FiberThreads::spawn(std::function<void()> fn) {
  Worker* w =
      impl_->workers[impl_->next.fetch_add(1, std::memory_order_relaxed) % impl_->workers.size()]
          .get();
  impl_->live.fetch_add(1, std::memory_order_acq_rel);
  std::atomic<size_t>* live = &impl_->live;
  net::post(w->ioc, [w, live, fn = std::move(fn)]() mutable {
    auto* f = new Fiber();
    f->worker = w;
    f->live = live;
    f->stack = w->take_stack();
    if (!f->stack.base) {
      // No memory for a stack: run it here, on the loop's own stack (it cannot suspend, so
      // whatever it waits for blocks this thread: degraded, not lost).
      log::error("cannot allocate a fiber stack; running on the thread", {});
      delete f;
      fn();
      live->fetch_sub(1, std::memory_order_acq_rel);
      return;
    }
    f->fn = std::move(fn);
#if NIL_FIBER_TSAN
    f->tsan_fiber = __tsan_create_fiber(0);
#endif
    // NOLINTNEXTLINE(performance-no-int-to-ptr): the top of the mmap'd stack, kept as an integer
    f->self = ctx::make_fcontext(reinterpret_cast<void*>(f->stack.hi()),
                                 f->stack.hi() - f->stack.lo(), entry);
    resume(f);
  });
}

size_t FiberThreads::live() const { return impl_->live.load(std::memory_order_acquire); }

void FiberThreads::stop() {
  std::lock_guard lk(impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  while (live() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  impl_->guards.clear();
  for (auto& w : impl_->workers) {
    w->ioc.stop();
    if (w->thread.joinable()) w->thread.join();
  }
}

}  // namespace nil::fiber
