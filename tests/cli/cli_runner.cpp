#include "cli_runner.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

extern char** environ;

namespace nil::clitest {

namespace fs = std::filesystem;

fs::path nil_binary() {
  if (const char* v = std::getenv("NIL_CLI"); v && *v) return v;
  return NIL_TEST_NIL;
}

std::string CliResult::describe() const {
  std::ostringstream ss;
  ss << "exit " << exit_code << "\n--- stdout ---\n" << out << "\n--- stderr ---\n" << err;
  return ss.str();
}

CliSession::CliSession(uint16_t port, std::string api_key)
    : url_("http://127.0.0.1:" + std::to_string(port)), api_key_(std::move(api_key)) {}

std::vector<std::string> CliSession::environment(
    const std::map<std::string, std::string>& overrides) const {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string k = kv.substr(0, eq);
    // Nothing of the developer's own login or terminal leaks into the test.
    if (k.starts_with("NIL_") || k == "HOME" || k == "XDG_CONFIG_HOME") continue;
    env[k] = kv.substr(eq + 1);
  }
  env["HOME"] = home_.path().string();
  env["XDG_CONFIG_HOME"] = (home_.path() / ".config").string();
  env["NIL_URL"] = url_;
  if (!api_key_.empty()) env["NIL_API_KEY"] = api_key_;
  if (!env.count("PATH")) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& [k, v] : overrides) {
    if (v.empty()) {
      env.erase(k);
    } else {
      env[k] = v;
    }
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

namespace {

struct Spawned {
  pid_t pid = -1;
  int in = -1, out = -1, err = -1;
};

Spawned spawn(const std::vector<std::string>& args, const std::vector<std::string>& env,
              const std::optional<fs::path>& cwd, bool with_stderr_pipe) {
  int in[2], out[2], err[2];
  EXPECT_EQ(::pipe2(in, O_CLOEXEC), 0);
  EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
  EXPECT_EQ(::pipe2(err, O_CLOEXEC), 0);
  std::vector<std::string> a = args, e = env;
  std::vector<char*> argv, envp;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : e) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string dir = cwd ? cwd->string() : "";
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(with_stderr_pipe ? err[1] : out[1], 2);
    if (!dir.empty() && ::chdir(dir.c_str()) != 0) ::_exit(126);
    ::execvpe(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  return {pid, in[1], out[0], err[0]};
}

}  // namespace

CliResult CliSession::run(const std::vector<std::string>& args, RunOptions opts) const {
  std::vector<std::string> argv = {nil_binary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, std::move(opts));
}

CliResult CliSession::run_program(const std::vector<std::string>& argv, RunOptions opts) const {
  CliResult r;
  Spawned p = spawn(argv, environment(opts.env), opts.cwd, true);
  if (p.pid <= 0) {
    ADD_FAILURE() << "fork failed: " << std::strerror(errno);
    return r;
  }
  ::signal(SIGPIPE, SIG_IGN);
  size_t written = 0;
  if (opts.stdin_data.empty()) {
    ::close(p.in);
    p.in = -1;
  }
  auto deadline = std::chrono::steady_clock::now() + opts.timeout;
  while (p.out >= 0 || p.err >= 0) {
    std::vector<pollfd> fds;
    if (p.in >= 0) fds.push_back({p.in, POLLOUT, 0});
    if (p.out >= 0) fds.push_back({p.out, POLLIN, 0});
    if (p.err >= 0) fds.push_back({p.err, POLLIN, 0});
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0) {
      ::kill(p.pid, SIGKILL);
      ADD_FAILURE() << "nil did not finish within " << opts.timeout.count()
                    << " ms: " << argv.back();
      break;
    }
    if (::poll(fds.data(), fds.size(), left) < 0 && errno != EINTR) break;
    for (auto& f : fds) {
      if (!f.revents) continue;
      if (f.fd == p.in) {
        ssize_t n =
            ::write(p.in, opts.stdin_data.data() + written, opts.stdin_data.size() - written);
        if (n > 0) written += static_cast<size_t>(n);
        if (n < 0 || written == opts.stdin_data.size()) {
          ::close(p.in);
          p.in = -1;
        }
        continue;
      }
      char buf[8192];
      ssize_t n = ::read(f.fd, buf, sizeof buf);
      std::string& dst = f.fd == p.out ? r.out : r.err;
      if (n > 0) {
        dst.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(f.fd);
        (f.fd == p.out ? p.out : p.err) = -1;
      }
    }
  }
  if (p.in >= 0) ::close(p.in);
  if (p.out >= 0) ::close(p.out);
  if (p.err >= 0) ::close(p.err);
  int status = 0;
  ::waitpid(p.pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

CliChild::CliChild(const CliSession& s, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {nil_binary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  Spawned p = spawn(argv, s.environment({}), std::nullopt, false);  // stderr joins stdout
  pid_ = p.pid;
  out_fd_ = p.out;
  ::close(p.in);
  ::close(p.err);
}

CliChild::~CliChild() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

bool CliChild::wait_for_output(const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out_.find(needle) == std::string::npos) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0 || out_fd_ < 0) return false;
    pollfd f{out_fd_, POLLIN, 0};
    if (::poll(&f, 1, left) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n <= 0) {
      ::close(out_fd_);
      out_fd_ = -1;
      return out_.find(needle) != std::string::npos;
    }
    out_.append(buf, static_cast<size_t>(n));
  }
  return true;
}

int CliChild::interrupt() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGINT);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);  // nothing listens there now
  return ntohs(a.sin_port);
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

}  // namespace nil::clitest
