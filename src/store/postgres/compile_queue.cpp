// PostgresStore: the compile queue (the compile_jobs table) and its lease model.
//
// A claim leases a job to one worker until lease_until. The worker renews the lease while it
// compiles (renew_compile_lease, a heartbeat); a job whose lease ran out is claimable by any
// worker on any node, exactly like a PENDING one. Nothing requeues RUNNING jobs wholesale: with
// several nodes on one database, a node starting up cannot tell a dead node's job from a live
// one's, but an expired lease can. `attempts` counts claims and identifies the current one, so
// a renewal from a worker whose claim was taken over matches no row.
#include "common/util.h"
#include "store/postgres/store_impl.h"

namespace nil::store::postgres {
namespace {

constexpr int64_t kMaxQueueStatsJobs = 100;

}  // namespace

Expected<void> enqueue_compile_job(Connection& c, const Function& f, int64_t now) {
  int64_t seq = NIL_TRY(next_counter(c, "compile_jobs_seq"));
  auto q = NIL_TRY(
      c.query("INSERT INTO compile_jobs (id, seq, function_id, function_version, language, state, "
              "attempts, enqueued_at) VALUES (?1, ?2, ?3, ?4, ?5, 'PENDING', 0, ?6)"));
  q.bind(1, new_uuid()).bind(2, seq).bind(3, f.id).bind(4, f.version).bind(5, f.language);
  q.bind(6, now);
  return q.run();
}

Expected<std::optional<CompileJob>> PostgresStore::claim_compile_job(std::string_view worker,
                                                                     int64_t lease_micros) {
  // FOR UPDATE SKIP LOCKED: concurrent claimers (threads, nodes) each lock a different job
  // instead of queueing behind the first one's row lock; the row stays locked until the UPDATEs
  // below commit, so no two claims take the same job.
  return db_.write([&](Connection& c) -> Expected<std::optional<CompileJob>> {
    int64_t now = clock_.now_micros();
    CompileJob job;
    {
      auto q = NIL_TRY(
          c.query("SELECT " NIL_JOB_COLUMNS ", f.source FROM compile_jobs j "
                  "JOIN functions f ON f.id = j.function_id "
                  "WHERE j.state = 'PENDING' OR (j.state = 'RUNNING' AND j.lease_until < ?1) "
                  "ORDER BY j.enqueued_at, j.seq LIMIT 1 FOR UPDATE OF j SKIP LOCKED"));
      q.bind(1, now);
      if (!NIL_TRY(q.step())) return std::optional<CompileJob>{};
      job = NIL_TRY(read_job(q));
      job.source = q.text(11);
    }
    job.state = CompileJobState::kRunning;
    job.attempts += 1;
    job.claimed_by = std::string(worker);
    job.claimed_at = now;
    job.lease_until = now + lease_micros;
    {
      auto q =
          NIL_TRY(c.query("UPDATE compile_jobs SET state = 'RUNNING', attempts = ?5, "
                          "claimed_by = ?2, claimed_at = ?3, lease_until = ?4 WHERE id = ?1"));
      q.bind(1, job.id).bind(2, job.claimed_by).bind(3, now).bind(4, job.lease_until);
      q.bind(5, int64_t{job.attempts});
      NIL_TRY_VOID(q.run());
    }
    {
      auto q = NIL_TRY(
          c.query("UPDATE functions SET status = 'COMPILING' WHERE id = ?1 AND version = ?2"));
      q.bind(1, job.function_id).bind(2, job.function_version);
      NIL_TRY_VOID(q.run());
    }
    return std::optional<CompileJob>(std::move(job));
  });
}

Expected<bool> PostgresStore::renew_compile_lease(const CompileJob& job, int64_t lease_micros) {
  return db_.write([&](Connection& c) -> Expected<bool> {
    auto q =
        NIL_TRY(c.query("UPDATE compile_jobs SET lease_until = ?3 "
                        "WHERE id = ?1 AND attempts = ?2 AND state = 'RUNNING'"));
    q.bind(1, job.id).bind(2, int64_t{job.attempts}).bind(3, clock_.now_micros() + lease_micros);
    NIL_TRY_VOID(q.run());
    return c.changes() == 1;
  });
}

Expected<bool> PostgresStore::release_compile_job(const CompileJob& job) {
  return db_.write([&](Connection& c) -> Expected<bool> {
    {
      auto q =
          NIL_TRY(c.query("UPDATE compile_jobs SET state = 'PENDING', claimed_by = NULL, "
                          "claimed_at = NULL, lease_until = NULL "
                          "WHERE id = ?1 AND attempts = ?2 AND state = 'RUNNING'"));
      q.bind(1, job.id).bind(2, int64_t{job.attempts});
      NIL_TRY_VOID(q.run());
      if (c.changes() != 1) return false;
    }
    auto q =
        NIL_TRY(c.query("UPDATE functions SET status = 'PENDING' "
                        "WHERE id = ?1 AND version = ?2 AND status = 'COMPILING'"));
    q.bind(1, job.function_id).bind(2, job.function_version);
    NIL_TRY_VOID(q.run());
    return true;
  });
}

Expected<void> PostgresStore::complete_compile_job(const CompileJob& job, const CompileOutcome& o) {
  return db_.write([&](Connection& c) -> Expected<void> {
    {
      auto q = NIL_TRY(c.query("DELETE FROM compile_jobs WHERE id = ?1"));
      q.bind(1, job.id);
      NIL_TRY_VOID(q.run());
    }
    auto q =
        NIL_TRY(c.query("UPDATE functions SET status = ?3, wasm = ?4, wasm_sha256 = ?5, "
                        "compile_error = ?6, updated_at = ?7 WHERE id = ?1 AND version = ?2"));
    q.bind(1, job.function_id).bind(2, job.function_version);
    if (o.ok) {
      q.bind(3, "READY").bind_blob(4, o.wasm);
      q.bind(5, o.wasm_sha256.empty() ? sha256_hex(o.wasm) : o.wasm_sha256);
      q.bind_null(6);
    } else {
      q.bind(3, "FAILED").bind_null(4).bind_null(5).bind(6, o.error);
    }
    q.bind(7, clock_.now_micros());
    return q.run();  // 0 rows when a newer version (or a delete) superseded this job
  });
}

Expected<QueueStats> PostgresStore::compile_queue_stats() {
  return db_.read(
      [&](Connection& c) -> Expected<QueueStats> {
        QueueStats s;
        s.name = "compile";
        {
          auto q =
              NIL_TRY(c.query("SELECT "
                              "COALESCE(SUM(CASE WHEN state = 'PENDING' THEN 1 ELSE 0 END), 0), "
                              "COALESCE(SUM(CASE WHEN state = 'RUNNING' THEN 1 ELSE 0 END), 0), "
                              "COALESCE(MIN(CASE WHEN state = 'PENDING' THEN enqueued_at END), 0) "
                              "FROM compile_jobs"));
          NIL_TRY(q.step());
          s.pending = q.int64(0);
          s.running = q.int64(1);
          s.oldest_pending_at = q.int64(2);
        }
        auto q = NIL_TRY(c.query("SELECT " NIL_JOB_COLUMNS " FROM compile_jobs j "
                                 "JOIN functions f ON f.id = j.function_id "
                                 "ORDER BY j.enqueued_at, j.seq LIMIT ?1"));
        q.bind(1, kMaxQueueStatsJobs);
        while (NIL_TRY(q.step())) s.jobs.push_back(NIL_TRY(read_job(q)));
        return s;
      },
      /*snapshot=*/true);
}

}  // namespace nil::store::postgres
