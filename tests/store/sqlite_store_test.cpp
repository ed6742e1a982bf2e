// SQLite-only checks: what the file on disk looks like (the queue and the schema are meant to be
// inspectable with the sqlite3 CLI), pragmas, query plans, and failure modes.
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/util.h"
#include "store/sqlite/migrations.h"
#include "store/store.h"
#include "store_fixture.h"

namespace nil::store::testing {
namespace {

// A raw connection to the store's file, as an operator with the sqlite3 CLI would have.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }

  // All rows of a query, each row's columns joined by '|'.
  std::vector<std::string> rows(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
    while (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        if (i > 0) row += "|";
        const unsigned char* t = sqlite3_column_text(st, i);
        row += t != nullptr ? reinterpret_cast<const char*>(t) : "NULL";
      }
      out.push_back(row);
    }
    sqlite3_finalize(st);
    return out;
  }
  void exec(const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "");
    sqlite3_free(err);
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteStoreTest : public ::testing::Test {
 protected:
  SqliteTestDatabase db_;
};

TEST_F(SqliteStoreTest, MigrationsAreRecordedOnceAcrossReopens) {
  for (int i = 0; i < 3; ++i) {
    auto s = open_store(db_.url());
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  RawDb raw(db_.path());
  auto versions = raw.rows("SELECT version FROM schema_migrations ORDER BY version");
  ASSERT_EQ(versions.size(), sqlite::migrations().size());
  for (size_t i = 0; i < versions.size(); ++i) {
    EXPECT_EQ(versions[i], std::to_string(sqlite::migrations()[i].version));
  }
}

TEST_F(SqliteStoreTest, WalAndForeignKeys) {
  auto s = open_store(db_.url());
  ASSERT_TRUE(s.ok());
  RawDb raw(db_.path());
  EXPECT_EQ(raw.rows("PRAGMA journal_mode"), std::vector<std::string>{"wal"});
}

TEST_F(SqliteStoreTest, NewerSchemaIsRefused) {
  { ASSERT_TRUE(open_store(db_.url()).ok()); }
  {
    RawDb raw(db_.path());
    raw.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)");
  }
  auto s = open_store(db_.url());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kStorageError);
  EXPECT_NE(s.error().message.find("9999"), std::string::npos) << s.error().message;
}

TEST_F(SqliteStoreTest, QueueIsInspectableWithPlainSql) {
  auto s = open_store(db_.url());
  ASSERT_TRUE(s.ok());
  NewFunction nf = wat_function("inspect");
  auto f = (*s)->create_function(nf);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*s)->claim_compile_job("cli-test", 60'000'000).ok());
  RawDb raw(db_.path());
  EXPECT_EQ(raw.rows("SELECT function_id, state, attempts, claimed_by FROM compile_jobs"),
            std::vector<std::string>{f->id + "|RUNNING|1|cli-test"});
  EXPECT_EQ(raw.rows("SELECT status, version FROM functions"),
            std::vector<std::string>{"COMPILING|1"});
}

TEST_F(SqliteStoreTest, ExecutionListingUsesTheIndexWithoutSorting) {
  { ASSERT_TRUE(open_store(db_.url()).ok()); }
  RawDb raw(db_.path());
  for (const char* sql : {"EXPLAIN QUERY PLAN SELECT id FROM executions WHERE function_id = 'x' "
                          "ORDER BY started_at DESC, id DESC LIMIT 51",
                          "EXPLAIN QUERY PLAN SELECT id FROM executions WHERE function_id = 'x' "
                          "AND (started_at < 5 OR (started_at = 5 AND id < 'y')) "
                          "ORDER BY started_at DESC, id DESC LIMIT 51"}) {
    std::string plan;
    for (const auto& r : raw.rows(sql)) plan += r + "\n";
    EXPECT_NE(plan.find("executions_by_function"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
  }
}

// The async invocation claim reads the partial index of due rows only (docs/storage.md, "The
// invocation queue"): finished invocations leave it, so a claim stays a short range scan however
// many executions the history holds.
TEST_F(SqliteStoreTest, InvocationClaimUsesThePartialDueIndex) {
  { ASSERT_TRUE(open_store(db_.url()).ok()); }
  RawDb raw(db_.path());
  std::string plan;
  for (const auto& r :
       raw.rows("EXPLAIN QUERY PLAN SELECT id FROM invocations WHERE state IN ('QUEUED', "
                "'RUNNING') AND due_at <= 5 ORDER BY due_at, id LIMIT 64"))
    plan += r + "\n";
  EXPECT_NE(plan.find("invocations_due"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
}

// Version 7 rebuilt the executions table (a wider status CHECK, an attempts column): the records
// written before it are all still there, unchanged.
TEST_F(SqliteStoreTest, ExecutionsSurviveTheQueueMigration) {
  std::string id = new_uuid_v7();
  {
    auto s = open_store(db_.url());
    ASSERT_TRUE(s.ok());
    Execution e;
    e.id = id;
    e.function_id = "f";
    e.input = "{}";
    e.output = "1";
    e.logs = "hello";
    e.started_at = 5;
    e.finished_at = 6;
    e.trigger = "api";
    ASSERT_TRUE((*s)->insert_executions(std::span<const Execution>(&e, 1)).ok());
  }
  {
    RawDb raw(db_.path());
    raw.exec("DELETE FROM schema_migrations WHERE version = 7");
    raw.exec("DROP TABLE invocations");
    raw.exec("ALTER TABLE functions DROP COLUMN retry");
    raw.exec("ALTER TABLE functions DROP COLUMN callback_secret");
  }
  auto s = open_store(db_.url());
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto e = (*s)->get_execution(id);
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->output, "1");
  EXPECT_EQ(e->logs, "hello");
  EXPECT_FALSE(e->attempts);
}

TEST_F(SqliteStoreTest, ExternalWriterHoldingTheLockIsAStorageErrorNotAHang) {
  sqlite::SqliteOptions opts;
  opts.busy_timeout_ms = 50;
  auto s = sqlite::open_sqlite_store(db_.path(), opts);
  ASSERT_TRUE(s.ok());
  RawDb raw(db_.path());
  raw.exec("BEGIN IMMEDIATE");
  auto r = (*s)->create_function(wat_function("locked"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(http_status(r.error().code), 500);
  EXPECT_EQ(r.error().code, ErrorCode::kStorageError);
  EXPECT_NE(r.error().message.find("locked"), std::string::npos) << r.error().message;
  // Reads still work while another process writes (WAL).
  EXPECT_TRUE((*s)->ping().ok());
  raw.exec("ROLLBACK");
  EXPECT_TRUE((*s)->create_function(wat_function("locked")).ok());
}

// Migration 5 replaced "ORDER BY rowid" with a position column, backfilled from rowid: access
// lists written before it keep the order they were written in.
TEST_F(SqliteStoreTest, AccessListOrderSurvivesThePositionMigration) {
  std::string fid, first, second;
  {
    auto s = open_store(db_.url());
    ASSERT_TRUE(s.ok());
    auto a = (*s)->create_user(NewUser{"ada", "hash", Role::kDev, {}});
    auto b = (*s)->create_user(NewUser{"bob", "hash", Role::kDev, {}});
    ASSERT_TRUE(a.ok() && b.ok());
    // Written in the order opposite to the ids' sort order, so that neither the primary key's
    // order nor an unordered scan gives the written order by accident.
    first = std::max(a->id, b->id);
    second = std::min(a->id, b->id);
    NewFunction nf = wat_function("ordered");
    nf.allowed.users = {first, second};
    auto f = (*s)->create_function(nf);
    ASSERT_TRUE(f.ok()) << f.error().message;
    fid = f->id;
    ASSERT_EQ(f->allowed.users, (std::vector<std::string>{first, second}));
  }
  {
    // Back to the schema of version 5: no position columns.
    RawDb raw(db_.path());
    for (const char* t : {"function_allowed_users", "function_allowed_groups",
                          "environment_allowed_users", "environment_allowed_groups"}) {
      raw.exec(std::string("ALTER TABLE ") + t + " DROP COLUMN position");
    }
    raw.exec("DELETE FROM schema_migrations WHERE version = 6");
  }
  auto s = open_store(db_.url());
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto f = (*s)->get_function(fid);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->allowed.users, (std::vector<std::string>{first, second}));
  RawDb raw(db_.path());
  EXPECT_EQ(raw.rows("SELECT COUNT(*) FROM function_allowed_users WHERE position = 0"),
            std::vector<std::string>{"0"})
      << "rows were not backfilled from their rowid";
}

TEST(SqliteMemoryStore, WorksWithoutAReaderPool) {
  auto s = sqlite::open_sqlite_store(":memory:");
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto f = (*s)->create_function(wat_function("mem"));
  ASSERT_TRUE(f.ok());
  auto got = (*s)->get_function("mem");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->id, f->id);
}

}  // namespace
}  // namespace nil::store::testing
