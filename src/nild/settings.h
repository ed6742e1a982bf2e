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
  uint32_t shutdown_grace_ms = 30'000;
  bool prewarm_compilers = true;
  std::string app_db;  // default: <data-dir>/app.db
  bool http_allow_private = false;
  uint32_t http_timeout_ms = 5'000;
  std::string native_tier = "on";
  int native_build_workers = 1;
  uint32_t native_build_timeout_ms = 300'000;
  std::string native_compiler = "gcc";
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
  app.add_option("--prewarm-compilers", s.prewarm_compilers, "start the AssemblyScript compile worker at start-up (false: on first use)")->envname("NIL_PREWARM_COMPILERS")->capture_default_str();
  app.add_option("--app-db", s.app_db, "the application database functions query with nil.db_query, an SQLite file beside (never the same as) the platform store (default: <data-dir>/app.db)")->envname("NIL_APP_DB");
  app.add_option("--http-allow-private", s.http_allow_private, "let nil.http_fetch reach loopback, private and link-local addresses (still only hosts on a function's httpAllow); for tests and on-premises setups")->envname("NIL_HTTP_ALLOW_PRIVATE")->capture_default_str();
  app.add_option("--http-timeout-ms", s.http_timeout_ms, "limit of one nil.http_fetch, redirects included (never past the function's own deadline)")->envname("NIL_HTTP_TIMEOUT_MS")->capture_default_str()->check(CLI::Range(uint32_t{1}, uint32_t{900'000}));
  app.add_option("--native-tier", s.native_tier, "compile every READY module to native code (wasm2c + a C compiler, sandboxed; cached in <data-dir>/native) and run it there once built; the interpreter serves until then (off: interpreter only)")->envname("NIL_NATIVE_TIER")->capture_default_str()->check(CLI::IsMember({"on", "off"}));
  app.add_option("--native-build-workers", s.native_build_workers, "native builds run in parallel (each is a C compile of the whole module)")->envname("NIL_NATIVE_BUILD_WORKERS")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--native-build-timeout-ms", s.native_build_timeout_ms, "wall-clock limit of one native build; past it the module stays on the interpreter")->envname("NIL_NATIVE_BUILD_TIMEOUT_MS")->capture_default_str()->check(CLI::Range(uint32_t{1000}, uint32_t{3'600'000}));
  app.add_option("--native-compiler", s.native_compiler, "C compiler of native builds: gcc or clang-16")->envname("NIL_NATIVE_COMPILER")->capture_default_str()->check(CLI::IsMember({"gcc", "clang-16"}));
  app.add_option("--shutdown-grace-ms", s.shutdown_grace_ms, "how long SIGTERM waits for in-flight requests")->envname("NIL_SHUTDOWN_GRACE_MS")->capture_default_str();
}

}  // namespace nil
