// Runs the real `nil` binary as a child process, the way a user's shell would: a clean HOME and
// XDG_CONFIG_HOME in a temporary directory, NIL_URL pointing at the test's nild and NIL_API_KEY
// set to the harness's admin key (empty until authentication exists), stdin/stdout/stderr on
// pipes. `script -qec` gives it a pseudo-terminal when a test needs one.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness.h"

namespace nil::clitest {

using namespace std::chrono_literals;

std::filesystem::path nil_binary();  // $NIL_CLI, or the path baked in by tests/cli/CMakeLists.txt

struct CliResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string out;
  std::string err;
  std::string describe() const;  // for failure messages
};

struct RunOptions {
  std::string stdin_data = {};
  std::optional<std::filesystem::path> cwd = {};
  // Overrides of the child's environment; an empty value removes the variable.
  std::map<std::string, std::string> env = {};
  std::chrono::milliseconds timeout = 120s;
};

// A user's session: its own HOME, the server's URL and key in the environment.
class CliSession {
 public:
  CliSession(uint16_t port, std::string api_key);
  const std::filesystem::path& home() const { return home_.path(); }
  std::string url() const { return url_; }

  // `nil ARGS...`
  CliResult run(const std::vector<std::string>& args, RunOptions opts = {}) const;
  // Any program (e.g. `script`), with the same environment.
  CliResult run_program(const std::vector<std::string>& argv, RunOptions opts = {}) const;
  // The environment a child gets (for the streaming child below).
  std::vector<std::string> environment(const std::map<std::string, std::string>& overrides) const;

 private:
  it::TempDir home_;
  std::string url_;
  std::string api_key_;
};

// A long-running `nil` (e.g. logs --follow): read its stdout as it comes, then stop it.
class CliChild {
 public:
  CliChild(const CliSession& s, const std::vector<std::string>& args);
  ~CliChild();
  // Reads stdout until it contains `needle` (true) or `timeout` passes (false).
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout = 30s);
  const std::string& out() const { return out_; }
  // SIGINT, as ^C would; returns the wait status.
  int interrupt();

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string out_;
};

// A port on 127.0.0.1 where nothing listens (bound then closed).
uint16_t closed_port();

// Writes `text` to `path` (creating directories).
void write_text(const std::filesystem::path& path, const std::string& text);

}  // namespace nil::clitest
