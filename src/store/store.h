// nil::store — the platform's persistent state behind one interface.
//
// Backends: SQLite (embedded default, src/store/sqlite/) and PostgreSQL (src/store/postgres/).
// Nothing above this header may know which one runs: no SQL, no backend types, no backend error
// codes leak out. All timestamps are microseconds since the Unix epoch; all ids are UUID strings;
// blobs are std::string (binary-safe).
//
// Thread safety: every method may be called from any thread concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/expected.h"

namespace nil::store {

enum class FunctionStatus { kPending, kCompiling, kReady, kFailed };
std::string_view to_string(FunctionStatus s);  // "PENDING", "COMPILING", "READY", "FAILED"

struct FunctionLimits {
  uint32_t timeout_ms = 10'000;
  uint32_t memory_mb = 128;
  // Admission (invoke::LimitEnforcer): invocations of the function running at once (0:
  // unlimited, then the server's --concurrency-limit-function applies), and how long one waits in
  // line for a slot (nullopt: the server's --queue-ms).
  uint32_t max_concurrency = 0;
  std::optional<uint32_t> max_queue_ms;
};

// What a function may reach at run time (issue 4). Applied at execution time: changing it never
// recompiles nor bumps the version.
struct FunctionAccess {
  // Attached environments, in order (a later one's key wins). On write: ids or names; on read:
  // names.
  std::vector<std::string> environments;
  std::vector<std::string> http_allow;  // hosts "api.example.com" or "host:port"; empty: none
  std::vector<std::string> grants;      // "db:ddl"
};

// Who may see and execute a function or read an environment (issue 5; the rule is
// auth::can_access). Ids of users and groups. Both empty: every authenticated user.
// Deleting a user or group leaves its id here on purpose: a list never becomes empty (and the
// resource public) because its only member went away.
struct AccessList {
  std::vector<std::string> users;
  std::vector<std::string> groups;
};

// How the queue retries a function's failed async invocations (issue 13; docs/openapi.yaml
// RetryPolicy). Defaults as Lambda's: 3 attempts, 1 min then 2 min apart, events dropped to the
// dead letters after 6 h.
enum class Backoff { kExponential, kFixed };
std::string_view to_string(Backoff b);  // "exponential", "fixed"

struct RetryPolicy {
  uint32_t max_attempts = 3;  // 1..10, the first attempt included
  Backoff backoff = Backoff::kExponential;
  uint32_t initial_delay_ms = 60'000;  // before the second attempt
  uint32_t max_delay_ms = 300'000;     // cap of the exponential growth
  uint32_t max_event_age_s = 21'600;   // past this age a failed event is dead-lettered
  bool operator==(const RetryPolicy&) const = default;
};

struct Function {
  std::string id;
  std::string name;
  std::string language;  // "wat", "wasm", "assemblyscript", "c", "cpp" (compile::DriverRegistry)
  FunctionStatus status = FunctionStatus::kPending;
  std::optional<std::string> compile_error;
  std::optional<std::string> wasm_sha256;  // set once READY
  FunctionLimits limits;
  FunctionAccess access;
  AccessList allowed;
  bool is_public = false;  // POST /functions/v1/{name} without authentication
  // Who may change it besides admins (auth::can_manage): its creator, and users granted
  // `manage`. owner_id is unset for functions created before schema v5.
  std::optional<std::string> owner_id;
  std::vector<std::string> managers;  // user ids
  RetryPolicy retry;
  // Signs the results POSTed to an async invocation's callback URL (Standard Webhooks:
  // "whsec_" + base64 of 32 random bytes). Generated at create; nullopt for functions created
  // before schema v7 until one is set (FunctionUpdate::callback_secret).
  std::optional<std::string> callback_secret;
  int64_t version = 1;  // bumped by every source/language update (not by limits-only ones);
                        // a compile result applies only to its version
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct NewFunction {
  std::string name;
  std::string language;
  std::string source;  // source text, or the uploaded module bytes for language "wasm"
  FunctionLimits limits;
  FunctionAccess access;  // an unknown environment → unknown_environment
  // On write: user ids or usernames, group ids or names (unknown_user, unknown_group); stored
  // and read back as ids.
  AccessList allowed;
  bool is_public = false;
  std::optional<std::string> owner_id;  // the creating user's id
  std::vector<std::string> managers;    // user ids
  RetryPolicy retry;
};

// Fields left empty are unchanged. A new source (or language) sets the function back to PENDING
// and enqueues a compile job for the new version.
struct FunctionUpdate {
  std::optional<std::string> language;
  std::optional<std::string> source;
  std::optional<FunctionLimits> limits;
  std::optional<std::vector<std::string>> environments;  // replaces the list (ids or names)
  std::optional<std::vector<std::string>> http_allow;
  std::optional<std::vector<std::string>> grants;
  std::optional<std::vector<std::string>> allowed_users;   // replaces the list (ids or names)
  std::optional<std::vector<std::string>> allowed_groups;  // replaces the list (ids or names)
  std::optional<bool> is_public;
  std::optional<std::vector<std::string>> managers;  // replaces the list (user ids)
  std::optional<RetryPolicy> retry;
  std::optional<std::string> callback_secret;
};

struct PageRequest {
  uint32_t limit = 50;
  std::optional<std::string> cursor;  // opaque, produced by the store; a bad one → invalid_cursor
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::optional<std::string> next_cursor;
};

// --- compile queue -----------------------------------------------------------------------------

enum class CompileJobState { kPending, kRunning };
std::string_view to_string(CompileJobState s);  // "PENDING", "RUNNING"

struct CompileJob {
  std::string id;
  std::string function_id;
  std::string function_name;
  int64_t function_version = 0;
  std::string language;
  std::string source;
  CompileJobState state = CompileJobState::kPending;
  int attempts = 0;  // claims so far, including the current one; identifies the claim
  std::string claimed_by;
  int64_t enqueued_at = 0;
  int64_t claimed_at = 0;
  int64_t lease_until = 0;
};

struct CompileOutcome {
  bool ok = false;
  std::string wasm;         // when ok
  std::string wasm_sha256;  // when ok
  std::string error;        // when !ok: the compileError shown to the user
  bool from_cache = false;  // the artifact came from the compile cache (not stored)
};

struct QueueStats {
  std::string name;  // "compile"
  int64_t pending = 0;
  int64_t running = 0;
  int64_t oldest_pending_at = 0;  // 0 when none
  std::vector<CompileJob> jobs;   // up to 100, oldest first, without source
};

// --- executions --------------------------------------------------------------------------------

// QUEUED and RUNNING are states of an async invocation's record only (trigger "queue"); a
// synchronous execution is recorded once, finished.
enum class ExecutionStatus { kSucceeded, kFailed, kQueued, kRunning };
std::string_view to_string(ExecutionStatus s);  // "SUCCEEDED", "FAILED", "QUEUED", "RUNNING"

struct ExecutionError {
  std::string type;  // timeout, memory_limit, output_limit, trap, invalid_output, exit, ...
  std::string message;
};

struct Execution {
  std::string id;
  std::string function_id;
  ExecutionStatus status = ExecutionStatus::kSucceeded;
  std::string input;                  // JSON text
  std::optional<std::string> output;  // JSON text, when SUCCEEDED
  std::optional<ExecutionError> error;
  std::string logs;
  double duration_ms = 0;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  std::string
      trigger;  // invoke::Trigger's precise kind: "api", "http"; "cron", ... once those exist
  // Host calls made, as the JSON array [{"name","count","bytesIn","bytesOut","ms"}]; absent
  // (nullopt) for executions recorded before host functions existed.
  std::optional<std::string> host_calls;
  // The invoking user; nullopt for an anonymous call of a public function (and for executions
  // recorded before users existed).
  std::optional<std::string> user_id;
  // Async invocations only (nullopt otherwise): each attempt as the JSON array
  // [{"attempt","startedAt","finishedAt","error"}] (times in Unix µs; finishedAt null while it
  // runs; error null when it succeeded).
  std::optional<std::string> attempts;
};

// --- environments --------------------------------------------------------------------------------

// Named key-value sets attached to functions. The store holds secret values in clear (the
// invoker needs them); hiding them ("***") is the API's job.
struct EnvironmentVar {
  std::string key;
  std::string value;
  bool secret = false;
};

struct Environment {
  std::string id;
  std::string name;
  std::vector<EnvironmentVar> vars;  // in the order given at the last write
  AccessList allowed;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct NewEnvironment {
  std::string name;
  std::vector<EnvironmentVar> vars;
  AccessList allowed;  // on write: ids or names, like NewFunction::allowed
};

// Fields left empty are unchanged; `vars` replaces the whole set.
struct EnvironmentUpdate {
  std::optional<std::string> name;
  std::optional<std::vector<EnvironmentVar>> vars;
  std::optional<std::vector<std::string>> allowed_users;
  std::optional<std::vector<std::string>> allowed_groups;
};

// Restricts a list to what one non-admin user may access (the SQL form of auth::can_access):
// rows whose lists are both empty, or that name the user or one of the user's groups.
struct AccessFilter {
  std::string user_id;
};

// --- users, groups, API keys, sessions (issue 5)
// --------------------------------------------------

enum class Role { kAdmin, kDev };
std::string_view to_string(Role r);  // "admin", "dev"
std::optional<Role> parse_role(std::string_view s);

struct GroupRef {
  std::string id;
  std::string name;
};

struct UserRef {
  std::string id;
  std::string username;
};

struct User {
  std::string id;
  std::string username;
  Role role = Role::kDev;
  std::vector<std::string> grants;  // "deploy"
  std::vector<GroupRef> groups;     // by name
  std::string password_hash;        // argon2id string (libsodium crypto_pwhash_str); never shown
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct NewUser {
  std::string username;
  std::string password_hash;
  Role role = Role::kDev;
  std::vector<std::string> grants;
};

struct UserUpdate {
  std::optional<std::string> password_hash;
  std::optional<Role> role;
  std::optional<std::vector<std::string>> grants;
};

struct Group {
  std::string id;
  std::string name;
  std::vector<UserRef> members;  // by username
  int64_t created_at = 0;
};

// An API key as stored: the secret itself is never stored, only its SHA-256 (hash_hex).
// `prefix` is a non-secret leading part of the key ("nil_" + 8 characters), indexed for lookup.
struct ApiKey {
  std::string id;
  std::string name;
  std::string user_id;
  std::string username;
  std::string prefix;
  std::string hash_hex;
  int64_t created_at = 0;
  std::optional<int64_t> expires_at;
  std::optional<int64_t> last_used_at;
  bool revoked = false;
};

struct NewApiKey {
  std::string name;
  std::string user_id;
  std::string prefix;
  std::string hash_hex;
  std::optional<int64_t> expires_at;
};

// A browser session. The cookie's token and the CSRF token are stored as SHA-256 only.
struct Session {
  std::string id;
  std::string user_id;
  std::string token_hash_hex;
  std::string csrf_hash_hex;
  int64_t created_at = 0;
  int64_t last_seen_at = 0;
};

// --- async invocation queue (issue 13) ----------------------------------------------------------
// Types of the queue methods of Store (the section "Async invocation queue" below). A PostgreSQL
// backend implements the same contract with SELECT ... FOR UPDATE SKIP LOCKED.

struct NewInvocation {
  std::string function_id;             // a resolved id (the API checked access and READY)
  std::string input;                   // JSON text
  std::optional<std::string> user_id;  // the caller; nullopt: anonymous (a public function)
  std::string username;
  std::string role = "anonymous";
  std::string origin = "api";  // how it was enqueued: "api" or "http" (the v1 call)
  std::optional<std::string> callback_url;
};

// One claimed invocation. `claim` counts every claim of the row and is the fence: a renewal or
// completion carrying an older claim matches nothing.
struct InvocationClaim {
  std::string id;  // the execution id
  std::string function_id;
  std::string input;
  std::optional<std::string> user_id;
  std::string username;
  std::string role;
  std::string origin;
  std::optional<std::string> callback_url;
  int64_t attempt = 0;  // this attempt's number, 1 for the first
  int64_t claim = 0;
  int64_t enqueued_at = 0;
  int64_t started_at = 0;  // this attempt's start (the claim time)
};

struct InvocationOutcome {
  enum class Next {
    kDone,   // final: the record takes `record`'s status; the queue row is removed
    kRetry,  // failed; queued again at not_before
    kDead,   // failed for the last time: FAILED record, the row stays as a dead letter
    kDefer,  // did not run (concurrency or rate limit, not READY): queued again at not_before,
             // the attempt not counted
  };
  std::string id;
  int64_t claim = 0;
  Next next = Next::kDone;
  int64_t not_before = 0;  // kRetry, kDefer
  // The attempt's result: status, output, error, logs, duration_ms, host_calls, finished_at.
  Execution record;
};

struct DeadLetter {
  std::string execution_id;
  std::string function_id;
  std::string input;
  ExecutionError error;  // the last attempt's
  int64_t attempts = 0;  // attempts made
  int64_t enqueued_at = 0;
  int64_t dead_at = 0;
};

// --- idempotency keys (BEGIN section; docs/storage.md "Idempotency keys") ---------------------
//
// The API's Idempotency-Key filter (src/api/idempotency.h) records the first answer to a keyed
// request and replays it to repeats. The store only keeps rows; what a fingerprint is, which
// answers are kept and how long a key lives are the API's decisions, passed in.
//
// A row is RUNNING from its claim until the first request answers (complete) or gives up
// (release). A claim is fenced by claim_id: only the request that claimed may complete or
// release it, so a request whose lease was taken over cannot overwrite the newer claim's answer.

struct IdempotencyRecord {
  std::string scope;        // who sent it: "user:<id>", "anonymous"
  std::string key;          // the Idempotency-Key as sent (1-255 characters)
  std::string fingerprint;  // of the request (method, target, body): the API's sha256 hex
  bool done = false;        // false: RUNNING (the first request has not answered yet)
  std::string claim_id;     // the claim that owns the row (a new one per takeover)
  int status = 0;           // the stored answer, when done
  std::string headers;      // "Name: value" lines, '\n'-separated, when done
  std::string body;         // when done
  int64_t created_at = 0;
  int64_t expires_at = 0;    // created_at + ttl: a later claim replaces the row, purge deletes it
  int64_t locked_until = 0;  // while RUNNING: past it the claim is abandoned and may be taken over
};

struct IdempotencyClaim {
  bool claimed = false;      // true: this caller owns the key (claim_id); run the request
  IdempotencyRecord record;  // the row now: the new claim, or the existing one when !claimed
};

// --- idempotency keys (END section) ----------------------------------------------------------

// --- the interface -----------------------------------------------------------------------------

class Store {
 public:
  virtual ~Store() = default;

  // Functions. `ref` is an id or a name. Errors: function_not_found, name_taken.
  virtual Expected<Function> create_function(const NewFunction& f) = 0;  // + its compile job
  virtual Expected<Function> get_function(std::string_view ref) = 0;
  // oldest first; with a filter only the functions that user may access
  virtual Expected<Page<Function>> list_functions(
      const PageRequest& page, const std::optional<AccessFilter>& filter = {}) = 0;
  virtual Expected<Function> update_function(std::string_view id, const FunctionUpdate& u) = 0;
  virtual Expected<void> delete_function(std::string_view id) = 0;           // executions stay
  virtual Expected<std::string> get_function_wasm(std::string_view id) = 0;  // READY only
  virtual Expected<std::string> get_function_source(std::string_view id) = 0;

  // Compile queue (docs/storage.md, "The lease model"). Many nodes may share one queue.
  // claim takes the oldest PENDING job, or a RUNNING one whose lease expired (its worker died or
  // stopped renewing), marks it RUNNING for `worker` until now+lease, and sets its function
  // COMPILING. Nothing else ever puts a RUNNING job back: a crashed node's jobs are retaken by
  // whichever worker claims after their leases run out.
  virtual Expected<std::optional<CompileJob>> claim_compile_job(std::string_view worker,
                                                                int64_t lease_micros) = 0;
  // The heartbeat of a worker holding `job` (as claim returned it): moves its lease_until to
  // now+lease. false when the claim is no longer this worker's (the lease expired and another
  // claim took the job, or the job was completed or deleted): the worker may finish, but its
  // result only stands if its version is still current.
  virtual Expected<bool> renew_compile_lease(const CompileJob& job, int64_t lease_micros) = 0;
  // Gives a claimed job back (a node draining on SIGTERM): PENDING again, claimable by any
  // worker at once instead of after its lease, its function PENDING again if still COMPILING at
  // the job's version. false when the claim is no longer this one (taken over, completed,
  // deleted); the job's attempts count stays, so the next claim is attempts + 1.
  virtual Expected<bool> release_compile_job(const CompileJob& job) = 0;
  // Records the outcome and removes the job. The function becomes READY/FAILED only if its
  // version is still the job's (a newer PUT wins).
  virtual Expected<void> complete_compile_job(const CompileJob& job, const CompileOutcome& o) = 0;
  virtual Expected<QueueStats> compile_queue_stats() = 0;

  // Executions. insert is for the group-commit writer: one transaction for the whole batch.
  virtual Expected<void> insert_executions(std::span<const Execution> batch) = 0;
  virtual Expected<Execution> get_execution(std::string_view id) = 0;  // execution_not_found
  virtual Expected<Page<Execution>> list_executions(std::string_view function_id,
                                                    const PageRequest& page) = 0;  // newest first

  // Environments. `ref` is an id or a name. Errors: environment_not_found, name_taken (another
  // environment has it), environment_in_use (delete while attached to a function).
  virtual Expected<Environment> create_environment(const NewEnvironment& e) = 0;
  virtual Expected<Environment> get_environment(std::string_view ref) = 0;
  virtual Expected<Page<Environment>> list_environments(
      const PageRequest& page, const std::optional<AccessFilter>& filter = {}) = 0;  // oldest first
  virtual Expected<Environment> update_environment(std::string_view ref,
                                                   const EnvironmentUpdate& u) = 0;
  virtual Expected<void> delete_environment(std::string_view ref) = 0;
  // The environments attached to a function, in attachment order, with their values.
  virtual Expected<std::vector<Environment>> function_environments(
      std::string_view function_id) = 0;

  // Users. `ref` is an id or a username. Errors: user_not_found, name_taken. Deleting a user
  // deletes their API keys, sessions and memberships.
  virtual Expected<User> create_user(const NewUser& u) = 0;
  virtual Expected<User> get_user(std::string_view ref) = 0;
  virtual Expected<Page<User>> list_users(const PageRequest& page) = 0;  // oldest first
  virtual Expected<User> update_user(std::string_view ref, const UserUpdate& u) = 0;
  virtual Expected<void> delete_user(std::string_view ref) = 0;
  virtual Expected<int64_t> count_users() = 0;

  // Groups. `ref` is an id or a name. Errors: group_not_found, name_taken, user_not_found.
  virtual Expected<Group> create_group(std::string_view name) = 0;
  virtual Expected<Group> get_group(std::string_view ref) = 0;
  virtual Expected<Page<Group>> list_groups(const PageRequest& page) = 0;  // oldest first
  virtual Expected<void> delete_group(std::string_view ref) = 0;
  virtual Expected<void> add_group_member(std::string_view group_ref,
                                          std::string_view user_ref) = 0;
  // Errors: not_a_member when the user is not in the group.
  virtual Expected<void> remove_group_member(std::string_view group_ref,
                                             std::string_view user_ref) = 0;

  // API keys. Errors: api_key_not_found, user_not_found.
  virtual Expected<ApiKey> create_api_key(const NewApiKey& k) = 0;
  virtual Expected<ApiKey> get_api_key(std::string_view id) = 0;
  // Every key (revoked and expired included) whose prefix is `prefix`; usually one.
  virtual Expected<std::vector<ApiKey>> find_api_keys_by_prefix(std::string_view prefix) = 0;
  // newest first; user_id filters to one user's keys
  virtual Expected<Page<ApiKey>> list_api_keys(const PageRequest& page,
                                               const std::optional<std::string>& user_id) = 0;
  virtual Expected<void> revoke_api_key(std::string_view id) = 0;
  // Batched last-used times: (key id, time) pairs; unknown ids are ignored.
  virtual Expected<void> touch_api_keys(std::span<const std::pair<std::string, int64_t>> uses) = 0;

  // Sessions. Errors: session_not_found.
  virtual Expected<void> create_session(const Session& s) = 0;
  virtual Expected<Session> get_session_by_token_hash(std::string_view token_hash_hex) = 0;
  virtual Expected<void> touch_session(std::string_view id, int64_t last_seen_at) = 0;
  virtual Expected<void> delete_session(std::string_view id) = 0;
  // Removes sessions created before `created_before` or idle since before `idle_before`.
  virtual Expected<int64_t> delete_expired_sessions(int64_t created_before,
                                                    int64_t idle_before) = 0;

  // --- idempotency keys (BEGIN section; see IdempotencyRecord above) ---
  // Claims (scope, key): inserts a RUNNING row owned by a new claim_id, expiring at now+ttl and
  // locked until now+lease. An existing row is replaced only when it expired (expires_at <= now)
  // or is a RUNNING claim whose lock ran out (locked_until <= now: its request died); otherwise
  // it is returned unchanged with claimed=false. Atomic: of concurrent claims exactly one wins.
  virtual Expected<IdempotencyClaim> claim_idempotency_key(std::string_view scope,
                                                           std::string_view key,
                                                           std::string_view fingerprint,
                                                           int64_t ttl_micros,
                                                           int64_t lease_micros) = 0;
  // Stores the answer of the claim and marks the row done. false when the row is no longer
  // this claim's (taken over, purged): nothing is written.
  virtual Expected<bool> complete_idempotency_key(const IdempotencyRecord& claim, int status,
                                                  std::string_view headers,
                                                  std::string_view body) = 0;
  // Deletes the claim's RUNNING row (an answer that is not kept: a retry runs again).
  virtual Expected<void> release_idempotency_key(const IdempotencyRecord& claim) = 0;
  // Deletes up to max_rows expired rows (expires_at <= now), oldest first; returns how many.
  virtual Expected<int64_t> purge_idempotency_keys(int64_t max_rows) = 0;
  // --- idempotency keys (END section) ---

  virtual Expected<void> ping() = 0;  // for /readyz

  // --- Async invocation queue (issue 13; docs/storage.md "The invocation queue") -------------
  // Enqueues an async invocation and writes its QUEUED execution record (trigger "queue") in the
  // same transaction: once this returns, the invocation survives a crash. Returns the record.
  virtual Expected<Execution> enqueue_invocation(const NewInvocation& inv) = 0;
  // Claims up to `max` due invocations (QUEUED with not-before <= now, or RUNNING whose lease
  // expired: its node died), oldest due first; each becomes RUNNING for `worker` until
  // now+lease, its attempt and claim numbers go up by one, and its record turns RUNNING with the
  // new attempt appended (an expired attempt is recorded with error "lease_expired").
  virtual Expected<std::vector<InvocationClaim>> claim_invocations(std::string_view worker,
                                                                   size_t max,
                                                                   int64_t lease_micros) = 0;
  // Heartbeat: extends each still-held lease to now+lease. Per claim, false when it was taken
  // over or completed.
  virtual Expected<std::vector<bool>> renew_invocation_leases(
      std::span<const InvocationClaim> claims, int64_t lease_micros) = 0;
  // Applies a batch of outcomes in one transaction. Per outcome, false when its claim is no
  // longer current (fenced out: a newer attempt owns the row) — nothing of it is written.
  virtual Expected<std::vector<bool>> complete_invocations(
      std::span<const InvocationOutcome> outcomes) = 0;
  // Dead letters of a function, oldest first; `error_type` filters. Errors: invalid_cursor.
  virtual Expected<Page<DeadLetter>> list_dead_letters(
      std::string_view function_id, const PageRequest& page,
      const std::optional<std::string>& error_type = {}) = 0;
  // Queues a dead letter again (attempts and event age start over; its record turns QUEUED).
  // Errors: dead_letter_not_found.
  virtual Expected<void> redrive_dead_letter(std::string_view function_id,
                                             std::string_view execution_id) = 0;
  // All (or those whose last error is `error_type`); returns how many.
  virtual Expected<int64_t> redrive_dead_letters(
      std::string_view function_id, const std::optional<std::string>& error_type = {}) = 0;
  // Discards a dead letter (its FAILED record stays). Errors: dead_letter_not_found.
  virtual Expected<void> delete_dead_letter(std::string_view function_id,
                                            std::string_view execution_id) = 0;
  virtual Expected<int64_t> purge_dead_letters(std::string_view function_id) = 0;
  // --- end of the async invocation queue ---------------------------------------------------
};

// Opens the store named by a URL: "sqlite:/path/to/nil.db", or "postgresql://user@host:port/db"
// ("postgres://" too; any libpq URI). Applies pending migrations.
// `clock` gives the times the store writes and compares (createdAt/updatedAt, compile-job leases):
// tests pass a ManualClock to expire a lease without sleeping. It must outlive the store.
Expected<std::unique_ptr<Store>> open_store(std::string_view url,
                                            const Clock& clock = SystemClock::instance());

// The URL fit for logs: a password ("postgresql://user:secret@host/db") becomes "***".
std::string redact_store_url(std::string_view url);

}  // namespace nil::store
