// Row → struct mapping for PostgresStore (the column lists are in store_impl.h).
#include "store/columns.h"
#include "store/errors.h"
#include "store/postgres/store_impl.h"

namespace nil::store::postgres {

using columns::split_lines;

Expected<Function> read_function(const Query& q, int64_t* seq) {
  Function f;
  f.id = q.text(0);
  f.name = q.text(1);
  f.language = q.text(2);
  f.status = NIL_TRY(columns::parse_function_status(q.text(3)));
  f.compile_error = q.opt_text(4);
  f.wasm_sha256 = q.opt_text(5);
  f.limits.timeout_ms = static_cast<uint32_t>(q.int64(6));
  f.limits.memory_mb = static_cast<uint32_t>(q.int64(7));
  f.version = q.int64(8);
  f.created_at = q.int64(9);
  f.updated_at = q.int64(10);
  if (seq != nullptr) *seq = q.int64(11);
  f.access.http_allow = split_lines(q.text(12));
  f.access.grants = split_lines(q.text(13));
  f.is_public = q.int64(14) != 0;
  f.owner_id = q.opt_text(15);
  f.managers = split_lines(q.text(16));
  f.retry = NIL_TRY(columns::parse_retry(q.text(17)));
  f.callback_secret = q.opt_text(18);
  f.limits.max_concurrency = static_cast<uint32_t>(q.int64(19));
  if (q.is_null(20)) {
    f.limits.max_queue_ms.reset();
  } else {
    f.limits.max_queue_ms = static_cast<uint32_t>(q.int64(20));
  }
  return f;
}

Expected<Execution> read_execution(const Query& q) {
  Execution e;
  e.id = q.text(0);
  e.function_id = q.text(1);
  e.status = NIL_TRY(columns::parse_execution_status(q.text(2)));
  e.input = q.text(3);
  e.output = q.opt_text(4);
  if (!q.is_null(5)) e.error = ExecutionError{q.text(5), q.text(6)};
  e.logs = q.text(7);
  e.duration_ms = q.real(8);
  e.started_at = q.int64(9);
  e.finished_at = q.int64(10);
  e.trigger = q.text(11);
  e.host_calls = q.opt_text(12);
  e.user_id = q.opt_text(13);
  e.attempts = q.opt_text(14);
  return e;
}

Expected<CompileJob> read_job(const Query& q) {
  CompileJob j;
  j.id = q.text(0);
  j.function_id = q.text(1);
  j.function_name = q.text(2);
  j.function_version = q.int64(3);
  j.language = q.text(4);
  j.state = NIL_TRY(columns::parse_job_state(q.text(5)));
  j.attempts = static_cast<int>(q.int64(6));
  j.claimed_by = q.text(7);
  j.enqueued_at = q.int64(8);
  j.claimed_at = q.int64(9);    // NULL reads as 0
  j.lease_until = q.int64(10);  // NULL reads as 0
  return j;
}

Environment read_environment(const Query& q, int64_t* seq) {
  Environment e;
  e.id = q.text(0);
  e.name = q.text(1);
  e.created_at = q.int64(2);
  e.updated_at = q.int64(3);
  if (seq != nullptr) *seq = q.int64(4);
  return e;
}

Expected<User> read_user(const Query& q, int64_t* seq) {
  User u;
  u.id = q.text(0);
  u.username = q.text(1);
  u.role = NIL_TRY(columns::parse_stored_role(q.text(2)));
  u.grants = split_lines(q.text(3));
  u.password_hash = q.text(4);
  u.created_at = q.int64(5);
  u.updated_at = q.int64(6);
  if (seq != nullptr) *seq = q.int64(7);
  return u;
}

ApiKey read_api_key(const Query& q) {
  ApiKey k;
  k.id = q.text(0);
  k.name = q.text(1);
  k.user_id = q.text(2);
  k.username = q.text(3);
  k.prefix = q.text(4);
  k.hash_hex = q.text(5);
  k.created_at = q.int64(6);
  if (!q.is_null(7)) k.expires_at = q.int64(7);
  if (!q.is_null(8)) k.last_used_at = q.int64(8);
  k.revoked = !q.is_null(9);
  return k;
}

Expected<int64_t> next_counter(Connection& c, const char* name) {
  // A sequence, not a counters row: nextval never blocks another transaction (a counters row
  // would serialize every create on its row lock until commit). Gaps are fine: cursors need
  // only increasing values.
  auto q = NIL_TRY(c.query("SELECT nextval(?1::regclass)"));
  q.bind(1, name);
  if (!NIL_TRY(q.step())) return errors::storage_error(std::string("missing sequence ") + name);
  return q.int64(0);
}

}  // namespace nil::store::postgres
