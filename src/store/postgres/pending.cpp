// PostgresStore: the parts of the store interface that have no PostgreSQL version yet — the
// async invocation queue and the idempotency keys (issue 13, built on SQLite first). Each answers
// storage_error naming what is missing, so a node on PostgreSQL refuses async invocations and
// keyed requests with a clear 500 instead of losing them. Replaced by invocation_queue.cpp and
// idempotency.cpp as they land (docs/storage.md, "PostgreSQL specifics").
#include "store/postgres/store_impl.h"

namespace nil::store::postgres {
namespace {

Error not_yet(std::string_view what) {
  return make_error(ErrorCode::kStorageError,
                    std::string(what) + " is not available on the PostgreSQL store yet");
}

}  // namespace

Expected<Execution> PostgresStore::enqueue_invocation(const NewInvocation&) {
  return not_yet("the async invocation queue");
}
Expected<std::vector<InvocationClaim>> PostgresStore::claim_invocations(std::string_view, size_t,
                                                                        int64_t) {
  // The queue worker polls: an empty claim keeps it idle instead of logging errors.
  return std::vector<InvocationClaim>{};
}
Expected<std::vector<bool>> PostgresStore::renew_invocation_leases(
    std::span<const InvocationClaim> claims, int64_t) {
  return std::vector<bool>(claims.size(), false);
}
Expected<std::vector<bool>> PostgresStore::complete_invocations(
    std::span<const InvocationOutcome> outcomes) {
  return std::vector<bool>(outcomes.size(), false);
}
Expected<Page<DeadLetter>> PostgresStore::list_dead_letters(std::string_view, const PageRequest&,
                                                            const std::optional<std::string>&) {
  return not_yet("the dead-letter list");
}
Expected<void> PostgresStore::redrive_dead_letter(std::string_view, std::string_view) {
  return not_yet("the dead-letter list");
}
Expected<int64_t> PostgresStore::redrive_dead_letters(std::string_view,
                                                      const std::optional<std::string>&) {
  return not_yet("the dead-letter list");
}
Expected<void> PostgresStore::delete_dead_letter(std::string_view, std::string_view) {
  return not_yet("the dead-letter list");
}
Expected<int64_t> PostgresStore::purge_dead_letters(std::string_view) {
  return not_yet("the dead-letter list");
}

Expected<IdempotencyClaim> PostgresStore::claim_idempotency_key(std::string_view, std::string_view,
                                                                std::string_view, int64_t,
                                                                int64_t) {
  return not_yet("Idempotency-Key");
}
Expected<bool> PostgresStore::complete_idempotency_key(const IdempotencyRecord&, int,
                                                       std::string_view, std::string_view) {
  return not_yet("Idempotency-Key");
}
Expected<void> PostgresStore::release_idempotency_key(const IdempotencyRecord&) {
  return not_yet("Idempotency-Key");
}
Expected<int64_t> PostgresStore::purge_idempotency_keys(int64_t) { return int64_t{0}; }

}  // namespace nil::store::postgres
