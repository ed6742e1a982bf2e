// nild — the NIL server. Wires the components together and owns start-up and shutdown order:
//   start:    lock data dir → open store (migrations) → first-start admin → writer → engine
//             (interpreter, native tier + its builder) → host runtime (app.db, HTTP client) →
//             invoker → authenticator → compile pool → queue worker (async invocations) → HTTP API
//   `nild keys create --user NAME`: opens (and migrates) the store of a data dir, creates the
//             admin on first use like a start would, prints a new API key, exits.
//   SIGTERM:  the drain (docs/operations.md, "Graceful shutdown"): /readyz 503 and no new compile
//             claims → keep accepting for --drain-accept-ms (answers close their connections) →
//             stop accepting → answer in-flight requests (--shutdown-grace-ms) → drain the queue
//             worker → flush the execution writer → compile jobs finish or are released → stop
//             native builds → exit 0. A second SIGTERM/SIGINT, or --drain-timeout-ms, cuts it
//             short: compile jobs are released and nild exits 1 at once.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/signal_set.hpp>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "api/api.h"
#include "api/http_server.h"
#include "auth/auth.h"
#include "common/log.h"
#include "common/util.h"
#include "compile/native_builder.h"
#include "compile/worker.h"
#include "engine/engine.h"
#include "host/host.h"
#include "invoke/invoker.h"
#include "nild/privileges.h"
#include "nild/settings.h"
#include "queue/worker.h"
#include "store/store.h"

#ifndef NIL_PROJECT_DIR
#define NIL_PROJECT_DIR "."
#endif

namespace fs = std::filesystem;
using namespace nil;

namespace {

// Every connection is a descriptor: raise the soft open-file limit to the hard one (a soft 1024
// is the usual default and would cap nild at a few hundred clients). Logged either way.
void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  rlim_t before = lim.rlim_cur;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) lim.rlim_cur = before;
  }
  log::info("open-file limit", {{"soft", static_cast<int64_t>(lim.rlim_cur)},
                                {"before", static_cast<int64_t>(before)},
                                {"hard", static_cast<int64_t>(lim.rlim_max)}});
}

// --max-connections 0: the descriptor limit minus a reserve for what nild holds besides
// connections — 3 per event loop (epoll, eventfd, timerfd), the store, app.db, compile and
// native-build processes, refusals in flight — so that an over-cap connection can still be
// accepted and answered 503 rather than wait in the backlog for a descriptor.
int64_t auto_max_connections(int io_threads) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 100'000;
  int64_t limit = static_cast<int64_t>(std::min<rlim_t>(lim.rlim_cur, 1 << 30));
  int64_t n = limit - (128 + 3 * (int64_t{io_threads} + 1));
  return std::clamp<int64_t>(n, 16, 100'000);
}

// One nild per data dir: the SQLite store's single writer connection relies on it. (Compile
// jobs do not: they are leased, and several nodes may share one queue; docs/storage.md.)
int lock_data_dir(const fs::path& dir) {
  std::string path = (dir / "nild.lock").string();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return -2;
  }
  return fd;
}

// Where sdk/, node_modules/ and src/compile/asc_worker.mjs are: --project-dir if given; else an
// installed tree beside the executable (<prefix>/bin/nild → <prefix>/share/nil, as `make
// install` and the Debian package lay it out); else the source tree nild was built from.
fs::path project_dir(const Settings& s) {
  if (!s.project_dir.empty()) return s.project_dir;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path installed = exe.parent_path().parent_path() / "share" / "nil";
    if (fs::exists(installed / "sdk", ec)) return installed;
  }
  return fs::path(NIL_PROJECT_DIR);
}

std::string store_url(const std::string& db, const std::string& data_dir) {
  return db.empty() ? "sqlite:" + (fs::path(data_dir) / "nil.db").string() : db;
}

// First start: the `admin` user, with NIL_ADMIN_PASSWORD or a generated password printed once
// (stderr and the log) — it is stored only as an argon2id hash and can never be shown again.
bool bootstrap_admin(store::Store& st) {
  const char* env = std::getenv("NIL_ADMIN_PASSWORD");
  auto r = auth::ensure_admin(st, env ? env : "");
  if (!r) {
    log::error("cannot create the admin user", {{"error", r.error().message}});
    return false;
  }
  if (*r) {
    std::cerr << "\n  Created user 'admin' with password: " << **r
              << "\n  (shown once; set NIL_ADMIN_PASSWORD to choose it, change it with PUT "
                 "/users/admin)\n\n";
    log::warn("created user admin with a generated password (printed once)", {{"password", **r}});
  } else if (env && *env) {
    log::info("admin user ready", {});
  }
  return true;
}

struct KeysCreate {
  std::string user;
  std::string name = "cli";
  std::string data_dir = "./nil-data";
  std::string db;
  std::string expires_at;
};

// `nild keys create`: works offline on the data dir (SQLite allows it next to a running nild
// too: the running one finds the new key in the store on first use).
int keys_create(const KeysCreate& k) {
  log::init(log::Level::kWarn);
  std::error_code ec;
  fs::create_directories(k.data_dir, ec);
  auto opened = store::open_store(store_url(k.db, k.data_dir));
  if (!opened) {
    std::cerr << "nild keys create: cannot open store: " << opened.error().message << "\n";
    return 1;
  }
  auto& st = **opened;
  if (!bootstrap_admin(st)) return 1;
  auto created = auth::create_api_key(st, k.user, k.name, std::nullopt);
  if (!created) {
    std::cerr << "nild keys create: " << created.error().message << "\n";
    return 1;
  }
  std::cout << created->token << "\n";
  return 0;
}

int run(const Settings& s) {
  log::init(s.log_level == "debug"   ? log::Level::kDebug
            : s.log_level == "warn"  ? log::Level::kWarn
            : s.log_level == "error" ? log::Level::kError
                                     : log::Level::kInfo);
  // Root only with a user to drop to (or when told root is intended).
  std::optional<nild::RunAs> run_as;
  if (!s.user.empty()) {
    auto u = nild::find_user(s.user);
    if (!u) {
      std::cerr << "nild: --user " << s.user << ": " << u.error().message << "\n";
      return 2;
    }
    if (::geteuid() != 0 && ::geteuid() != u->uid) {
      std::cerr << "nild: --user " << s.user << " needs nild to start as root (or as that user)\n";
      return 2;
    }
    if (::geteuid() == 0 && u->uid == 0) {
      std::cerr << "nild: --user must name an unprivileged user, not " << s.user << "\n";
      return 2;
    }
    if (::geteuid() == 0) run_as = *u;
  } else if (::geteuid() == 0 && !s.allow_root) {
    std::cerr << nild::kRootRefusal << "\n";
    return 2;
  }
  raise_fd_limit();
  std::error_code ec;
  fs::create_directories(s.data_dir, ec);
  if (ec) {
    log::error("cannot create data dir", {{"dataDir", s.data_dir}, {"error", ec.message()}});
    return 1;
  }
  int lock_fd = lock_data_dir(s.data_dir);
  if (lock_fd < 0) {
    log::error(lock_fd == -2 ? "data dir is in use by another nild" : "cannot lock data dir",
               {{"dataDir", s.data_dir}});
    return 1;
  }
  std::string db = store_url(s.db, s.data_dir);
  auto opened = store::open_store(db);
  if (!opened) {
    log::error("cannot open store",
               {{"db", store::redact_store_url(db)}, {"error", opened.error().message}});
    return 1;
  }
  std::unique_ptr<store::Store> st = std::move(opened).value();
  if (!bootstrap_admin(*st)) return 1;
  // No start-up requeue of RUNNING compile jobs: they are leased, and a job whose lease expired
  // (its node crashed) is claimed again by whichever worker asks next (docs/storage.md).

  // The application database functions query (nil.db_query): its own file, beside the store and
  // never the store itself, so no function can read or write the platform's tables.
  fs::path app_db = s.app_db.empty() ? fs::path(s.data_dir) / "app.db" : fs::path(s.app_db);
  if (db.starts_with("sqlite:")) {
    fs::path store_path = db.substr(7);
    if (fs::weakly_canonical(store_path, ec) == fs::weakly_canonical(app_db, ec)) {
      log::error("the application database must not be the platform store",
                 {{"appDb", app_db.string()}, {"db", store::redact_store_url(db)}});
      return 1;
    }
  }
  host::HostConfig hc;
  hc.app_db = app_db;
  hc.app_db_dir = fs::path(s.data_dir) / "app";
  hc.app_db_scope =
      s.app_db_scope == "shared" ? host::AppDbScope::kShared : host::AppDbScope::kFunction;
  hc.http_allow_private = s.http_allow_private;
  hc.http_timeout_ms = s.http_timeout_ms;
  host::HostRuntime host_runtime(hc);

  invoke::ExecutionWriter writer(*st);
  auto sandbox = engine::make_interpreter_sandbox();
  // Every per-function and per-invocation limit is the invoker's (invoke::LimitEnforcer), so
  // every trigger is limited alike.
  invoke::LimitSettings ls;
  ls.function_rate = s.function_rate;
  ls.function_burst = s.function_burst > 0 ? s.function_burst : std::max(1.0, s.function_rate);
  ls.function_concurrency = s.function_concurrency;
  ls.max_in_flight = s.max_in_flight;
  ls.max_queued = s.max_queued;
  ls.queue_ms = s.queue_ms;
  invoke::Invoker invoker(*st, *sandbox, writer, &host_runtime, ls);
  auth::AuthSettings as;
  as.session_idle = std::chrono::milliseconds(s.session_idle_ms);
  as.session_absolute = std::chrono::milliseconds(s.session_absolute_ms);
  auth::Authenticator authenticator(*st, as);

  // The native tier: artifacts in DATA_DIR/native, rebuildable (not in the store). Builds are
  // requested when a module becomes READY and when a load finds the artifact missing; the
  // builder fetches the module bytes through the function that asked.
  std::unique_ptr<engine::NativeSandbox> native_sandbox;
  std::unique_ptr<compile::NativeBuilder> native_builder;
  std::mutex native_mu;
  std::unordered_map<std::string, std::string> native_requester;  // sha256 → function id
  if (s.native_tier == "on") {
    fs::path native_dir = fs::path(s.data_dir) / "native";
    compile::NativeBuildOptions nbo;
    nbo.compiler = s.native_compiler;
    nbo.timeout_ms = s.native_build_timeout_ms;
    nbo.work_dir = fs::path(s.data_dir) / "tmp";
    native_sandbox = engine::make_native_sandbox();
    native_builder = std::make_unique<compile::NativeBuilder>(
        native_dir, s.native_build_workers, nbo,
        [&](const std::string& sha) -> Expected<std::string> {
          std::string fn;
          {
            std::lock_guard lk(native_mu);
            fn = native_requester[sha];
          }
          std::string wasm = NIL_TRY(st->get_function_wasm(fn));
          if (sha256_hex(wasm) != sha) {
            return make_error(ErrorCode::kModuleChanged,
                              "the function's module changed before its native build");
          }
          return wasm;
        },
        [&invoker](const std::string& sha) { invoker.native_ready(sha); });
    invoke::Invoker::NativeTier nt;
    nt.sandbox = native_sandbox.get();
    nt.artifact_dir = native_dir;
    nt.request_build = [&](const std::string& sha, const std::string& fn) {
      {
        std::lock_guard lk(native_mu);
        native_requester[sha] = fn;
      }
      native_builder->request(sha);
    };
    invoker.set_native_tier(std::move(nt));
  }
  auto request_native = [&](const std::string& function_id) {
    if (!native_builder) return;
    auto f = st->get_function(function_id);
    if (!f.ok() || f->status != store::FunctionStatus::kReady || !f->wasm_sha256) return;
    std::error_code ec;
    if (fs::exists(native_builder->artifact_path(*f->wasm_sha256), ec)) return;
    {
      std::lock_guard lk(native_mu);
      native_requester[*f->wasm_sha256] = function_id;
    }
    native_builder->request(*f->wasm_sha256);
  };

  compile::ToolchainConfig tc;
  tc.project_dir = project_dir(s);
  tc.work_dir = fs::path(s.data_dir) / "tmp";
  // A worker prewarmed now would keep running as root: with --user it starts on first use.
  tc.prewarm = s.prewarm_compilers && !run_as;
  fs::create_directories(tc.work_dir, ec);
  auto drivers = compile::make_registry(tc);
  compile::PoolOptions po;
  po.workers = s.compile_workers;
  po.cache_dir = fs::path(s.data_dir) / "cache" / "compile";
  po.compile.timeout_ms = s.compile_timeout_ms;
  po.lease_micros = int64_t{s.compile_lease_ms} * 1000;
  if (const char* d = std::getenv("NIL_DEBUG_COMPILE_DELAY_MS"))
    po.debug_delay_ms = static_cast<uint32_t>(std::atoi(d));
  compile::CompilePool pool(*st, *drivers, po, [&invoker, &request_native](const std::string& id) {
    invoker.invalidate(id);
    request_native(id);  // a module that became READY goes native in the background
  });

  api::ServerOptions so;
  so.listen = s.listen;
  so.body_limit = s.max_body_bytes;
  so.io_threads = s.io_threads;
  so.max_connections =
      s.max_connections > 0 ? s.max_connections : auto_max_connections(s.io_threads);
  so.max_connections_per_address = s.max_connections_per_ip;
  so.node_id = s.node_id;
  std::atomic<bool> draining{false};
  api::ApiOptions ao;
  ao.max_source_bytes = s.max_source_bytes;
  ao.work_threads = s.work_threads;
  ao.fiber_threads = s.fiber_threads;
  ao.fiber_stack_bytes = size_t{s.fiber_stack_kb} << 10;
  ao.languages = drivers->languages();
  ao.key_rate = s.key_rate;
  ao.key_burst = s.key_burst > 0 ? s.key_burst : std::max(1.0, s.key_rate);
  ao.login_max_failures_user = s.login_max_failures;
  ao.login_max_failures_address = s.login_max_failures_address;
  ao.login_window = std::chrono::milliseconds(s.login_window_ms);
  ao.secure_cookies = s.secure_cookies;
  ao.answer_after_commit = s.durability == "commit";
  ao.max_password_hashes = s.max_password_hashes;
  ao.callback_allow_private = s.http_allow_private;
  queue::QueueSettings qs;
  qs.threads = s.queue_workers;
  qs.batch = s.queue_batch;
  qs.lease = std::chrono::milliseconds(s.queue_lease_ms);
  qs.poll = std::chrono::milliseconds(s.queue_poll_ms);
  qs.node_id = "nild-" + std::to_string(::getpid());
  queue::CallbackSender callbacks(hc);
  qs.callbacks = &callbacks;
  queue::QueueWorker queue_worker(*st, invoker, qs);
  api::Api api(ao, api::ApiDeps{*st, invoker, writer, authenticator, [&pool] { pool.notify(); },
                                [&draining] { return draining.load(); },
                                [&queue_worker] { queue_worker.notify(); }});
  api::HttpServer server(so, api);
  if (auto r = server.start(); !r) {
    log::error("cannot start HTTP server", {{"error", r.error().message}});
    return 1;
  }
  if (run_as) {
    // The port is bound and the store open: hand the data dir (and an app database outside it)
    // to the user and become that user before any compile runs or the port file says "ready".
    std::vector<fs::path> owned = {s.data_dir};
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      owned.push_back(app_db.string() + suffix);
      if (db.starts_with("sqlite:")) owned.push_back(db.substr(7) + suffix);
    }
    if (auto r = nild::hand_over(owned, *run_as); !r) {
      log::error("cannot hand the data dir to the user",
                 {{"user", run_as->name}, {"error", r.error().message}});
      return 1;
    }
    if (auto r = nild::drop_to(*run_as); !r) {
      log::error("cannot drop privileges", {{"user", run_as->name}, {"error", r.error().message}});
      return 1;
    }
    log::info("running as user",
              {{"user", run_as->name}, {"uid", static_cast<int64_t>(run_as->uid)}});
  }
  pool.start();
  queue_worker.start();
  if (!s.port_file.empty()) {
    std::string tmp = s.port_file + ".tmp";
    std::ofstream(tmp) << server.port() << "\n";
    fs::rename(tmp, s.port_file, ec);
  }
  log::info("listening", {{"address", s.listen},
                          {"port", static_cast<int64_t>(server.port())},
                          {"node", server.node_id()},
                          {"dataDir", s.data_dir},
                          {"db", store::redact_store_url(db)},
                          {"appDb", app_db.string()},
                          {"appDbScope", s.app_db_scope},
                          {"httpAllowPrivate", s.http_allow_private},
                          {"nativeTier", s.native_tier},
                          {"durability", s.durability},
                          {"projectDir", tc.project_dir.string()}});

  // Wait for SIGTERM/SIGINT on a dedicated thread (sigwait), not in a handler.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  const auto drain_start = std::chrono::steady_clock::now();
  log::info("shutting down", {{"signal", sig},
                              {"node", server.node_id()},
                              {"inFlight", server.in_flight()},
                              {"drainAcceptMs", static_cast<int64_t>(s.drain_accept_ms)},
                              {"drainTimeoutMs", static_cast<int64_t>(s.drain_timeout_ms)}});
  // Answers close their connections before /readyz turns: whoever learns of the drain from
  // /readyz holds no kept-alive connection to it.
  server.begin_drain();
  draining = true;  // /readyz: 503 shutting_down from now
  pool.stop_claiming();

  // The watchdog: a second signal or the drain timeout ends the drain at once. It gives back
  // the compile jobs still held (so other nodes need not wait out their leases) and exits 1
  // without the rest: executions answered in the last milliseconds may not be committed, as
  // after a kill -9.
  std::atomic<bool> drained{false};
  std::thread watchdog([&] {
    const auto limit = std::chrono::milliseconds(s.drain_timeout_ms);
    const char* reason = nullptr;
    int second = 0;
    while (!drained.load()) {
      timespec slice{0, 100'000'000};
      int got = sigtimedwait(&set, nullptr, &slice);
      if (got == SIGTERM || got == SIGINT) {
        reason = "second signal";
        second = got;
        break;
      }
      if (s.drain_timeout_ms > 0 && std::chrono::steady_clock::now() - drain_start >= limit) {
        reason = "drain timeout";
        break;
      }
    }
    if (reason == nullptr) return;
    log::warn("drain cut short, exiting now",
              {{"reason", reason},
               {"signal", second},
               {"inFlight", server.in_flight()},
               {"drainTimeoutMs", static_cast<int64_t>(s.drain_timeout_ms)}});
    pool.release_held();
    log::warn("stopped without draining", {});
    std::_Exit(1);
  });

  if (s.drain_accept_ms > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(s.drain_accept_ms));
  server.shutdown(std::chrono::milliseconds(s.shutdown_grace_ms));
  api.stop();
  queue_worker.stop();  // drains: running invocations finish and are recorded
  callbacks.stop();
  // No execution starts after the API: commit the answered ones before waiting on compilers.
  writer.stop();
  pool.drain(drain_start + std::chrono::milliseconds(s.drain_accept_ms) +
             std::chrono::milliseconds(s.shutdown_grace_ms));
  if (native_builder) native_builder->stop();
  authenticator.stop();
  drained = true;
  watchdog.join();
  log::info("stopped", {{"node", server.node_id()}});
  ::close(lock_fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Block the shutdown signals in every thread (threads inherit the mask); main sigwaits them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"nild — the NIL function-as-a-service server"};
  Settings s;
  register_settings(app, s);
  // Hidden (empty group): prints the settings table of docs/operations.md (make docs-settings).
  bool settings_md = false;
  app.add_flag("--settings-markdown", settings_md,
               "print the settings as docs/operations.md's Markdown table and exit")
      ->group("");
  KeysCreate kc;
  auto* keys = app.add_subcommand("keys", "manage API keys offline, against a data dir");
  keys->require_subcommand(1);
  auto* create = keys->add_subcommand("create", "create an API key for a user and print it (once)");
  create->add_option("--user", kc.user, "the key's user (id or username)")->required();
  create->add_option("--name", kc.name, "a label for the key")->capture_default_str();
  create->add_option("--data-dir", kc.data_dir, "the data dir of the nild to use")
      ->envname("NIL_DATA_DIR")
      ->capture_default_str();
  create->add_option("--db", kc.db, "store URL (default: sqlite:<data-dir>/nil.db)")
      ->envname("NIL_DB");
  CLI11_PARSE(app, argc, argv);
  if (settings_md) {
    std::cout << settings_markdown(app);
    return 0;
  }
  if (create->parsed()) return keys_create(kc);
  return run(s);
}
