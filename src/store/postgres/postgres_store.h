// The PostgreSQL backend of nil::store::Store (--db postgresql://user@host:port/db).
//
// Many nild nodes may share one database: every write is a transaction on the server, the
// compile queue is claimed with FOR UPDATE SKIP LOCKED, migrations run under an advisory lock.
// Connections: a pool over libpq (database.h), opened on demand; a lost server gives
// store_unavailable (HTTP 503) at once, and the pool reconnects by itself when it returns.
#pragma once

#include <memory>
#include <string>

#include "common/expected.h"
#include "store/store.h"

namespace nil::store::postgres {

struct PostgresOptions {
  size_t pool_size = 8;  // connections per store (per node)
};

// `url`: "postgresql://..." or "postgres://..." as libpq takes it. Connects, applies migrations.
Expected<std::unique_ptr<Store>> open_postgres_store(const std::string& url,
                                                     const PostgresOptions& options = {},
                                                     const Clock& clock = SystemClock::instance());

}  // namespace nil::store::postgres
