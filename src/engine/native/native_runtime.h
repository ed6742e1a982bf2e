// The native tier's runtime: NIL's own implementation of the wasm-rt.h interface that wasm2c's
// output calls (through the table of native_abi.h), and the invocation loop around it.
//
// Why not Debian's libwasm-rt-impl.a: its trap state is process-global, its alternate signal
// stack exists on one thread, and it leaks address space (FACTS.md). Here:
//  - trap state is per thread: each invocation sigsetjmp()s on its own thread, and wasm_rt_trap,
//    the SIGSEGV/SIGBUS handler and the timeout handler siglongjmp() to it;
//  - every thread that runs guest code gets an alternate signal stack (unless it already has one,
//    e.g. ASan's) and a slot in the process's timeout watchdog (one thread; see Timeouts);
//  - a fault is a trap only while the faulting thread is "in guest" (a thread-local flag set
//    around guest code and cleared in every host call and runtime callback); any other fault is
//    handed to the previous handler (ASan's in the test build, else the default action);
//  - a fault just below the thread's stack is "call stack exhausted"; host calls refuse to run
//    with less than kHostStackReserve of stack left, so host code never overflows;
//  - linear memory is an 8 GiB PROT_NONE reservation (4 GiB + the guard wasm2c's unchecked
//    32-bit address + 32-bit offset can reach), made readable and writable up to its size;
//    reservations are pooled per thread and reset (zeroed in place up to 1 MiB, MADV_DONTNEED
//    past it, then re-protected down to the next invocation's initial size) so nothing of one
//    invocation is visible to the next; a reservation leaves the pool with a full munmap;
//  - memory.grow past the invocation's limit stops the guest with memory_limit, as in the
//    interpreter.
// Timeouts: an invocation stores its deadline in its thread's slot; the watchdog thread checks
// the slots every millisecond while anything runs (and sleeps when nothing has for 200 ms) and
// sends an overdue thread the timeout signal once. The handler siglongjmps only while the flag is
// set; otherwise it marks the timeout pending, and the host call (or runtime callback) that cleared
// the flag traps as soon as it sets it again. The handler also checks the deadline, so a stale
// signal of an earlier invocation is ignored.
#pragma once

#include <chrono>

#include "engine/engine.h"
#include "engine/native/native_abi.h"

namespace nil::engine::native {

// Stack a host call needs (a quarter of the thread's stack if that is less); below it, the call
// traps with "call stack exhausted".
inline constexpr size_t kHostStackReserve = 512u << 10;

// The table every artifact is bound to.
const nil_native_runtime* runtime_table();

// Instantiates the artifact, runs _start, tears the instance down. Thread-safe; blocks the
// calling thread for at most about the timeout.
Result run(const ArtifactEntryPoints& artifact, const Invocation& inv,
           std::chrono::steady_clock::time_point started);

// Reservations this thread keeps for reuse (tests, benchmarks).
size_t pooled_reservations_on_this_thread();

}  // namespace nil::engine::native
