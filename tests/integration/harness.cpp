#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#ifndef NIL_WAT2WASM
#define NIL_WAT2WASM "wat2wasm"
#endif

extern char** environ;

namespace nil::it {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
namespace fs = std::filesystem;

// --- environment ---------------------------------------------------------------------------------

namespace {
std::string env_or_empty(const char* name) {
  if (const char* v = std::getenv(name)) return v;
  // Defaults baked in by tests/CMakeLists.txt (ctest cannot pass both variables).
  if (std::string_view(name) == "NILD") return NIL_TEST_NILD;
  if (std::string_view(name) == "NIL_SOURCE_DIR") return NIL_TEST_SOURCE_DIR;
  return "";
}
}  // namespace

fs::path nild_binary() {
  auto v = env_or_empty("NILD");
  EXPECT_FALSE(v.empty()) << "$NILD is not set (tests/CMakeLists.txt's nil_test() sets it)";
  return v;
}

fs::path source_dir() {
  auto v = env_or_empty("NIL_SOURCE_DIR");
  EXPECT_FALSE(v.empty()) << "$NIL_SOURCE_DIR is not set";
  return v;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << p;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string wat(std::string_view name) {
  return read_file(source_dir() / "tests/integration/wat" / (std::string(name) + ".wat"));
}

std::string wasm_bytes(std::string_view name) {
  TempDir tmp;
  fs::path in = source_dir() / "tests/integration/wat" / (std::string(name) + ".wat");
  fs::path out = tmp.path() / "m.wasm";
  std::string cmd = std::string(NIL_WAT2WASM) + " '" + in.string() + "' -o '" + out.string() + "'";
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd;
  return read_file(out);
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == bytes.size()) {
    uint32_t n = uint8_t(bytes[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

TempDir::TempDir() {
  std::string base = env_or_empty("TMPDIR");
  if (base.empty()) base = "/tmp";
  std::string tmpl = base + "/nil-it-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  char* p = mkdtemp(buf.data());
  if (p == nullptr) {
    ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    return;
  }
  path_ = p;
}

TempDir::~TempDir() {
  if (path_.empty() || !env_or_empty("NIL_KEEP_TEST_DIRS").empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

// --- nild ----------------------------------------------------------------------------------------

namespace {
std::mutex g_keys_mu;
std::map<uint16_t, std::string>& port_keys() {
  static std::map<uint16_t, std::string> keys;
  return keys;
}
}  // namespace

std::string api_key_for_port(uint16_t port) {
  std::lock_guard lk(g_keys_mu);
  auto it = port_keys().find(port);
  return it == port_keys().end() ? "" : it->second;
}

NildProcess::NildProcess(NildOptions opts) : opts_(std::move(opts)) {
  for (auto& [k, v] : opts_.env) {
    if (k == "NIL_ADMIN_PASSWORD") admin_password_ = v;
  }
}

NildProcess::~NildProcess() {
  if (pid_ > 0) kill9();
}

void NildProcess::start() {
  ASSERT_LE(pid_, 0) << "nild already running";
  fs::path bin = nild_binary();
  ASSERT_TRUE(fs::exists(bin)) << "nild binary not found: " << bin;
  fs::path port_file = data_dir() / "port";
  std::error_code ec;
  fs::remove(port_file, ec);  // a restart must not read the previous run's port

  if (api_key_.empty()) {
    // Before the first start, like an operator automating a deployment would: this also creates
    // the admin user (with NIL_ADMIN_PASSWORD) and migrates the store.
    std::string cmd = "NIL_ADMIN_PASSWORD='" + admin_password_ + "' '" + bin.string() +
                      "' keys create --user admin --name harness --data-dir '" +
                      data_dir().string() + "' 2>>'" + log_path().string() + "'";
    FILE* out = ::popen(cmd.c_str(), "r");
    ASSERT_NE(out, nullptr) << "popen " << cmd;
    char buf[256];
    std::string text;
    while (size_t n = std::fread(buf, 1, sizeof buf, out)) text.append(buf, n);
    int rc = ::pclose(out);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    ASSERT_EQ(rc, 0) << cmd << "\n" << log_tail();
    ASSERT_TRUE(text.starts_with("nil_")) << "nild keys create printed: " << text;
    api_key_ = text;
  }

  // Everything the child needs is built before fork: after fork only async-signal-safe calls.
  std::vector<std::string> args = {bin.string(),      "--listen",          "127.0.0.1:0",
                                   "--data-dir",      data_dir().string(), "--port-file",
                                   port_file.string()};
  args.insert(args.end(), opts_.args.begin(), opts_.args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    bool overridden = false;
    for (auto& [k, v] : opts_.env) {
      if (kv.starts_with(k + "=")) overridden = true;
    }
    if (!overridden) env_strings.emplace_back(kv);
  }
  for (auto& [k, v] : opts_.env) env_strings.push_back(k + "=" + v);
  // Most suites compile no AssemblyScript: don't start (and warm up) a Node compile worker in
  // every nild of the run. Suites that need it get it on first use, or set the variable.
  bool prewarm_set = false;
  for (auto& e : env_strings) prewarm_set |= e.starts_with("NIL_PREWARM_COMPILERS=");
  if (!prewarm_set) env_strings.push_back("NIL_PREWARM_COMPILERS=false");
  // CI runs the suites as root: let nild run as root unless a test says otherwise (--user, or
  // NIL_ALLOW_ROOT=false in its environment).
  bool allow_root_set = false;
  for (auto& e : env_strings) allow_root_set |= e.starts_with("NIL_ALLOW_ROOT=");
  if (!allow_root_set) env_strings.push_back("NIL_ALLOW_ROOT=true");
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  std::string log = log_path().string();
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  ASSERT_GE(log_fd, 0) << "open " << log << ": " << std::strerror(errno);
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid == 0) {
    // Die with the test process, so a crashed test leaves no server behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
  ASSERT_GT(pid, 0) << "fork: " << std::strerror(errno);
  pid_ = pid;

  auto deadline = std::chrono::steady_clock::now() + 20s;
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL() << "nild exited during start-up (status " << status << "); log tail:\n" << log_tail();
    }
    std::ifstream in(port_file);
    std::string text;
    if (in && std::getline(in, text)) {
      // Re-read once so a half-written file is not taken for a port.
      if (!text.empty() && text == last) {
        int port = std::atoi(text.c_str());
        ASSERT_TRUE(port > 0 && port < 65536) << "bad port file contents: '" << text << "'";
        port_ = static_cast<uint16_t>(port);
        std::lock_guard lk(g_keys_mu);
        port_keys()[port_] = api_key_;
        return;
      }
      last = text;
    }
    std::this_thread::sleep_for(20ms);
  }
  kill9();
  FAIL() << "nild did not write its port file within 20 s; log tail:\n" << log_tail();
}

std::optional<int> NildProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(10ms);
  } while (std::chrono::steady_clock::now() < deadline);
  return std::nullopt;
}

void NildProcess::terminate() {
  if (pid_ > 0) ::kill(pid_, SIGTERM);
}

int NildProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  if (auto st = wait_exit(grace)) return *st;
  ADD_FAILURE() << "nild did not exit within " << grace.count() << " ms of SIGTERM";
  kill9();
  return -1;
}

void NildProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void NildProcess::restart(NildOptions opts) {
  if (pid_ > 0) stop();
  opts_ = std::move(opts);
  port_ = 0;
  start();
}

std::vector<std::string> NildProcess::log_lines() const {
  std::ifstream in(log_path());
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string NildProcess::log_tail(size_t lines) const {
  auto all = log_lines();
  std::string out;
  size_t from = all.size() > lines ? all.size() - lines : 0;
  for (size_t i = from; i < all.size(); ++i) out += all[i] + "\n";
  return out;
}

// --- HTTP ----------------------------------------------------------------------------------------

std::string HttpResponse::header(std::string_view name) const {
  std::string key(name);
  for (auto& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto it = headers.find(key);
  return it == headers.end() ? "" : it->second;
}

json::value HttpResponse::json() const {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  EXPECT_FALSE(ec) << "response body is not JSON (" << ec.message() << "):\n" << describe();
  return ec ? json::value() : v;
}

std::string HttpResponse::describe() const {
  std::string out = "HTTP " + std::to_string(status) + "\n";
  for (auto& [k, v] : headers) out += k + ": " + v + "\n";
  out += "\n";
  out += body.size() > 4000
             ? body.substr(0, 4000) + "...(" + std::to_string(body.size()) + " bytes)"
             : body;
  return out;
}

namespace {

HttpResponse to_response(http::response<http::string_body>& res) {
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  for (auto& f : res) {
    std::string k(f.name_string());
    for (auto& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out.headers[k] = std::string(f.value());
  }
  out.body = std::move(res.body());
  return out;
}

// A TCP stream whose every operation runs asynchronously under a deadline, driven to completion
// by its own io_context: a synchronous API that cannot hang.
struct TimedStream {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  std::chrono::milliseconds timeout;

  explicit TimedStream(std::chrono::milliseconds t) : timeout(t) {}

  // Runs the io_context until the current operation's handler set `done`: a stale timer wait
  // from an earlier operation must not keep us here.
  void run(const bool& done) {
    ioc.restart();
    while (!done && ioc.run_one() > 0) {
    }
  }

  beast::error_code connect(uint16_t port) {
    beast::error_code result;
    bool done = false;
    stream.expires_after(timeout);
    stream.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                         [&](beast::error_code ec) {
                           result = ec;
                           done = true;
                         });
    run(done);
    return result;
  }

  beast::error_code write_bytes(std::string_view bytes) {
    beast::error_code result;
    bool done = false;
    stream.expires_after(timeout);
    asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()),
                      [&](beast::error_code ec, size_t) {
                        result = ec;
                        done = true;
                      });
    run(done);
    return result;
  }

  template <typename Req>
  beast::error_code write_request(Req& req) {
    beast::error_code result;
    bool done = false;
    stream.expires_after(timeout);
    http::async_write(stream, req, [&](beast::error_code ec, size_t) {
      result = ec;
      done = true;
    });
    run(done);
    return result;
  }

  beast::error_code read_response(http::response<http::string_body>& out) {
    beast::error_code result;
    bool done = false;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.header_limit(64 * 1024);
    stream.expires_after(timeout);
    http::async_read(stream, buffer, parser, [&](beast::error_code ec, size_t) {
      result = ec;
      done = true;
    });
    run(done);
    if (!result) out = parser.release();
    return result;
  }

  void close() {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.close();
    buffer.clear();
  }
};

}  // namespace

struct HttpClient::Impl {
  uint16_t port;
  std::chrono::milliseconds timeout;
  std::unique_ptr<TimedStream> conn;
  std::string last_exchange;
  std::string api_key;
};

HttpClient::HttpClient(uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(Impl{port, timeout, nullptr, {}, api_key_for_port(port)})) {}
HttpClient::HttpClient(uint16_t port, std::string api_key, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(Impl{port, timeout, nullptr, {}, std::move(api_key)})) {}
const std::string& HttpClient::api_key() const { return impl_->api_key; }
HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

std::string HttpClient::describe_exchange() const { return impl_->last_exchange; }

HttpResponse HttpClient::request(std::string_view method, std::string_view target, std::string body,
                                 std::string content_type, const Headers& extra) {
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, "127.0.0.1:" + std::to_string(impl_->port));
  req.set(http::field::user_agent, "nil-integration-test");
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  if (!impl_->api_key.empty()) req.set(http::field::authorization, "Bearer " + impl_->api_key);
  for (auto& [k, v] : extra) req.set(k, v);  // may replace Authorization
  req.body() = std::move(body);
  if (method != "GET" && method != "HEAD" && method != "DELETE") {
    req.prepare_payload();
  } else if (!req.body().empty()) {
    req.prepare_payload();
  }

  std::ostringstream request_text;
  request_text << method << " " << target << "\n";
  if (!content_type.empty()) request_text << "Content-Type: " << content_type << "\n";
  request_text << "\n"
               << (req.body().size() > 2000 ? req.body().substr(0, 2000) + "..." : req.body());

  std::string failure;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = impl_->conn != nullptr;
    if (!impl_->conn) {
      impl_->conn = std::make_unique<TimedStream>(impl_->timeout);
      if (auto ec = impl_->conn->connect(impl_->port)) {
        impl_->conn.reset();
        failure = "connect: " + ec.message();
        break;
      }
    }
    if (auto ec = impl_->conn->write_request(req)) {
      impl_->conn.reset();
      failure = "write: " + ec.message();
      if (reused) continue;  // the server closed an idle keep-alive connection
      break;
    }
    http::response<http::string_body> res;
    if (auto ec = impl_->conn->read_response(res)) {
      impl_->conn.reset();
      failure = "read: " + ec.message();
      // Only retry when nothing could have been processed: a closed idle connection.
      if (reused && (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                     ec == asio::error::eof)) {
        continue;
      }
      break;
    }
    if (res.need_eof()) impl_->conn.reset();
    HttpResponse out = to_response(res);
    impl_->last_exchange = "> " + request_text.str() + "\n< " + out.describe();
    return out;
  }
  ADD_FAILURE() << "HTTP " << method << " " << target << " failed: " << failure;
  impl_->last_exchange = "> " + request_text.str() + "\n< (transport failure: " + failure + ")";
  return HttpResponse{};
}

struct RawConnection::Impl {
  TimedStream s;
  explicit Impl(std::chrono::milliseconds t) : s(t) {}
};

RawConnection::RawConnection(uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(timeout)) {
  auto ec = impl_->s.connect(port);
  EXPECT_FALSE(ec) << "connect 127.0.0.1:" << port << ": " << ec.message();
}
RawConnection::~RawConnection() = default;

bool RawConnection::write(std::string_view bytes) { return !impl_->s.write_bytes(bytes); }

std::optional<HttpResponse> RawConnection::read_response(std::string* error) {
  http::response<http::string_body> res;
  if (auto ec = impl_->s.read_response(res)) {
    if (error) *error = ec.message();
    return std::nullopt;
  }
  return to_response(res);
}

void RawConnection::shutdown_send() {
  beast::error_code ec;
  impl_->s.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

// --- API helpers -------------------------------------------------------------------------------

std::string str(const json::value& v, std::string_view key) {
  if (!v.is_object()) return "";
  auto* p = v.as_object().if_contains(key);
  return p && p->is_string() ? std::string(p->as_string()) : "";
}

bool is_null_or_absent(const json::value& v, std::string_view key) {
  if (!v.is_object()) return true;
  auto* p = v.as_object().if_contains(key);
  return p == nullptr || p->is_null();
}

bool has_line_column(std::string_view s) {
  auto digit = [](char ch) { return ch >= '0' && ch <= '9'; };
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    if (s[i] == ':' && digit(s[i - 1]) && digit(s[i + 1])) return true;
  }
  return false;
}

bool is_lower_hex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char ch : s) {
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  }
  return true;
}

::testing::AssertionResult is_problem(const HttpResponse& r, int status, std::string_view code) {
  auto fail = [&](std::string why) {
    return ::testing::AssertionFailure()
           << why << "\nexpected " << status << " " << code << "; got:\n"
           << r.describe();
  };
  if (r.status != status) return fail("wrong status");
  if (!r.header("content-type").starts_with("application/problem+json")) {
    return fail("Content-Type is not application/problem+json");
  }
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec || !v.is_object()) return fail("body is not a JSON object");
  auto& o = v.as_object();
  if (str(v, "code") != code) return fail("wrong code");
  if (str(v, "type") != "urn:nil:problem:" + std::string(code)) return fail("wrong type");
  if (str(v, "title").empty()) return fail("title missing");
  if (!o.contains("detail") || !o.at("detail").is_string()) return fail("detail missing");
  auto* s = o.if_contains("status");
  if (!s || !s->is_int64() || s->as_int64() != status) return fail("status member wrong");
  return ::testing::AssertionSuccess();
}

json::object wat_function(std::string_view name, std::string_view source, Limits limits) {
  json::object o{{"name", name}, {"language", "wat"}, {"source", source}};
  if (limits.timeout_ms || limits.memory_mb) {
    json::object l;
    if (limits.timeout_ms) l["timeoutMs"] = *limits.timeout_ms;
    if (limits.memory_mb) l["memoryMb"] = *limits.memory_mb;
    o["limits"] = std::move(l);
  }
  return o;
}

json::object wait_terminal(HttpClient& c, std::string_view id, std::vector<std::string>* seen,
                           std::chrono::milliseconds cap) {
  auto deadline = std::chrono::steady_clock::now() + cap;
  json::object last;
  while (true) {
    auto r = c.get("/functions/" + std::string(id));
    if (r.status != 200) {
      ADD_FAILURE() << "GET /functions/" << id << " while waiting for a terminal status:\n"
                    << r.describe();
      return last;
    }
    auto v = r.json();
    if (!v.is_object()) return last;
    last = v.as_object();
    std::string status = str(v, "status");
    if (seen && (seen->empty() || seen->back() != status)) seen->push_back(status);
    if (status == "READY" || status == "FAILED") return last;
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "function " << id << " still " << status << " after " << cap.count()
                    << " ms:\n"
                    << r.describe();
      return last;
    }
    std::this_thread::sleep_for(25ms);
  }
}

std::string deploy_ready(HttpClient& c, std::string_view name, std::string_view source,
                         Limits limits) {
  auto r = c.post_json("/functions", wat_function(name, source, limits));
  EXPECT_EQ(r.status, 202) << c.describe_exchange();
  if (r.status != 202) return "";
  std::string id = str(r.json(), "id");
  EXPECT_FALSE(id.empty()) << r.describe();
  auto f = wait_terminal(c, id);
  EXPECT_EQ(str(f, "status"), "READY") << json::serialize(f);
  return id;
}

json::object execute(HttpClient& c, std::string_view id, const json::value& input) {
  auto r = c.post_json("/functions/" + std::string(id) + "/execute", input);
  EXPECT_EQ(r.status, 200) << c.describe_exchange();
  auto v = r.json();
  if (r.status != 200 || !v.is_object()) return {};
  return v.as_object();
}

HttpResponse get_execution(HttpClient& c, std::string_view id) {
  return c.get("/executions/" + std::string(id));
}

std::string unique_name(std::string_view prefix) {
  static std::atomic<int> counter{0};
  return std::string(prefix) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1));
}

void print_log_tail_on_failure(const NildProcess* nild) {
  if (nild == nullptr || !::testing::Test::HasFailure()) return;
  std::cerr << "---- nild log tail (" << nild->log_path().string() << ") ----\n"
            << nild->log_tail(60) << "---- end of nild log ----\n";
}

}  // namespace nil::it
