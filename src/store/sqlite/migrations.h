// The SQLite schema as an ordered list of migrations.
//
// Each migration is applied once, in its own BEGIN IMMEDIATE transaction, and recorded in
// schema_migrations(version, applied_at) in that same transaction: a crash mid-migration leaves
// the previous version intact, and re-opening a store applies only what is missing. Migrations
// are append-only: never edit one that has shipped, add a new one.
//
// The SQL stays portable (BIGINT micros, TEXT ids, standard DDL) so that a PostgreSQL backend can
// mirror it statement for statement. docs/storage.md describes the schema.
#pragma once

#include <cstdint>
#include <span>

#include "common/expected.h"

namespace nil::store::sqlite {

class Connection;

struct Migration {
  int64_t version;
  const char* name;
  const char* sql;
};

std::span<const Migration> migrations();

// Applies every migration not yet recorded. Fails (storage_error) if the database was written by
// a newer build (it holds a version this build does not know).
Expected<void> apply_migrations(Connection& conn);

}  // namespace nil::store::sqlite
