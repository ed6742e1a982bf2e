// The compile queue's lease model (docs/storage.md, "The lease model"), for every backend: many
// nodes share one queue, so a job is retaken only when its lease has expired, never because some
// node (re)started. Two stores opened on one database stand for two nodes.
//
// An expired lease is made without waiting: a claim with a negative lease ends before it
// starts, which is where a crashed node's claim stands once its last heartbeat's lease ran out.
#include <gtest/gtest.h>

#include "common/util.h"
#include "store/store.h"
#include "store_fixture.h"

namespace nil::store::testing {
namespace {

constexpr int64_t kMinute = 60'000'000;

class CompileLeaseTest : public StoreTest {};

TEST_P(CompileLeaseTest, ExpiredLeaseIsClaimedByAnotherStoreOnTheSameDatabase) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(wat_function("crashed")));
  ASSERT_OK_AND_ASSIGN(job, store().claim_compile_job("node-a/compile-0", -kMinute));
  ASSERT_TRUE(job);
  store_.reset();  // node A is gone, its job left RUNNING

  auto node_b = open_another();
  ASSERT_TRUE(node_b);
  ASSERT_OK_AND_ASSIGN(taken, node_b->claim_compile_job("node-b/compile-0", kMinute));
  ASSERT_TRUE(taken) << "a job whose lease expired must be claimable by another node";
  EXPECT_EQ(taken->id, job->id);
  EXPECT_EQ(taken->function_id, f.id);
  EXPECT_EQ(taken->source, "(module)");
  EXPECT_EQ(taken->claimed_by, "node-b/compile-0");
  EXPECT_EQ(taken->attempts, 2);
  EXPECT_EQ(taken->lease_until, taken->claimed_at + kMinute);
  ASSERT_OK_AND_ASSIGN(compiling, node_b->get_function(f.id));
  EXPECT_EQ(compiling.status, FunctionStatus::kCompiling);
}

TEST_P(CompileLeaseTest, LiveLeaseIsNotClaimedByAnotherStoreNorRequeuedByOpening) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(wat_function("alive")));
  ASSERT_OK_AND_ASSIGN(job, store().claim_compile_job("node-a/compile-0", kMinute));
  ASSERT_TRUE(job);

  // Node B starts while node A is still compiling: opening the store must leave A's job alone.
  auto node_b = open_another();
  ASSERT_TRUE(node_b);
  ASSERT_OK_AND_ASSIGN(none, node_b->claim_compile_job("node-b/compile-0", kMinute));
  EXPECT_FALSE(none) << "a job under a live lease was handed to a second node";
  ASSERT_OK_AND_ASSIGN(stats, node_b->compile_queue_stats());
  EXPECT_EQ(stats.pending, 0);
  EXPECT_EQ(stats.running, 1);
  ASSERT_EQ(stats.jobs.size(), 1u);
  EXPECT_EQ(stats.jobs[0].claimed_by, "node-a/compile-0");
  EXPECT_EQ(stats.jobs[0].lease_until, job->lease_until);
  ASSERT_OK_AND_ASSIGN(still, node_b->get_function(f.id));
  EXPECT_EQ(still.status, FunctionStatus::kCompiling);

  // The same holds after a restart of node A itself: a restart is no reason to requeue.
  reopen();
  ASSERT_OK_AND_ASSIGN(after_restart, store().claim_compile_job("node-a/compile-0", kMinute));
  EXPECT_FALSE(after_restart);
}

TEST_P(CompileLeaseTest, HeartbeatKeepsAnExpiredLeaseFromBeingTaken) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(wat_function("slow")));
  ASSERT_OK_AND_ASSIGN(job, store().claim_compile_job("node-a/compile-0", -kMinute));
  ASSERT_TRUE(job);
  ASSERT_OK_AND_ASSIGN(renewed, store().renew_compile_lease(*job, kMinute));
  EXPECT_TRUE(renewed);

  auto node_b = open_another();
  ASSERT_TRUE(node_b);
  ASSERT_OK_AND_ASSIGN(none, node_b->claim_compile_job("node-b/compile-0", kMinute));
  EXPECT_FALSE(none) << "a renewed lease must hold the job";
  ASSERT_OK_AND_ASSIGN(stats, node_b->compile_queue_stats());
  ASSERT_EQ(stats.jobs.size(), 1u);
  EXPECT_GT(stats.jobs[0].lease_until, job->lease_until + kMinute);
  EXPECT_EQ(stats.jobs[0].attempts, 1);
}

TEST_P(CompileLeaseTest, RenewalFailsOnceTheJobWasTakenOverOrCompleted) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(wat_function("taken-over")));
  ASSERT_OK_AND_ASSIGN(old_claim, store().claim_compile_job("node-a/compile-0", -kMinute));
  ASSERT_TRUE(old_claim);
  auto node_b = open_another();
  ASSERT_TRUE(node_b);
  ASSERT_OK_AND_ASSIGN(new_claim, node_b->claim_compile_job("node-b/compile-0", kMinute));
  ASSERT_TRUE(new_claim);

  // Node A was only slow, not dead: its heartbeat must not steal the lease back.
  ASSERT_OK_AND_ASSIGN(stolen, store().renew_compile_lease(*old_claim, 10 * kMinute));
  EXPECT_FALSE(stolen);
  ASSERT_OK_AND_ASSIGN(stats, node_b->compile_queue_stats());
  ASSERT_EQ(stats.jobs.size(), 1u);
  EXPECT_EQ(stats.jobs[0].claimed_by, "node-b/compile-0");
  EXPECT_EQ(stats.jobs[0].lease_until, new_claim->lease_until);
  ASSERT_OK_AND_ASSIGN(kept, node_b->renew_compile_lease(*new_claim, kMinute));
  EXPECT_TRUE(kept);

  CompileOutcome ok;
  ok.ok = true;
  ok.wasm = "wasm-bytes";
  ASSERT_TRUE(node_b->complete_compile_job(*new_claim, ok).ok());
  ASSERT_OK_AND_ASSIGN(gone, node_b->renew_compile_lease(*new_claim, kMinute));
  EXPECT_FALSE(gone) << "a completed job has no lease left to renew";
  ASSERT_OK_AND_ASSIGN(ready, store().get_function(f.id));
  EXPECT_EQ(ready.status, FunctionStatus::kReady);
}

TEST_P(CompileLeaseTest, ReleasedJobIsClaimableAtOnceByAnotherNode) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(wat_function("released")));
  ASSERT_OK_AND_ASSIGN(job, store().claim_compile_job("node-a/compile-0", 10 * kMinute));
  ASSERT_TRUE(job);

  // Node A drains: it gives the job back long before its lease would run out.
  ASSERT_OK_AND_ASSIGN(released, store().release_compile_job(*job));
  EXPECT_TRUE(released);
  ASSERT_OK_AND_ASSIGN(pending, store().get_function(f.id));
  EXPECT_EQ(pending.status, FunctionStatus::kPending);
  ASSERT_OK_AND_ASSIGN(stats, store().compile_queue_stats());
  EXPECT_EQ(stats.pending, 1);
  EXPECT_EQ(stats.running, 0);
  ASSERT_OK_AND_ASSIGN(again, store().release_compile_job(*job));
  EXPECT_FALSE(again) << "a job released once is no longer this claim's";

  auto node_b = open_another();
  ASSERT_TRUE(node_b);
  ASSERT_OK_AND_ASSIGN(taken, node_b->claim_compile_job("node-b/compile-0", kMinute));
  ASSERT_TRUE(taken) << "a released job must be claimable without waiting for its lease";
  EXPECT_EQ(taken->id, job->id);
  EXPECT_EQ(taken->attempts, 2);
  EXPECT_EQ(taken->claimed_by, "node-b/compile-0");

  // The old claim cannot release (nor renew) the new one.
  ASSERT_OK_AND_ASSIGN(stale, store().release_compile_job(*job));
  EXPECT_FALSE(stale);
  ASSERT_OK_AND_ASSIGN(held, node_b->compile_queue_stats());
  EXPECT_EQ(held.running, 1);
  ASSERT_OK_AND_ASSIGN(compiling, node_b->get_function(f.id));
  EXPECT_EQ(compiling.status, FunctionStatus::kCompiling);
}

TEST_P(CompileLeaseTest, ReleaseOfACompletedOrDeletedJobChangesNothing) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(wat_function("finished")));
  ASSERT_OK_AND_ASSIGN(job, store().claim_compile_job("node-a/compile-0", kMinute));
  ASSERT_TRUE(job);
  CompileOutcome ok;
  ok.ok = true;
  ok.wasm = "wasm-bytes";
  ASSERT_TRUE(store().complete_compile_job(*job, ok).ok());
  ASSERT_OK_AND_ASSIGN(released, store().release_compile_job(*job));
  EXPECT_FALSE(released);
  ASSERT_OK_AND_ASSIGN(ready, store().get_function(f.id));
  EXPECT_EQ(ready.status, FunctionStatus::kReady);

  ASSERT_OK_AND_ASSIGN(g, store().create_function(wat_function("deleted")));
  ASSERT_OK_AND_ASSIGN(job2, store().claim_compile_job("node-a/compile-0", kMinute));
  ASSERT_TRUE(job2);
  ASSERT_TRUE(store().delete_function(g.id).ok());
  ASSERT_OK_AND_ASSIGN(gone, store().release_compile_job(*job2));
  EXPECT_FALSE(gone);
}

INSTANTIATE_TEST_SUITE_P(Backends, CompileLeaseTest, ::testing::ValuesIn(store_backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace nil::store::testing
