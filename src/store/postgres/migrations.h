// The PostgreSQL schema, as numbered migrations applied in order by apply_migrations.
//
// Its own numbering, independent of SQLite's: PostgreSQL version 1 is the SQLite schema as of
// SQLite version 6, written in PostgreSQL's types (docs/storage.md, "PostgreSQL").
#pragma once

#include <cstdint>
#include <span>

#include "common/clock.h"
#include "common/expected.h"
#include "store/postgres/connection.h"

namespace nil::store::postgres {

struct Migration {
  int64_t version;
  const char* name;
  const char* sql;
};

std::span<const Migration> migrations();

// The advisory-lock key that serializes migrations across nodes ("NILSCHEM" as ASCII).
inline constexpr int64_t kMigrationLockKey = 0x4E494C5343484D;

// Applies every migration not yet recorded in schema_migrations, each in its own transaction,
// holding a session-level pg_advisory_lock so that nodes starting at once apply each exactly
// once (the others wait, then find it recorded). A database whose newest version is unknown to
// this build is refused (storage_error).
Expected<void> apply_migrations(Connection& conn, const Clock& clock);

}  // namespace nil::store::postgres
