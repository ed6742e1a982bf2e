#include "queue/worker.h"

#include <algorithm>
#include <boost/json.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "common/util.h"

namespace nil::queue {

int64_t retry_delay_ms(const store::RetryPolicy& policy, int64_t next_attempt) {
  int64_t delay = policy.initial_delay_ms;
  if (policy.backoff == store::Backoff::kExponential) {
    for (int64_t i = 2; i < next_attempt && delay < policy.max_delay_ms; ++i) delay *= 2;
  }
  return std::min<int64_t>(delay, policy.max_delay_ms);
}

bool retryable(std::string_view type) {
  // invalid_output and output_limit are the function's own answer, the same on every try;
  // instantiate is a broken module. Everything else may pass on another try.
  return type == "timeout" || type == "trap" || type == "memory_limit" || type == "exit" ||
         type == "host_call";
}

struct QueueWorker::Impl {
  Impl(store::Store& s, invoke::Invoker& i, QueueSettings st, const Clock& c)
      : store(s), invoker(i), settings(std::move(st)), clock(c) {}

  store::Store& store;
  invoke::Invoker& invoker;
  QueueSettings settings;
  const Clock& clock;
  std::string owner;

  std::mutex mu;
  std::condition_variable fetch_cv, run_cv, done_cv;
  std::deque<store::InvocationClaim> ready;                      // claimed, not started
  std::unordered_map<std::string, store::InvocationClaim> held;  // claimed and not yet recorded
  std::deque<store::InvocationOutcome> done;                     // to record
  bool wake = false;
  bool stopping = false;      // no new claims; runners exit
  bool runners_done = false;  // the completer exits once `done` is empty
  bool started = false;

  std::mutex policy_mu;
  struct CachedPolicy {
    store::RetryPolicy policy;
    std::optional<std::string> callback_secret;
    Clock::SteadyTime at;
  };
  std::unordered_map<std::string, CachedPolicy> policies;

  std::thread fetcher, completer;
  std::vector<std::thread> runners;

  int64_t lease_micros() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(settings.lease).count();
  }

  // The function's retry policy and callback secret, cached for a few seconds (a failure or a
  // callback should not cost a store read each).
  CachedPolicy function_settings(const std::string& function_id) {
    auto now = clock.steady_now();
    {
      std::lock_guard lk(policy_mu);
      auto it = policies.find(function_id);
      if (it != policies.end() && now - it->second.at < std::chrono::seconds(5)) return it->second;
    }
    CachedPolicy p;
    p.at = now;
    if (auto f = store.get_function(function_id)) {
      p.policy = f->retry;
      p.callback_secret = f->callback_secret;
    }
    std::lock_guard lk(policy_mu);
    policies[function_id] = p;
    return p;
  }
  store::RetryPolicy policy_for(const std::string& function_id) {
    return function_settings(function_id).policy;
  }

  // The result of a finished invocation to its callback URL (callback.h).
  void send_callback(const store::InvocationClaim& c, const store::InvocationOutcome& o) {
    if (settings.callbacks == nullptr || !c.callback_url) return;
    std::optional<std::string> secret = function_settings(c.function_id).callback_secret;
    if (!secret) {
      log::warn("callback not sent: the function has no callback secret", {{"executionId", c.id}});
      return;
    }
    namespace json = boost::json;
    const store::Execution& r = o.record;
    bool failed = o.next == store::InvocationOutcome::Next::kDead ||
                  r.status == store::ExecutionStatus::kFailed;
    json::object body;
    body["executionId"] = c.id;
    body["functionId"] = c.function_id;
    body["status"] = failed ? "FAILED" : "SUCCEEDED";
    json::value output = nullptr;
    if (r.output) {
      boost::system::error_code ec;
      output = json::parse(*r.output, ec);
      if (ec) output = nullptr;
    }
    body["output"] = output;
    if (r.error) {
      body["error"] = json::object{{"type", r.error->type}, {"message", r.error->message}};
    } else {
      body["error"] = nullptr;
    }
    body["durationMs"] = r.duration_ms;
    body["attempts"] = c.attempt;
    settings.callbacks->deliver(*c.callback_url, c.id, *secret, json::serialize(body));
  }

  void fetch_loop() {
    auto next_heartbeat = clock.steady_now() + settings.lease / 3;
    for (;;) {
      size_t room = 0;
      {
        std::unique_lock lk(mu);
        if (stopping) return;
        size_t cap = static_cast<size_t>(std::max(1, settings.batch));
        room = held.size() < cap ? cap - held.size() : 0;
        if (room == 0 || !wake) {
          // Wait for an enqueue, for room, or for the poll interval.
          fetch_cv.wait_for(lk, settings.poll,
                            [&] { return stopping || (wake && held.size() < cap); });
          if (stopping) return;
          room = held.size() < cap ? cap - held.size() : 0;
        }
        wake = false;
      }
      if (clock.steady_now() >= next_heartbeat) {
        heartbeat();
        next_heartbeat = clock.steady_now() + settings.lease / 3;
      }
      if (room == 0) continue;
      auto claimed = store.claim_invocations(owner, room, lease_micros());
      if (!claimed) {
        log::error("cannot claim async invocations", {{"error", claimed.error().message}});
        continue;
      }
      if (claimed->empty()) continue;
      {
        std::lock_guard lk(mu);
        for (auto& c : *claimed) {
          held.emplace(c.id, c);
          ready.push_back(std::move(c));
        }
        // A full claim: more may be due; claim again once there is room.
        if (claimed->size() == room) wake = true;
      }
      run_cv.notify_all();
    }
  }

  void heartbeat() {
    std::vector<store::InvocationClaim> claims;
    {
      std::lock_guard lk(mu);
      for (const auto& [id, c] : held) claims.push_back(c);
    }
    if (claims.empty()) return;
    auto held_now = store.renew_invocation_leases(claims, lease_micros());
    if (!held_now) {
      log::warn("cannot renew async invocation leases", {{"error", held_now.error().message}});
      return;
    }
    for (size_t i = 0; i < claims.size(); ++i) {
      if (!(*held_now)[i])
        log::warn("async invocation lease lost",
                  {{"functionId", claims[i].function_id}, {"executionId", claims[i].id}});
    }
  }

  void run_loop() {
    for (;;) {
      store::InvocationClaim claim;
      {
        std::unique_lock lk(mu);
        run_cv.wait(lk, [&] { return stopping || !ready.empty(); });
        if (stopping) return;  // stop() releases what is left in `ready`
        claim = std::move(ready.front());
        ready.pop_front();
      }
      store::InvocationOutcome o = run(claim);
      {
        std::lock_guard lk(mu);
        done.push_back(std::move(o));
      }
      done_cv.notify_one();
    }
  }

  store::InvocationOutcome failed(const store::InvocationClaim& c,
                                  store::InvocationOutcome::Next next, std::string type,
                                  std::string message) {
    store::InvocationOutcome o;
    o.id = c.id;
    o.claim = c.claim;
    o.next = next;
    o.record.status = store::ExecutionStatus::kFailed;
    o.record.error = store::ExecutionError{std::move(type), std::move(message)};
    o.record.finished_at = clock.now_micros();
    o.record.host_calls = "[]";
    return o;
  }

  store::InvocationOutcome run(const store::InvocationClaim& c) {
    using Next = store::InvocationOutcome::Next;
    store::RetryPolicy policy = policy_for(c.function_id);
    const int64_t max_age = int64_t{policy.max_event_age_s} * 1'000'000;
    if (c.attempt > static_cast<int64_t>(policy.max_attempts)) {
      // The last attempt's lease expired (its node died): no attempt is left.
      return failed(c, Next::kDead, "lease_expired",
                    "the last attempt's lease expired before it finished");
    }
    if (c.attempt > 1 && clock.now_micros() - c.enqueued_at > max_age) {
      return failed(c, Next::kDead, "event_too_old",
                    "the invocation is older than retry.maxEventAgeS");
    }

    invoke::Caller caller;  // authorized at enqueue: no authorize callback
    if (c.user_id) caller.user_id = *c.user_id;
    caller.username = c.username;
    caller.role = c.role;
    invoke::TriggerDetails details;
    details.attempt = static_cast<uint32_t>(c.attempt);
    details.execution_id = c.id;
    auto r = invoker.invoke(invoke::InvocationContext(
        c.function_id, invoke::Trigger::kQueue, c.input, std::move(caller), std::move(details)));
    if (!r) {
      const Error& e = r.error();
      if (e.code == ErrorCode::kFunctionNotFound)
        return failed(c, Next::kDone, "function_not_found", e.message);
      // Passing: the function's concurrency or rate limit, not READY (a new version compiles),
      // or the store. Not an attempt: queued again shortly.
      store::InvocationOutcome o;
      o.id = c.id;
      o.claim = c.claim;
      o.next = Next::kDefer;
      int64_t delay_ms =
          e.retry_after_s > 0 ? int64_t{e.retry_after_s} * 1000 : settings.defer.count();
      o.not_before = clock.now_micros() + delay_ms * 1000;
      return o;
    }
    store::InvocationOutcome o;
    o.id = c.id;
    o.claim = c.claim;
    o.record = std::move(r).value();
    if (o.record.status == store::ExecutionStatus::kSucceeded) {
      o.next = Next::kDone;
      return o;
    }
    const std::string type = o.record.error ? o.record.error->type : "";
    if (!retryable(type) || c.attempt >= static_cast<int64_t>(policy.max_attempts)) {
      o.next = Next::kDead;
      return o;
    }
    o.not_before = o.record.finished_at + retry_delay_ms(policy, c.attempt + 1) * 1000;
    o.next = o.not_before - c.enqueued_at > max_age ? Next::kDead : Next::kRetry;
    return o;
  }

  void complete_loop() {
    int failures = 0;
    std::vector<store::InvocationOutcome> batch;
    for (;;) {
      {
        std::unique_lock lk(mu);
        if (batch.empty()) {
          done_cv.wait(lk, [&] { return runners_done || !done.empty(); });
          if (done.empty() && runners_done) return;
          while (!done.empty() && batch.size() < 1000) {
            batch.push_back(std::move(done.front()));
            done.pop_front();
          }
        }
      }
      auto r = store.complete_invocations(batch);
      if (!r) {
        ++failures;
        log::error("async invocation outcomes not stored",
                   {{"error", r.error().message}, {"attempt", failures}});
        bool give_up;
        {
          std::lock_guard lk(mu);
          give_up = runners_done && failures >= 5;
        }
        if (!give_up) {
          std::this_thread::sleep_for(
              std::chrono::milliseconds(std::min(1000, 10 << std::min(failures, 6))));
          continue;
        }
        // Their leases expire and another claim runs them again (at least once).
        log::error("async invocation outcomes dropped; they run again after their leases",
                   {{"count", static_cast<int64_t>(batch.size())}});
      } else {
        for (size_t i = 0; i < batch.size(); ++i) {
          if (!(*r)[i]) {
            log::warn("async invocation outcome fenced out (a newer attempt owns it)",
                      {{"executionId", batch[i].id}});
            continue;
          }
          using Next = store::InvocationOutcome::Next;
          if (batch[i].next != Next::kDone && batch[i].next != Next::kDead) continue;
          std::optional<store::InvocationClaim> claim;
          {
            std::lock_guard lk(mu);
            if (auto it = held.find(batch[i].id); it != held.end()) claim = it->second;
          }
          if (claim) send_callback(*claim, batch[i]);
        }
      }
      failures = 0;
      {
        std::lock_guard lk(mu);
        for (const auto& o : batch) held.erase(o.id);
        wake = true;  // room for more claims
      }
      fetch_cv.notify_one();
      batch.clear();
    }
  }
};

QueueWorker::QueueWorker(store::Store& store, invoke::Invoker& invoker, QueueSettings settings,
                         const Clock& clock)
    : impl_(std::make_unique<Impl>(store, invoker, std::move(settings), clock)) {
  impl_->owner = impl_->settings.node_id + "/" + new_uuid();
}

QueueWorker::~QueueWorker() { stop(); }

void QueueWorker::start() {
  Impl& s = *impl_;
  if (s.started || s.settings.threads <= 0) return;
  s.started = true;
  {
    std::lock_guard lk(s.mu);
    s.stopping = false;
    s.runners_done = false;
    s.wake = true;  // claim what waits from before a (re)start
  }
  s.completer = std::thread([&s] { s.complete_loop(); });
  for (int i = 0; i < s.settings.threads; ++i) s.runners.emplace_back([&s] { s.run_loop(); });
  s.fetcher = std::thread([&s] { s.fetch_loop(); });
}

void QueueWorker::notify() {
  Impl& s = *impl_;
  {
    std::lock_guard lk(s.mu);
    if (s.wake) return;
    s.wake = true;
  }
  s.fetch_cv.notify_one();
}

void QueueWorker::stop() {
  Impl& s = *impl_;
  if (!s.started) return;
  s.started = false;
  {
    std::lock_guard lk(s.mu);
    s.stopping = true;
  }
  s.fetch_cv.notify_all();
  s.run_cv.notify_all();
  if (s.fetcher.joinable()) s.fetcher.join();
  for (auto& t : s.runners) t.join();
  s.runners.clear();
  {
    // Claimed but not started: released for the next start (or another node) at once.
    std::lock_guard lk(s.mu);
    for (const auto& c : s.ready) {
      store::InvocationOutcome o;
      o.id = c.id;
      o.claim = c.claim;
      o.next = store::InvocationOutcome::Next::kDefer;
      o.not_before = s.clock.now_micros();
      s.done.push_back(std::move(o));
    }
    s.ready.clear();
    s.runners_done = true;
  }
  s.done_cv.notify_all();
  if (s.completer.joinable()) s.completer.join();
}

}  // namespace nil::queue
