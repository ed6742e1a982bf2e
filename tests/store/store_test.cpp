// The storage specification: behaviour every backend must have (run against each backend in
// store_backends()). Backend-specific checks live in sqlite_store_test.cpp.
#include "store/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/util.h"
#include "store_fixture.h"

namespace nil::store::testing {
namespace {

#define ASSERT_OK(expr)                                                                            \
  do {                                                                                             \
    const auto& r_ = (expr);                                                                       \
    ASSERT_TRUE(r_.ok()) << #expr << " failed: " << r_.error().code << ": " << r_.error().message; \
  } while (0)

NewFunction new_function(std::string name, std::string source = "(module)") {
  NewFunction f;
  f.name = std::move(name);
  f.language = "wat";
  f.source = std::move(source);
  f.limits.timeout_ms = 2500;
  f.limits.memory_mb = 64;
  return f;
}

Execution execution(std::string function_id, int64_t started_at, bool ok = true) {
  Execution e;
  e.id = new_uuid();
  e.function_id = std::move(function_id);
  e.status = ok ? ExecutionStatus::kSucceeded : ExecutionStatus::kFailed;
  e.input = R"({"n":1})";
  if (ok) {
    e.output = R"({"r":2})";
  } else {
    e.error = ExecutionError{"trap", "unreachable executed"};
  }
  e.logs = "line 1\nline 2\n";
  e.duration_ms = 1.25;
  e.started_at = started_at;
  e.finished_at = started_at + 1250;
  e.trigger = "api";
  return e;
}

CompileOutcome compiled(std::string wasm) {
  CompileOutcome o;
  o.ok = true;
  o.wasm = std::move(wasm);
  o.wasm_sha256 = sha256_hex(o.wasm);
  return o;
}

constexpr int64_t kMinute = 60'000'000;

// --- open / migrations ---------------------------------------------------------------------------

TEST_P(StoreTest, ReopenKeepsDataAndIsIdempotent) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(new_function("hello")));
  for (int i = 0; i < 3; ++i) {
    reopen();
    ASSERT_OK_AND_ASSIGN(got, store().get_function(f.id));
    EXPECT_EQ(got.name, "hello");
    EXPECT_EQ(got.version, 1);
  }
  ASSERT_OK_AND_ASSIGN(stats, store().compile_queue_stats());
  EXPECT_EQ(stats.pending, 1);
  ASSERT_OK(store().ping());
}

TEST(OpenStore, RedactsThePasswordOfAUrlForLogs) {
  EXPECT_EQ(redact_store_url("postgresql://nil:s3cret@db.example:5432/nil"),
            "postgresql://nil:***@db.example:5432/nil");
  EXPECT_EQ(redact_store_url("postgresql://nil@db/nil"), "postgresql://nil@db/nil");
  EXPECT_EQ(redact_store_url("sqlite:/var/lib/nil/nil.db"), "sqlite:/var/lib/nil/nil.db");
  EXPECT_EQ(redact_store_url("postgresql://db/x@y"), "postgresql://db/x@y");
}

TEST(OpenStore, RejectsUnsupportedUrls) {
  expect_error(open_store("mysql://localhost/nil"), ErrorCode::kUnsupportedStore);
  expect_error(open_store(""), ErrorCode::kUnsupportedStore);
  expect_error(open_store("sqlite:"), ErrorCode::kInvalidStoreUrl);
}

TEST(OpenStore, UnopenablePathIsAStorageErrorNotACrash) {
  expect_error(open_store("sqlite:/nonexistent-dir-for-nil-tests/x/nil.db"),
               ErrorCode::kStorageError);
}

// --- functions -----------------------------------------------------------------------------------

TEST_P(StoreTest, CreateThenGetByIdAndByName) {
  int64_t before = now_micros();
  ASSERT_OK_AND_ASSIGN(f, store().create_function(new_function("hello")));
  EXPECT_TRUE(is_uuid(f.id)) << f.id;
  EXPECT_EQ(f.status, FunctionStatus::kPending);
  EXPECT_EQ(f.version, 1);
  EXPECT_GE(f.created_at, before);
  EXPECT_EQ(f.created_at, f.updated_at);

  for (const std::string& ref : {f.id, std::string("hello")}) {
    ASSERT_OK_AND_ASSIGN(got, store().get_function(ref));
    EXPECT_EQ(got.id, f.id);
    EXPECT_EQ(got.name, "hello");
    EXPECT_EQ(got.language, "wat");
    EXPECT_EQ(got.status, FunctionStatus::kPending);
    EXPECT_EQ(got.limits.timeout_ms, 2500u);
    EXPECT_EQ(got.limits.memory_mb, 64u);
    EXPECT_EQ(got.created_at, f.created_at);
    EXPECT_FALSE(got.compile_error.has_value());
    EXPECT_FALSE(got.wasm_sha256.has_value());
  }
  ASSERT_OK_AND_ASSIGN(src, store().get_function_source("hello"));
  EXPECT_EQ(src, "(module)");
}

TEST_P(StoreTest, SourceIsBinarySafe) {
  std::string bytes("\0asm\x01\0\0\0\xff", 9);
  NewFunction nf = new_function("bin", bytes);
  nf.language = "wasm";
  ASSERT_OK_AND_ASSIGN(f, store().create_function(nf));
  ASSERT_OK_AND_ASSIGN(src, store().get_function_source(f.id));
  EXPECT_EQ(src, bytes);
}

TEST_P(StoreTest, DuplicateNameIsNameTaken) {
  ASSERT_OK(store().create_function(new_function("dup")));
  expect_error(store().create_function(new_function("dup")), ErrorCode::kNameTaken);
  // The failed create left nothing behind: still one function, one job.
  ASSERT_OK_AND_ASSIGN(page, store().list_functions({}));
  EXPECT_EQ(page.items.size(), 1u);
  ASSERT_OK_AND_ASSIGN(stats, store().compile_queue_stats());
  EXPECT_EQ(stats.pending, 1);
}

TEST_P(StoreTest, MissingFunctionIsNotFound) {
  std::string id = new_uuid();
  expect_error(store().get_function(id), ErrorCode::kFunctionNotFound);
  expect_error(store().get_function("nope"), ErrorCode::kFunctionNotFound);
  expect_error(store().get_function_wasm(id), ErrorCode::kFunctionNotFound);
  expect_error(store().get_function_source(id), ErrorCode::kFunctionNotFound);
  expect_error(store().update_function(id, {}), ErrorCode::kFunctionNotFound);
  expect_error(store().delete_function(id), ErrorCode::kFunctionNotFound);
}

TEST_P(StoreTest, ListWalksEveryFunctionOnceInCreationOrder) {
  std::vector<std::string> ids;
  for (int i = 0; i < 120; ++i) {
    ASSERT_OK_AND_ASSIGN(f, store().create_function(new_function("fn-" + std::to_string(i))));
    ids.push_back(f.id);
  }
  for (uint32_t limit : {7u, 40u, 200u}) {
    std::vector<std::string> seen;
    PageRequest req;
    req.limit = limit;
    int pages = 0;
    while (true) {
      ASSERT_OK_AND_ASSIGN(page, store().list_functions(req));
      ++pages;
      ASSERT_LE(page.items.size(), limit);
      for (const Function& f : page.items) seen.push_back(f.id);
      if (!page.next_cursor) break;
      ASSERT_EQ(page.items.size(), limit) << "a short page must be the last";
      req.cursor = page.next_cursor;
      ASSERT_LT(pages, 200) << "pagination does not terminate";
    }
    EXPECT_EQ(seen, ids) << "limit " << limit;
    EXPECT_EQ(pages, static_cast<int>((120 + limit - 1) / limit)) << "limit " << limit;
  }
}

TEST_P(StoreTest, ListCursorSurvivesDeletesAndSeesNewFunctions) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(f, store().create_function(new_function("f" + std::to_string(i))));
    ids.push_back(f.id);
  }
  PageRequest req;
  req.limit = 3;
  ASSERT_OK_AND_ASSIGN(p1, store().list_functions(req));
  ASSERT_TRUE(p1.next_cursor);
  // Delete the cursor's own row and add a new one: the walk neither repeats nor skips.
  ASSERT_OK(store().delete_function(ids[2]));
  ASSERT_OK_AND_ASSIGN(f5, store().create_function(new_function("f5")));
  req.cursor = p1.next_cursor;
  ASSERT_OK_AND_ASSIGN(p2, store().list_functions(req));
  ASSERT_EQ(p2.items.size(), 3u);
  EXPECT_EQ(p2.items[0].id, ids[3]);
  EXPECT_EQ(p2.items[1].id, ids[4]);
  EXPECT_EQ(p2.items[2].id, f5.id);
  EXPECT_FALSE(p2.next_cursor);
}

TEST_P(StoreTest, ListLimitIsClamped) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(store().create_function(new_function("f" + std::to_string(i))));
  }
  PageRequest req;
  req.limit = 0;
  ASSERT_OK_AND_ASSIGN(p, store().list_functions(req));
  EXPECT_EQ(p.items.size(), 1u);
  EXPECT_TRUE(p.next_cursor);
  req.limit = 100000;
  ASSERT_OK_AND_ASSIGN(all, store().list_functions(req));
  EXPECT_EQ(all.items.size(), 3u);
  EXPECT_FALSE(all.next_cursor);
}

TEST_P(StoreTest, BadCursorsAreInvalidCursor) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(new_function("f")));
  for (std::string bad :
       {std::string("!!not base64!!"), base64url_encode("f1:abc"), base64url_encode("f1:"),
        base64url_encode("f1:-5"), base64url_encode("x1:12"), base64url_encode("e1:12:abc"),
        std::string("")}) {
    PageRequest req;
    req.cursor = bad;
    expect_error(store().list_functions(req), ErrorCode::kInvalidCursor);
  }
  for (std::string bad : {std::string("%%%"), base64url_encode("f1:12"), base64url_encode("e1:12"),
                          base64url_encode("e1:12:"), base64url_encode("e1:x:abc")}) {
    PageRequest req;
    req.cursor = bad;
    expect_error(store().list_executions(f.id, req), ErrorCode::kInvalidCursor);
  }
}

TEST_P(StoreTest, UpdateSourceBumpsVersionAndRequeues) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(new_function("u", "v1")));
  ASSERT_OK_AND_ASSIGN(job, store().claim_compile_job("w1", kMinute));
  ASSERT_TRUE(job);
  ASSERT_OK(store().complete_compile_job(*job, compiled("wasm-v1")));
  ASSERT_OK_AND_ASSIGN(ready, store().get_function(f.id));
  ASSERT_EQ(ready.status, FunctionStatus::kReady);

  FunctionUpdate u;
  u.source = "v2";
  ASSERT_OK_AND_ASSIGN(updated, store().update_function(f.id, u));
  EXPECT_EQ(updated.version, 2);
  EXPECT_EQ(updated.status, FunctionStatus::kPending);
  EXPECT_FALSE(updated.wasm_sha256);
  EXPECT_FALSE(updated.compile_error);
  EXPECT_EQ(updated.limits.timeout_ms, 2500u);
  EXPECT_GE(updated.updated_at, ready.updated_at);
  expect_error(store().get_function_wasm(f.id), ErrorCode::kFunctionNotReady);
  ASSERT_OK_AND_ASSIGN(src, store().get_function_source(f.id));
  EXPECT_EQ(src, "v2");

  ASSERT_OK_AND_ASSIGN(stats, store().compile_queue_stats());
  EXPECT_EQ(stats.pending, 1);
  EXPECT_EQ(stats.running, 0);
  ASSERT_OK_AND_ASSIGN(job2, store().claim_compile_job("w1", kMinute));
  ASSERT_TRUE(job2);
  EXPECT_EQ(job2->function_version, 2);
  EXPECT_EQ(job2->source, "v2");

  // Two updates in a row leave one job: the latest version's.
  FunctionUpdate lang;
  lang.language = "wasm";
  ASSERT_OK(store().update_function("u", lang));
  ASSERT_OK_AND_ASSIGN(v4, store().update_function("u", u));
  EXPECT_EQ(v4.version, 4);
  EXPECT_EQ(v4.language, "wasm");
  ASSERT_OK_AND_ASSIGN(stats2, store().compile_queue_stats());
  ASSERT_EQ(stats2.jobs.size(), 1u);
  EXPECT_EQ(stats2.jobs[0].function_version, 4);
  EXPECT_EQ(stats2.jobs[0].language, "wasm");
}

TEST_P(StoreTest, LimitsOnlyUpdateDoesNotRecompile) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(new_function("lim")));
  ASSERT_OK_AND_ASSIGN(job, store().claim_compile_job("w1", kMinute));
  ASSERT_OK(store().complete_compile_job(*job, compiled("wasm")));

  FunctionUpdate u;
  FunctionLimits limits;
  limits.timeout_ms = 500;
  limits.memory_mb = 16;
  u.limits = limits;
  ASSERT_OK_AND_ASSIGN(updated, store().update_function(f.id, u));
  EXPECT_EQ(updated.version, 1);
  EXPECT_EQ(updated.status, FunctionStatus::kReady);
  EXPECT_EQ(updated.limits.timeout_ms, 500u);
  EXPECT_EQ(updated.limits.memory_mb, 16u);
  EXPECT_EQ(updated.limits.max_concurrency, 0u);
  EXPECT_FALSE(updated.limits.max_queue_ms.has_value());
  // The admission limits (issue 13) are limits too: stored, read back, no recompile.
  FunctionLimits admission;
  admission.timeout_ms = 500;
  admission.memory_mb = 16;
  admission.max_concurrency = 3;
  admission.max_queue_ms = 0;
  u.limits = admission;
  ASSERT_OK_AND_ASSIGN(queued, store().update_function(f.id, u));
  EXPECT_EQ(queued.version, 1);
  EXPECT_EQ(queued.limits.max_concurrency, 3u);
  EXPECT_EQ(queued.limits.max_queue_ms, std::optional<uint32_t>(0));
  ASSERT_OK_AND_ASSIGN(read, store().get_function(f.id));
  EXPECT_EQ(read.limits.max_concurrency, 3u);
  EXPECT_EQ(read.limits.max_queue_ms, std::optional<uint32_t>(0));
  ASSERT_OK_AND_ASSIGN(wasm, store().get_function_wasm(f.id));
  EXPECT_EQ(wasm, "wasm");
  ASSERT_OK_AND_ASSIGN(stats, store().compile_queue_stats());
  EXPECT_EQ(stats.pending + stats.running, 0);
}

TEST_P(StoreTest, CompileSuccessMakesFunctionReady) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(new_function("ok")));
  ASSERT_OK_AND_ASSIGN(job, store().claim_compile_job("w1", kMinute));
  ASSERT_TRUE(job);
  ASSERT_OK_AND_ASSIGN(compiling, store().get_function(f.id));
  EXPECT_EQ(compiling.status, FunctionStatus::kCompiling);
  std::string wasm("\0asm\x01\0\0\0", 8);
  ASSERT_OK(store().complete_compile_job(*job, compiled(wasm)));
  ASSERT_OK_AND_ASSIGN(ready, store().get_function(f.id));
  EXPECT_EQ(ready.status, FunctionStatus::kReady);
  EXPECT_EQ(ready.wasm_sha256, sha256_hex(wasm));
  EXPECT_GE(ready.updated_at, compiling.updated_at);
  ASSERT_OK_AND_ASSIGN(got, store().get_function_wasm("ok"));
  EXPECT_EQ(got, wasm);
  ASSERT_OK_AND_ASSIGN(stats, store().compile_queue_stats());
  EXPECT_EQ(stats.pending + stats.running, 0);
  EXPECT_TRUE(stats.jobs.empty());
}

TEST_P(StoreTest, CompileFailureRecordsTheError) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(new_function("bad")));
  ASSERT_OK_AND_ASSIGN(job, store().claim_compile_job("w1", kMinute));
  CompileOutcome o;
  o.error = "1:2: unexpected token";
  ASSERT_OK(store().complete_compile_job(*job, o));
  ASSERT_OK_AND_ASSIGN(failed, store().get_function(f.id));
  EXPECT_EQ(failed.status, FunctionStatus::kFailed);
  EXPECT_EQ(failed.compile_error, "1:2: unexpected token");
  EXPECT_FALSE(failed.wasm_sha256);
  expect_error(store().get_function_wasm(f.id), ErrorCode::kFunctionNotReady);

  // A fix clears the error.
  FunctionUpdate u;
  u.source = "(module)";
  ASSERT_OK_AND_ASSIGN(fixed, store().update_function(f.id, u));
  EXPECT_FALSE(fixed.compile_error);
  EXPECT_EQ(fixed.status, FunctionStatus::kPending);
}

TEST_P(StoreTest, StaleCompletionDoesNotOverwriteANewerVersion) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(new_function("race", "v1")));
  ASSERT_OK_AND_ASSIGN(old_job, store().claim_compile_job("w1", kMinute));
  ASSERT_TRUE(old_job);
  FunctionUpdate u;
  u.source = "v2";
  ASSERT_OK(store().update_function(f.id, u));

  // The v1 compile finishes after the PUT: ignored.
  ASSERT_OK(store().complete_compile_job(*old_job, compiled("wasm-v1")));
  ASSERT_OK_AND_ASSIGN(after, store().get_function(f.id));
  EXPECT_EQ(after.version, 2);
  EXPECT_EQ(after.status, FunctionStatus::kPending);
  EXPECT_FALSE(after.wasm_sha256);
  expect_error(store().get_function_wasm(f.id), ErrorCode::kFunctionNotReady);

  // The v2 job is still queued and wins.
  ASSERT_OK_AND_ASSIGN(new_job, store().claim_compile_job("w2", kMinute));
  ASSERT_TRUE(new_job);
  EXPECT_EQ(new_job->function_version, 2);
  ASSERT_OK(store().complete_compile_job(*new_job, compiled("wasm-v2")));
  // A late duplicate of the old completion still changes nothing.
  ASSERT_OK(store().complete_compile_job(*old_job, compiled("wasm-v1")));
  ASSERT_OK_AND_ASSIGN(wasm, store().get_function_wasm(f.id));
  EXPECT_EQ(wasm, "wasm-v2");
}

TEST_P(StoreTest, DeleteRemovesFunctionAndJobsButKeepsExecutions) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(new_function("gone")));
  std::vector<Execution> batch = {execution(f.id, 1000), execution(f.id, 2000, false)};
  ASSERT_OK(store().insert_executions(batch));
  ASSERT_OK(store().delete_function("gone"));
  expect_error(store().get_function(f.id), ErrorCode::kFunctionNotFound);
  ASSERT_OK_AND_ASSIGN(stats, store().compile_queue_stats());
  EXPECT_EQ(stats.pending + stats.running, 0);
  ASSERT_OK_AND_ASSIGN(none, store().claim_compile_job("w1", kMinute));
  EXPECT_FALSE(none);
  ASSERT_OK_AND_ASSIGN(page, store().list_executions(f.id, {}));
  EXPECT_EQ(page.items.size(), 2u);
  ASSERT_OK_AND_ASSIGN(e, store().get_execution(batch[1].id));
  EXPECT_EQ(e.function_id, f.id);
  // The name is free again.
  ASSERT_OK(store().create_function(new_function("gone")));
}

// --- compile queue -------------------------------------------------------------------------------

TEST_P(StoreTest, ClaimsOldestFirstWithFunctionNameAndSource) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(f, store().create_function(
                                new_function("q" + std::to_string(i), "src" + std::to_string(i))));
    ids.push_back(f.id);
  }
  for (int i = 0; i < 3; ++i) {
    int64_t before = now_micros();
    ASSERT_OK_AND_ASSIGN(job, store().claim_compile_job("worker-a", kMinute));
    ASSERT_TRUE(job) << i;
    EXPECT_EQ(job->function_id, ids[i]);
    EXPECT_EQ(job->function_name, "q" + std::to_string(i));
    EXPECT_EQ(job->source, "src" + std::to_string(i));
    EXPECT_EQ(job->language, "wat");
    EXPECT_EQ(job->function_version, 1);
    EXPECT_EQ(job->state, CompileJobState::kRunning);
    EXPECT_EQ(job->attempts, 1);
    EXPECT_EQ(job->claimed_by, "worker-a");
    EXPECT_GE(job->claimed_at, before);
    EXPECT_EQ(job->lease_until, job->claimed_at + kMinute);
    EXPECT_LE(job->enqueued_at, job->claimed_at);
  }
  ASSERT_OK_AND_ASSIGN(none, store().claim_compile_job("worker-a", kMinute));
  EXPECT_FALSE(none);
}

TEST_P(StoreTest, UnexpiredLeaseIsNotClaimableExpiredOneIs) {
  // A node whose clock the test moves (open_store's Clock): the lease runs out without sleeping.
  ManualClock clock(SystemClock::instance().now_micros());
  auto opened = open_store(db().url(), clock);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  Store& node = **opened;
  ASSERT_OK_AND_ASSIGN(f, node.create_function(new_function("lease")));
  ASSERT_OK_AND_ASSIGN(first, node.claim_compile_job("w1", kMinute));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->claimed_at, clock.now_micros());
  EXPECT_EQ(first->lease_until, clock.now_micros() + kMinute);
  ASSERT_OK_AND_ASSIGN(none, node.claim_compile_job("w2", kMinute));
  EXPECT_FALSE(none) << "a job under an unexpired lease was handed out twice";

  // At lease_until the lease still holds; one microsecond later anyone may claim the job.
  clock.advance(std::chrono::microseconds(kMinute));
  ASSERT_OK_AND_ASSIGN(at_end, node.claim_compile_job("w2", kMinute));
  EXPECT_FALSE(at_end) << "a lease was taken over at its last microsecond";
  clock.advance(std::chrono::microseconds(1));
  ASSERT_OK_AND_ASSIGN(again, node.claim_compile_job("w2", kMinute));
  ASSERT_TRUE(again) << "an expired lease must be claimable again";
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(again->function_id, f.id);
  EXPECT_EQ(again->attempts, 2);
  EXPECT_EQ(again->claimed_by, "w2");
  ASSERT_OK_AND_ASSIGN(nothing, node.claim_compile_job("w3", kMinute));
  EXPECT_FALSE(nothing);
}

TEST_P(StoreTest, QueueStats) {
  ASSERT_OK_AND_ASSIGN(empty, store().compile_queue_stats());
  EXPECT_EQ(empty.name, "compile");
  EXPECT_EQ(empty.pending, 0);
  EXPECT_EQ(empty.oldest_pending_at, 0);

  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(store().create_function(new_function("s" + std::to_string(i), "source!")));
  }
  ASSERT_OK_AND_ASSIGN(claimed, store().claim_compile_job("w1", kMinute));
  ASSERT_OK_AND_ASSIGN(stats, store().compile_queue_stats());
  EXPECT_EQ(stats.pending, 3);
  EXPECT_EQ(stats.running, 1);
  ASSERT_EQ(stats.jobs.size(), 4u);
  EXPECT_EQ(stats.jobs[0].id, claimed->id);
  EXPECT_EQ(stats.jobs[0].state, CompileJobState::kRunning);
  EXPECT_EQ(stats.jobs[0].claimed_by, "w1");
  EXPECT_EQ(stats.oldest_pending_at, stats.jobs[1].enqueued_at);
  for (size_t i = 0; i < stats.jobs.size(); ++i) {
    EXPECT_EQ(stats.jobs[i].function_name, "s" + std::to_string(i));
    EXPECT_TRUE(stats.jobs[i].source.empty()) << "stats must not carry sources";
    if (i > 0) {
      EXPECT_LE(stats.jobs[i - 1].enqueued_at, stats.jobs[i].enqueued_at);
    }
  }
}

TEST_P(StoreTest, QueueStatsListsAtMost100Jobs) {
  for (int i = 0; i < 105; ++i) {
    ASSERT_OK(store().create_function(new_function("m" + std::to_string(i))));
  }
  ASSERT_OK_AND_ASSIGN(stats, store().compile_queue_stats());
  EXPECT_EQ(stats.pending, 105);
  ASSERT_EQ(stats.jobs.size(), 100u);
  EXPECT_EQ(stats.jobs.front().function_name, "m0");
  EXPECT_EQ(stats.jobs.back().function_name, "m99");
}

// --- executions ----------------------------------------------------------------------------------

TEST_P(StoreTest, ExecutionRoundTrip) {
  Execution ok = execution("f-1", 1'700'000'000'000'000);
  Execution failed = execution("f-1", 1'700'000'000'000'001, false);
  failed.trigger = "http";
  failed.logs = "";
  std::vector<Execution> batch = {ok, failed};
  ASSERT_OK(store().insert_executions(batch));
  for (const Execution& want : batch) {
    ASSERT_OK_AND_ASSIGN(got, store().get_execution(want.id));
    EXPECT_EQ(got.id, want.id);
    EXPECT_EQ(got.function_id, want.function_id);
    EXPECT_EQ(got.status, want.status);
    EXPECT_EQ(got.input, want.input);
    EXPECT_EQ(got.output, want.output);
    EXPECT_EQ(got.error.has_value(), want.error.has_value());
    if (got.error && want.error) {
      EXPECT_EQ(got.error->type, want.error->type);
      EXPECT_EQ(got.error->message, want.error->message);
    }
    EXPECT_EQ(got.logs, want.logs);
    EXPECT_DOUBLE_EQ(got.duration_ms, want.duration_ms);
    EXPECT_EQ(got.started_at, want.started_at);
    EXPECT_EQ(got.finished_at, want.finished_at);
    EXPECT_EQ(got.trigger, want.trigger);
  }
  expect_error(store().get_execution(new_uuid()), ErrorCode::kExecutionNotFound);
  ASSERT_OK(store().insert_executions({}));
}

TEST_P(StoreTest, ReinsertingABatchIsHarmless) {
  std::vector<Execution> batch = {execution("f", 1), execution("f", 2)};
  ASSERT_OK(store().insert_executions(batch));
  ASSERT_OK(store().insert_executions(batch));
  ASSERT_OK_AND_ASSIGN(page, store().list_executions("f", {}));
  EXPECT_EQ(page.items.size(), 2u);
}

TEST_P(StoreTest, ExecutionsListNewestFirstAcrossPagesWithTies) {
  // 45 executions over 15 distinct start times (ties broken by id), plus another function's.
  std::vector<Execution> batch;
  for (int i = 0; i < 45; ++i) batch.push_back(execution("mine", 1000 + (i % 15)));
  batch.push_back(execution("other", 1005));
  ASSERT_OK(store().insert_executions(batch));

  std::vector<Execution> want(batch.begin(), batch.end() - 1);
  std::sort(want.begin(), want.end(), [](const Execution& a, const Execution& b) {
    return a.started_at != b.started_at ? a.started_at > b.started_at : a.id > b.id;
  });
  std::vector<std::string> want_ids;
  for (const Execution& e : want) want_ids.push_back(e.id);

  std::vector<std::string> seen;
  PageRequest req;
  req.limit = 4;
  while (true) {
    ASSERT_OK_AND_ASSIGN(page, store().list_executions("mine", req));
    for (const Execution& e : page.items) seen.push_back(e.id);
    if (!page.next_cursor) break;
    req.cursor = page.next_cursor;
    ASSERT_LT(seen.size(), 100u);
  }
  EXPECT_EQ(seen, want_ids);
  ASSERT_OK_AND_ASSIGN(none, store().list_executions("nobody", {}));
  EXPECT_TRUE(none.items.empty());
  EXPECT_FALSE(none.next_cursor);
}

TEST_P(StoreTest, BatchInsertOf1000) {
  std::vector<Execution> batch;
  int64_t t0 = 1'700'000'000'000'000;
  for (int i = 0; i < 1000; ++i) batch.push_back(execution("bulk", t0 + i, i % 10 != 0));
  auto start = std::chrono::steady_clock::now();
  ASSERT_OK(store().insert_executions(batch));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ rate     ] %s: 1000-row batch in %.2f ms (%.0f rows/s)\n", GetParam().name.c_str(),
              secs * 1e3, 1000 / secs);

  size_t count = 0;
  PageRequest req;
  req.limit = 200;
  int64_t prev = INT64_MAX;
  while (true) {
    ASSERT_OK_AND_ASSIGN(page, store().list_executions("bulk", req));
    for (const Execution& e : page.items) {
      EXPECT_LT(e.started_at, prev);
      prev = e.started_at;
    }
    count += page.items.size();
    if (!page.next_cursor) break;
    req.cursor = page.next_cursor;
  }
  EXPECT_EQ(count, 1000u);
}

TEST_P(StoreTest, ConcurrentWritersAndReaders) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(new_function("busy")));
  constexpr int kThreads = 8;
  constexpr int kBatches = 25;
  constexpr int kPerBatch = 20;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<Execution> batch;
        for (int i = 0; i < kPerBatch; ++i) {
          batch.push_back(execution(f.id, (t * kBatches + b) * kPerBatch + i));
        }
        if (!store().insert_executions(batch).ok()) ++failures;
        // Read-your-writes from another connection: the committed batch is visible.
        auto got = store().get_execution(batch.back().id);
        if (!got.ok() || got->id != batch.back().id) ++failures;
        PageRequest req;
        req.limit = 10;
        auto page = store().list_executions(f.id, req);
        if (!page.ok() || page->items.empty()) ++failures;
        if (!store().get_function("busy").ok()) ++failures;
        if (!store().compile_queue_stats().ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);

  size_t count = 0;
  PageRequest req;
  req.limit = 200;
  while (true) {
    ASSERT_OK_AND_ASSIGN(page, store().list_executions(f.id, req));
    count += page.items.size();
    if (!page.next_cursor) break;
    req.cursor = page.next_cursor;
  }
  EXPECT_EQ(count, static_cast<size_t>(kThreads * kBatches * kPerBatch));
}

TEST_P(StoreTest, ConcurrentClaimsHandOutEachJobOnce) {
  constexpr int kJobs = 40;
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_OK(store().create_function(new_function("c" + std::to_string(i))));
  }
  std::mutex mu;
  std::map<std::string, int> claims;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      while (true) {
        auto job = store().claim_compile_job("w" + std::to_string(t), kMinute);
        if (!job.ok()) {
          ++failures;
          return;
        }
        if (!*job) return;
        {
          std::lock_guard lock(mu);
          claims[(*job)->id]++;
        }
        if (!store().complete_compile_job(**job, compiled("w")).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(claims.size(), static_cast<size_t>(kJobs));
  for (const auto& [id, n] : claims) EXPECT_EQ(n, 1) << id;
  PageRequest req;
  req.limit = 200;
  ASSERT_OK_AND_ASSIGN(page, store().list_functions(req));
  for (const Function& fn : page.items) EXPECT_EQ(fn.status, FunctionStatus::kReady) << fn.name;
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::ValuesIn(store_backends()),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace nil::store::testing
