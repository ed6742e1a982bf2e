// The SQLite backend's connections and transactions, used by every part of SqliteStore.
//
// One writer connection, guarded by a mutex, runs every write transaction (BEGIN IMMEDIATE: the
// write lock is taken up front, so a transaction never fails half-way on a read→write upgrade).
// A pool of reader connections (PRAGMA query_only) serves reads concurrently with the writer and
// with each other; in WAL mode a reader sees the last committed snapshot. With no readers
// (":memory:", where each connection would be its own database) reads go through the writer.
//
// Thread safety: write() and read() may be called from any thread.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "common/expected.h"
#include "store/sqlite/connection.h"

namespace nil::store::sqlite {

// Reader connections, handed out one per thread at a time.
class ReaderPool {
 public:
  class Lease {
   public:
    Lease(ReaderPool& pool, Connection* c) : pool_(&pool), conn_(c) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_->release(conn_); }
    Connection& operator*() const { return *conn_; }

   private:
    ReaderPool* pool_;
    Connection* conn_;
  };

  void add(std::unique_ptr<Connection> c) {
    free_.push_back(c.get());
    all_.push_back(std::move(c));
  }
  bool empty() const { return all_.empty(); }

  Lease acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty(); });
    Connection* c = free_.back();
    free_.pop_back();
    return Lease(*this, c);
  }

 private:
  void release(Connection* c) {
    {
      std::lock_guard lock(mu_);
      free_.push_back(c);
    }
    cv_.notify_one();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Connection*> free_;
  std::vector<std::unique_ptr<Connection>> all_;
};

class Database {
 public:
  explicit Database(std::unique_ptr<Connection> writer) : writer_(std::move(writer)) {}

  void add_reader(std::unique_ptr<Connection> c) { readers_.add(std::move(c)); }

  // Runs f(writer) inside BEGIN IMMEDIATE ... COMMIT under the writer mutex; rolls back when f
  // fails or COMMIT does. f must return an Expected.
  template <typename F>
  auto write(F&& f) -> std::invoke_result_t<F&, Connection&> {
    std::lock_guard lock(writer_mu_);
    Connection& c = *writer_;
    NIL_TRY_VOID(run_cached(c, "BEGIN IMMEDIATE"));
    auto result = f(c);
    if (!result.ok()) {
      (void)run_cached(c, "ROLLBACK");
      return result;
    }
    if (auto r = run_cached(c, "COMMIT"); !r.ok()) {
      (void)run_cached(c, "ROLLBACK");  // COMMIT can fail with the transaction still open
      return std::move(r).error();
    }
    return result;
  }

  // Runs f(reader). With snapshot, f's statements share one read transaction (several queries
  // that must agree with each other); otherwise each statement is its own.
  template <typename F>
  auto read(F&& f, bool snapshot = false) -> std::invoke_result_t<F&, Connection&> {
    if (readers_.empty()) {
      std::lock_guard lock(writer_mu_);
      return in_read_txn(*writer_, f, snapshot);
    }
    auto lease = readers_.acquire();
    return in_read_txn(*lease, f, snapshot);
  }

 private:
  template <typename F>
  static auto in_read_txn(Connection& c, F& f, bool snapshot)
      -> std::invoke_result_t<F&, Connection&> {
    if (!snapshot) return f(c);
    NIL_TRY_VOID(run_cached(c, "BEGIN"));
    auto result = f(c);
    (void)run_cached(c, "COMMIT");  // a read transaction has nothing to lose
    return result;
  }

  static Expected<void> run_cached(Connection& c, const char* sql) {
    auto q = NIL_TRY(c.query(sql));
    return q.run();
  }

  std::mutex writer_mu_;
  std::unique_ptr<Connection> writer_;
  ReaderPool readers_;
};

}  // namespace nil::store::sqlite
