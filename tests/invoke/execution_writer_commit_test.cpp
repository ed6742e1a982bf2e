// ExecutionWriter::when_committed (nild --durability=commit): the callback runs only once the
// record is in the store, a waiting callback ends the linger, tickets follow submission order,
// and a ticket already committed runs its callback at once.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "../store/store_fixture.h"
#include "common/util.h"
#include "execution_record.h"
#include "invoke/invoker.h"

namespace nil::invoke {
namespace {

class ExecutionWriterCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::open_store(db_.url());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }
  store::testing::SqliteTestDatabase db_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(ExecutionWriterCommitTest, CallbackRunsOnceTheRecordIsStored) {
  // An hour's linger: a waiting callback must cut it short (otherwise the test hangs until
  // ctest's timeout fails it).
  ExecutionWriter writer(*store_, 1000, std::chrono::hours(1));
  for (int i = 0; i < 20; ++i) {
    auto e = test_record("f-commit", i);
    std::string id = e.id;
    uint64_t ticket = writer.submit(std::move(e));
    EXPECT_EQ(ticket, static_cast<uint64_t>(i + 1));
    EXPECT_EQ(ExecutionWriter::last_ticket(), ticket);
    std::promise<std::pair<bool, bool>> seen;  // committed flag, record found at callback time
    writer.when_committed(ticket, [&](bool committed) {
      seen.set_value({committed, store_->get_execution(id).ok()});
    });
    auto [committed, found] = seen.get_future().get();
    EXPECT_TRUE(committed);
    EXPECT_TRUE(found) << "the callback ran before record " << id << " was committed";
  }
}

TEST_F(ExecutionWriterCommitTest, CommittedTicketRunsAtOnceOnTheCaller) {
  ExecutionWriter writer(*store_);
  uint64_t ticket = writer.submit(test_record("f-done", 0));
  writer.sync();
  std::thread::id ran_on;
  writer.when_committed(ticket, [&](bool committed) {
    EXPECT_TRUE(committed);
    ran_on = std::this_thread::get_id();
  });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST_F(ExecutionWriterCommitTest, ManyWaitersFromManyThreadsAreAllAnswered) {
  ExecutionWriter writer(*store_, 50);
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto e = test_record("f-waiters", t * 1000 + i);
        std::string id = e.id;
        uint64_t ticket = writer.submit(std::move(e));
        writer.when_committed(ticket, [&, id](bool committed) {
          if (committed && store_->get_execution(id).ok()) answered.fetch_add(1);
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  writer.stop();  // drains: every waiter has been called when stop returns
  EXPECT_EQ(answered.load(), 800);
}

}  // namespace
}  // namespace nil::invoke
