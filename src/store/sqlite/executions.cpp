// SqliteStore: execution records.
#include "store/cursor.h"
#include "store/errors.h"
#include "store/paging.h"
#include "store/sqlite/store_impl.h"

namespace nil::store::sqlite {

Expected<void> SqliteStore::insert_executions(std::span<const Execution> batch) {
  if (batch.empty()) return {};
  return db_.write([&](Connection& c) -> Expected<void> {
    // ON CONFLICT DO NOTHING: a batch retried after an unclear commit is harmless.
    auto q = NIL_TRY(
        c.query("INSERT INTO executions (" NIL_EXECUTION_COLUMNS
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
                "ON CONFLICT (id) DO NOTHING"));
    // bind_static: the rows live in `batch` until after the last step (and every parameter is
    // rebound for each row), so SQLite need not copy each column.
    for (const Execution& e : batch) {
      q.bind_static(1, e.id).bind_static(2, e.function_id).bind_static(3, to_string(e.status));
      q.bind_static(4, e.input).bind_static(5, e.output);
      if (e.error) {
        q.bind_static(6, e.error->type).bind_static(7, e.error->message);
      } else {
        q.bind_null(6).bind_null(7);
      }
      q.bind_static(8, e.logs)
          .bind(9, e.duration_ms)
          .bind(10, e.started_at)
          .bind(11, e.finished_at);
      q.bind_static(12, e.trigger).bind_static(13, e.host_calls).bind(14, e.user_id);
      q.bind_static(15, e.attempts);
      NIL_TRY_VOID(q.run());
      q.reset();  // the same prepared statement, rebound for the next row
    }
    return {};
  });
}

Expected<Execution> SqliteStore::get_execution(std::string_view id) {
  return db_.read([&](Connection& c) -> Expected<Execution> {
    auto q = NIL_TRY(c.query("SELECT " NIL_EXECUTION_COLUMNS " FROM executions WHERE id = ?1"));
    q.bind(1, id);
    if (!NIL_TRY(q.step())) return errors::execution_not_found(id);
    return read_execution(q);
  });
}

Expected<Page<Execution>> SqliteStore::list_executions(std::string_view function_id,
                                                       const PageRequest& page) {
  auto after = NIL_TRY(cursor::decode_execution(page.cursor));
  return db_.read([&](Connection& c) -> Expected<Page<Execution>> {
    // Two statements rather than one with a nullable key keeps each plan on the index.
    auto q = NIL_TRY(
        c.query(after ? "SELECT " NIL_EXECUTION_COLUMNS " FROM executions WHERE function_id = ?1 "
                        "AND (started_at < ?2 OR (started_at = ?2 AND id < ?3)) "
                        "ORDER BY started_at DESC, id DESC LIMIT ?4"
                      : "SELECT " NIL_EXECUTION_COLUMNS " FROM executions WHERE function_id = ?1 "
                        "ORDER BY started_at DESC, id DESC LIMIT ?4"));
    PageBuilder<Execution> out(page.limit);
    q.bind(1, function_id).bind(4, out.fetch_limit());
    if (after) q.bind(2, after->started_at).bind(3, after->id);
    while (NIL_TRY(q.step())) {
      if (out.full()) {
        const Execution& last = out.items().back();
        out.more_after(cursor::encode_execution({last.started_at, last.id}));
        break;
      }
      out.add(NIL_TRY(read_execution(q)));
    }
    return std::move(out).take();
  });
}

}  // namespace nil::store::sqlite
