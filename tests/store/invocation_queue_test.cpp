// The async invocation queue (store.h "Async invocation queue"; docs/storage.md "The invocation
// queue"), for every backend: the record's states, leases with the claim number as a fence,
// batched completion, retries and dead letters. Leases expire by moving a ManualClock
// (open_store's Clock seam), never by sleeping.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "common/util.h"
#include "store/store.h"
#include "store_fixture.h"

namespace nil::store::testing {
namespace {

constexpr int64_t kMinute = 60'000'000;

#define ASSERT_QUEUE_OK(expr)                                                                      \
  do {                                                                                             \
    const auto& r_ = (expr);                                                                       \
    ASSERT_TRUE(r_.ok()) << #expr << " failed: " << r_.error().code << ": " << r_.error().message; \
  } while (0)

class InvocationQueueTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    auto opened = open_store(db().url(), clock_);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    node_ = std::move(opened).value();
    auto f = node_->create_function(wat_function("queued"));
    ASSERT_TRUE(f.ok());
    function_id_ = f->id;
  }

  NewInvocation invocation(std::string input = "{\"n\":1}") {
    NewInvocation inv;
    inv.function_id = function_id_;
    inv.input = std::move(input);
    inv.user_id = "u-1";
    inv.username = "alice";
    inv.role = "dev";
    return inv;
  }

  InvocationOutcome outcome(const InvocationClaim& c, InvocationOutcome::Next next,
                            std::optional<ExecutionError> error = std::nullopt) {
    InvocationOutcome o;
    o.id = c.id;
    o.claim = c.claim;
    o.next = next;
    o.record.status = error ? ExecutionStatus::kFailed : ExecutionStatus::kSucceeded;
    if (!error) o.record.output = "{\"ok\":true}";
    o.record.error = std::move(error);
    o.record.logs = "log line\n";
    o.record.duration_ms = 1.5;
    o.record.finished_at = clock_.now_micros();
    o.record.host_calls = "[]";
    return o;
  }

  Store& node() { return *node_; }

  ManualClock clock_{1'767'225'600'000'000};
  std::unique_ptr<Store> node_;
  std::string function_id_;
};

TEST_P(InvocationQueueTest, RecordGoesQueuedRunningSucceeded) {
  ASSERT_OK_AND_ASSIGN(e, node().enqueue_invocation(invocation()));
  EXPECT_EQ(e.status, ExecutionStatus::kQueued);
  ASSERT_OK_AND_ASSIGN(queued, node().get_execution(e.id));
  EXPECT_EQ(queued.status, ExecutionStatus::kQueued);
  EXPECT_EQ(queued.trigger, "queue");
  EXPECT_EQ(queued.input, "{\"n\":1}");
  EXPECT_EQ(queued.user_id, "u-1");
  EXPECT_EQ(queued.attempts, "[]");

  ASSERT_OK_AND_ASSIGN(claims, node().claim_invocations("w1", 10, kMinute));
  ASSERT_EQ(claims.size(), 1u);
  const InvocationClaim& c = claims[0];
  EXPECT_EQ(c.id, e.id);
  EXPECT_EQ(c.attempt, 1);
  EXPECT_EQ(c.claim, 1);
  EXPECT_EQ(c.username, "alice");
  EXPECT_EQ(c.input, "{\"n\":1}");
  ASSERT_OK_AND_ASSIGN(running, node().get_execution(e.id));
  EXPECT_EQ(running.status, ExecutionStatus::kRunning);
  EXPECT_NE(running.attempts->find("\"attempt\":1"), std::string::npos) << *running.attempts;

  ASSERT_OK_AND_ASSIGN(none, node().claim_invocations("w2", 10, kMinute));
  EXPECT_TRUE(none.empty()) << "a leased invocation was claimed twice";

  clock_.advance(std::chrono::milliseconds(5));
  ASSERT_OK_AND_ASSIGN(applied, node().complete_invocations(
                                    std::vector{outcome(c, InvocationOutcome::Next::kDone)}));
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_TRUE(applied[0]);
  ASSERT_OK_AND_ASSIGN(done, node().get_execution(e.id));
  EXPECT_EQ(done.status, ExecutionStatus::kSucceeded);
  EXPECT_EQ(done.output, "{\"ok\":true}");
  EXPECT_EQ(done.logs, "log line\n");
  EXPECT_EQ(done.finished_at, clock_.now_micros());
  EXPECT_NE(done.attempts->find("\"finishedAt\":" + std::to_string(clock_.now_micros())),
            std::string::npos)
      << *done.attempts;
  ASSERT_OK_AND_ASSIGN(after, node().claim_invocations("w1", 10, kMinute));
  EXPECT_TRUE(after.empty()) << "a finished invocation was claimed again";
}

TEST_P(InvocationQueueTest, LateFinisherWhoseLeaseWasTakenOverIsFencedOut) {
  ASSERT_OK_AND_ASSIGN(e, node().enqueue_invocation(invocation()));
  ASSERT_OK_AND_ASSIGN(first, node().claim_invocations("node-a", 10, kMinute));
  ASSERT_EQ(first.size(), 1u);

  // Node A stops renewing; once its lease expired node B takes the invocation over. A lease of
  // L µs claimed at t covers [t, t + L).
  clock_.advance(std::chrono::microseconds(kMinute - 1));
  ASSERT_OK_AND_ASSIGN(at_end, node().claim_invocations("node-b", 10, kMinute));
  EXPECT_TRUE(at_end.empty()) << "a lease was taken over at its last microsecond";
  clock_.advance(std::chrono::microseconds(1));
  ASSERT_OK_AND_ASSIGN(second, node().claim_invocations("node-b", 10, kMinute));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].id, e.id);
  EXPECT_EQ(second[0].attempt, 2);
  EXPECT_EQ(second[0].claim, 2);
  ASSERT_OK_AND_ASSIGN(taken, node().get_execution(e.id));
  EXPECT_NE(taken.attempts->find("lease_expired"), std::string::npos)
      << "the lost attempt must be recorded: " << *taken.attempts;

  // A's heartbeat and its late result both match nothing now.
  ASSERT_OK_AND_ASSIGN(renewed, node().renew_invocation_leases(first, kMinute));
  EXPECT_FALSE(renewed[0]);
  ASSERT_OK_AND_ASSIGN(late, node().complete_invocations(std::vector{
                                 outcome(first[0], InvocationOutcome::Next::kDone,
                                         ExecutionError{"trap", "from the old attempt"})}));
  EXPECT_FALSE(late[0]) << "a late finisher overwrote the newer attempt";
  ASSERT_OK_AND_ASSIGN(still, node().get_execution(e.id));
  EXPECT_EQ(still.status, ExecutionStatus::kRunning);
  EXPECT_FALSE(still.error);

  ASSERT_OK_AND_ASSIGN(renewed_b, node().renew_invocation_leases(second, kMinute));
  EXPECT_TRUE(renewed_b[0]);
  ASSERT_OK_AND_ASSIGN(ok, node().complete_invocations(
                               std::vector{outcome(second[0], InvocationOutcome::Next::kDone)}));
  EXPECT_TRUE(ok[0]);
  ASSERT_OK_AND_ASSIGN(done, node().get_execution(e.id));
  EXPECT_EQ(done.status, ExecutionStatus::kSucceeded);
}

TEST_P(InvocationQueueTest, HeartbeatKeepsTheLease) {
  ASSERT_OK_AND_ASSIGN(e, node().enqueue_invocation(invocation()));
  ASSERT_OK_AND_ASSIGN(claims, node().claim_invocations("w1", 10, kMinute));
  ASSERT_EQ(claims.size(), 1u);
  clock_.advance(std::chrono::seconds(50));
  ASSERT_OK_AND_ASSIGN(renewed, node().renew_invocation_leases(claims, kMinute));
  EXPECT_TRUE(renewed[0]);
  clock_.advance(std::chrono::seconds(50));  // past the first lease, within the renewed one
  ASSERT_OK_AND_ASSIGN(none, node().claim_invocations("w2", 10, kMinute));
  EXPECT_TRUE(none.empty()) << "a renewed lease was taken over";
}

TEST_P(InvocationQueueTest, BatchedClaimAndCompletionAndRetryNotBefore) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(e, node().enqueue_invocation(invocation(std::to_string(i))));
    ids.push_back(e.id);
    clock_.advance(std::chrono::microseconds(1));  // ids of one millisecond are unordered
  }
  ASSERT_OK_AND_ASSIGN(three, node().claim_invocations("w1", 3, kMinute));
  ASSERT_EQ(three.size(), 3u);
  EXPECT_EQ(three[0].id, ids[0]);  // oldest first
  ASSERT_OK_AND_ASSIGN(two, node().claim_invocations("w1", 3, kMinute));
  ASSERT_EQ(two.size(), 2u);

  // One transaction: two done, one retried in a minute, one deferred (not an attempt), one dead.
  using Next = InvocationOutcome::Next;
  std::vector<InvocationOutcome> out = {
      outcome(three[0], Next::kDone), outcome(three[1], Next::kDone),
      outcome(three[2], Next::kRetry, ExecutionError{"timeout", "ran past 10 ms"}),
      outcome(two[0], Next::kDefer), outcome(two[1], Next::kDead, ExecutionError{"trap", "boom"})};
  out[2].not_before = clock_.now_micros() + kMinute;
  out[3].not_before = clock_.now_micros();
  ASSERT_OK_AND_ASSIGN(applied, node().complete_invocations(out));
  EXPECT_EQ(applied, (std::vector<bool>{true, true, true, true, true}));

  ASSERT_OK_AND_ASSIGN(retried, node().get_execution(three[2].id));
  EXPECT_EQ(retried.status, ExecutionStatus::kQueued);
  EXPECT_NE(retried.attempts->find("timeout"), std::string::npos);

  ASSERT_OK_AND_ASSIGN(now_due, node().claim_invocations("w1", 10, kMinute));
  ASSERT_EQ(now_due.size(), 1u) << "only the deferred one is due";
  EXPECT_EQ(now_due[0].id, two[0].id);
  EXPECT_EQ(now_due[0].attempt, 1) << "a deferred claim is not an attempt";
  ASSERT_QUEUE_OK(node().complete_invocations(std::vector{outcome(now_due[0], Next::kDone)}));
  clock_.advance(std::chrono::microseconds(kMinute));
  ASSERT_OK_AND_ASSIGN(later, node().claim_invocations("w1", 10, kMinute));
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].id, three[2].id);
  EXPECT_EQ(later[0].attempt, 2);
}

TEST_P(InvocationQueueTest, DeadLettersListRedriveDeletePurge) {
  using Next = InvocationOutcome::Next;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(e, node().enqueue_invocation(invocation(std::to_string(i))));
    ids.push_back(e.id);
  }
  ASSERT_OK_AND_ASSIGN(claims, node().claim_invocations("w1", 10, kMinute));
  ASSERT_EQ(claims.size(), 3u);
  ASSERT_QUEUE_OK(node().complete_invocations(
      std::vector{outcome(claims[0], Next::kDead, ExecutionError{"timeout", "slow"}),
                  outcome(claims[1], Next::kDead, ExecutionError{"trap", "boom"}),
                  outcome(claims[2], Next::kDead, ExecutionError{"timeout", "slow"})}));
  ASSERT_OK_AND_ASSIGN(failed, node().get_execution(ids[1]));
  EXPECT_EQ(failed.status, ExecutionStatus::kFailed);

  ASSERT_OK_AND_ASSIGN(all, node().list_dead_letters(function_id_, PageRequest{2, {}}));
  ASSERT_EQ(all.items.size(), 2u);
  ASSERT_TRUE(all.next_cursor);
  EXPECT_EQ(all.items[0].attempts, 1);
  ASSERT_OK_AND_ASSIGN(rest,
                       node().list_dead_letters(function_id_, PageRequest{2, all.next_cursor}));
  ASSERT_EQ(rest.items.size(), 1u);
  ASSERT_OK_AND_ASSIGN(timeouts, node().list_dead_letters(function_id_, PageRequest{}, "timeout"));
  EXPECT_EQ(timeouts.items.size(), 2u);

  ASSERT_QUEUE_OK(node().redrive_dead_letter(function_id_, ids[1]));
  ASSERT_OK_AND_ASSIGN(requeued, node().get_execution(ids[1]));
  EXPECT_EQ(requeued.status, ExecutionStatus::kQueued);
  expect_error(node().redrive_dead_letter(function_id_, ids[1]), ErrorCode::kDeadLetterNotFound);
  expect_error(node().redrive_dead_letter(function_id_, new_uuid()),
               ErrorCode::kDeadLetterNotFound);
  ASSERT_OK_AND_ASSIGN(again, node().claim_invocations("w1", 10, kMinute));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 1) << "a redrive starts the attempts over";

  ASSERT_QUEUE_OK(node().delete_dead_letter(function_id_, ids[0]));
  expect_error(node().delete_dead_letter(function_id_, ids[0]), ErrorCode::kDeadLetterNotFound);
  ASSERT_OK_AND_ASSIGN(purged, node().purge_dead_letters(function_id_));
  EXPECT_EQ(purged, 1);
  ASSERT_OK_AND_ASSIGN(empty, node().list_dead_letters(function_id_, PageRequest{}));
  EXPECT_TRUE(empty.items.empty());
}

TEST_P(InvocationQueueTest, AcknowledgedInvocationSurvivesReopen) {
  ASSERT_OK_AND_ASSIGN(e, node().enqueue_invocation(invocation()));
  node_.reset();
  auto reopened = open_store(db().url(), clock_);
  ASSERT_TRUE(reopened.ok());
  ASSERT_OK_AND_ASSIGN(claims, (*reopened)->claim_invocations("w1", 10, kMinute));
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0].id, e.id);
}

TEST_P(InvocationQueueTest, RetryPolicyIsStoredWithTheFunction) {
  ASSERT_OK_AND_ASSIGN(f, node().get_function(function_id_));
  EXPECT_EQ(f.retry, RetryPolicy{});
  FunctionUpdate u;
  u.retry = RetryPolicy{5, Backoff::kFixed, 1000, 2000, 3600};
  ASSERT_OK_AND_ASSIGN(updated, node().update_function(function_id_, u));
  EXPECT_EQ(updated.retry, *u.retry);
  EXPECT_EQ(updated.version, f.version) << "a retry policy change is not a new version";
}

TEST_P(InvocationQueueTest, ConcurrentClaimersOnTwoNodesTakeEachInvocationOnce) {
  // Two stores on one database (two nodes), two workers each, claiming small batches and
  // completing them while the others claim: every invocation is claimed exactly once (PostgreSQL:
  // FOR UPDATE SKIP LOCKED; SQLite: one writer at a time).
  constexpr int kInvocations = 24;
  for (int i = 0; i < kInvocations; ++i) {
    ASSERT_QUEUE_OK(node().enqueue_invocation(invocation("{\"n\":" + std::to_string(i) + "}")));
  }
  auto opened = open_store(db().url(), clock_);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  std::unique_ptr<Store> other = std::move(opened).value();
  Store* nodes[2] = {node_.get(), other.get()};
  std::mutex mu;
  std::map<std::string, int> claimed;  // execution id → times claimed
  std::vector<std::string> failures;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      Store& s = *nodes[w % 2];
      std::string name = "worker-" + std::to_string(w);
      for (;;) {
        auto batch = s.claim_invocations(name, 3, kMinute);
        if (!batch.ok()) {
          std::lock_guard lock(mu);
          failures.push_back("claim: " + batch.error().message);
          return;
        }
        if (batch->empty()) return;
        std::vector<InvocationOutcome> outcomes;
        for (const InvocationClaim& c : *batch) {
          outcomes.push_back(outcome(c, InvocationOutcome::Next::kDone));
        }
        auto applied = s.complete_invocations(outcomes);
        std::lock_guard lock(mu);
        if (!applied.ok()) {
          failures.push_back("complete: " + applied.error().message);
          return;
        }
        for (size_t i = 0; i < batch->size(); ++i) {
          ++claimed[(*batch)[i].id];
          if (!(*applied)[i]) failures.push_back("fenced out: " + (*batch)[i].id);
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_TRUE(failures.empty()) << failures.front();
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kInvocations));
  for (const auto& [id, times] : claimed) EXPECT_EQ(times, 1) << id << " was claimed twice";
  for (const auto& [id, times] : claimed) {
    ASSERT_OK_AND_ASSIGN(e, node().get_execution(id));
    EXPECT_EQ(e.status, ExecutionStatus::kSucceeded) << id;
  }
  ASSERT_OK_AND_ASSIGN(left, other->claim_invocations("late", 100, kMinute));
  EXPECT_TRUE(left.empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, InvocationQueueTest, ::testing::ValuesIn(store_backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace nil::store::testing
