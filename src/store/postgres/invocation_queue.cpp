// PostgresStore: the async invocation queue (the invocations table) and its dead letters.
//
// The model (docs/storage.md, "The invocation queue"): an enqueue writes the queue row and the
// QUEUED execution record in one transaction. A claim leases due rows to a worker until
// due_at = now + lease and bumps `claims`, the fence: renewals and completions name the claim
// they hold and match nothing once another claim took the row over (its lease expired), so a
// late finisher never overwrites a newer attempt. A RUNNING row whose lease ran out is claimable
// like a QUEUED one; its lost attempt is recorded with error "lease_expired". A finished
// invocation's row is deleted; a dead one stays, state DEAD, as a dead letter.
//
// The statements are SQLite's (src/store/sqlite/invocation_queue.cpp), with the row locks that
// SQLite's single writer made unnecessary. Several nodes claim at once: the claim's SELECT takes
// FOR UPDATE SKIP LOCKED, so each claimer locks different due rows instead of queueing behind
// the first one's locks, and the rows stay locked until its UPDATEs commit. A completion, a
// redrive and a claim of the same row serialize on its row lock; under READ COMMITTED a
// statement that waited re-checks its WHERE (claims = the fence, state) against the row as the
// other transaction committed it, so a completion whose claim was taken over in the meantime
// matches nothing. Times come from the store's Clock, never the server's now().
#include <boost/json.hpp>

#include "common/util.h"
#include "store/cursor.h"
#include "store/errors.h"
#include "store/paging.h"
#include "store/postgres/store_impl.h"

namespace nil::store::postgres {
namespace {

namespace json = boost::json;

// One element of the attempts array; finished_at 0: still running (null).
std::string attempt_json(int64_t attempt, int64_t started_at, int64_t finished_at,
                         const std::optional<ExecutionError>& error) {
  json::object o;
  o["attempt"] = attempt;
  o["startedAt"] = started_at;
  if (finished_at != 0) {
    o["finishedAt"] = finished_at;
  } else {
    o["finishedAt"] = nullptr;
  }
  if (error) {
    o["error"] = json::object{{"type", error->type}, {"message", error->message}};
  } else {
    o["error"] = nullptr;
  }
  return json::serialize(o);
}

std::string appended(std::string_view array, std::string_view element) {
  std::string out;
  if (array.size() < 2 || array == "[]") {
    out = "[";
  } else {
    out.assign(array.substr(0, array.size() - 1));
    out += ',';
  }
  out += element;
  out += ']';
  return out;
}

#define NIL_INVOCATION_COLUMNS                                                               \
  "id, function_id, input, user_id, username, role, origin, callback_url, attempt, claims, " \
  "enqueued_at, state, attempt_started_at, history"

struct Row {
  InvocationClaim claim;
  std::string state;
  int64_t attempt_started_at = 0;
  std::string history;
};

Row read_row(const Query& q) {
  Row r;
  InvocationClaim& c = r.claim;
  c.id = q.text(0);
  c.function_id = q.text(1);
  c.input = q.text(2);
  c.user_id = q.opt_text(3);
  c.username = q.text(4);
  c.role = q.text(5);
  c.origin = q.text(6);
  c.callback_url = q.opt_text(7);
  c.attempt = q.int64(8);
  c.claim = q.int64(9);
  c.enqueued_at = q.int64(10);
  r.state = q.text(11);
  r.attempt_started_at = q.int64(12);
  r.history = q.text(13);
  return r;
}

#define NIL_DEAD_LETTER_COLUMNS \
  "id, function_id, input, error_type, error_message, attempt, enqueued_at, dead_at"

DeadLetter read_dead_letter(const Query& q) {
  DeadLetter d;
  d.execution_id = q.text(0);
  d.function_id = q.text(1);
  d.input = q.text(2);
  d.error = ExecutionError{q.text(3), q.text(4)};
  d.attempts = q.int64(5);
  d.enqueued_at = q.int64(6);
  d.dead_at = q.int64(7);
  return d;
}

// The record of a redriven invocation goes back to QUEUED, its history kept.
Expected<void> requeue_dead(Connection& c, std::string_view id, int64_t now) {
  {
    auto q =
        NIL_TRY(c.query("UPDATE invocations SET state = 'QUEUED', attempt = 0, due_at = ?2, "
                        "enqueued_at = ?2, dead_at = NULL, lease_owner = NULL WHERE id = ?1"));
    q.bind(1, id).bind(2, now);
    NIL_TRY_VOID(q.run());
  }
  auto q =
      NIL_TRY(c.query("UPDATE executions SET status = 'QUEUED', output = NULL, error_type = NULL, "
                      "error_message = NULL, finished_at = 0 WHERE id = ?1"));
  q.bind(1, id);
  return q.run();
}

}  // namespace

Expected<Execution> PostgresStore::enqueue_invocation(const NewInvocation& inv) {
  return db_.write([&](Connection& c) -> Expected<Execution> {
    int64_t now = clock_.now_micros();
    Execution e;
    e.id = new_uuid_v7();
    e.function_id = inv.function_id;
    e.status = ExecutionStatus::kQueued;
    e.input = inv.input;
    e.started_at = now;
    e.trigger = "queue";
    e.user_id = inv.user_id;
    e.attempts = "[]";
    {
      auto q = NIL_TRY(
          c.query("INSERT INTO invocations (id, function_id, state, input, user_id, username, "
                  "role, origin, callback_url, attempt, claims, due_at, enqueued_at, history) "
                  "VALUES (?1, ?2, 'QUEUED', ?3, ?4, ?5, ?6, ?7, ?8, 0, 0, ?9, ?9, '[]')"));
      q.bind(1, e.id).bind(2, inv.function_id).bind(3, inv.input).bind(4, inv.user_id);
      q.bind(5, inv.username).bind(6, inv.role).bind(7, inv.origin).bind(8, inv.callback_url);
      q.bind(9, now);
      NIL_TRY_VOID(q.run());
    }
    auto q = NIL_TRY(c.query("INSERT INTO executions (" NIL_EXECUTION_COLUMNS
                             ") VALUES (?1, ?2, 'QUEUED', ?3, NULL, NULL, NULL, '', 0, ?4, 0, "
                             "'queue', NULL, ?5, '[]')"));
    q.bind(1, e.id).bind(2, e.function_id).bind(3, e.input).bind(4, now).bind(5, e.user_id);
    NIL_TRY_VOID(q.run());
    return e;
  });
}

Expected<std::vector<InvocationClaim>> PostgresStore::claim_invocations(std::string_view worker,
                                                                        size_t max,
                                                                        int64_t lease_micros) {
  return db_.write([&](Connection& c) -> Expected<std::vector<InvocationClaim>> {
    int64_t now = clock_.now_micros();
    std::vector<Row> rows;
    {
      // The partial index's own condition, so the planner reads invocations_due. SKIP LOCKED:
      // rows another claimer (or a completion, a redrive) holds are passed over, not waited for.
      auto q = NIL_TRY(c.query("SELECT " NIL_INVOCATION_COLUMNS
                               " FROM invocations WHERE state IN ('QUEUED', 'RUNNING') AND "
                               "due_at <= ?1 ORDER BY due_at, id LIMIT ?2 FOR UPDATE SKIP LOCKED"));
      q.bind(1, now).bind(2, static_cast<int64_t>(max));
      while (NIL_TRY(q.step())) rows.push_back(read_row(q));
    }
    std::vector<InvocationClaim> out;
    out.reserve(rows.size());
    for (Row& r : rows) {
      if (r.state == "RUNNING") {
        // Its worker stopped renewing (the node died): the attempt is over, unfinished.
        r.history = appended(r.history, attempt_json(r.claim.attempt, r.attempt_started_at, 0,
                                                     ExecutionError{"lease_expired",
                                                                    "the attempt's lease expired "
                                                                    "before it finished (its node "
                                                                    "stopped)"}));
      }
      InvocationClaim& cl = r.claim;
      cl.attempt += 1;
      cl.claim += 1;
      cl.started_at = now;
      {
        auto q = NIL_TRY(c.query(
            "UPDATE invocations SET state = 'RUNNING', attempt = ?2, claims = ?3, due_at = ?4, "
            "lease_owner = ?5, attempt_started_at = ?6, history = ?7 WHERE id = ?1"));
        q.bind(1, cl.id).bind(2, cl.attempt).bind(3, cl.claim).bind(4, now + lease_micros);
        q.bind(5, worker).bind(6, now).bind(7, r.history);
        NIL_TRY_VOID(q.run());
      }
      {
        auto q = NIL_TRY(
            c.query("UPDATE executions SET status = 'RUNNING', attempts = ?2 WHERE id = ?1"));
        q.bind(1, cl.id).bind(2, appended(r.history, attempt_json(cl.attempt, now, 0, {})));
        NIL_TRY_VOID(q.run());
      }
      out.push_back(std::move(cl));
    }
    return out;
  });
}

Expected<std::vector<bool>> PostgresStore::renew_invocation_leases(
    std::span<const InvocationClaim> claims, int64_t lease_micros) {
  if (claims.empty()) return std::vector<bool>{};
  return db_.write([&](Connection& c) -> Expected<std::vector<bool>> {
    std::vector<bool> held;
    int64_t until = clock_.now_micros() + lease_micros;
    auto q =
        NIL_TRY(c.query("UPDATE invocations SET due_at = ?3 "
                        "WHERE id = ?1 AND claims = ?2 AND state = 'RUNNING'"));
    for (const InvocationClaim& cl : claims) {
      q.bind(1, cl.id).bind(2, cl.claim).bind(3, until);
      NIL_TRY_VOID(q.run());
      held.push_back(c.changes() == 1);
      q.reset();
    }
    return held;
  });
}

Expected<std::vector<bool>> PostgresStore::complete_invocations(
    std::span<const InvocationOutcome> outcomes) {
  if (outcomes.empty()) return std::vector<bool>{};
  return db_.write([&](Connection& c) -> Expected<std::vector<bool>> {
    std::vector<bool> applied;
    for (const InvocationOutcome& o : outcomes) {
      Row r;
      {
        // FOR UPDATE: the row stays this claim's until commit; a claimer that took it over
        // first has changed `claims`, and the re-checked WHERE finds nothing.
        auto q = NIL_TRY(c.query("SELECT " NIL_INVOCATION_COLUMNS
                                 " FROM invocations WHERE id = ?1 AND claims = ?2 AND "
                                 "state = 'RUNNING' FOR UPDATE"));
        q.bind(1, o.id).bind(2, o.claim);
        if (!NIL_TRY(q.step())) {
          applied.push_back(false);  // fenced out: a newer claim owns the row, or it is gone
          continue;
        }
        r = read_row(q);
      }
      const Execution& rec = o.record;
      using Next = InvocationOutcome::Next;
      std::string history =
          o.next == Next::kDefer
              ? r.history
              : appended(r.history, attempt_json(r.claim.attempt, r.attempt_started_at,
                                                 rec.finished_at, rec.error));
      switch (o.next) {
        case Next::kDone: {
          auto q = NIL_TRY(c.query("DELETE FROM invocations WHERE id = ?1"));
          q.bind(1, o.id);
          NIL_TRY_VOID(q.run());
          break;
        }
        case Next::kRetry:
        case Next::kDefer: {
          auto q = NIL_TRY(
              c.query("UPDATE invocations SET state = 'QUEUED', due_at = ?2, lease_owner = NULL, "
                      "attempt = ?3, history = ?4, error_type = ?5, error_message = ?6 "
                      "WHERE id = ?1"));
          q.bind(1, o.id).bind(2, o.not_before);
          q.bind(3, o.next == Next::kDefer ? r.claim.attempt - 1 : r.claim.attempt);
          q.bind(4, history);
          if (rec.error) {
            q.bind(5, rec.error->type).bind(6, rec.error->message);
          } else {
            q.bind_null(5).bind_null(6);
          }
          NIL_TRY_VOID(q.run());
          break;
        }
        case Next::kDead: {
          auto q = NIL_TRY(
              c.query("UPDATE invocations SET state = 'DEAD', lease_owner = NULL, history = ?2, "
                      "error_type = ?3, error_message = ?4, dead_at = ?5 WHERE id = ?1"));
          ExecutionError err = rec.error.value_or(ExecutionError{"internal", "failed"});
          q.bind(1, o.id).bind(2, history).bind(3, err.type).bind(4, err.message);
          q.bind(5, rec.finished_at);
          NIL_TRY_VOID(q.run());
          break;
        }
      }
      // The record: final for kDone and kDead; QUEUED again (with the attempt's logs and error
      // shown) for kRetry; as before the claim for kDefer.
      if (o.next == Next::kDefer) {
        auto q = NIL_TRY(
            c.query("UPDATE executions SET status = 'QUEUED', attempts = ?2 WHERE id = ?1"));
        q.bind(1, o.id).bind(2, history);
        NIL_TRY_VOID(q.run());
      } else {
        auto q =
            NIL_TRY(c.query("UPDATE executions SET status = ?2, output = ?3, error_type = ?4, "
                            "error_message = ?5, logs = ?6, duration_ms = ?7, finished_at = ?8, "
                            "host_calls = ?9, attempts = ?10 WHERE id = ?1"));
        ExecutionStatus status = o.next == Next::kRetry  ? ExecutionStatus::kQueued
                                 : o.next == Next::kDead ? ExecutionStatus::kFailed
                                                         : rec.status;
        bool final = status == ExecutionStatus::kSucceeded || status == ExecutionStatus::kFailed;
        q.bind(1, o.id).bind(2, to_string(status)).bind(3, rec.output);
        if (rec.error) {
          q.bind(4, rec.error->type).bind(5, rec.error->message);
        } else {
          q.bind_null(4).bind_null(5);
        }
        q.bind(6, rec.logs).bind(7, rec.duration_ms).bind(8, final ? rec.finished_at : 0);
        q.bind(9, rec.host_calls).bind(10, history);
        NIL_TRY_VOID(q.run());
      }
      applied.push_back(true);
    }
    return applied;
  });
}

Expected<Page<DeadLetter>> PostgresStore::list_dead_letters(
    std::string_view function_id, const PageRequest& page,
    const std::optional<std::string>& error_type) {
  // The same keyset cursor as execution listings: (dead_at, id), oldest first.
  auto after = NIL_TRY(cursor::decode_execution(page.cursor));
  return db_.read([&](Connection& c) -> Expected<Page<DeadLetter>> {
    // Two statements rather than one with a nullable key keeps each plan on invocations_dead
    // (and PostgreSQL types every parameter: each is used where its type is known).
    auto q = NIL_TRY(c.query(
        after ? "SELECT " NIL_DEAD_LETTER_COLUMNS
                " FROM invocations WHERE function_id = ?1 AND state = 'DEAD' "
                "AND (dead_at > ?2 OR (dead_at = ?2 AND id > ?3)) "
                "AND (?5::TEXT IS NULL OR error_type = ?5::TEXT) ORDER BY dead_at, id LIMIT ?4"
              : "SELECT " NIL_DEAD_LETTER_COLUMNS
                " FROM invocations WHERE function_id = ?1 AND state = 'DEAD' "
                "AND (?3::TEXT IS NULL OR error_type = ?3::TEXT) ORDER BY dead_at, id LIMIT ?2"));
    PageBuilder<DeadLetter> out(page.limit);
    q.bind(1, function_id);
    if (after) {
      q.bind(2, after->started_at).bind(3, after->id).bind(4, out.fetch_limit());
      q.bind(5, error_type);
    } else {
      q.bind(2, out.fetch_limit()).bind(3, error_type);
    }
    while (NIL_TRY(q.step())) {
      if (out.full()) {
        const DeadLetter& last = out.items().back();
        out.more_after(cursor::encode_execution({last.dead_at, last.execution_id}));
        break;
      }
      out.add(read_dead_letter(q));
    }
    return std::move(out).take();
  });
}

Expected<void> PostgresStore::redrive_dead_letter(std::string_view function_id,
                                                  std::string_view execution_id) {
  return db_.write([&](Connection& c) -> Expected<void> {
    {
      auto q =
          NIL_TRY(c.query("SELECT 1 FROM invocations WHERE id = ?1 AND function_id = ?2 "
                          "AND state = 'DEAD' FOR UPDATE"));
      q.bind(1, execution_id).bind(2, function_id);
      if (!NIL_TRY(q.step())) return errors::dead_letter_not_found(execution_id);
    }
    return requeue_dead(c, execution_id, clock_.now_micros());
  });
}

Expected<int64_t> PostgresStore::redrive_dead_letters(
    std::string_view function_id, const std::optional<std::string>& error_type) {
  return db_.write([&](Connection& c) -> Expected<int64_t> {
    std::vector<std::string> ids;
    {
      auto q =
          NIL_TRY(c.query("SELECT id FROM invocations WHERE function_id = ?1 AND state = 'DEAD' "
                          "AND (?2::TEXT IS NULL OR error_type = ?2::TEXT) FOR UPDATE"));
      q.bind(1, function_id).bind(2, error_type);
      while (NIL_TRY(q.step())) ids.push_back(q.text(0));
    }
    int64_t now = clock_.now_micros();
    for (const auto& id : ids) NIL_TRY_VOID(requeue_dead(c, id, now));
    return static_cast<int64_t>(ids.size());
  });
}

Expected<void> PostgresStore::delete_dead_letter(std::string_view function_id,
                                                 std::string_view execution_id) {
  return db_.write([&](Connection& c) -> Expected<void> {
    auto q = NIL_TRY(
        c.query("DELETE FROM invocations WHERE id = ?1 AND function_id = ?2 AND state = 'DEAD'"));
    q.bind(1, execution_id).bind(2, function_id);
    NIL_TRY_VOID(q.run());
    if (c.changes() == 0) return errors::dead_letter_not_found(execution_id);
    return {};
  });
}

Expected<int64_t> PostgresStore::purge_dead_letters(std::string_view function_id) {
  return db_.write([&](Connection& c) -> Expected<int64_t> {
    auto q = NIL_TRY(c.query("DELETE FROM invocations WHERE function_id = ?1 AND state = 'DEAD'"));
    q.bind(1, function_id);
    NIL_TRY_VOID(q.run());
    return c.changes();
  });
}

}  // namespace nil::store::postgres
