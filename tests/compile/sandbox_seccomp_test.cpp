// The compile sandbox's seccomp filter (compile/sandbox.h): a helper run through the same code
// path as the compilers (bwrap_argv + run_to_completion) gets EPERM from the denied syscalls and
// still runs the allowed ones.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "compile/sandbox.h"

namespace nil::compile {
namespace {

namespace fs = std::filesystem;

std::map<std::string, std::string> probe() {
  std::map<std::string, std::string> results;
  fs::path bin = NIL_SECCOMP_PROBE;
  SandboxSpec spec;
  spec.binds.push_back({bin.parent_path().string(), "/probe"});
  spec.argv = {"/probe/" + bin.filename().string()};
  auto r = run_to_completion(bwrap_argv(spec), Limits{}, 20'000, 1 << 16);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return results;
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(describe_wait_status(r->wait_status), "exit code 0") << r->output;
  std::istringstream lines(r->output);
  for (std::string line; std::getline(lines, line);) {
    auto eq = line.find('=');
    if (eq != std::string::npos) results[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return results;
}

TEST(SandboxSeccomp, ProgramIsBuilt) {
  const auto& program = seccomp_program();
  ASSERT_TRUE(program.ok()) << program.error().message;
  // struct sock_filter is 8 bytes per instruction.
  EXPECT_GT(program->size(), 8u * 10);
  EXPECT_EQ(program->size() % 8, 0u);
}

TEST(SandboxSeccomp, DeniedSyscallsFailWithEperm) {
  if (find_bwrap().empty()) GTEST_SKIP() << "bubblewrap not installed";
  auto r = probe();
  for (const char* denied : {"ptrace", "unshare_user", "unshare_net", "socket_inet", "socket_inet6",
                             "socket_netlink", "keyctl"}) {
    EXPECT_EQ(r[denied], "EPERM") << denied;
  }
  // Not a filter that breaks everything: what compilers use still works.
  EXPECT_EQ(r["socket_unix"], "ok");
  EXPECT_EQ(r["fork"], "ok");
}

}  // namespace
}  // namespace nil::compile
