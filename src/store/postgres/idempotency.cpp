// PostgresStore: idempotency keys (the idempotency_keys table, schema v2), the storage behind the
// API's Idempotency-Key filter (src/api/idempotency.h). Store's "idempotency keys" section says
// what each method promises; the statements are SQLite's (src/store/sqlite/idempotency.cpp) but
// for the claim's RETURNING and a purge by primary key (PostgreSQL has no rowid).
//
// Concurrent claims of one key, from any node: INSERT ... ON CONFLICT waits for a concurrent
// inserter of the same key to commit, then evaluates its DO UPDATE ... WHERE against the
// committed row (READ COMMITTED), so exactly one claim inserts or takes the key over and the
// others change nothing and read the winner's row.
#include "common/util.h"
#include "store/postgres/store_impl.h"

namespace nil::store::postgres {
namespace {

#define NIL_IDEMPOTENCY_COLUMNS                                                        \
  "scope, idem_key, fingerprint, state, claim_id, status, headers, body, created_at, " \
  "expires_at, locked_until"

IdempotencyRecord read_record(const Query& q) {
  IdempotencyRecord r;
  r.scope = q.text(0);
  r.key = q.text(1);
  r.fingerprint = q.text(2);
  r.done = q.text(3) == "DONE";
  r.claim_id = q.text(4);
  r.status = q.is_null(5) ? 0 : static_cast<int>(q.int64(5));
  r.headers = q.text(6);
  r.body = q.text(7);  // BYTEA, decoded
  r.created_at = q.int64(8);
  r.expires_at = q.int64(9);
  r.locked_until = q.int64(10);
  return r;
}

}  // namespace

Expected<IdempotencyClaim> PostgresStore::claim_idempotency_key(std::string_view scope,
                                                                std::string_view key,
                                                                std::string_view fingerprint,
                                                                int64_t ttl_micros,
                                                                int64_t lease_micros) {
  // One transaction: the upsert either takes the key (a new row, or one that expired or was
  // abandoned) and RETURNs it, or changes nothing, and the SELECT reads what is there now.
  return db_.write([&](Connection& c) -> Expected<IdempotencyClaim> {
    const int64_t now = clock_.now_micros();
    IdempotencyClaim out;
    {
      auto q = NIL_TRY(c.query(
          "INSERT INTO idempotency_keys (" NIL_IDEMPOTENCY_COLUMNS
          ") VALUES (?1, ?2, ?3, 'RUNNING', ?4, NULL, NULL, NULL, ?5, ?6, ?7) "
          "ON CONFLICT (scope, idem_key) DO UPDATE SET fingerprint = excluded.fingerprint, "
          "state = 'RUNNING', claim_id = excluded.claim_id, status = NULL, headers = NULL, "
          "body = NULL, created_at = excluded.created_at, expires_at = excluded.expires_at, "
          "locked_until = excluded.locked_until "
          "WHERE idempotency_keys.expires_at <= ?5 "
          "OR (idempotency_keys.state = 'RUNNING' AND idempotency_keys.locked_until <= ?5) "
          "RETURNING " NIL_IDEMPOTENCY_COLUMNS));
      q.bind(1, scope).bind(2, key).bind(3, fingerprint).bind(4, new_uuid());
      q.bind(5, now).bind(6, now + ttl_micros).bind(7, now + lease_micros);
      if (NIL_TRY(q.step())) {
        out.claimed = true;
        out.record = read_record(q);
        return out;
      }
    }
    // The key is held: the upsert locked the row (without changing it), so it stays as read
    // until this transaction ends.
    auto q = NIL_TRY(c.query("SELECT " NIL_IDEMPOTENCY_COLUMNS
                             " FROM idempotency_keys WHERE scope = ?1 AND idem_key = ?2"));
    q.bind(1, scope).bind(2, key);
    if (!NIL_TRY(q.step()))
      return make_error(ErrorCode::kStorageError, "idempotency key vanished inside its claim");
    out.record = read_record(q);
    return out;
  });
}

Expected<bool> PostgresStore::complete_idempotency_key(const IdempotencyRecord& claim, int status,
                                                       std::string_view headers,
                                                       std::string_view body) {
  return db_.write([&](Connection& c) -> Expected<bool> {
    auto q = NIL_TRY(
        c.query("UPDATE idempotency_keys SET state = 'DONE', status = ?4, headers = ?5, body = ?6 "
                "WHERE scope = ?1 AND idem_key = ?2 AND claim_id = ?3 AND state = 'RUNNING'"));
    q.bind(1, claim.scope).bind(2, claim.key).bind(3, claim.claim_id);
    q.bind(4, int64_t{status}).bind(5, headers).bind_blob(6, body);
    NIL_TRY_VOID(q.run());
    return c.changes() == 1;
  });
}

Expected<void> PostgresStore::release_idempotency_key(const IdempotencyRecord& claim) {
  return db_.write([&](Connection& c) -> Expected<void> {
    auto q = NIL_TRY(
        c.query("DELETE FROM idempotency_keys "
                "WHERE scope = ?1 AND idem_key = ?2 AND claim_id = ?3 AND state = 'RUNNING'"));
    q.bind(1, claim.scope).bind(2, claim.key).bind(3, claim.claim_id);
    return q.run();
  });
}

Expected<int64_t> PostgresStore::purge_idempotency_keys(int64_t max_rows) {
  // A bounded batch per transaction keeps locks short; the caller repeats while a batch comes
  // back full. By primary key (no rowid here); SKIP LOCKED passes over a key a claim holds right
  // now, and the outer WHERE re-checks expiry against the row as it is when deleted (a claim
  // may have taken the key over since the inner SELECT read it).
  return db_.write([&](Connection& c) -> Expected<int64_t> {
    auto q = NIL_TRY(
        c.query("DELETE FROM idempotency_keys WHERE (scope, idem_key) IN (SELECT scope, idem_key "
                "FROM idempotency_keys WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2 "
                "FOR UPDATE SKIP LOCKED) AND expires_at <= ?1"));
    q.bind(1, clock_.now_micros()).bind(2, max_rows);
    NIL_TRY_VOID(q.run());
    return c.changes();
  });
}

}  // namespace nil::store::postgres
