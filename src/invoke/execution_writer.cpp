#include <algorithm>
#include <chrono>
#include <vector>

#include "common/log.h"
#include "invoke/invoker.h"

namespace nil::invoke {

ExecutionWriter::ExecutionWriter(store::Store& store, size_t max_batch,
                                 std::chrono::microseconds linger)
    : store_(store),
      max_batch_(std::max<size_t>(1, max_batch)),
      linger_(linger),
      thread_([this] { run(); }) {}

ExecutionWriter::~ExecutionWriter() { stop(); }

namespace {
thread_local uint64_t t_last_ticket = 0;
}  // namespace

uint64_t ExecutionWriter::last_ticket() { return t_last_ticket; }

uint64_t ExecutionWriter::submit(store::Execution e) {
  bool wake;
  uint64_t ticket;
  {
    std::unique_lock lk(mu_);
    if (stopped_) {
      // Late arrival after the writer drained (shutdown): write it directly.
      ticket = ++submitted_;
      lk.unlock();
      t_last_ticket = ticket;
      auto r = store_.insert_executions(std::span<const store::Execution>(&e, 1));
      if (!r)
        log::error("execution record lost", {{"functionId", e.function_id}, {"executionId", e.id}});
      return ticket;
    }
    queue_.push_back(std::move(e));
    ticket = ++submitted_;
    // The writer needs a signal only to start a group (it sleeps on an empty queue) or to end a
    // lingering one that is full; any other notify would be a futex call per request for nothing.
    wake = queue_.size() == 1 || (lingering_ && queue_.size() >= max_batch_);
  }
  t_last_ticket = ticket;
  if (wake) work_cv_.notify_one();
  return ticket;
}

void ExecutionWriter::when_committed(uint64_t ticket, std::function<void(bool)> done) {
  {
    std::lock_guard lk(mu_);
    // Already committed, or written directly by a late submit after the writer stopped.
    if (ticket > committed_ && !stopped_) {
      waiters_.emplace_back(ticket, std::move(done));
      // An answer waits for this group: end the linger now instead of adding it to the latency.
      sync_target_ = std::max(sync_target_, ticket);
      if (lingering_) work_cv_.notify_one();
      return;
    }
  }
  done(true);
}

std::vector<std::function<void(bool)>> ExecutionWriter::take_waiters(bool all) {
  std::vector<std::function<void(bool)>> ready;
  if (waiters_.empty()) return ready;
  auto keep = waiters_.begin();
  for (auto& w : waiters_) {
    if (all || w.first <= committed_) {
      ready.push_back(std::move(w.second));
    } else {
      *keep++ = std::move(w);
    }
  }
  waiters_.erase(keep, waiters_.end());
  return ready;
}

void ExecutionWriter::sync() {
  std::unique_lock lk(mu_);
  const uint64_t target = submitted_;
  if (committed_ >= target || stopped_) return;
  sync_target_ = std::max(sync_target_, target);
  work_cv_.notify_one();  // a reader is waiting: commit now, do not linger
  done_cv_.wait(lk, [&] { return committed_ >= target || stopped_; });
}

void ExecutionWriter::stop() {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  work_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  done_cv_.notify_all();
}

void ExecutionWriter::run() {
  std::vector<store::Execution> batch;
  int failures = 0;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      // A failed batch (still in `batch`) is retried at once, not when the next record arrives.
      work_cv_.wait(lk, [&] { return stopping_ || !queue_.empty() || !batch.empty(); });
      if (queue_.empty() && batch.empty() && stopping_) {
        stopped_ = true;
        auto left = take_waiters(true);  // none expected: every ticket was committed
        lk.unlock();
        for (auto& w : left) w(true);
        done_cv_.notify_all();
        return;
      }
      // Linger: let the group fill for a moment after its first record, unless a reader waits
      // (sync), the group is full, or we are stopping.
      if (linger_.count() > 0 && batch.empty()) {
        lingering_ = true;
        work_cv_.wait_for(lk, linger_, [&] {
          return stopping_ || queue_.size() >= max_batch_ || sync_target_ > committed_;
        });
        lingering_ = false;
      }
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    auto r = store_.insert_executions(batch);
    if (!r) {
      // Keep the batch and retry: a record is never dropped while the process lives. On stop
      // we give up after a few attempts and say so loudly.
      ++failures;
      log::error("execution batch not stored", {{"error", r.error().message},
                                                {"rows", static_cast<int64_t>(batch.size())},
                                                {"attempt", failures}});
      bool stopping;
      {
        std::lock_guard lk(mu_);
        stopping = stopping_;
      }
      if (stopping && failures >= 5) {
        for (const auto& e : batch) {
          log::error("execution record lost",
                     {{"functionId", e.function_id}, {"executionId", e.id}});
        }
        std::vector<std::function<void(bool)>> lost;
        {
          std::lock_guard lk(mu_);
          committed_ += batch.size();
          lost = take_waiters(false);
        }
        batch.clear();
        failures = 0;
        for (auto& w : lost) w(false);
        done_cv_.notify_all();
        continue;
      } else {
        std::this_thread::sleep_for(
            std::chrono::milliseconds(std::min(1000, 10 << std::min(failures, 6))));
        continue;
      }
    }
    failures = 0;
    std::vector<std::function<void(bool)>> ready;
    {
      std::lock_guard lk(mu_);
      committed_ += batch.size();
      ready = take_waiters(false);
    }
    batch.clear();
    done_cv_.notify_all();
    // The answers of this group go out now (each callback posts to its connection's loop).
    for (auto& w : ready) w(true);
  }
}

}  // namespace nil::invoke
