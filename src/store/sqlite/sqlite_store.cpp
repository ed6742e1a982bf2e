// SqliteStore: opening a database file (pragmas, migrations, the reader pool) and ping. The
// operations are in functions.cpp, compile_queue.cpp, executions.cpp, environments.cpp and
// identity.cpp (store_impl.h lists them).
#include "store/sqlite/sqlite_store.h"

#include "store/errors.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/store_impl.h"

namespace nil::store::sqlite {

Expected<void> SqliteStore::ping() {
  return db_.read([&](Connection& c) -> Expected<void> {
    auto q = NIL_TRY(c.query("SELECT 1"));
    NIL_TRY(q.step());
    return {};
  });
}

Expected<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, const SqliteOptions& o,
                                                   const Clock& clock) {
  Connection::Options copts;
  copts.busy_timeout_ms = o.busy_timeout_ms;
  auto writer = NIL_TRY(Connection::open(path, copts));
  bool in_memory = path == ":memory:" || path.empty();
  {
    // journal_mode is persistent in the file; it answers the mode actually in effect.
    auto q = NIL_TRY(writer->query("PRAGMA journal_mode = WAL"));
    NIL_TRY(q.step());
    std::string mode = q.text(0);
    if (!in_memory && mode != "wal") {
      return errors::storage_error("could not enable WAL on " + path + " (journal_mode=" + mode +
                                   ")");
    }
  }
  NIL_TRY_VOID(writer->exec("PRAGMA synchronous = NORMAL"));
  // The default 2 MiB page cache thrashes once the executions' primary key index outgrows it;
  // 16 MiB keeps a large batch's index pages in memory.
  NIL_TRY_VOID(writer->exec("PRAGMA cache_size = -16384"));
  NIL_TRY_VOID(apply_migrations(*writer));

  auto store = std::make_unique<SqliteStore>(std::move(writer), clock);
  if (!in_memory) {
    copts.read_only = true;
    for (int i = 0; i < o.readers; ++i) {
      store->database().add_reader(NIL_TRY(Connection::open(path, copts)));
    }
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace nil::store::sqlite
