#include "compile/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace nil::compile {

namespace {

Error internal(std::string what) {
  return make_error(ErrorKind::kInternal, "compile_sandbox_failed",
                    what + ": " + std::strerror(errno));
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

std::string find_bwrap() {
  for (const char* p : {"/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return {};
}

std::vector<std::string> bwrap_argv(const SandboxSpec& spec) {
  std::vector<std::string> a = {find_bwrap(),
                                "--unshare-all",  // user, mount, pid, net, ipc, uts, cgroup
                                "--die-with-parent",
                                "--new-session",  // no TIOCSTI into our terminal
                                "--cap-drop", "ALL",
                                "--clearenv"};
  for (const auto& [k, v] : spec.env) {
    a.insert(a.end(), {"--setenv", k, v});
  }
  for (const auto& b : spec.binds) {
    a.insert(a.end(), {b.writable ? "--bind" : "--ro-bind", b.host, b.guest});
  }
  for (const auto& [target, guest] : spec.symlinks) {
    a.insert(a.end(), {"--symlink", target, guest});
  }
  a.insert(a.end(), {"--size", std::to_string(spec.tmpfs_bytes), "--tmpfs", "/tmp", "--dev", "/dev",
                     "--chdir", spec.chdir, "--"});
  a.insert(a.end(), spec.argv.begin(), spec.argv.end());
  return a;
}

Expected<Subprocess> Subprocess::spawn(const std::vector<std::string>& argv, const Limits& limits,
                                       Stdin in, Stderr err) {
  if (argv.empty() || argv[0].empty()) {
    return make_error(ErrorKind::kInternal, "compile_sandbox_failed", "no program to run");
  }
  // Everything the child needs is prepared before fork: between fork and exec a multithreaded
  // parent's child may only make async-signal-safe calls.
  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& s : argv) cargv.push_back(const_cast<char*>(s.c_str()));
  cargv.push_back(nullptr);
  char* envp[] = {nullptr};

  int in_fds[2] = {-1, -1};   // [0] child's stdin, [1] ours
  int out_fds[2] = {-1, -1};  // [0] ours, [1] child's stdout
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) return internal("open /dev/null");
  // stdin as a socket so that writes to a dead child fail with EPIPE (MSG_NOSIGNAL) instead of
  // raising SIGPIPE in the server.
  if (in == Stdin::kPipe && ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_fds) != 0) {
    ::close(devnull);
    return internal("socketpair");
  }
  if (::pipe2(out_fds, O_CLOEXEC) != 0) {
    ::close(devnull);
    close_fd(in_fds[0]);
    close_fd(in_fds[1]);
    return internal("pipe2");
  }

  pid_t pid = ::fork();
  if (pid < 0) {
    Error e = internal("fork");
    ::close(devnull);
    close_fd(in_fds[0]);
    close_fd(in_fds[1]);
    close_fd(out_fds[0]);
    close_fd(out_fds[1]);
    return e;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    auto set = [](int resource, uint64_t v) {
      if (v == 0) return;
      struct rlimit rl{static_cast<rlim_t>(v), static_cast<rlim_t>(v)};
      ::setrlimit(resource, &rl);
    };
    set(RLIMIT_AS, limits.address_space_bytes);
    if (limits.cpu_seconds) {
      // Soft limit sends SIGXCPU, the hard one a second later SIGKILL.
      struct rlimit rl{static_cast<rlim_t>(limits.cpu_seconds),
                       static_cast<rlim_t>(limits.cpu_seconds + 1)};
      ::setrlimit(RLIMIT_CPU, &rl);
    }
    set(RLIMIT_FSIZE, limits.file_bytes);
    struct rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    // Default signal dispositions for the compiler (the server may ignore SIGPIPE).
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);

    ::dup2(in == Stdin::kPipe ? in_fds[0] : devnull, 0);
    ::dup2(out_fds[1], 1);
    if (err == Stderr::kMergeIntoStdout) ::dup2(out_fds[1], 2);
    // Nothing else of the server's leaks into the sandbox.
#ifdef SYS_close_range
    if (::syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
#endif
    {
      for (int fd = 3; fd < 4096; ++fd) ::close(fd);
    }
    ::execve(cargv[0], cargv.data(), envp);
    static const char kMsg[] = "exec of the compile sandbox failed\n";
    ssize_t ignored = ::write(1, kMsg, sizeof kMsg - 1);
    (void)ignored;
    ::_exit(127);
  }
  // Parent. Also set the group here: whichever of parent and child runs first, the group exists
  // before we might kill it.
  ::setpgid(pid, pid);
  ::close(devnull);
  close_fd(in_fds[0]);
  close_fd(out_fds[1]);

  Subprocess p;
  p.pid_ = pid;
  p.stdin_fd_ = in_fds[1];
  p.stdout_fd_ = out_fds[0];
  return p;
}

Subprocess::Subprocess(Subprocess&& o) noexcept { *this = std::move(o); }

Subprocess& Subprocess::operator=(Subprocess&& o) noexcept {
  if (this != &o) {
    release();
    pid_ = std::exchange(o.pid_, -1);
    stdin_fd_ = std::exchange(o.stdin_fd_, -1);
    stdout_fd_ = std::exchange(o.stdout_fd_, -1);
    status_ = std::exchange(o.status_, std::nullopt);
  }
  return *this;
}

Subprocess::~Subprocess() { release(); }

void Subprocess::release() {
  close_fd(stdin_fd_);
  close_fd(stdout_fd_);
  if (pid_ > 0 && !status_) {
    kill_group();
    wait();
  }
  pid_ = -1;
  status_.reset();
}

void Subprocess::close_stdin() { close_fd(stdin_fd_); }

void Subprocess::kill_group() {
  if (pid_ > 0 && !status_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
  }
}

int Subprocess::wait() {
  if (status_) return *status_;
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  status_ = st;
  return st;
}

std::optional<int> Subprocess::try_wait() {
  if (status_) return status_;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) status_ = st;
  return status_;
}

Expected<RunResult> run_to_completion(const std::vector<std::string>& argv, const Limits& limits,
                                      uint32_t timeout_ms, size_t output_cap) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto child = Subprocess::spawn(argv, limits, Subprocess::Stdin::kNull,
                                 Subprocess::Stderr::kMergeIntoStdout);
  if (!child.ok()) return std::move(child).error();
  Subprocess& p = *child;
  RunResult r;
  char buf[16384];
  auto remaining_ms = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
  };

  bool eof = false;
  while (!eof) {
    int left = remaining_ms();
    if (left == 0) {
      r.timed_out = true;
      break;
    }
    struct pollfd pfd{p.stdout_fd(), POLLIN, 0};
    int n = ::poll(&pfd, 1, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return internal("poll");
    }
    if (n == 0) continue;  // the loop head notices the deadline
    ssize_t got = ::read(p.stdout_fd(), buf, sizeof buf);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return internal("read");
    }
    if (got == 0) {
      eof = true;
      break;
    }
    size_t room = output_cap > r.output.size() ? output_cap - r.output.size() : 0;
    if (static_cast<size_t>(got) > room) r.output_truncated = true;
    r.output.append(buf, std::min(room, static_cast<size_t>(got)));
  }
  // Output closed; the process may still be on its way out (or a descendant holds nothing).
  while (!r.timed_out && !p.try_wait()) {
    if (remaining_ms() == 0) {
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (r.timed_out) p.kill_group();
  r.wait_status = p.wait();
  return r;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = ::strsignal(sig);
    return "killed by signal " + std::to_string(sig) + " (" + (name ? name : "?") + ")";
  }
  return "wait status " + std::to_string(status);
}

Expected<ScratchDir> ScratchDir::create(const std::filesystem::path& parent,
                                        std::string_view prefix) {
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);  // mkdtemp reports what is wrong
  std::string tmpl = (parent / (std::string(prefix) + "-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) {
    return make_error(ErrorKind::kInternal, "scratch_dir_failed",
                      "mkdtemp in " + parent.string() + ": " + std::strerror(errno));
  }
  return ScratchDir(std::filesystem::path(tmpl));
}

ScratchDir::~ScratchDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace nil::compile
