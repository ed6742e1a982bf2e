#include "store/postgres/migrations.h"

#include <string>

namespace nil::store::postgres {
namespace {

// Version 1: the whole schema of SQLite's versions 1–6 (src/store/sqlite/migrations.cpp says why
// each table and column exists). What differs:
//
// - Ordering keys are sequences (CREATE SEQUENCE) instead of SQLite's counters table: nextval
//   never waits for another transaction's commit.
// - Sources and modules are BYTEA; flags are BOOLEAN; times stay BIGINT microseconds.
// - executions.id is COLLATE "C": the listing's keyset (started_at, id) must order ids by bytes,
//   as SQLite does, whatever the database's default collation.
// - compile_jobs stays small (a job is deleted when it completes), so the claim's ordered scan
//   of compile_jobs_queue touches only live jobs however long the history.
constexpr const char* kV1 = R"sql(
CREATE SEQUENCE functions_seq;
CREATE SEQUENCE compile_jobs_seq;
CREATE SEQUENCE environments_seq;
CREATE SEQUENCE users_seq;
CREATE SEQUENCE groups_seq;
CREATE SEQUENCE api_keys_seq;

CREATE TABLE functions (
  id            TEXT PRIMARY KEY,
  seq           BIGINT NOT NULL UNIQUE,
  name          TEXT NOT NULL UNIQUE,
  language      TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('PENDING', 'COMPILING', 'READY', 'FAILED')),
  compile_error TEXT,
  source        BYTEA NOT NULL,
  wasm          BYTEA,
  wasm_sha256   TEXT,
  timeout_ms    BIGINT NOT NULL,
  memory_mb     BIGINT NOT NULL,
  version       BIGINT NOT NULL,
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL,
  http_allow    TEXT NOT NULL DEFAULT '',
  grants        TEXT NOT NULL DEFAULT '',
  public        BOOLEAN NOT NULL DEFAULT FALSE,
  owner_id      TEXT,
  managers      TEXT NOT NULL DEFAULT ''
);

CREATE TABLE compile_jobs (
  id               TEXT PRIMARY KEY,
  seq              BIGINT NOT NULL UNIQUE,
  function_id      TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
  function_version BIGINT NOT NULL,
  language         TEXT NOT NULL,
  state            TEXT NOT NULL CHECK (state IN ('PENDING', 'RUNNING')),
  attempts         BIGINT NOT NULL DEFAULT 0,
  claimed_by       TEXT,
  enqueued_at      BIGINT NOT NULL,
  claimed_at       BIGINT,
  lease_until      BIGINT
);
CREATE INDEX compile_jobs_queue ON compile_jobs (enqueued_at, seq);
CREATE INDEX compile_jobs_function ON compile_jobs (function_id);

CREATE TABLE executions (
  id            TEXT COLLATE "C" PRIMARY KEY,
  function_id   TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('SUCCEEDED', 'FAILED')),
  input         TEXT NOT NULL,
  output        TEXT,
  error_type    TEXT,
  error_message TEXT,
  logs          TEXT NOT NULL,
  duration_ms   DOUBLE PRECISION NOT NULL,
  started_at    BIGINT NOT NULL,
  finished_at   BIGINT NOT NULL,
  "trigger"     TEXT NOT NULL,
  host_calls    TEXT,
  user_id       TEXT
);
CREATE INDEX executions_by_function ON executions (function_id, started_at, id);

CREATE TABLE environments (
  id         TEXT PRIMARY KEY,
  seq        BIGINT NOT NULL UNIQUE,
  name       TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE environment_vars (
  environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
  position       BIGINT NOT NULL,
  key            TEXT NOT NULL,
  value          TEXT NOT NULL,
  secret         BOOLEAN NOT NULL,
  PRIMARY KEY (environment_id, key)
);

CREATE TABLE function_environments (
  function_id    TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
  position       BIGINT NOT NULL,
  environment_id TEXT NOT NULL REFERENCES environments (id),
  PRIMARY KEY (function_id, position)
);
CREATE INDEX function_environments_by_environment ON function_environments (environment_id);

CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  seq           BIGINT NOT NULL UNIQUE,
  username      TEXT NOT NULL UNIQUE,
  role          TEXT NOT NULL CHECK (role IN ('admin', 'dev')),
  grants        TEXT NOT NULL DEFAULT '',
  password_hash TEXT NOT NULL,
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL
);

CREATE TABLE groups (
  id         TEXT PRIMARY KEY,
  seq        BIGINT NOT NULL UNIQUE,
  name       TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL
);

CREATE TABLE group_members (
  group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  added_at BIGINT NOT NULL,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (user_id);

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  seq          BIGINT NOT NULL UNIQUE,
  name         TEXT NOT NULL,
  user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  prefix       TEXT NOT NULL,
  hash         TEXT NOT NULL,
  created_at   BIGINT NOT NULL,
  expires_at   BIGINT,
  last_used_at BIGINT,
  revoked_at   BIGINT
);
CREATE INDEX api_keys_by_prefix ON api_keys (prefix);
CREATE INDEX api_keys_by_user ON api_keys (user_id, seq);

CREATE TABLE sessions (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash   TEXT NOT NULL UNIQUE,
  csrf_hash    TEXT NOT NULL,
  created_at   BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL
);

CREATE TABLE function_allowed_users (
  function_id TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
  user_id     TEXT NOT NULL,
  position    BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (function_id, user_id)
);
CREATE TABLE function_allowed_groups (
  function_id TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
  group_id    TEXT NOT NULL,
  position    BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (function_id, group_id)
);
CREATE TABLE environment_allowed_users (
  environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
  user_id        TEXT NOT NULL,
  position       BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (environment_id, user_id)
);
CREATE TABLE environment_allowed_groups (
  environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
  group_id       TEXT NOT NULL,
  position       BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (environment_id, group_id)
);
)sql";

// Version 2: SQLite's versions 7–9 (issue 13; src/store/sqlite/migrations.cpp says why each
// table and column exists) — the async invocation queue, idempotency keys and per-function
// admission limits. What differs:
//
// - executions keeps its rows: the CHECK on status is dropped and added again with QUEUED and
//   RUNNING (SQLite had to copy the table). ADD CONSTRAINT scans the table once to validate it,
//   under the migration's lock.
// - invocations.id is COLLATE "C" like executions.id: the dead-letter listing's keyset
//   (dead_at, id) orders ids bytewise, as SQLite does.
// - invocations_due is the same partial index as SQLite's: a claim's ordered scan
//   (FOR UPDATE SKIP LOCKED) reads only live rows, never the dead letters.
// - idempotency_keys.body is BYTEA (the stored answer is bytes).
constexpr const char* kV2 = R"sql(
ALTER TABLE executions DROP CONSTRAINT executions_status_check;
ALTER TABLE executions ADD CONSTRAINT executions_status_check
  CHECK (status IN ('SUCCEEDED', 'FAILED', 'QUEUED', 'RUNNING'));
ALTER TABLE executions ADD COLUMN attempts TEXT;

CREATE TABLE invocations (
  id                 TEXT COLLATE "C" PRIMARY KEY,
  function_id        TEXT NOT NULL,
  state              TEXT NOT NULL CHECK (state IN ('QUEUED', 'RUNNING', 'DEAD')),
  input              TEXT NOT NULL,
  user_id            TEXT,
  username           TEXT NOT NULL,
  role               TEXT NOT NULL,
  origin             TEXT NOT NULL,
  callback_url       TEXT,
  attempt            BIGINT NOT NULL,
  claims             BIGINT NOT NULL,
  due_at             BIGINT NOT NULL,
  lease_owner        TEXT,
  attempt_started_at BIGINT,
  enqueued_at        BIGINT NOT NULL,
  history            TEXT NOT NULL,
  error_type         TEXT,
  error_message      TEXT,
  dead_at            BIGINT
);
CREATE INDEX invocations_due ON invocations (due_at, id) WHERE state IN ('QUEUED', 'RUNNING');
CREATE INDEX invocations_dead ON invocations (function_id, dead_at, id) WHERE state = 'DEAD';

ALTER TABLE functions ADD COLUMN retry TEXT NOT NULL DEFAULT '';
ALTER TABLE functions ADD COLUMN callback_secret TEXT;
ALTER TABLE functions ADD COLUMN max_concurrency BIGINT NOT NULL DEFAULT 0;
ALTER TABLE functions ADD COLUMN max_queue_ms BIGINT;

CREATE TABLE idempotency_keys (
  scope        TEXT NOT NULL,
  idem_key     TEXT NOT NULL,
  fingerprint  TEXT NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('RUNNING', 'DONE')),
  claim_id     TEXT NOT NULL,
  status       BIGINT,
  headers      TEXT,
  body         BYTEA,
  created_at   BIGINT NOT NULL,
  expires_at   BIGINT NOT NULL,
  locked_until BIGINT NOT NULL,
  PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
)sql";

constexpr Migration kMigrations[] = {
    {1, "initial schema (SQLite versions 1-6)", kV1},
    {2, "async invocation queue, idempotency keys, admission limits (SQLite versions 7-9)", kV2},
};

Expected<int64_t> newest_applied(Connection& conn) {
  auto q = NIL_TRY(conn.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  NIL_TRY(q.step());
  return q.int64(0);
}

Expected<void> apply_locked(Connection& conn, const Clock& clock) {
  NIL_TRY_VOID(
      conn.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                "  version    BIGINT PRIMARY KEY,"
                "  applied_at BIGINT NOT NULL)"));
  int64_t newest = NIL_TRY(newest_applied(conn));
  int64_t known = kMigrations[std::size(kMigrations) - 1].version;
  if (newest > known) {
    return make_error(ErrorCode::kStorageError,
                      "database schema version " + std::to_string(newest) +
                          " is newer than this build supports (" + std::to_string(known) + ")");
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= newest) continue;
    NIL_TRY_VOID(conn.exec("BEGIN"));
    Expected<void> r = conn.exec(m.sql);
    if (r.ok()) {
      auto ins = conn.query("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)");
      if (!ins.ok()) {
        r = ins.error();
      } else {
        ins->bind(1, m.version).bind(2, clock.now_micros());
        r = ins->run();
      }
    }
    if (r.ok()) r = conn.exec("COMMIT");
    if (!r.ok()) {
      (void)conn.exec("ROLLBACK");
      Error e = std::move(r).error();
      e.message = "migration " + std::to_string(m.version) + " (" + m.name + "): " + e.message;
      return e;
    }
  }
  return {};
}

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

Expected<void> apply_migrations(Connection& conn, const Clock& clock) {
  // Session-level: held across the per-migration transactions, released below (or by the
  // server when this connection dies mid-way).
  {
    auto lock = NIL_TRY(conn.query("SELECT pg_advisory_lock(?1)"));
    lock.bind(1, kMigrationLockKey);
    NIL_TRY_VOID(lock.run());
  }
  Expected<void> r = apply_locked(conn, clock);
  auto unlock = conn.query("SELECT pg_advisory_unlock(?1)");
  if (unlock.ok()) {
    unlock->bind(1, kMigrationLockKey);
    (void)unlock->run();
  }
  return r;
}

}  // namespace nil::store::postgres
