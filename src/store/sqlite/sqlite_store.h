// The embedded SQLite backend of nil::store::Store.
//
// Connections: one writer connection, guarded by a mutex, runs every write transaction (BEGIN
// IMMEDIATE, so a write never upgrades a read lock and never deadlocks); a small pool of reader
// connections serves reads concurrently with the writer (WAL mode: readers see the last
// committed snapshot and are never blocked by the writer). With a pool of zero readers (and for
// ":memory:", where every connection would be its own database), reads go through the writer.
//
// Pragmas: journal_mode=WAL, synchronous=NORMAL (a power loss may lose the last commits, never
// corrupt), foreign_keys=ON, busy_timeout (another process, e.g. the sqlite3 CLI, may hold the
// lock briefly).
#pragma once

#include <memory>
#include <string>

#include "common/expected.h"
#include "store/store.h"

namespace nil::store::sqlite {

struct SqliteOptions {
  int readers = 4;             // reader connections; 0 routes reads through the writer
  int busy_timeout_ms = 5000;  // how long a statement waits for a lock held by another process
};

// `path` is a file path or ":memory:". Creates the file if needed and applies migrations.
// `clock`: see open_store (store.h).
Expected<std::unique_ptr<Store>> open_sqlite_store(const std::string& path,
                                                   const SqliteOptions& options = {},
                                                   const Clock& clock = SystemClock::instance());

}  // namespace nil::store::sqlite
