#include "compile/sandbox.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

namespace nil::compile {

namespace {

Error internal(const std::string& what) {
  return make_error(ErrorCode::kCompileSandboxFailed, what + ": " + std::strerror(errno));
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// The fd bwrap reads the seccomp program from (--seccomp 3); spawn() puts it there.
constexpr int kSeccompFd = 3;

bool wants_seccomp_fd(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0].empty() || argv[0] != find_bwrap()) return false;
  for (size_t i = 1; i + 1 < argv.size() && argv[i] != "--"; ++i) {
    if (argv[i] == "--seccomp") return argv[i + 1] == std::to_string(kSeccompFd);
  }
  return false;
}

Expected<std::string> build_seccomp_program() {
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(SCMP_ACT_ALLOW),
                                                       seccomp_release);
  if (!ctx) return make_error(ErrorCode::kCompileSandboxFailed, "seccomp_init failed");
  const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
  int rc = 0;
  auto add = [&](const char* name) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return;  // not on this architecture
    if (int r = seccomp_rule_add(ctx.get(), deny, nr, 0); r != 0 && rc == 0) rc = r;
  };
  // Debugging other processes, kernel keyrings, eBPF, perf, userfaultfd (a classic exploit
  // aid), io_uring (its own syscall surface), mounts and new namespaces, loading kernel code,
  // rebooting, clocks, swap, accounting, personality changes (e.g. READ_IMPLIES_EXEC).
  for (const char* name : {"ptrace",
                           "process_vm_readv",
                           "process_vm_writev",
                           "kcmp",
                           "pidfd_getfd",
                           "keyctl",
                           "add_key",
                           "request_key",
                           "bpf",
                           "perf_event_open",
                           "userfaultfd",
                           "io_uring_setup",
                           "io_uring_enter",
                           "io_uring_register",
                           "mount",
                           "umount",
                           "umount2",
                           "pivot_root",
                           "chroot",
                           "move_mount",
                           "open_tree",
                           "fsopen",
                           "fsconfig",
                           "fsmount",
                           "fspick",
                           "mount_setattr",
                           "unshare",
                           "setns",
                           "kexec_load",
                           "kexec_file_load",
                           "init_module",
                           "finit_module",
                           "delete_module",
                           "reboot",
                           "swapon",
                           "swapoff",
                           "acct",
                           "quotactl",
                           "lookup_dcookie",
                           "syslog",
                           "settimeofday",
                           "clock_settime",
                           "clock_adjtime",
                           "adjtimex",
                           "sethostname",
                           "setdomainname",
                           "iopl",
                           "ioperm",
                           "personality",
                           "uselib",
                           "nfsservctl",
                           "name_to_handle_at",
                           "open_by_handle_at",
                           "vhangup",
                           "fanotify_init"}) {
    add(name);
  }
  // New namespaces through clone: one rule per flag (rules on one syscall are ORed). clone3
  // passes its flags in memory a filter cannot read: ENOSYS makes libc fall back to clone.
  for (uint64_t flag : {uint64_t{CLONE_NEWUSER}, uint64_t{CLONE_NEWNS}, uint64_t{CLONE_NEWNET},
                        uint64_t{CLONE_NEWPID}, uint64_t{CLONE_NEWIPC}, uint64_t{CLONE_NEWUTS},
                        uint64_t{CLONE_NEWCGROUP}}) {
    if (int r = seccomp_rule_add(ctx.get(), deny, SCMP_SYS(clone), 1,
                                 SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
        r != 0 && rc == 0) {
      rc = r;
    }
  }
  if (int r = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
      r != 0 && rc == 0)
    rc = r;
// libseccomp's SCMP_A0 macro leaves datum_b unset (clang's -Wmissing-field-initializers).
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wmissing-field-initializers"
#endif
  // Sockets: only AF_UNIX (the sandbox has no network anyway; this also closes netlink,
  // packet and the rarer families' kernel code).
  if (int r = seccomp_rule_add(ctx.get(), deny, SCMP_SYS(socket), 1,
                               SCMP_A0(SCMP_CMP_NE, static_cast<scmp_datum_t>(AF_UNIX)));
      r != 0 && rc == 0) {
    rc = r;
  }
  if (int r = seccomp_rule_add(ctx.get(), deny, SCMP_SYS(socketpair), 1,
                               SCMP_A0(SCMP_CMP_NE, static_cast<scmp_datum_t>(AF_UNIX)));
      r != 0 && rc == 0) {
    rc = r;
  }
#if defined(__clang__)
#pragma clang diagnostic pop
#endif
  if (rc != 0) {
    return make_error(ErrorCode::kCompileSandboxFailed,
                      std::string("seccomp_rule_add: ") + std::strerror(-rc));
  }
  int fd = ::memfd_create("nil-seccomp", MFD_CLOEXEC);
  if (fd < 0) return internal("memfd_create");
  std::string program;
  if (int r = seccomp_export_bpf(ctx.get(), fd); r != 0) {
    ::close(fd);
    return make_error(ErrorCode::kCompileSandboxFailed,
                      std::string("seccomp_export_bpf: ") + std::strerror(-r));
  }
  ::lseek(fd, 0, SEEK_SET);
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
    program.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (program.empty()) {
    return make_error(ErrorCode::kCompileSandboxFailed, "empty seccomp program");
  }
  return program;
}

}  // namespace

const Expected<std::string>& seccomp_program() {
  static const Expected<std::string> kProgram = build_seccomp_program();
  return kProgram;
}

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
                                "--cap-drop", "ALL", "--clearenv",
                                // The syscall filter (seccomp_program()), applied by bwrap
                                // right before it executes the program; spawn() passes it.
                                "--seccomp", std::to_string(kSeccompFd)};
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
    return make_error(ErrorCode::kCompileSandboxFailed, "no program to run");
  }
  // Everything the child needs is prepared before fork: between fork and exec a multithreaded
  // parent's child may only make async-signal-safe calls.
  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& s : argv) cargv.push_back(const_cast<char*>(s.c_str()));
  cargv.push_back(nullptr);
  char* envp[] = {nullptr};

  // bwrap reads the seccomp program from fd 3 until EOF: a pipe per spawn holding the program
  // (a few hundred bytes: it fits the pipe buffer, so the write never blocks). Fails closed.
  int seccomp_fd = -1;
  if (wants_seccomp_fd(argv)) {
    const auto& program = seccomp_program();
    if (!program) return program.error();
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return internal("pipe2 (seccomp)");
    if (program->size() > 65536 || ::write(fds[1], program->data(), program->size()) !=
                                       static_cast<ssize_t>(program->size())) {
      ::close(fds[0]);
      ::close(fds[1]);
      return internal("writing the seccomp program");
    }
    ::close(fds[1]);
    seccomp_fd = fds[0];
  }

  int in_fds[2] = {-1, -1};   // [0] child's stdin, [1] ours
  int out_fds[2] = {-1, -1};  // [0] ours, [1] child's stdout
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) {
    close_fd(seccomp_fd);
    return internal("open /dev/null");
  }
  // stdin as a socket so that writes to a dead child fail with EPIPE (MSG_NOSIGNAL) instead of
  // raising SIGPIPE in the server.
  if (in == Stdin::kPipe && ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_fds) != 0) {
    ::close(devnull);
    close_fd(seccomp_fd);
    return internal("socketpair");
  }
  if (::pipe2(out_fds, O_CLOEXEC) != 0) {
    ::close(devnull);
    close_fd(in_fds[0]);
    close_fd(in_fds[1]);
    close_fd(seccomp_fd);
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
    close_fd(seccomp_fd);
    return e;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    auto set = [](int resource, uint64_t v) {
      if (v == 0) return;
      struct rlimit rl {
        static_cast<rlim_t>(v), static_cast<rlim_t>(v)
      };
      ::setrlimit(resource, &rl);
    };
    set(RLIMIT_AS, limits.address_space_bytes);
    if (limits.cpu_seconds) {
      // Soft limit sends SIGXCPU, the hard one a second later SIGKILL.
      struct rlimit rl {
        static_cast<rlim_t>(limits.cpu_seconds), static_cast<rlim_t>(limits.cpu_seconds + 1)
      };
      ::setrlimit(RLIMIT_CPU, &rl);
    }
    set(RLIMIT_FSIZE, limits.file_bytes);
    struct rlimit no_core {
      0, 0
    };
    ::setrlimit(RLIMIT_CORE, &no_core);
    // Default signal dispositions for the compiler (the server may ignore SIGPIPE).
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);

    ::dup2(in == Stdin::kPipe ? in_fds[0] : devnull, 0);
    ::dup2(out_fds[1], 1);
    if (err == Stderr::kMergeIntoStdout) ::dup2(out_fds[1], 2);
    int first_closed = 3;
    if (seccomp_fd >= 0) {
      if (seccomp_fd != kSeccompFd) ::dup2(seccomp_fd, kSeccompFd);
      ::fcntl(kSeccompFd, F_SETFD, 0);  // survives the exec (dup2 clears CLOEXEC; this if equal)
      first_closed = kSeccompFd + 1;
    }
    // Nothing else of the server's leaks into the sandbox.
#ifdef SYS_close_range
    if (::syscall(SYS_close_range, static_cast<unsigned>(first_closed), ~0u, 0u) != 0)
#endif
    {
      for (int fd = first_closed; fd < 4096; ++fd) ::close(fd);
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
  close_fd(seccomp_fd);

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
                                      uint32_t timeout_ms, size_t output_cap,
                                      const std::atomic<bool>* cancel) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto child = Subprocess::spawn(argv, limits, Subprocess::Stdin::kNull,
                                 Subprocess::Stderr::kMergeIntoStdout);
  if (!child.ok()) return std::move(child).error();
  Subprocess& p = *child;
  RunResult r;
  char buf[16384];
  auto remaining_ms = [&] {
    if (cancel && cancel->load(std::memory_order_relaxed)) return 0;
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
    struct pollfd pfd {
      p.stdout_fd(), POLLIN, 0
    };
    int n = ::poll(&pfd, 1, cancel ? std::min(left, 100) : left);
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
    return make_error(ErrorCode::kScratchDirFailed,
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
