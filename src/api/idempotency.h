// nil::api idempotency — the Idempotency-Key filter: one wrapper around the handlers of the
// routes that invoke or deploy (table.cpp marks them `idempotent<handler>`). docs/api.md,
// "Idempotency keys", is the user's description; the store keeps the rows (Store's
// "idempotency keys" section, docs/storage.md).
//
// A request without the header passes straight through. With it, keyed by (caller, key) — the
// caller is the principal's user, or "anonymous" for an anonymous v1 call:
//   - a first request claims the key and runs; its answer is stored unless it is a 5xx or a 429
//     (those release the key, so a retry runs again);
//   - a repeat of the same request (sha256 of method, target and body) within 24 h gets the
//     stored answer again — same status, headers and body, so the same executionId — marked
//     `Idempotent-Replayed: true`;
//   - a repeat with a different request: 409 idempotency_key_reused;
//   - a repeat while the first still runs: 409 idempotency_key_in_use, Retry-After: 1;
//   - an empty key or one outside visible ASCII: 400 invalid_idempotency_key; over 255
//     characters: 400 idempotency_key_too_long. A key may be sent as a Structured Fields string
//     ("…", draft-ietf-httpapi-idempotency-key-header) or bare (as Stripe does): both are the same
//     key.
// A first request whose process dies before it answers holds the key until its lock runs out
// (kIdempotencyLease, longer than the longest function timeout); then a repeat runs again.
//
// Thread safety: the filter runs on whichever thread runs the handler; concurrent requests with
// the same key are serialised by the store's claim (exactly one runs).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <thread>

#include "api/router.h"
#include "common/expected.h"
#include "store/store.h"

namespace nil::api {

inline constexpr size_t kMaxIdempotencyKeyLength = 255;
inline constexpr std::chrono::hours kIdempotencyKeyTtl{24};
// 16 min: the longest function timeout (limits.timeoutMs, 900 s) and a minute to spare.
inline constexpr std::chrono::minutes kIdempotencyLease{16};

// The header's key, unquoted; invalid_idempotency_key or idempotency_key_too_long.
Expected<std::string_view> parse_idempotency_key(std::string_view header);

// Runs `handler` under the Idempotency-Key rules above.
Expected<Response> with_idempotency(routes::ApiCore& core, const Call& call, RouteHandler handler);

// The route table's marker: `route(post, "/functions", kPrincipal, idempotent<create_function>)`.
template <RouteHandler H>
Expected<Response> idempotent(routes::ApiCore& core, const Call& call) {
  return with_idempotency(core, call, H);
}

// The periodic purge of expired keys: every `interval`, batches of `batch` rows until a batch
// comes back short. Owns one thread from construction to destruction (or stop()).
class IdempotencyPurger {
 public:
  explicit IdempotencyPurger(store::Store& store,
                             std::chrono::milliseconds interval = std::chrono::minutes(1),
                             int64_t batch = 1000);
  ~IdempotencyPurger();
  IdempotencyPurger(const IdempotencyPurger&) = delete;
  IdempotencyPurger& operator=(const IdempotencyPurger&) = delete;
  void stop();

 private:
  void run(const std::stop_token& stop);

  store::Store& store_;
  const std::chrono::milliseconds interval_;
  const int64_t batch_;
  std::mutex mu_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: started once the members above exist
};

}  // namespace nil::api
