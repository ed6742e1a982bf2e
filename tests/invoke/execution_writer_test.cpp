// ExecutionWriter's contract against a real SQLite store: every record submitted before sync()
// is readable when sync() returns (however the writer groups and lingers, from one thread or
// many at once), records submitted from many threads are all stored, and stop() drains the
// queue. No test sleeps: sync(), when_committed() and stop() are the synchronisation.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "../store/store_fixture.h"
#include "common/util.h"
#include "execution_record.h"
#include "invoke/invoker.h"

namespace nil::invoke {
namespace {

size_t count(store::Store& st, const std::string& function_id) {
  size_t n = 0;
  store::PageRequest page;
  page.limit = 100;
  for (;;) {
    auto r = st.list_executions(function_id, page);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r.ok()) return n;
    n += r->items.size();
    if (!r->next_cursor) return n;
    page.cursor = *r->next_cursor;
  }
}

class ExecutionWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::open_store(db_.url());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }
  store::testing::SqliteTestDatabase db_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(ExecutionWriterTest, SyncFindsEveryRecordSubmittedBeforeIt) {
  // An hour's linger: sync() must cut it short (if it waited, the test would hang until ctest's
  // timeout fails it).
  ExecutionWriter writer(*store_, 1000, std::chrono::hours(1));
  for (int round = 1; round <= 5; ++round) {
    std::vector<std::string> ids;
    for (int i = 0; i < 7; ++i) {
      auto e = test_record("f-sync", i);
      ids.push_back(e.id);
      writer.submit(std::move(e));
    }
    writer.sync();
    for (const auto& id : ids) EXPECT_TRUE(store_->get_execution(id).ok()) << id;
    EXPECT_EQ(count(*store_, "f-sync"), static_cast<size_t>(7 * round));
  }
}

TEST_F(ExecutionWriterTest, RecordsFromManyThreadsAreAllStored) {
  ExecutionWriter writer(*store_, 50);  // small groups: many commits
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&writer, t] {
      for (int i = 0; i < 300; ++i) writer.submit(test_record("f-many", t * 1000 + i));
    });
  }
  for (auto& t : threads) t.join();
  writer.sync();
  EXPECT_EQ(count(*store_, "f-many"), 1200u);
}

TEST_F(ExecutionWriterTest, EachThreadReadsItsOwnRecordRightAfterSync) {
  // The API's pattern under load: a request submits its record (the answer goes out), the next
  // request syncs and reads it — while other threads keep submitting, so sync() meets groups in
  // every state (lingering, committing, queued behind a commit). The default 2 ms linger and
  // small groups make those states frequent. Every read must succeed the first time.
  ExecutionWriter writer(*store_, 16);
  std::atomic<int> missing{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        auto e = test_record("f-own", t * 1000 + i);
        std::string id = e.id;
        writer.submit(std::move(e));
        writer.sync();
        if (!store_->get_execution(id).ok()) missing.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(missing.load(), 0) << "records not readable right after sync()";
  EXPECT_EQ(count(*store_, "f-own"), 1200u);
}

TEST_F(ExecutionWriterTest, StopDrainsTheQueueAndLateRecordsAreStillWritten) {
  {
    ExecutionWriter writer(*store_, 1000, std::chrono::hours(1));
    for (int i = 0; i < 25; ++i) writer.submit(test_record("f-stop", i));
    writer.stop();  // no sync: stop alone must commit the lingering group
    EXPECT_EQ(count(*store_, "f-stop"), 25u);
    writer.submit(test_record("f-stop", 99));  // after stop: written directly
    EXPECT_EQ(count(*store_, "f-stop"), 26u);
  }
}

}  // namespace
}  // namespace nil::invoke
