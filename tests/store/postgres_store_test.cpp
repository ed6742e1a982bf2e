// PostgreSQL-only checks (the shared suite is store_test.cpp & co., run against both backends):
// migrations under the advisory lock, the schema as an operator sees it with psql, and what a
// lost server looks like (store_unavailable at once, then recovery by itself).
//
// Named PostgresStore* so that tests/store/CMakeLists.txt runs them in the postgres
// configuration, beside the server fixture.
#include "store/postgres/postgres_store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <thread>
#include <vector>

#include "store/postgres/migrations.h"
#include "store_fixture.h"

namespace nil::store::testing {
namespace {

// A plain libpq connection to the test's database, as an operator with psql would have.
class RawPg {
 public:
  explicit RawPg(const std::string& url) : c_(PQconnectdb(url.c_str())) {
    EXPECT_EQ(PQstatus(c_), CONNECTION_OK) << PQerrorMessage(c_);
  }
  ~RawPg() { PQfinish(c_); }
  RawPg(const RawPg&) = delete;
  RawPg& operator=(const RawPg&) = delete;

  // Each row's columns joined by '|'.
  std::vector<std::string> rows(const std::string& sql) {
    std::vector<std::string> out;
    PGresult* r = PQexec(c_, sql.c_str());
    EXPECT_TRUE(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
        << sql << ": " << PQresultErrorMessage(r);
    for (int i = 0; i < PQntuples(r); ++i) {
      std::string row;
      for (int j = 0; j < PQnfields(r); ++j) {
        if (j > 0) row += '|';
        row += PQgetvalue(r, i, j);
      }
      out.push_back(row);
    }
    PQclear(r);
    return out;
  }
  // Runs a statement that may fail; true when it succeeded.
  bool ok(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return ok;
  }

 private:
  PGconn* c_;
};

class PostgresStoreTest : public ::testing::Test {
 protected:
  PostgresTestDatabase db_;
};

TEST_F(PostgresStoreTest, TwoNodesOpeningAnEmptyDatabaseAtOnceApplyEachMigrationOnce) {
  constexpr int kNodes = 4;
  std::vector<std::thread> nodes;
  std::vector<std::unique_ptr<Store>> opened(kNodes);
  std::vector<std::string> failures(kNodes);
  for (int i = 0; i < kNodes; ++i) {
    nodes.emplace_back([&, i] {
      auto s = open_store(db_.url());
      if (s.ok()) {
        opened[i] = std::move(s).value();
      } else {
        failures[i] = s.error().message;
      }
    });
  }
  for (auto& t : nodes) t.join();
  for (int i = 0; i < kNodes; ++i) ASSERT_TRUE(opened[i]) << failures[i];
  RawPg raw(db_.url());
  auto versions = raw.rows("SELECT version FROM schema_migrations ORDER BY version");
  ASSERT_EQ(versions.size(), postgres::migrations().size());
  for (size_t i = 0; i < versions.size(); ++i) {
    EXPECT_EQ(versions[i], std::to_string(postgres::migrations()[i].version));
  }
  // Every node works on the one schema.
  ASSERT_TRUE(opened[0]->create_function(wat_function("one")).ok());
  ASSERT_OK_AND_ASSIGN(f, opened[kNodes - 1]->get_function("one"));
  EXPECT_EQ(f.name, "one");
}

TEST_F(PostgresStoreTest, NewerSchemaIsRefused) {
  { ASSERT_TRUE(open_store(db_.url()).ok()); }
  RawPg raw(db_.url());
  raw.rows("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)");
  auto s = open_store(db_.url());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kStorageError);
  EXPECT_NE(s.error().message.find("newer"), std::string::npos) << s.error().message;
}

TEST_F(PostgresStoreTest, WasmAndSourceAreByteaAndTheQueueIsPlainSql) {
  ASSERT_OK_AND_ASSIGN(s, open_store(db_.url()));
  NewFunction nf = wat_function("bytes");
  nf.source = std::string("\0\x01\xff(module)", 11);
  ASSERT_OK_AND_ASSIGN(f, s->create_function(nf));
  RawPg raw(db_.url());
  EXPECT_EQ(raw.rows("SELECT data_type FROM information_schema.columns WHERE table_name = "
                     "'functions' AND column_name IN ('source', 'wasm') ORDER BY column_name"),
            (std::vector<std::string>{"bytea", "bytea"}));
  EXPECT_EQ(raw.rows("SELECT encode(source, 'hex') FROM functions"),
            std::vector<std::string>{"0001ff286d6f64756c6529"});
  EXPECT_EQ(raw.rows("SELECT f.name, j.state FROM compile_jobs j JOIN functions f "
                     "ON f.id = j.function_id"),
            std::vector<std::string>{"bytes|PENDING"});
  ASSERT_OK_AND_ASSIGN(job, s->claim_compile_job("w", 60'000'000));
  ASSERT_TRUE(job);
  EXPECT_EQ(job->source, nf.source);
  CompileOutcome ok;
  ok.ok = true;
  ok.wasm = std::string("\0asm\x01\0\0\0", 8);
  ASSERT_TRUE(s->complete_compile_job(*job, ok).ok());
  ASSERT_OK_AND_ASSIGN(wasm, s->get_function_wasm(f.id));
  EXPECT_EQ(wasm, ok.wasm);
}

TEST_F(PostgresStoreTest, AnUnreachableServerIsStoreUnavailableNotAHang) {
  // Port 1 on loopback: nothing listens, the connect is refused at once.
  auto s = open_store("postgresql://postgres@127.0.0.1:1/nil?connect_timeout=2");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kStoreUnavailable) << s.error().message;
}

TEST_F(PostgresStoreTest, KilledConnectionsAreStoreUnavailableThenReconnectByThemselves) {
  ASSERT_OK_AND_ASSIGN(s, open_store(db_.url()));
  ASSERT_TRUE(s->create_function(wat_function("f")).ok());
  ASSERT_TRUE(s->ping().ok());
  // The server drops every connection of the store (as a restart would).
  RawPg raw(db_.url());
  raw.rows(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  // The pool finds out on first use and reconnects by itself: reads and writes that find a dead
  // connection before doing anything run again on a fresh one, nobody reopens the store.
  ASSERT_TRUE(s->ping().ok());
  ASSERT_OK_AND_ASSIGN(f, s->get_function("f"));
  EXPECT_EQ(f.name, "f");
  raw.rows(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  ASSERT_OK_AND_ASSIGN(g, s->create_function(wat_function("g")));
  EXPECT_EQ(g.name, "g");
}

TEST_F(PostgresStoreTest, ConcurrentCreatesOfOneNameGiveOneFunctionAndNameTaken) {
  ASSERT_OK_AND_ASSIGN(a, open_store(db_.url()));
  ASSERT_OK_AND_ASSIGN(b, open_store(db_.url()));
  constexpr int kTries = 8;
  std::vector<std::thread> threads;
  std::vector<ErrorCode> codes(kTries * 2, ErrorCode::kInternalError);
  std::vector<bool> oks(kTries * 2, false);
  for (int i = 0; i < kTries * 2; ++i) {
    threads.emplace_back([&, i] {
      Store& s = i % 2 == 0 ? *a : *b;
      auto r = s.create_function(wat_function("same"));
      oks[i] = r.ok();
      if (!r.ok()) codes[i] = r.error().code;
    });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  for (int i = 0; i < kTries * 2; ++i) {
    if (oks[i]) {
      ++created;
    } else {
      EXPECT_EQ(codes[i], ErrorCode::kNameTaken);
    }
  }
  EXPECT_EQ(created, 1);
}

TEST_F(PostgresStoreTest, VersionTwoAltersExecutionsInPlaceAndKeepsTheirRows) {
  // A database at version 1 with an execution, as a node built before the queue left it.
  {
    RawPg raw(db_.url());
    raw.rows(
        "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)");
    raw.rows(postgres::migrations()[0].sql);
    raw.rows("INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0)");
    raw.rows(
        "INSERT INTO functions (id, seq, name, language, status, source, timeout_ms, "
        "memory_mb, version, created_at, updated_at) VALUES ('f-1', 1, 'old', 'wat', "
        "'READY', '\\x00', 1000, 64, 1, 5, 5)");
    raw.rows(
        "INSERT INTO executions (id, function_id, status, input, output, logs, duration_ms, "
        "started_at, finished_at, \"trigger\") VALUES ('e-1', 'f-1', 'SUCCEEDED', '{}', "
        "'{\"ok\":1}', '', 1.5, 10, 20, 'http')");
  }
  ASSERT_OK_AND_ASSIGN(s, open_store(db_.url()));
  ASSERT_OK_AND_ASSIGN(e, s->get_execution("e-1"));
  EXPECT_EQ(e.status, ExecutionStatus::kSucceeded);
  EXPECT_EQ(e.output, std::optional<std::string>("{\"ok\":1}"));
  EXPECT_FALSE(e.attempts) << "a synchronous execution has no attempts array";
  ASSERT_OK_AND_ASSIGN(f, s->get_function("old"));
  EXPECT_EQ(f.limits.max_concurrency, 0u);
  EXPECT_FALSE(f.limits.max_queue_ms);
  EXPECT_FALSE(f.callback_secret);
  EXPECT_EQ(f.retry, RetryPolicy{});

  RawPg raw(db_.url());
  // The CHECK was replaced in place: the new states are accepted, anything else still refused.
  EXPECT_TRUE(raw.ok("UPDATE executions SET status = 'QUEUED' WHERE id = 'e-1'"));
  EXPECT_TRUE(raw.ok("UPDATE executions SET status = 'RUNNING' WHERE id = 'e-1'"));
  EXPECT_FALSE(raw.ok("UPDATE executions SET status = 'BOGUS' WHERE id = 'e-1'"));
  EXPECT_EQ(raw.rows("SELECT indexdef FROM pg_indexes WHERE indexname = 'invocations_due'"),
            std::vector<std::string>{
                "CREATE INDEX invocations_due ON public.invocations USING btree (due_at, id) "
                "WHERE (state = ANY (ARRAY['QUEUED'::text, 'RUNNING'::text]))"});
}

}  // namespace
}  // namespace nil::store::testing
