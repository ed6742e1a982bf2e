// The native tier's runtime (see native_runtime.h for the design).
//
// Signal-handler rules kept here: the handlers touch only `tls_guest` (a POD thread_local with
// constant initialisation, so reading it is async-signal-safe), clock_gettime and siglongjmp.
// Guest code is left by siglongjmp only while `in_guest` is set, and every piece of our own code
// that guest code calls (host calls, runtime callbacks) clears it first and sets it again last,
// so a jump never abandons a C++ object, a lock or a half-updated allocator.
#include "engine/native/native_runtime.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/fiber.h"
#include "engine/host_calls.h"
#include "engine/host_interface.h"

namespace nil::engine::native {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kReservationBytes = 8ull << 30;  // 4 GiB addressable + 4 GiB guard
constexpr size_t kPoolPerThread = 4;
constexpr uint64_t kZeroInPlaceBytes = 1u << 20;  // reset by memset up to this size, else madvise
constexpr size_t kAltStackBytes = 64u << 10;
constexpr uint32_t kMaxTableElements = 10'000'000;

// sigsetjmp return values other than 0: 1 + wasm_rt_trap_t for wasm traps, and these.
constexpr int kJumpStop = 100;      // HostState::stop is set, or proc_exit(0)
constexpr int kJumpHostTrap = 101;  // a host call trapped; its message is in the call's context
constexpr int kJumpTimeout = 102;

// ThreadSanitizer runs every signal handler with all signals blocked (its sigaction interceptor
// fills sa_mask, whatever SA_NODEFER says), so under it a jump out of a handler must restore the
// signal mask, or the thread keeps SIGSEGV and the timeout signal blocked and the next trap kills
// the process. Elsewhere the mask is not saved (a syscall per invocation saved; SA_NODEFER).
#if defined(__SANITIZE_THREAD__)
constexpr int kSaveSignalMask = 1;
#else
constexpr int kSaveSignalMask = 0;
#endif

int timeout_signal() { return SIGRTMIN + 4; }

// Per-thread state the handlers read. POD with constant initialisation only.
struct GuestThread {
  sigjmp_buf* jump;
  volatile sig_atomic_t in_guest;
  volatile sig_atomic_t timeout_pending;
  volatile sig_atomic_t active;  // an invocation runs on this thread
  int64_t deadline_ns;           // CLOCK_MONOTONIC
  uintptr_t stack_lo;            // lowest usable address of this thread's stack
  uintptr_t
      host_reserve;  // stack a host call needs: kHostStackReserve, or a quarter of a small stack
  void* invocation;  // the running Invocation's NativeCall
};
thread_local constinit GuestThread tls_guest = {};

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// What one invocation holds besides HostState; the guest's import-module instance pointer.
struct NativeCall {
  HostState* state = nullptr;
  wasm_rt_memory_t* memory = nullptr;  // the exported memory, once instantiated
  std::string host_trap;               // message of a host call's trap
};

// ---- memory reservations ------------------------------------------------------------------

struct Reservation {
  uint8_t* base = nullptr;
  uint64_t rw_bytes = 0;  // [0, rw_bytes) is readable and writable; all of it zero or dirty
  bool dirty = false;
};

void unmap(Reservation& r) {
  if (r.base) ::munmap(r.base, kReservationBytes);
  r.base = nullptr;
}

// ---- timeouts: one watchdog thread for the process --------------------------------------
//
// A per-invocation timer (timer_settime to arm and to disarm) cost two system calls per
// invocation, each reprogramming the kernel's hrtimer (an MSR write: a VM exit on virtual
// machines); with the pooled reset's madvise they were half of the system calls of a trivial
// HTTP execute (strace -c, 64 connections). Instead, each invocation writes its deadline into its
// thread's slot (a plain atomic store) and this thread checks the slots: every kTick while any
// invocation runs, and sleeps (futex wait) after kIdleTicks ticks in a row found nothing running;
// the invocation that finds it asleep wakes it. A slot past its deadline gets the timeout signal
// once; the handler checks the deadline itself, so a signal that lands after the invocation ended
// (or in a later one) is ignored. Lateness: at most about one tick.
constexpr int64_t kTickNs = 1'000'000;  // 1 ms
constexpr int kIdleTicks = 200;         // 200 ms without invocations: sleep until woken

struct WatchSlot {
  std::atomic<int64_t> deadline_ns{0};  // 0: no invocation runs on the thread
  pthread_t thread{};
  int64_t signalled_for = 0;  // the watchdog's own: the deadline it has already signalled
};

class Watchdog {
 public:
  static Watchdog& get() {
    // Never destroyed: threads may unregister while static destructors run at exit.
    static auto* w = new Watchdog();
    return *w;
  }

  WatchSlot* watch_this_thread() {
    auto* slot = new WatchSlot();
    slot->thread = pthread_self();
    std::lock_guard lk(mu_);
    slots_.push_back(slot);
    if (!started_) {
      started_ = true;
      std::thread([this] { run(); }).detach();
    }
    return slot;
  }

  void unwatch(WatchSlot* slot) {
    {
      std::lock_guard lk(mu_);
      slots_.erase(std::remove(slots_.begin(), slots_.end(), slot), slots_.end());
    }
    delete slot;
  }

  // An invocation starts on the slot's thread.
  void begin(WatchSlot* slot, int64_t deadline_ns) {
    slot->deadline_ns.store(deadline_ns, std::memory_order_seq_cst);
    if (asleep_.load(std::memory_order_seq_cst) && asleep_.exchange(false)) asleep_.notify_one();
  }
  void end(WatchSlot* slot) { slot->deadline_ns.store(0, std::memory_order_release); }

 private:
  // Returns whether any invocation is running.
  bool scan() {
    int64_t now = monotonic_ns();
    bool any = false;
    std::lock_guard lk(mu_);
    for (WatchSlot* slot : slots_) {
      int64_t d = slot->deadline_ns.load(std::memory_order_seq_cst);
      if (d == 0) continue;
      any = true;
      if (now >= d && slot->signalled_for != d) {
        slot->signalled_for = d;
        // Under mu_: the thread cannot unregister (and exit) while it is being signalled.
        pthread_kill(slot->thread, timeout_signal());
      }
    }
    return any;
  }

  void run() {
    int idle = 0;
    for (;;) {
      if (scan()) {
        idle = 0;
      } else if (++idle >= kIdleTicks) {
        // Sleep. Announce it first, then look once more: an invocation that stored its deadline
        // before the announcement is seen by this scan; one after it sees asleep_ and wakes us.
        asleep_.store(true, std::memory_order_seq_cst);
        if (!scan()) asleep_.wait(true);
        asleep_.store(false);
        idle = 0;
        continue;
      }
      timespec ts{0, kTickNs};
      nanosleep(&ts, nullptr);
    }
  }

  std::mutex mu_;
  std::vector<WatchSlot*> slots_;
  bool started_ = false;
  std::atomic<bool> asleep_{false};
};

void unwatch(WatchSlot* slot) { Watchdog::get().unwatch(slot); }

// Thread resources with destructors: kept apart from the POD the handlers read.
struct ThreadResources {
  bool ready = false;
  // The thread's own stack (run() uses a fiber's instead when it runs on one).
  uintptr_t stack_lo = 0;
  uintptr_t host_reserve = 0;
  bool own_altstack = false;
  void* altstack = nullptr;
  struct WatchSlot* watch = nullptr;  // registered with the watchdog; owned by it
  std::vector<Reservation> pool;
  // Which reservation backs which wasm_rt_memory_t (the struct lives in the instance).
  std::map<const wasm_rt_memory_t*, Reservation> live;

  ~ThreadResources() {
    for (Reservation& r : pool) unmap(r);
    for (auto& [mem, r] : live) unmap(r);
    if (watch) unwatch(watch);
    if (own_altstack) {
      stack_t ss{};
      ss.ss_flags = SS_DISABLE;
      sigaltstack(&ss, nullptr);
      ::munmap(altstack, kAltStackBytes);
    }
  }
};
thread_local ThreadResources tls_resources;

// ---- signals ----------------------------------------------------------------------------

struct sigaction previous_segv;
struct sigaction previous_bus;

[[noreturn]] void jump_out(int code) {
  tls_guest.in_guest = 0;
  siglongjmp(*tls_guest.jump, code);
}

void chain(int sig, siginfo_t* info, void* context) {
  const struct sigaction& prev = sig == SIGBUS ? previous_bus : previous_segv;
  if (prev.sa_flags & SA_SIGINFO) {
    if (prev.sa_sigaction) prev.sa_sigaction(sig, info, context);
    return;
  }
  if (prev.sa_handler == SIG_IGN) return;
  if (prev.sa_handler == SIG_DFL) {
    // Restore the default action; the faulting instruction runs again and the process dies
    // with the right signal (and a core, where enabled).
    signal(sig, SIG_DFL);
    return;
  }
  prev.sa_handler(sig);
}

void on_fault(int sig, siginfo_t* info, void* context) {
  GuestThread& t = tls_guest;
  if (t.in_guest && t.jump) {
    auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
    // Just below the lowest usable stack address (the guard page and a little beyond): the
    // guest recursed until the stack ran out.
    bool stack = t.stack_lo && addr < t.stack_lo + 4096 && addr + (1u << 20) > t.stack_lo;
    jump_out(1 + (stack ? WASM_RT_TRAP_EXHAUSTION : WASM_RT_TRAP_OOB));
  }
  chain(sig, info, context);
}

void on_timeout(int, siginfo_t*, void*) {
  GuestThread& t = tls_guest;
  if (!t.active) return;                       // a stale signal between invocations
  if (monotonic_ns() < t.deadline_ns) return;  // a stale signal of an earlier invocation
  if (t.in_guest && t.jump) jump_out(kJumpTimeout);
  t.timeout_pending = 1;
}

void install_handlers() {
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  // SA_NODEFER: the handler leaves by siglongjmp to a buffer saved without the signal mask
  // (sigsetjmp(.., 0) saves a syscall per invocation), so the signal must not stay blocked.
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sa.sa_sigaction = on_fault;
  sigaction(SIGSEGV, &sa, &previous_segv);
  sigaction(SIGBUS, &sa, &previous_bus);
  struct sigaction st {};
  sigemptyset(&st.sa_mask);
  st.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESTART;
  st.sa_sigaction = on_timeout;
  sigaction(timeout_signal(), &st, nullptr);
}

// First guest call on a thread: signal stack, watchdog slot, stack bounds.
ThreadResources& thread_init() {
  static std::once_flag once;
  std::call_once(once, install_handlers);
  ThreadResources& res = tls_resources;
  if (res.ready) return res;
  res.ready = true;

  stack_t current{};
  sigaltstack(nullptr, &current);
  if ((current.ss_flags & SS_DISABLE) || current.ss_size < 16384) {
    void* mem = ::mmap(nullptr, kAltStackBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem != MAP_FAILED) {
      stack_t ss{};
      ss.ss_sp = mem;
      ss.ss_size = kAltStackBytes;
      if (sigaltstack(&ss, nullptr) == 0) {
        res.own_altstack = true;
        res.altstack = mem;
      } else {
        ::munmap(mem, kAltStackBytes);
      }
    }
  }

  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    size_t size = 0;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
      res.stack_lo = reinterpret_cast<uintptr_t>(addr);
      res.host_reserve = std::min<size_t>(kHostStackReserve, size / 4);
    }
    pthread_attr_destroy(&attr);
  }

  res.watch = Watchdog::get().watch_this_thread();
  return res;
}

// Leaving guest code for our own: no jump may happen until enter_guest().
inline void leave_guest() {
  tls_guest.in_guest = 0;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

// Back to guest code. A timeout that came while we were out is taken now.
inline void enter_guest() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  tls_guest.in_guest = 1;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (tls_guest.timeout_pending) jump_out(kJumpTimeout);
}

NativeCall& current_call() { return *static_cast<NativeCall*>(tls_guest.invocation); }

// ---- the wasm-rt interface ----------------------------------------------------------------

[[noreturn]] void rt_trap(wasm_rt_trap_t code) { jump_out(1 + static_cast<int>(code)); }

std::mutex types_mu;
// Never destroyed: an artifact may be initialised while static destructors run at exit.
std::map<std::vector<int>, uint32_t>& types() {
  static auto* m = new std::map<std::vector<int>, uint32_t>();
  return *m;
}

uint32_t rt_register_func_type(uint32_t params, uint32_t results, const int* kinds) {
  // Called from init_module (never from guest code): interns the signature process-wide, so
  // call_indirect compares the same numbers in every artifact.
  std::vector<int> key;
  key.push_back(static_cast<int>(params));
  key.insert(key.end(), kinds, kinds + params + results);
  std::lock_guard lk(types_mu);
  auto [it, inserted] = types().emplace(std::move(key), static_cast<uint32_t>(types().size() + 1));
  return it->second;
}

// Makes [from, to) of the reservation readable and writable (to > from) or inaccessible.
bool protect(uint8_t* base, uint64_t from, uint64_t to, bool rw) {
  if (from == to) return true;
  return ::mprotect(base + from, to - from, rw ? PROT_READ | PROT_WRITE : PROT_NONE) == 0;
}

void stop_with(Failure f) {
  NativeCall& c = current_call();
  if (!c.state->stop) c.state->stop = std::move(f);
}

void rt_allocate_memory(wasm_rt_memory_t* mem, uint32_t initial, uint32_t max) {
  leave_guest();
  {
    NativeCall& c = current_call();
    uint64_t initial_bytes = uint64_t{initial} * kWasmPageSize;
    if (initial > c.state->memory_cap_pages) {
      stop_with(initial_memory_failure(initial, c.state->inv->limits));
    } else if (!memory_fits(*c.state, initial_bytes)) {
      uint64_t elements = c.state->table_bytes / sizeof(wasm_rt_funcref_t);
      stop_with(
          table_failure(elements, c.state->table_bytes + initial_bytes, c.state->inv->limits));
    } else {
      ThreadResources& res = tls_resources;
      Reservation r;
      if (!res.pool.empty()) {
        r = res.pool.back();
        res.pool.pop_back();
      } else {
        void* p = ::mmap(nullptr, kReservationBytes, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) r.base = static_cast<uint8_t*>(p);
      }
      uint64_t bytes = uint64_t{initial} * kWasmPageSize;
      bool ok = r.base != nullptr;
      if (ok && r.rw_bytes > bytes) ok = protect(r.base, bytes, r.rw_bytes, false);
      if (ok && r.rw_bytes < bytes) ok = protect(r.base, r.rw_bytes, bytes, true);
      if (!ok) {
        unmap(r);
        stop_with(Failure{"memory_limit", "the host could not reserve linear memory"});
      } else {
        r.rw_bytes = bytes;
        r.dirty = true;
        mem->data = r.base;
        mem->pages = initial;
        mem->max_pages = max;
        mem->size = static_cast<uint32_t>(bytes);  // 65536 pages would wrap: see grow
        res.live[mem] = r;
        c.state->memory_bytes += bytes;
      }
    }
  }
  if (current_call().state->stop) jump_out(kJumpStop);
  enter_guest();
}

uint32_t rt_grow_memory(wasm_rt_memory_t* mem, uint32_t delta) {
  leave_guest();
  uint32_t answer = UINT32_MAX;
  {
    NativeCall& c = current_call();
    uint64_t old_pages = mem->pages;
    uint64_t wanted = old_pages + delta;
    uint64_t others = c.state->memory_bytes - old_pages * kWasmPageSize;  // other memories
    if (wanted > c.state->memory_cap_pages ||
        !memory_fits(*c.state, others + wanted * kWasmPageSize)) {
      stop_with(memory_grow_failure(wanted, c.state->inv->limits));
    } else if (wanted <= mem->max_pages && wanted <= 65535) {
      // 65536 pages (4 GiB) cannot be expressed in wasm_rt_memory_t::size (u32); the cap is
      // far below it in practice.
      auto it = tls_resources.live.find(mem);
      if (it != tls_resources.live.end()) {
        Reservation& r = it->second;
        uint64_t bytes = wanted * kWasmPageSize;
        if (bytes <= r.rw_bytes || protect(r.base, r.rw_bytes, bytes, true)) {
          if (bytes > r.rw_bytes) r.rw_bytes = bytes;
          c.state->memory_bytes += (wanted - old_pages) * kWasmPageSize;
          mem->pages = static_cast<uint32_t>(wanted);
          mem->size = static_cast<uint32_t>(bytes);
          answer = static_cast<uint32_t>(old_pages);
        }
      }
    }
  }
  if (current_call().state->stop) jump_out(kJumpStop);
  enter_guest();
  return answer;
}

void rt_free_memory(wasm_rt_memory_t* mem) {
  // Called after the guest ran (never in guest code).
  ThreadResources& res = tls_resources;
  auto it = res.live.find(mem);
  if (it == res.live.end()) return;
  Reservation r = it->second;
  res.live.erase(it);
  mem->data = nullptr;
  mem->size = 0;
  // Reset, so that nothing of this invocation is visible to the next: what lies past the next
  // invocation's initial size is re-protected when it is handed out; the rest must read as zero.
  // Small memories are zeroed in place: MADV_DONTNEED flushes the TLB of every CPU running one
  // of our threads (an inter-processor interrupt each) and the next invocation faults the pages
  // in again; under load that cost more than writing 64 KiB of zeros (perf: 12% of nild's CPU in
  // smp_call_function_many_cond under madvise at 64 connections). Large ones go back to the
  // kernel, so a pooled reservation never pins much memory.
  bool ok = true;
  if (r.rw_bytes <= kZeroInPlaceBytes) {
    std::memset(r.base, 0, r.rw_bytes);
  } else {
    ok = ::madvise(r.base, r.rw_bytes, MADV_DONTNEED) == 0;
  }
  if (ok && res.pool.size() < kPoolPerThread) {
    r.dirty = false;
    res.pool.push_back(r);
  } else {
    unmap(r);
  }
}

// Tables count against memoryMb next to linear memory (HostState::table_bytes), at
// sizeof(Elem) per element; kMaxTableElements bounds one table whatever the limit.
template <typename Table, typename Elem>
void allocate_table(Table* t, uint32_t n, uint32_t max, Elem null_value) {
  leave_guest();
  HostState& state = *current_call().state;
  uint64_t bytes = uint64_t{n} * sizeof(Elem);
  bool fits = n <= kMaxTableElements && tables_fit(state, bytes);
  bool ok = fits;
  if (ok) {
    t->data = static_cast<Elem*>(std::calloc(n ? n : 1, sizeof(Elem)));
    ok = t->data != nullptr;
    for (uint32_t i = 0; ok && i < n; ++i) t->data[i] = null_value;
  }
  t->size = ok ? n : 0;
  t->max_size = max;
  if (ok) state.table_bytes += bytes;
  if (!ok) {
    stop_with(
        fits ? Failure{"memory_limit", "the host ran out of memory for the module's table"}
             : table_failure(n, state.memory_bytes + state.table_bytes + bytes, state.inv->limits));
    jump_out(kJumpStop);
  }
  enter_guest();
}

template <typename Table>
void free_table(Table* t) {
  std::free(t->data);
  t->data = nullptr;
  t->size = 0;
}

template <typename Table, typename Elem>
uint32_t grow_table(Table* t, uint32_t delta, Elem init) {
  leave_guest();
  HostState& state = *current_call().state;
  uint32_t answer = UINT32_MAX;
  uint64_t wanted = uint64_t{t->size} + delta;
  if (wanted <= t->max_size && wanted <= kMaxTableElements &&
      tables_fit(state, uint64_t{delta} * sizeof(Elem))) {
    void* grown = std::realloc(t->data, (wanted ? wanted : 1) * sizeof(Elem));
    if (grown) {
      t->data = static_cast<Elem*>(grown);
      for (uint64_t i = t->size; i < wanted; ++i) t->data[i] = init;
      answer = t->size;
      t->size = static_cast<uint32_t>(wanted);
      state.table_bytes += uint64_t{delta} * sizeof(Elem);
    }
  }
  enter_guest();
  return answer;
}

void rt_allocate_funcref_table(wasm_rt_funcref_table_t* t, uint32_t n, uint32_t max) {
  allocate_table(t, n, max, wasm_rt_funcref_null_value);
}
void rt_free_funcref_table(wasm_rt_funcref_table_t* t) { free_table(t); }
uint32_t rt_grow_funcref_table(wasm_rt_funcref_table_t* t, uint32_t d, wasm_rt_funcref_t init) {
  return grow_table(t, d, init);
}
void rt_allocate_externref_table(wasm_rt_externref_table_t* t, uint32_t n, uint32_t max) {
  allocate_table(t, n, max, wasm_rt_externref_null_value);
}
void rt_free_externref_table(wasm_rt_externref_table_t* t) { free_table(t); }
uint32_t rt_grow_externref_table(wasm_rt_externref_table_t* t, uint32_t d,
                                 wasm_rt_externref_t init) {
  return grow_table(t, d, init);
}

// Runs the host call with every C++ object in this frame, so that the caller can jump out
// after it returned. Returns 0 to continue, or a jump code.
int host_call_inner(void* invocation, uint32_t id, const uint64_t* args, uint64_t* value) {
  NativeCall& c = *static_cast<NativeCall*>(invocation);
  try {
    HostCallResult out;
    if (c.memory && c.memory->data) out.mem = GuestMemory(c.memory->data, c.memory->size);
    switch (call_host(static_cast<HostCall>(id), *c.state, args, out)) {
      case HostStep::kOk:
        *value = out.value;
        return 0;
      case HostStep::kTrap:
        c.host_trap = std::move(out.trap);
        return kJumpHostTrap;
      case HostStep::kStop:
        return kJumpStop;
    }
  } catch (const std::bad_alloc&) {
    if (!c.state->stop)
      c.state->stop = Failure{"memory_limit", "the host ran out of memory for this invocation"};
    return kJumpStop;
  } catch (const std::exception& e) {
    c.host_trap = std::string("internal error: ") + e.what();
    return kJumpHostTrap;
  }
  return kJumpHostTrap;
}

uint64_t rt_host_call(void* invocation, uint32_t id, const uint64_t* args) {
  leave_guest();
  char probe;
  auto sp = reinterpret_cast<uintptr_t>(&probe);
  if (tls_guest.stack_lo && sp < tls_guest.stack_lo + tls_guest.host_reserve) {
    jump_out(1 + WASM_RT_TRAP_EXHAUSTION);
  }
  uint64_t value = 0;
  int jump = 0;
  auto call = static_cast<HostCall>(id);
  if ((call == HostCall::kNilHttpFetch || call == HostCall::kNilDbQuery) && fiber::can_suspend()) {
    // The call may suspend this invocation's fiber (fiber::await) and the thread then runs other
    // fibers, whose native invocations use the thread's guest state, watchdog slot and jump
    // buffer. Keep ours on this fiber's stack, leave the thread idle, and take it back after:
    // a stale timeout signal meanwhile finds `active` clear (or a later deadline) and is ignored.
    GuestThread saved = tls_guest;
    ThreadResources& res = tls_resources;
    tls_guest.active = 0;
    tls_guest.jump = nullptr;
    tls_guest.invocation = nullptr;
    tls_guest.timeout_pending = 0;
    tls_guest.deadline_ns = 0;
    Watchdog::get().end(res.watch);
    jump = host_call_inner(invocation, id, args, &value);
    tls_guest = saved;
    Watchdog::get().begin(res.watch, saved.deadline_ns);
    // The watchdog could not signal this invocation while it was suspended: its deadline is
    // checked here (a fetch's own timeout ends at the deadline, so the answer comes promptly).
    if (jump == 0 && monotonic_ns() >= saved.deadline_ns) jump = kJumpTimeout;
  } else {
    jump = host_call_inner(invocation, id, args, &value);
  }
  if (jump) jump_out(jump);
  enter_guest();
  return value;
}

const nil_native_runtime kRuntime = {
    kNativeAbiVersion,
    rt_trap,
    rt_register_func_type,
    rt_allocate_memory,
    rt_grow_memory,
    rt_free_memory,
    rt_allocate_funcref_table,
    rt_free_funcref_table,
    rt_grow_funcref_table,
    rt_allocate_externref_table,
    rt_free_externref_table,
    rt_grow_externref_table,
    rt_host_call,
};

std::string trap_text(int code) {
  switch (static_cast<wasm_rt_trap_t>(code)) {
    case WASM_RT_TRAP_OOB:
      return "out of bounds memory access";
    case WASM_RT_TRAP_INT_OVERFLOW:
      return "integer overflow";
    case WASM_RT_TRAP_DIV_BY_ZERO:
      return "integer divide by zero";
    case WASM_RT_TRAP_INVALID_CONVERSION:
      return "invalid conversion to integer";
    case WASM_RT_TRAP_UNREACHABLE:
      return "unreachable: unreachable executed";
    // wasm2c checks index, null and signature in one test: the words of all three.
    case WASM_RT_TRAP_CALL_INDIRECT:
      return "uninitialized table element, undefined table index or indirect call signature "
             "mismatch";
    case WASM_RT_TRAP_EXHAUSTION:
      return "call stack exhausted";
    default:
      return "trap";
  }
}

}  // namespace

const nil_native_runtime* runtime_table() { return &kRuntime; }

size_t pooled_reservations_on_this_thread() { return tls_resources.pool.size(); }

Result run(const ArtifactEntryPoints& artifact, const Invocation& inv, Clock::time_point started) {
  ThreadResources& res = thread_init();
  HostState state(inv, started);
  NativeCall call;
  call.state = &state;
  // Zeroed: after a trap in instantiate, free_instance meets only null memories and tables.
  void* instance = std::calloc(1, artifact.instance_size());
  if (!instance) {
    return finish_result(state, Failure{"memory_limit", "the host ran out of memory"});
  }

  GuestThread& t = tls_guest;
  NIL_CHECK(!t.active, "a native invocation is already running on this thread");
  // Stack exhaustion is judged against the stack the guest runs on: a fiber's (with its guard
  // below; fiber.h) or the thread's.
  if (auto fs = fiber::current_stack()) {
    t.stack_lo = fs->lo;
    t.host_reserve = std::min<size_t>(kHostStackReserve, (fs->hi - fs->lo) / 4);
  } else {
    t.stack_lo = res.stack_lo;
    t.host_reserve = res.host_reserve;
  }
  // Phases, read after a jump: volatile so the value written before the jump is the one seen.
  volatile int phase = 0;  // 0 instantiate, 1 _start
  sigjmp_buf jump;
  t.invocation = &call;
  t.deadline_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(state.deadline.time_since_epoch())
          .count();
  t.timeout_pending = 0;
  t.jump = &jump;
  t.active = 1;
  Watchdog::get().begin(res.watch, t.deadline_ns);

  int code = sigsetjmp(jump, kSaveSignalMask);
  if (code == 0) {
    enter_guest();
    artifact.instantiate(instance, &call);
    call.memory = artifact.memory(instance);
    phase = 1;
    artifact.start(instance);
    leave_guest();
  }
  // Every way out of the guest ends here with in_guest == 0.
  t.active = 0;
  Watchdog::get().end(res.watch);
  t.jump = nullptr;
  t.invocation = nullptr;
  t.timeout_pending = 0;

  std::optional<Failure> failure;
  if (code == kJumpTimeout) {
    failure = timeout_failure(inv.limits);
  } else if (code == kJumpStop) {
    if (state.stop) failure = state.stop;  // else proc_exit(0): a normal end
  } else if (code == kJumpHostTrap) {
    failure = Failure{phase == 0 ? "instantiate" : "trap", call.host_trap};
  } else if (code != 0) {
    failure = Failure{phase == 0 ? "instantiate" : "trap", trap_text(code - 1)};
  }
  // The instance (and its pooled reservation) is released before the result is built.
  artifact.free_instance(instance);
  std::free(instance);
  return finish_result(state, std::move(failure));
}

}  // namespace nil::engine::native
