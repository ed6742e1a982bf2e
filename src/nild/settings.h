// nild's settings, defined once: each has a flag, an environment variable and a doc line, from
// which --help and docs/operations.md follow.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace nil {

struct Settings {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./nil-data";
  std::string db;  // default: sqlite:<data-dir>/nil.db
  std::string port_file;
  std::string project_dir;
  std::string log_level = "info";
  uint64_t max_body_bytes = 8ull << 20;
  uint64_t max_source_bytes = 1ull << 20;
  int io_threads = 16;
  int work_threads = 0;
  int compile_workers = 2;
  uint32_t compile_timeout_ms = 60'000;
  uint32_t compile_lease_ms = 30'000;
  uint32_t shutdown_grace_ms = 30'000;
  bool prewarm_compilers = true;
  std::string app_db;  // default: <data-dir>/app.db
  std::string app_db_scope = "function";
  bool http_allow_private = false;
  uint32_t http_timeout_ms = 5'000;
  std::string native_tier = "on";
  int native_build_workers = 1;
  uint32_t native_build_timeout_ms = 300'000;
  std::string native_compiler = "gcc";
  // Authentication (issue 5; docs/security.md).
  uint64_t session_idle_ms = 30ull * 60 * 1000;
  uint64_t session_absolute_ms = 12ull * 60 * 60 * 1000;
  bool secure_cookies = false;
  double key_rate = 0;
  double key_burst = 0;
  double function_rate = 0;
  double function_burst = 0;
  uint32_t function_concurrency = 0;
  int login_max_failures = 5;
  int login_max_failures_address = 20;
  uint64_t login_window_ms = 60'000;
  // Operations (docs/operations.md).
  std::string durability = "async";  // commit cost 23% (64 conns) to 64% (1 conn): docs/operations.md
  std::string user;         // drop to this user after opening the port and files
  bool allow_root = false;  // development: run as root without --user
  int max_password_hashes = 4;
  // Connections (issue 11; docs/operations.md).
  int64_t max_connections = 0;  // 0: the descriptor limit minus a reserve
  int64_t max_connections_per_ip = 512;
};

inline void register_settings(CLI::App& app, Settings& s) {
  app.add_option("--listen", s.listen, "address:port to serve HTTP on (port 0: any free port)")->envname("NIL_LISTEN")->capture_default_str();
  app.add_option("--data-dir", s.data_dir, "directory for the database, caches and the lock file")->envname("NIL_DATA_DIR")->capture_default_str();
  app.add_option("--db", s.db, "store URL, e.g. sqlite:/var/lib/nil/nil.db (default: sqlite:<data-dir>/nil.db)")->envname("NIL_DB");
  app.add_option("--port-file", s.port_file, "write the bound port to this file once listening")->envname("NIL_PORT_FILE");
  app.add_option("--project-dir", s.project_dir, "where sdk/ and node_modules/ live (default: the source tree nild was built from)")->envname("NIL_PROJECT_DIR");
  app.add_option("--log-level", s.log_level, "debug, info, warn or error")->envname("NIL_LOG_LEVEL")->capture_default_str()->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_option("--max-body-bytes", s.max_body_bytes, "largest request body accepted (413 past it)")->envname("NIL_MAX_BODY_BYTES")->capture_default_str()->check(CLI::Range(uint64_t{1024}, uint64_t{1} << 30));
  app.add_option("--max-source-bytes", s.max_source_bytes, "largest function source accepted (413 past it)")->envname("NIL_MAX_SOURCE_BYTES")->capture_default_str()->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));
  app.add_option("--io-threads", s.io_threads, "threads running network I/O (and, with --work-threads 0, the requests themselves)")->envname("NIL_IO_THREADS")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--work-threads", s.work_threads, "a separate pool for requests and functions (0: handle them on the I/O threads, which saves two thread hand-offs per request)")->envname("NIL_WORK_THREADS")->capture_default_str()->check(CLI::Range(0, 1024));
  app.add_option("--compile-workers", s.compile_workers, "compile jobs run in parallel (0: this node compiles nothing)")->envname("NIL_COMPILE_WORKERS")->capture_default_str()->check(CLI::Range(0, 64));
  app.add_option("--compile-timeout-ms", s.compile_timeout_ms, "wall-clock limit of one compile")->envname("NIL_COMPILE_TIMEOUT_MS")->capture_default_str();
  app.add_option("--compile-lease-ms", s.compile_lease_ms, "how long a claimed compile job stays this node's without a heartbeat (renewed every third of it); a crashed node's job is retaken by any node after this")->envname("NIL_COMPILE_LEASE_MS")->capture_default_str()->check(CLI::Range(1'000u, 3'600'000u));
  app.add_option("--prewarm-compilers", s.prewarm_compilers, "start the AssemblyScript compile worker at start-up (false: on first use)")->envname("NIL_PREWARM_COMPILERS")->capture_default_str();
  app.add_option("--app-db", s.app_db, "the shared application database (--app-db-scope shared) functions query with nil.db_query, an SQLite file beside (never the same as) the platform store (default: <data-dir>/app.db)")->envname("NIL_APP_DB");
  app.add_option("--app-db-scope", s.app_db_scope, "which application database a function's nil.db_query reaches: function (each function its own SQLite file, <data-dir>/app/<function-id>.db, created on first use) or shared (every function the --app-db file, where functions read and write each other's tables)")->envname("NIL_APP_DB_SCOPE")->capture_default_str()->check(CLI::IsMember({"function", "shared"}));
  app.add_option("--http-allow-private", s.http_allow_private, "let nil.http_fetch reach loopback, private and link-local addresses (still only hosts on a function's httpAllow); for tests and on-premises setups")->envname("NIL_HTTP_ALLOW_PRIVATE")->capture_default_str();
  app.add_option("--http-timeout-ms", s.http_timeout_ms, "limit of one nil.http_fetch, redirects included (never past the function's own deadline)")->envname("NIL_HTTP_TIMEOUT_MS")->capture_default_str()->check(CLI::Range(uint32_t{1}, uint32_t{900'000}));
  app.add_option("--native-tier", s.native_tier, "compile every READY module to native code (wasm2c + a C compiler, sandboxed; cached in <data-dir>/native) and run it there once built; the interpreter serves until then (off: interpreter only)")->envname("NIL_NATIVE_TIER")->capture_default_str()->check(CLI::IsMember({"on", "off"}));
  app.add_option("--native-build-workers", s.native_build_workers, "native builds run in parallel (each is a C compile of the whole module)")->envname("NIL_NATIVE_BUILD_WORKERS")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--native-build-timeout-ms", s.native_build_timeout_ms, "wall-clock limit of one native build; past it the module stays on the interpreter")->envname("NIL_NATIVE_BUILD_TIMEOUT_MS")->capture_default_str()->check(CLI::Range(uint32_t{1000}, uint32_t{3'600'000}));
  app.add_option("--native-compiler", s.native_compiler, "C compiler of native builds: gcc or clang-16")->envname("NIL_NATIVE_COMPILER")->capture_default_str()->check(CLI::IsMember({"gcc", "clang-16"}));
  app.add_option("--session-idle-ms", s.session_idle_ms, "a browser session ends after this long without a request")->envname("NIL_SESSION_IDLE_MS")->capture_default_str()->check(CLI::Range(uint64_t{100}, uint64_t{1} << 40));
  app.add_option("--session-absolute-ms", s.session_absolute_ms, "a browser session ends this long after login, however active")->envname("NIL_SESSION_ABSOLUTE_MS")->capture_default_str()->check(CLI::Range(uint64_t{100}, uint64_t{1} << 40));
  app.add_option("--secure-cookies", s.secure_cookies, "mark the session cookie Secure: set it when clients reach nild over HTTPS (a TLS-terminating proxy)")->envname("NIL_SECURE_COOKIES")->capture_default_str();
  app.add_option("--rate-limit-key", s.key_rate, "requests per second per API key or session (token bucket; 0: unlimited)")->envname("NIL_RATE_LIMIT_KEY")->capture_default_str()->check(CLI::Range(0.0, 1e9));
  app.add_option("--rate-limit-key-burst", s.key_burst, "bucket size per API key (default: one second's worth, at least 1)")->envname("NIL_RATE_LIMIT_KEY_BURST")->capture_default_str()->check(CLI::Range(0.0, 1e9));
  app.add_option("--rate-limit-function", s.function_rate, "executions per second per function, all callers together (0: unlimited)")->envname("NIL_RATE_LIMIT_FUNCTION")->capture_default_str()->check(CLI::Range(0.0, 1e9));
  app.add_option("--rate-limit-function-burst", s.function_burst, "bucket size per function (default: one second's worth, at least 1)")->envname("NIL_RATE_LIMIT_FUNCTION_BURST")->capture_default_str()->check(CLI::Range(0.0, 1e9));
  app.add_option("--concurrency-limit-function", s.function_concurrency, "invocations of one function running at once, all callers and triggers together (0: unlimited)")->envname("NIL_CONCURRENCY_LIMIT_FUNCTION")->capture_default_str()->check(CLI::Range(uint32_t{0}, uint32_t{1'000'000}));
  app.add_option("--login-max-failures", s.login_max_failures, "failed logins per username within the window before login_throttled (0: off)")->envname("NIL_LOGIN_MAX_FAILURES")->capture_default_str()->check(CLI::Range(0, 1000000));
  app.add_option("--login-max-failures-address", s.login_max_failures_address, "failed logins per client address within the window before login_throttled (0: off)")->envname("NIL_LOGIN_MAX_FAILURES_ADDRESS")->capture_default_str()->check(CLI::Range(0, 1000000));
  app.add_option("--login-window-ms", s.login_window_ms, "the window failed logins are counted over, and how long a throttled name or address waits")->envname("NIL_LOGIN_WINDOW_MS")->capture_default_str()->check(CLI::Range(uint64_t{100}, uint64_t{1} << 40));
  app.add_option("--durability", s.durability, "when an execute is answered: commit (after its execution record is committed: a kill -9 loses no answered execution) or async (at once; a kill -9 can lose the records of the last few milliseconds of answered executions, docs/operations.md)")->envname("NIL_DURABILITY")->capture_default_str()->check(CLI::IsMember({"commit", "async"}));
  app.add_option("--user", s.user, "started as root: the user to run as (nild opens its port and data dir, hands the data dir to the user, then drops to it; supplementary groups are cleared)")->envname("NIL_USER");
  app.add_flag("--allow-root", s.allow_root, "let nild keep running as root without --user (development machines and CI only)")->envname("NIL_ALLOW_ROOT");
  app.add_option("--max-password-hashes", s.max_password_hashes, "password hashes (argon2id, 64 MiB each) run at once for logins, user creation and password changes; past it 429 password_hashing_busy")->envname("NIL_MAX_PASSWORD_HASHES")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--max-connections", s.max_connections, "open HTTP connections in total; past it a new one is answered 503 too_many_connections and closed (0: the open-file limit minus 128 + 3 per I/O thread, kept for the store, compilers, sandboxes and event loops)")->envname("NIL_MAX_CONNECTIONS")->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  app.add_option("--max-connections-per-ip", s.max_connections_per_ip, "open HTTP connections per client address (0: no cap; raise it behind a proxy, which connects from one address)")->envname("NIL_MAX_CONNECTIONS_PER_IP")->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  app.add_option("--shutdown-grace-ms", s.shutdown_grace_ms, "how long SIGTERM waits for in-flight requests")->envname("NIL_SHUTDOWN_GRACE_MS")->capture_default_str();
}

}  // namespace nil
