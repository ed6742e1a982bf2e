// Integration-test harness: drives a REAL nild over REAL HTTP on 127.0.0.1.
//
// - NildProcess spawns the binary named by $NILD (set by nil_test() in tests/CMakeLists.txt) on
//   port 0 with a temporary data dir, waits for its port file, and stops it with SIGTERM (graceful)
//   or SIGKILL (crash); restart() reuses the same data dir. Its stderr goes to DATA_DIR/nild.log,
//   whose tail the fixtures print when a test fails.
// - HttpClient is a synchronous keep-alive HTTP/1.1 client (Boost.Beast) with a per-request
//   timeout, so a hung server fails a test instead of hanging ctest. By default it authenticates
//   as `admin` with the API key NildProcess::start() provisioned for that port (every nild has
//   one: `nild keys create --user admin` runs on the data dir before the first start); use
//   HttpClient::anonymous(port) or HttpClient(port, key) for other callers.
// - RawConnection writes raw bytes and reads responses in order: pipelining, oversized bodies.
// - NildSuite<Derived> is a gtest fixture that shares one nild per test suite (one per process
//   under ctest, which runs every test in its own process).
//
// The tests know nothing of the project's libraries: they only speak HTTP, like a user.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nil::it {

namespace json = boost::json;
using namespace std::chrono_literals;

// --- environment ---------------------------------------------------------------------------------

std::filesystem::path nild_binary();  // $NILD
std::filesystem::path source_dir();   // $NIL_SOURCE_DIR
std::string read_file(const std::filesystem::path& p);
// A test guest module's text: tests/integration/wat/NAME.wat.
std::string wat(std::string_view name);
// NAME.wat assembled with wat2wasm (found at configure time) into module bytes.
std::string wasm_bytes(std::string_view name);
std::string base64_encode(std::string_view bytes);

// A directory under $TMPDIR (or /tmp) removed on destruction unless $NIL_KEEP_TEST_DIRS is set.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// --- nild ----------------------------------------------------------------------------------------

struct NildOptions {
  std::vector<std::string> args = {};                         // extra flags
  std::vector<std::pair<std::string, std::string>> env = {};  // extra environment
};

class NildProcess {
 public:
  explicit NildProcess(NildOptions opts = {});
  ~NildProcess();  // SIGKILL if still running
  NildProcess(const NildProcess&) = delete;
  NildProcess& operator=(const NildProcess&) = delete;

  // Starts nild and waits (20 s cap) for its port file. Fails the test (gtest fatal) on error.
  void start();
  // SIGTERM, waits up to `grace` for exit; SIGKILL after that. Returns the raw wait status
  // (use WIFEXITED/WEXITSTATUS), or -1 if the process had to be killed.
  int stop(std::chrono::milliseconds grace = 30s);
  void kill9();
  // Sends SIGTERM without waiting (for tests that watch in-flight work).
  void terminate();
  // Waits for exit up to `timeout`; returns the wait status, or nullopt if still running.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // Starts again on the same data dir, with new options (e.g. without the compile delay).
  void restart(NildOptions opts);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  uint16_t port() const { return port_; }
  // An API key of the `admin` user (made by `nild keys create --user admin` before the first
  // start), for clients other than HttpClient (the CLI tests pass it as NIL_API_KEY).
  const std::string& api_key() const { return api_key_; }
  // The admin's password (NIL_ADMIN_PASSWORD, unless the test's env sets its own).
  const std::string& admin_password() const { return admin_password_; }
  const std::filesystem::path& data_dir() const { return dir_.path(); }
  std::filesystem::path log_path() const { return dir_.path() / "nild.log"; }
  std::string log_tail(size_t lines = 40) const;
  std::vector<std::string> log_lines() const;

 private:
  NildOptions opts_;
  TempDir dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string api_key_;
  std::string admin_password_ = "admin-test-password";
};

// The admin key NildProcess registered for a port ("" if none): HttpClient's default.
std::string api_key_for_port(uint16_t port);

// --- HTTP ----------------------------------------------------------------------------------------

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  std::string header(std::string_view name) const;  // "" if absent; name case-insensitive
  json::value json() const;                         // fails the test if the body is not JSON
  std::string describe() const;                     // status, headers and body for messages
};

using Headers = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  // Authenticates with the admin key registered for `port` (api_key_for_port).
  explicit HttpClient(uint16_t port, std::chrono::milliseconds timeout = 60s);
  // Authenticates with `api_key` ("" sends no Authorization header).
  HttpClient(uint16_t port, std::string api_key, std::chrono::milliseconds timeout = 60s);
  static HttpClient anonymous(uint16_t port) { return HttpClient(port, std::string()); }
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  // Sends one request over the kept-alive connection (reconnecting once if the server had closed
  // an idle connection). Transport failures fail the test and return status 0.
  HttpResponse request(std::string_view method, std::string_view target, std::string body = {},
                       std::string content_type = {}, const Headers& extra = {});

  HttpResponse get(std::string_view target) { return request("GET", target); }
  HttpResponse del(std::string_view target) { return request("DELETE", target); }
  HttpResponse post_json(std::string_view target, const json::value& v) {
    return request("POST", target, json::serialize(v), "application/json");
  }
  HttpResponse post_raw(std::string_view target, std::string body,
                        std::string content_type = "application/json") {
    return request("POST", target, std::move(body), std::move(content_type));
  }
  HttpResponse put_json(std::string_view target, const json::value& v) {
    return request("PUT", target, json::serialize(v), "application/json");
  }

  std::string describe_exchange() const;  // the last request and response, for messages
  const std::string& api_key() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A plain TCP connection: write bytes as given, read complete HTTP responses in order.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port, std::chrono::milliseconds timeout = 30s);
  ~RawConnection();
  // Returns false if the peer reset or closed the connection mid-write.
  bool write(std::string_view bytes);
  // Reads one response (body limit 64 MiB); nullopt and an error text on failure/EOF.
  std::optional<HttpResponse> read_response(std::string* error = nullptr);
  void shutdown_send();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// --- API helpers -------------------------------------------------------------------------------

// GET a string member, "" if absent or not a string.
std::string str(const json::value& v, std::string_view key);
bool is_null_or_absent(const json::value& v, std::string_view key);
// True if s contains "DIGITS:DIGITS" (a line:column position).
bool has_line_column(std::string_view s);
// True if s is exactly n lower-case hex digits.
bool is_lower_hex(std::string_view s, size_t n);

// Checks the problem+json contract of docs/errors.md and the expected status and code.
::testing::AssertionResult is_problem(const HttpResponse& r, int status, std::string_view code);

struct Limits {
  std::optional<int64_t> timeout_ms;
  std::optional<int64_t> memory_mb;
};

json::object wat_function(std::string_view name, std::string_view source, Limits limits = {});

// Polls GET /functions/{id} until READY or FAILED (cap 30 s). Returns the last function JSON;
// `seen` (if given) collects every distinct status observed, in order.
json::object wait_terminal(HttpClient& c, std::string_view id,
                           std::vector<std::string>* seen = nullptr,
                           std::chrono::milliseconds cap = 30s);

// POST /functions with WAT source, expect 202, wait until READY (fails the test otherwise).
// Returns the function id.
std::string deploy_ready(HttpClient& c, std::string_view name, std::string_view source,
                         Limits limits = {});

// POST /functions/{id}/execute with `input`; expects 200 and returns the execution JSON.
json::object execute(HttpClient& c, std::string_view id, const json::value& input);

// GET /executions/{id}, once. No retry: a read that follows an answered execute finds its record
// at once (the read route waits for the group commit, ExecutionWriter::sync), so a 404 here is a
// bug, not a race.
HttpResponse get_execution(HttpClient& c, std::string_view id);

// A name unique within this process (tests sharing a nild must not collide).
std::string unique_name(std::string_view prefix);

// --- fixtures ----------------------------------------------------------------------------------

// Prints the nild log tail when the current test failed.
void print_log_tail_on_failure(const NildProcess* nild);

// One nild shared by all tests of a suite. Derived may define `static NildOptions options()`.
template <typename Derived>
class NildSuite : public ::testing::Test {
 public:
  static NildOptions options() { return {}; }

  static void SetUpTestSuite() {
    nild_ = std::make_unique<NildProcess>(Derived::options());
    nild_->start();
  }
  static void TearDownTestSuite() {
    if (nild_) nild_->stop();
    nild_.reset();
  }

 protected:
  void SetUp() override {
    ASSERT_TRUE(nild_ && nild_->running()) << "nild did not start";
    client_ = std::make_unique<HttpClient>(nild_->port());
  }
  void TearDown() override { print_log_tail_on_failure(nild_.get()); }

  HttpClient& http() { return *client_; }
  NildProcess& nild() { return *nild_; }

  static inline std::unique_ptr<NildProcess> nild_;
  std::unique_ptr<HttpClient> client_;
};

// A fresh nild per test (for crash, restart and option-specific tests).
class FreshNildTest : public ::testing::Test {
 protected:
  void TearDown() override { print_log_tail_on_failure(nild_.get()); }
  NildProcess& start_nild(NildOptions opts = {}) {
    nild_ = std::make_unique<NildProcess>(std::move(opts));
    nild_->start();
    return *nild_;
  }
  std::unique_ptr<NildProcess> nild_;
};

}  // namespace nil::it
