// The PostgreSQL backend's connection pool and transactions, used by every part of PostgresStore.
//
// A pool of up to `size` connections, opened on demand and shared by reads and writes (the server
// handles concurrency; there is no writer mutex as in SQLite). A connection found broken (the
// server restarted, the network dropped) is reconnected when it is next handed out; when that
// fails the caller gets store_unavailable at once rather than waiting for the server.
//
// write() runs f inside BEGIN ... COMMIT (READ COMMITTED). SQLite serializes writers, so its
// check-then-insert code (a name is free, then INSERT) never races; here two nodes can. A
// transaction that fails on a unique violation (23505), a serialization failure (40001) or a
// deadlock (40P01) is rolled back and run again: the re-run's checks see the other
// transaction's committed row and answer what SQLite would (name_taken, not storage_error).
// f may therefore run more than once and must have no effect outside its connection.
//
// Thread safety: write() and read() may be called from any thread.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "common/expected.h"
#include "store/postgres/connection.h"

namespace nil::store::postgres {

class Database {
 public:
  Database(std::string url, size_t size) : url_(std::move(url)), size_(size) {}

  // A connection leased from the pool; returned (and reconnected later if broken) on destruction.
  class Lease {
   public:
    Lease(Database& db, Connection* c) : db_(&db), conn_(c) {}
    Lease(Lease&& o) noexcept : db_(o.db_), conn_(o.conn_) { o.conn_ = nullptr; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_ != nullptr) db_->release(conn_);
    }
    Connection& operator*() const { return *conn_; }

   private:
    Database* db_;
    Connection* conn_;
  };

  Expected<Lease> acquire() {
    Connection* c = nullptr;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !free_.empty() || all_.size() < size_; });
      if (!free_.empty()) {
        c = free_.back();
        free_.pop_back();
      } else {
        all_.push_back(nullptr);  // reserve the slot; connect outside the lock
      }
    }
    if (c == nullptr) {
      auto opened = Connection::open(url_);
      std::lock_guard lock(mu_);
      if (!opened.ok()) {
        all_.pop_back();
        cv_.notify_one();
        return std::move(opened).error();
      }
      for (auto& slot : all_) {
        if (!slot) {
          slot = std::move(opened).value();
          c = slot.get();
          break;
        }
      }
    }
    Lease lease(*this, c);
    if (c->broken()) NIL_TRY_VOID(c->reconnect());
    return lease;
  }

  template <typename F>
  auto write(F&& f) -> std::invoke_result_t<F&, Connection&> {
    auto lease = NIL_TRY(acquire());
    Connection& c = *lease;
    for (int attempt = 0;; ++attempt) {
      NIL_TRY_VOID(begin(c, "BEGIN"));
      auto result = f(c);
      if (!result.ok()) {
        bool retry = retryable(c.last_sqlstate()) && attempt < kMaxRetries;
        (void)c.exec("ROLLBACK");
        if (retry) continue;
        return result;
      }
      if (auto r = c.exec("COMMIT"); !r.ok()) {
        bool retry = retryable(c.last_sqlstate()) && attempt < kMaxRetries;
        (void)c.exec("ROLLBACK");
        if (retry) continue;
        return std::move(r).error();
      }
      return result;
    }
  }

  // With snapshot, f's statements share one REPEATABLE READ transaction.
  template <typename F>
  auto read(F&& f, bool snapshot = false) -> std::invoke_result_t<F&, Connection&> {
    auto lease = NIL_TRY(acquire());
    Connection& c = *lease;
    if (!snapshot) {
      // A read has no effect: one that found its pooled connection dead (the server restarted
      // since it was last used) runs again on a fresh one.
      auto result = f(c);
      if (!result.ok() && c.broken() && c.reconnect().ok()) return f(c);
      return result;
    }
    NIL_TRY_VOID(begin(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    auto result = f(c);
    (void)c.exec("COMMIT");
    return result;
  }

 private:
  // A pooled connection learns that the server restarted only when it is used: a BEGIN that
  // fails on a dead connection has done nothing, so it reconnects and begins again once.
  static Expected<void> begin(Connection& c, const char* sql) {
    auto r = c.exec(sql);
    if (r.ok() || !c.broken()) return r;
    NIL_TRY_VOID(c.reconnect());
    return c.exec(sql);
  }

  static constexpr int kMaxRetries = 5;
  static bool retryable(const std::string& s) {
    return s == "23505" || s == "40001" || s == "40P01";
  }

  void release(Connection* c) {
    {
      std::lock_guard lock(mu_);
      free_.push_back(c);
    }
    cv_.notify_one();
  }

  std::string url_;
  size_t size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Connection*> free_;
  std::vector<std::unique_ptr<Connection>> all_;
};

}  // namespace nil::store::postgres
