// PostgresStore, private to the PostgreSQL backend. Its methods are defined by concern:
//   functions.cpp      functions (create, read, list, update, delete, wasm, source)
//   compile_queue.cpp  the compile_jobs queue: enqueue, claim, lease renewal, completion, stats
//   executions.cpp     execution records
//   environments.cpp   environments and their attachment to functions
//   identity.cpp       users, groups, API keys, sessions
//   access_lists.cpp   the allowed-users/groups tables of functions and environments
//   invocation_queue.cpp the async invocation queue (the invocations table) and dead letters
//   idempotency.cpp    idempotency keys (the API's Idempotency-Key filter)
//   rows.cpp           row → struct mapping shared by the files above
//   postgres_store.cpp opening (pool, migrations under an advisory lock) and ping
// Connections and transactions are Database's (database.h); backend-neutral logic (cursors,
// paging, errors, reference resolution) lives in src/store/.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "store/postgres/connection.h"
#include "store/postgres/database.h"
#include "store/store.h"

namespace nil::store::postgres {

// --- row mapping (rows.cpp)
// ------------------------------------------------------------------------ Each *_COLUMNS list is
// the SELECT list its read_* function expects, in order.

#define NIL_FUNCTION_COLUMNS                                                                 \
  "id, name, language, status, compile_error, wasm_sha256, timeout_ms, memory_mb, version, " \
  "created_at, updated_at, seq, http_allow, grants, public, owner_id, managers, retry, "     \
  "callback_secret, max_concurrency, max_queue_ms"
// `seq` receives the ordering key when given.
Expected<Function> read_function(const Query& q, int64_t* seq = nullptr);

#define NIL_EXECUTION_COLUMNS                                                              \
  "id, function_id, status, input, output, error_type, error_message, logs, duration_ms, " \
  "started_at, finished_at, \"trigger\", host_calls, user_id, attempts"
Expected<Execution> read_execution(const Query& q);

#define NIL_JOB_COLUMNS                                                                \
  "j.id, j.function_id, f.name, j.function_version, j.language, j.state, j.attempts, " \
  "j.claimed_by, j.enqueued_at, j.claimed_at, j.lease_until"
Expected<CompileJob> read_job(const Query& q);

#define NIL_ENVIRONMENT_COLUMNS "id, name, created_at, updated_at, seq"
Environment read_environment(const Query& q, int64_t* seq = nullptr);

#define NIL_USER_COLUMNS "id, username, role, grants, password_hash, created_at, updated_at, seq"
Expected<User> read_user(const Query& q, int64_t* seq = nullptr);

#define NIL_API_KEY_COLUMNS                                                             \
  "k.id, k.name, k.user_id, u.username, k.prefix, k.hash, k.created_at, k.expires_at, " \
  "k.last_used_at, k.revoked_at"
ApiKey read_api_key(const Query& q);

// The next value of a named sequence (functions_seq, ...): never reused, even after deletes.
Expected<int64_t> next_counter(Connection& c, const char* name);

// --- shared loaders, defined in the file of their concern ---------------------------------------

// functions.cpp: by id or name (an id match wins), with its environments and access lists.
Expected<Function> load_function(Connection& c, std::string_view ref);
// compile_queue.cpp: a PENDING job for the function's current version.
Expected<void> enqueue_compile_job(Connection& c, const Function& f, int64_t now);
// environments.cpp
Expected<void> attach_environments(Connection& c, std::string_view function_id,
                                   const std::vector<std::string>& refs);
Expected<void> load_attached_names(Connection& c, Function& f);
// identity.cpp
Expected<std::optional<std::string>> find_user_id(Connection& c, std::string_view ref);
Expected<std::optional<std::string>> find_group_id(Connection& c, std::string_view ref);

// access_lists.cpp
enum class AclKind { kFunction, kEnvironment };
Expected<AccessList> load_acl(Connection& c, AclKind kind, std::string_view id);
// Replace one list; refs are ids or names (unknown_user / unknown_group, nothing written).
Expected<void> write_acl_users(Connection& c, AclKind kind, std::string_view id,
                               const std::vector<std::string>& refs);
Expected<void> write_acl_groups(Connection& c, AclKind kind, std::string_view id,
                                const std::vector<std::string>& refs);

// --- the store
// -------------------------------------------------------------------------------------

class PostgresStore final : public Store {
 public:
  PostgresStore(std::string url, size_t pool_size, const Clock& clock)
      : db_(std::move(url), pool_size), clock_(clock) {}
  Database& database() { return db_; }

  // functions.cpp
  Expected<Function> create_function(const NewFunction& f) override;
  Expected<Function> get_function(std::string_view ref) override;
  Expected<Page<Function>> list_functions(const PageRequest& page,
                                          const std::optional<AccessFilter>& filter) override;
  Expected<Function> update_function(std::string_view ref, const FunctionUpdate& u) override;
  Expected<void> delete_function(std::string_view ref) override;
  Expected<std::string> get_function_wasm(std::string_view ref) override;
  Expected<std::string> get_function_source(std::string_view ref) override;

  // compile_queue.cpp
  Expected<std::optional<CompileJob>> claim_compile_job(std::string_view worker,
                                                        int64_t lease_micros) override;
  Expected<bool> renew_compile_lease(const CompileJob& job, int64_t lease_micros) override;
  Expected<bool> release_compile_job(const CompileJob& job) override;
  Expected<void> complete_compile_job(const CompileJob& job, const CompileOutcome& o) override;
  Expected<QueueStats> compile_queue_stats() override;

  // invocation_queue.cpp
  Expected<Execution> enqueue_invocation(const NewInvocation& inv) override;
  Expected<std::vector<InvocationClaim>> claim_invocations(std::string_view worker, size_t max,
                                                           int64_t lease_micros) override;
  Expected<std::vector<bool>> renew_invocation_leases(std::span<const InvocationClaim> claims,
                                                      int64_t lease_micros) override;
  Expected<std::vector<bool>> complete_invocations(
      std::span<const InvocationOutcome> outcomes) override;
  Expected<Page<DeadLetter>> list_dead_letters(
      std::string_view function_id, const PageRequest& page,
      const std::optional<std::string>& error_type) override;
  Expected<void> redrive_dead_letter(std::string_view function_id,
                                     std::string_view execution_id) override;
  Expected<int64_t> redrive_dead_letters(std::string_view function_id,
                                         const std::optional<std::string>& error_type) override;
  Expected<void> delete_dead_letter(std::string_view function_id,
                                    std::string_view execution_id) override;
  Expected<int64_t> purge_dead_letters(std::string_view function_id) override;

  // idempotency.cpp
  Expected<IdempotencyClaim> claim_idempotency_key(std::string_view scope, std::string_view key,
                                                   std::string_view fingerprint, int64_t ttl_micros,
                                                   int64_t lease_micros) override;
  Expected<bool> complete_idempotency_key(const IdempotencyRecord& claim, int status,
                                          std::string_view headers, std::string_view body) override;
  Expected<void> release_idempotency_key(const IdempotencyRecord& claim) override;
  Expected<int64_t> purge_idempotency_keys(int64_t max_rows) override;

  // executions.cpp
  Expected<void> insert_executions(std::span<const Execution> batch) override;
  Expected<Execution> get_execution(std::string_view id) override;
  Expected<Page<Execution>> list_executions(std::string_view function_id,
                                            const PageRequest& page) override;

  // environments.cpp
  Expected<Environment> create_environment(const NewEnvironment& e) override;
  Expected<Environment> get_environment(std::string_view ref) override;
  Expected<Page<Environment>> list_environments(const PageRequest& page,
                                                const std::optional<AccessFilter>& filter) override;
  Expected<Environment> update_environment(std::string_view ref,
                                           const EnvironmentUpdate& u) override;
  Expected<void> delete_environment(std::string_view ref) override;
  Expected<std::vector<Environment>> function_environments(std::string_view function_id) override;

  // identity.cpp
  Expected<User> create_user(const NewUser& u) override;
  Expected<User> get_user(std::string_view ref) override;
  Expected<Page<User>> list_users(const PageRequest& page) override;
  Expected<User> update_user(std::string_view ref, const UserUpdate& u) override;
  Expected<void> delete_user(std::string_view ref) override;
  Expected<int64_t> count_users() override;
  Expected<Group> create_group(std::string_view name) override;
  Expected<Group> get_group(std::string_view ref) override;
  Expected<Page<Group>> list_groups(const PageRequest& page) override;
  Expected<void> delete_group(std::string_view ref) override;
  Expected<void> add_group_member(std::string_view group_ref, std::string_view user_ref) override;
  Expected<void> remove_group_member(std::string_view group_ref,
                                     std::string_view user_ref) override;
  Expected<ApiKey> create_api_key(const NewApiKey& k) override;
  Expected<ApiKey> get_api_key(std::string_view id) override;
  Expected<std::vector<ApiKey>> find_api_keys_by_prefix(std::string_view prefix) override;
  Expected<Page<ApiKey>> list_api_keys(const PageRequest& page,
                                       const std::optional<std::string>& user_id) override;
  Expected<void> revoke_api_key(std::string_view id) override;
  Expected<void> touch_api_keys(std::span<const std::pair<std::string, int64_t>> uses) override;
  Expected<void> create_session(const Session& s) override;
  Expected<Session> get_session_by_token_hash(std::string_view token_hash_hex) override;
  Expected<void> touch_session(std::string_view id, int64_t last_seen_at) override;
  Expected<void> delete_session(std::string_view id) override;
  Expected<int64_t> delete_expired_sessions(int64_t created_before, int64_t idle_before) override;

  // postgres_store.cpp
  Expected<void> ping() override;

 private:
  Database db_;
  const Clock& clock_;  // every time the store writes or compares (open_store)
};

}  // namespace nil::store::postgres
