// Idempotency keys in the store (Store's "idempotency keys" section), for every backend: one
// claim wins, the answer is kept and fenced by its claim, expired or abandoned keys are taken
// over, the purge deletes expired rows in batches, and everything survives a reopen.
// Time moves with a ManualClock (open_store's Clock), never by sleeping.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "store/store.h"
#include "store_fixture.h"

namespace nil::store::testing {
namespace {

constexpr int64_t kHour = 3'600'000'000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kLease = 16 * 60'000'000LL;

class IdempotencyStoreTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    auto opened = open_store(db().url(), clock_);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    node_ = std::move(opened).value();
  }
  Store& node() { return *node_; }

  ManualClock clock_{SystemClock::instance().now_micros()};
  std::unique_ptr<Store> node_;
};

TEST_P(IdempotencyStoreTest, FirstClaimWinsAndARepeatSeesTheRunningRow) {
  ASSERT_OK_AND_ASSIGN(first, node().claim_idempotency_key("user:u1", "k1", "fp-a", kDay, kLease));
  EXPECT_TRUE(first.claimed);
  EXPECT_FALSE(first.record.done);
  EXPECT_EQ(first.record.fingerprint, "fp-a");
  EXPECT_FALSE(first.record.claim_id.empty());
  EXPECT_EQ(first.record.created_at, clock_.now_micros());
  EXPECT_EQ(first.record.expires_at, clock_.now_micros() + kDay);
  EXPECT_EQ(first.record.locked_until, clock_.now_micros() + kLease);

  ASSERT_OK_AND_ASSIGN(again, node().claim_idempotency_key("user:u1", "k1", "fp-b", kDay, kLease));
  EXPECT_FALSE(again.claimed);
  EXPECT_FALSE(again.record.done);
  EXPECT_EQ(again.record.fingerprint, "fp-a") << "a losing claim must not change the row";
  EXPECT_EQ(again.record.claim_id, first.record.claim_id);

  // The same key of another caller is another key.
  ASSERT_OK_AND_ASSIGN(other, node().claim_idempotency_key("user:u2", "k1", "fp-b", kDay, kLease));
  EXPECT_TRUE(other.claimed);
}

TEST_P(IdempotencyStoreTest, CompletedAnswerIsReturnedToRepeatsAndSurvivesReopen) {
  ASSERT_OK_AND_ASSIGN(c, node().claim_idempotency_key("user:u1", "k", "fp", kDay, kLease));
  ASSERT_TRUE(c.claimed);
  std::string body("{\"id\":\"x\"}\0bin", 14);
  ASSERT_OK_AND_ASSIGN(
      ok, node().complete_idempotency_key(c.record, 202,
                                          "Content-Type: application/json\nLocation: /x", body));
  EXPECT_TRUE(ok);

  node_.reset();  // a restart
  auto reopened = open_store(db().url(), clock_);
  ASSERT_TRUE(reopened.ok());
  node_ = std::move(reopened).value();
  ASSERT_OK_AND_ASSIGN(r, node().claim_idempotency_key("user:u1", "k", "fp", kDay, kLease));
  EXPECT_FALSE(r.claimed);
  EXPECT_TRUE(r.record.done);
  EXPECT_EQ(r.record.status, 202);
  EXPECT_EQ(r.record.headers, "Content-Type: application/json\nLocation: /x");
  EXPECT_EQ(r.record.body, body);
}

TEST_P(IdempotencyStoreTest, CompleteAndReleaseAreFencedByTheClaim) {
  ASSERT_OK_AND_ASSIGN(c, node().claim_idempotency_key("s", "k", "fp", kDay, kLease));
  IdempotencyRecord stale = c.record;
  stale.claim_id = "not-the-claim";
  ASSERT_OK_AND_ASSIGN(wrote, node().complete_idempotency_key(stale, 200, "", "stale"));
  EXPECT_FALSE(wrote);
  ASSERT_TRUE(node().release_idempotency_key(stale).ok());
  ASSERT_OK_AND_ASSIGN(still, node().claim_idempotency_key("s", "k", "fp", kDay, kLease));
  EXPECT_FALSE(still.claimed) << "a stale claim released someone else's key";
  EXPECT_FALSE(still.record.done);

  // The owner's release frees the key: the next claim runs again.
  ASSERT_TRUE(node().release_idempotency_key(c.record).ok());
  ASSERT_OK_AND_ASSIGN(next, node().claim_idempotency_key("s", "k", "fp2", kDay, kLease));
  EXPECT_TRUE(next.claimed);
  EXPECT_NE(next.record.claim_id, c.record.claim_id);
  // A completed row is not released by its old claim either.
  ASSERT_OK_AND_ASSIGN(done, node().complete_idempotency_key(next.record, 200, "", "b"));
  EXPECT_TRUE(done);
  ASSERT_TRUE(node().release_idempotency_key(next.record).ok());
  ASSERT_OK_AND_ASSIGN(kept, node().claim_idempotency_key("s", "k", "fp2", kDay, kLease));
  EXPECT_TRUE(kept.record.done);
  EXPECT_EQ(kept.record.body, "b");
}

TEST_P(IdempotencyStoreTest, AbandonedClaimIsTakenOverAfterItsLockAndTheOldClaimCannotWrite) {
  ASSERT_OK_AND_ASSIGN(dead, node().claim_idempotency_key("s", "k", "fp", kDay, kLease));
  clock_.advance(std::chrono::microseconds(kLease));  // the last microsecond of the lock
  ASSERT_OK_AND_ASSIGN(held, node().claim_idempotency_key("s", "k", "fp", kDay, kLease));
  EXPECT_TRUE(held.claimed) << "locked_until <= now: the lock has run out at its end";
  EXPECT_NE(held.record.claim_id, dead.record.claim_id);
  ASSERT_OK_AND_ASSIGN(late, node().complete_idempotency_key(dead.record, 200, "", "late"));
  EXPECT_FALSE(late) << "a request whose claim was taken over overwrote the newer one";
}

TEST_P(IdempotencyStoreTest, DoneKeyIsKeptUntilItExpiresThenReplaced) {
  ASSERT_OK_AND_ASSIGN(c, node().claim_idempotency_key("s", "k", "fp", kDay, kLease));
  ASSERT_TRUE(node().complete_idempotency_key(c.record, 200, "", "first").ok());
  clock_.advance(std::chrono::microseconds(kDay - 1));
  ASSERT_OK_AND_ASSIGN(before, node().claim_idempotency_key("s", "k", "other", kDay, kLease));
  EXPECT_FALSE(before.claimed);
  EXPECT_EQ(before.record.body, "first");
  clock_.advance(std::chrono::microseconds(1));
  ASSERT_OK_AND_ASSIGN(after, node().claim_idempotency_key("s", "k", "other", kDay, kLease));
  EXPECT_TRUE(after.claimed);
  EXPECT_FALSE(after.record.done);
  EXPECT_EQ(after.record.fingerprint, "other");
}

TEST_P(IdempotencyStoreTest, PurgeDeletesExpiredRowsInBatches) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(
        c, node().claim_idempotency_key("s", "old" + std::to_string(i), "fp", kHour, kLease));
    ASSERT_TRUE(c.claimed);
  }
  clock_.advance(std::chrono::microseconds(kHour));
  ASSERT_OK_AND_ASSIGN(young, node().claim_idempotency_key("s", "young", "fp", kDay, kLease));
  ASSERT_TRUE(young.claimed);

  ASSERT_OK_AND_ASSIGN(n1, node().purge_idempotency_keys(2));
  EXPECT_EQ(n1, 2);
  ASSERT_OK_AND_ASSIGN(n2, node().purge_idempotency_keys(100));
  EXPECT_EQ(n2, 3);
  ASSERT_OK_AND_ASSIGN(n3, node().purge_idempotency_keys(100));
  EXPECT_EQ(n3, 0);
  ASSERT_OK_AND_ASSIGN(kept, node().claim_idempotency_key("s", "young", "fp", kDay, kLease));
  EXPECT_FALSE(kept.claimed) << "the purge deleted a key that had not expired";
}

TEST_P(IdempotencyStoreTest, ConcurrentClaimsFromTwoStoresHaveExactlyOneWinner) {
  auto other = open_store(db().url(), clock_);
  ASSERT_TRUE(other.ok());
  Store* nodes[2] = {node_.get(), other->get()};
  std::atomic<int> winners{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto r = nodes[t % 2]->claim_idempotency_key("s", "race", "fp", kDay, kLease);
      if (!r) {
        ++failures;
      } else if (r->claimed) {
        ++winners;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(winners.load(), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, IdempotencyStoreTest, ::testing::ValuesIn(store_backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace nil::store::testing
