// nil::compile sandbox — runs compilers under bubblewrap with resource limits (private header).
//
// Every compile of user source runs here: compilers are big attack surfaces and a plain clang
// happily prints a host file named in an #include. The sandbox gives the process
//  - new namespaces (user, mount, pid, net, ipc, uts, cgroup): no network, no other processes;
//  - a file system of only read-only binds the caller lists (toolchain, SDK), a private tmpfs
//    /tmp, a minimal /dev, and at most one writable bind (the per-compile work dir); no /proc,
//    /etc, /home or /work of the host;
//  - no capabilities, a fresh session, a cleared environment;
//  - a seccomp filter (seccomp_program()): ptrace, mount, unshare/setns and namespace clones,
//    keyctl, bpf, perf_event_open, userfaultfd, io_uring, kexec, reboot, module loading and
//    sockets other than AF_UNIX fail with EPERM (clone3 with ENOSYS, so libc falls back);
//  - rlimits set in the child before exec: address space, CPU seconds, file size, no core dumps;
//  - a process group the parent kills on a wall-clock deadline (bwrap's --die-with-parent and
//    the pid namespace take every descendant with it).
//
// Threads: everything here is safe to call from any thread; a Subprocess is owned by one.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"

namespace nil::compile {

struct Bind {
  std::string host;
  std::string guest;
  bool writable = false;
};

struct Limits {
  uint64_t address_space_bytes = 0;  // RLIMIT_AS; 0 = unlimited
  uint64_t cpu_seconds = 0;          // RLIMIT_CPU; 0 = unlimited
  uint64_t file_bytes = 0;           // RLIMIT_FSIZE; 0 = unlimited
};

struct SandboxSpec {
  std::vector<Bind> binds;
  std::vector<std::pair<std::string, std::string>> symlinks;  // target, guest path
  std::vector<std::pair<std::string, std::string>> env;       // the only environment inside
  std::string chdir = "/";
  uint64_t tmpfs_bytes = 256ull << 20;  // size of the private /tmp
  std::vector<std::string> argv;        // run inside the sandbox
};

// Full argv for bwrap (argv[0] is the bwrap path) that runs spec.argv as described above.
std::vector<std::string> bwrap_argv(const SandboxSpec& spec);

// The compile sandbox's seccomp filter as a BPF program (built once with libseccomp), as
// bwrap's --seccomp reads it. Subprocess::spawn passes it to a bwrap_argv() command on fd 3.
const Expected<std::string>& seccomp_program();

// Where bwrap is; empty when it is not installed.
std::string find_bwrap();

// A child process in its own process group. The destructor kills the group (SIGKILL) and
// reaps the child, so no path leaves a compiler running.
class Subprocess {
 public:
  enum class Stdin { kNull, kPipe };
  enum class Stderr { kInherit, kMergeIntoStdout };

  static Expected<Subprocess> spawn(const std::vector<std::string>& argv, const Limits& limits,
                                    Stdin in, Stderr err);

  Subprocess(Subprocess&& o) noexcept;
  Subprocess& operator=(Subprocess&& o) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  int stdin_fd() const { return stdin_fd_; }
  int stdout_fd() const { return stdout_fd_; }
  void close_stdin();

  void kill_group();  // SIGKILL to the whole process group
  // Blocks until the child exits; returns the raw wait status. Idempotent.
  int wait();
  // Non-blocking: the wait status if the child has exited.
  std::optional<int> try_wait();

 private:
  Subprocess() = default;
  void release();

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::optional<int> status_;
};

struct RunResult {
  int wait_status = 0;
  bool timed_out = false;
  bool output_truncated = false;
  std::string output;  // stdout and stderr, interleaved, at most output_cap bytes
};

// Runs argv to completion with a wall-clock limit, capturing at most output_cap bytes of its
// output (the rest is read and dropped so the child never blocks on a full pipe).
// `cancel`, when set and it turns true, ends the run like the deadline does (checked at least
// every 100 ms): a shutting-down nild does not wait for a long native build.
Expected<RunResult> run_to_completion(const std::vector<std::string>& argv, const Limits& limits,
                                      uint32_t timeout_ms, size_t output_cap,
                                      const std::atomic<bool>* cancel = nullptr);

// "exit code 1", "killed by signal 9 (Killed)", ...
std::string describe_wait_status(int status);

// A fresh directory PARENT/PREFIX-XXXXXX (PARENT created if missing) for one sandboxed job,
// removed with everything in it when the object dies. Error message: "mkdtemp in PARENT: why";
// callers wrap it in their own error code.
class ScratchDir {
 public:
  static Expected<ScratchDir> create(const std::filesystem::path& parent, std::string_view prefix);
  ScratchDir(ScratchDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  ScratchDir& operator=(ScratchDir&&) = delete;
  ~ScratchDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit ScratchDir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

}  // namespace nil::compile
