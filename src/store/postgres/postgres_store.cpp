// PostgresStore: opening (the pool, migrations) and ping. The operations are in functions.cpp,
// compile_queue.cpp, executions.cpp, environments.cpp and identity.cpp (store_impl.h lists them).
#include "store/postgres/postgres_store.h"

#include "store/postgres/migrations.h"
#include "store/postgres/store_impl.h"

namespace nil::store::postgres {

Expected<void> PostgresStore::ping() {
  return db_.read([&](Connection& c) -> Expected<void> {
    auto q = NIL_TRY(c.query("SELECT 1"));
    return q.run();
  });
}

Expected<std::unique_ptr<Store>> open_postgres_store(const std::string& url,
                                                     const PostgresOptions& o, const Clock& clock) {
  {
    auto conn = NIL_TRY(Connection::open(url));
    NIL_TRY_VOID(apply_migrations(*conn, clock));
  }
  return std::unique_ptr<Store>(std::make_unique<PostgresStore>(url, o.pool_size, clock));
}

}  // namespace nil::store::postgres
