// C and C++ drivers: clang-16 --target=wasm32-wasi, one sandboxed process per compile.
//
// The compiler sees (read-only) only the LLVM 16 tree, the shared libraries clang and wasm-ld
// load, wasi-libc's headers and libraries, and the SDK's include dir; the source lives in a
// fresh host temp dir bound writable at /work, named function.c / function.cpp so diagnostics
// read "function.c:3:5: error: ...". Include paths are hermetic (-nostdinc): nothing of the
// host's /usr/include can slip in, and it is not even mounted.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include "common/log.h"
#include "compile/sandbox.h"
#include "compile/source_drivers.h"

namespace nil::compile {

namespace fs = std::filesystem;

Error compile_error(std::string message) {
  return make_error(ErrorCode::kCompileError, std::move(message));
}

std::vector<std::string> shared_library_closure(const std::vector<std::string>& programs) {
  // The dynamic loader's --list mode prints what it would map; it runs no code of the program.
  const char* loader = "/lib64/ld-linux-x86-64.so.2";
  std::vector<std::string> files;
  for (const auto& prog : programs) {
    auto r = run_to_completion({loader, "--list", prog}, Limits{}, 10'000, 1 << 20);
    if (!r.ok() || r->timed_out || !WIFEXITED(r->wait_status) || WEXITSTATUS(r->wait_status) != 0) {
      return {};
    }
    std::istringstream in(r->output);
    for (std::string line; std::getline(in, line);) {
      std::string path;
      auto arrow = line.find("=> ");
      if (arrow != std::string::npos) {
        path = line.substr(arrow + 3);
      } else {
        path = line.substr(line.find_first_not_of(" \t"));
      }
      path = path.substr(0, path.find(" ("));
      if (path.empty() || path[0] != '/') continue;  // linux-vdso.so.1 and the like
      // Resolve the directory (/lib -> /usr/lib on merged-/usr systems) but keep the file name the
      // loader asks for; the sandbox recreates /lib and /lib64 as symlinks into /usr.
      fs::path p(path);
      std::error_code ec;
      fs::path dir = fs::canonical(p.parent_path(), ec);
      if (ec) continue;
      // Both the name the loader opens and, when that is a symlink, the file it points to.
      for (const fs::path& f : {dir / p.filename(), fs::canonical(p, ec)}) {
        if (!f.empty() && std::find(files.begin(), files.end(), f.string()) == files.end()) {
          files.push_back(f.string());
        }
      }
    }
  }
  if (!files.empty()) files.push_back((fs::canonical("/lib64") / "ld-linux-x86-64.so.2").string());
  return files;
}

namespace {

constexpr const char* kWork = "/work";
constexpr const char* kSdkGuest = "/nil-sdk";
constexpr size_t kDiagnosticsCap = 64 * 1024;

std::string read_file(const fs::path& p, uint64_t cap, bool* too_big) {
  std::ifstream in(p, std::ios::binary);
  std::string s;
  if (!in) return s;
  in.seekg(0, std::ios::end);
  auto size = static_cast<uint64_t>(in.tellg());
  *too_big = size > cap;
  if (*too_big) return s;
  in.seekg(0);
  s.resize(size);
  in.read(s.data(), static_cast<std::streamsize>(size));
  return s;
}

class ClangDriver final : public Driver {
 public:
  ClangDriver(ClangLanguage lang, ClangToolchain tc, std::vector<std::string> libs)
      : lang_(lang), tc_(std::move(tc)), libs_(std::move(libs)) {}

  std::string_view language() const override { return lang_ == ClangLanguage::kC ? "c" : "cpp"; }

  Expected<std::string> compile(std::string_view source, const CompileOptions& opts) override {
    auto scratch = ScratchDir::create(tc_.work_dir, "clang");
    if (!scratch) {
      return make_error(ErrorCode::kCompileSandboxFailed, scratch.error().message);
    }
    const fs::path& dir = scratch->path();

    const std::string src_name = lang_ == ClangLanguage::kC ? "function.c" : "function.cpp";
    {
      std::ofstream out(dir / src_name, std::ios::binary);
      out.write(source.data(), static_cast<std::streamsize>(source.size()));
      if (!out) {
        return make_error(ErrorCode::kCompileSandboxFailed, "cannot write the source");
      }
    }

    SandboxSpec spec;
    spec.binds.push_back({tc_.llvm_dir.string(), tc_.llvm_dir.string()});
    spec.binds.push_back({tc_.wasi_include.string(), tc_.wasi_include.string()});
    spec.binds.push_back({tc_.wasi_lib.string(), tc_.wasi_lib.string()});
    spec.binds.push_back({tc_.sdk_include.string(), kSdkGuest});
    for (const auto& lib : libs_) {
      // Symlinks inside the LLVM tree (lib/libclang-cpp.so.16 -> ../../x86_64-linux-gnu/...) come
      // with that bind; their targets are in libs_ too.
      if (lib.rfind(tc_.llvm_dir.string() + "/", 0) == 0) continue;
      spec.binds.push_back({lib, lib});
    }
    spec.binds.push_back({dir.string(), kWork, /*writable=*/true});
    spec.symlinks = {{"usr/lib", "/lib"},
                     {"usr/lib64", "/lib64"},
                     // Debian's clang runs the linker by its versioned name from PATH.
                     {(tc_.llvm_dir / "bin/wasm-ld").string(), "/usr/bin/wasm-ld-16"}};
    // No /proc in the sandbox, so the loader cannot expand clang's RUNPATH $ORIGIN/../lib.
    spec.env = {{"PATH", "/usr/bin"},
                {"LC_ALL", "C"},
                {"LD_LIBRARY_PATH", (tc_.llvm_dir / "lib").string()}};
    spec.chdir = kWork;
    spec.argv = command(src_name);

    Limits limits;
    limits.address_space_bytes = opts.memory_bytes;
    limits.cpu_seconds = opts.timeout_ms / 1000 + 1;
    // Objects and the artifact; the artifact's own limit is checked below with a clear message.
    limits.file_bytes = std::max<uint64_t>(opts.max_artifact_bytes + 1, 256ull << 20);

    auto run = run_to_completion(bwrap_argv(spec), limits, opts.timeout_ms, kDiagnosticsCap);
    if (!run.ok()) return std::move(run).error();
    std::string diags = clean_diagnostics(run->output);
    if (run->output_truncated) diags += "\n[diagnostics truncated]";

    if (run->timed_out) {
      return compile_error("compile timed out after " + std::to_string(opts.timeout_ms) + " ms" +
                           (diags.empty() ? "" : "\n" + diags));
    }
    int st = run->wait_status;
    if (WIFSIGNALED(st)) {
      int sig = WTERMSIG(st);
      std::string why = sig == SIGXCPU || sig == SIGKILL
                            ? "the compiler exceeded its CPU-time or memory limit"
                            : "the compiler crashed";
      return compile_error(why + " (" + describe_wait_status(st) + ")" +
                           (diags.empty() ? "" : "\n" + diags));
    }
    if (WEXITSTATUS(st) != 0) {
      if (diags.find("undefined symbol: main") != std::string::npos) {
        diags =
            "the program has no main(): a NIL function is a WASI command whose _start calls "
            "main(), which reads the input on stdin and writes the output on stdout\n" +
            diags;
      } else if (diags.find("LLVM ERROR: out of memory") != std::string::npos ||
                 diags.find("std::bad_alloc") != std::string::npos ||
                 diags.find("failed to map segment") != std::string::npos ||
                 diags.find("Cannot allocate memory") != std::string::npos) {
        diags = "the compiler ran out of memory (limit " + std::to_string(opts.memory_bytes >> 20) +
                " MiB)\n" + diags;
      }
      if (diags.empty()) diags = "the compiler failed (" + describe_wait_status(st) + ")";
      return compile_error(diags);
    }
    bool too_big = false;
    std::string wasm = read_file(dir / "function.wasm", opts.max_artifact_bytes, &too_big);
    if (too_big) {
      return compile_error("the compiled module is larger than the artifact limit of " +
                           std::to_string(opts.max_artifact_bytes) + " bytes");
    }
    if (wasm.empty()) return compile_error("the compiler produced no module\n" + diags);
    return wasm;
  }

 private:
  std::vector<std::string> command(const std::string& src_name) const {
    const std::string llvm = tc_.llvm_dir.string();
    std::vector<std::string> a;
    if (lang_ == ClangLanguage::kC) {
      a = {llvm + "/bin/clang"};
    } else {
      // clang++ mode links libc++ and libc++abi.
      a = {llvm + "/bin/clang++", "-nostdinc", "-isystem", llvm + "/include/wasm32-wasi/c++/v1"};
    }
    a.insert(a.end(), {"--target=wasm32-wasi", "-O2", "-s",  // -s: wasm-ld --strip-all
                       "-nostdinc", "-isystem", llvm + "/lib/clang/16/include", "-isystem",
                       tc_.wasi_include.string(), "-isystem", kSdkGuest, "-fno-color-diagnostics",
                       "-fmessage-length=0", "-ferror-limit=20"});
    if (lang_ == ClangLanguage::kCpp) {
      // This libc++ has no exceptions (__cxa_throw is undefined) and RTTI only costs size.
      a.insert(a.end(), {"-std=c++20", "-fno-exceptions", "-fno-rtti"});
    } else {
      a.insert(a.end(), {"-std=gnu17"});
    }
    a.insert(a.end(), {src_name, "-o", "function.wasm"});
    return a;
  }

  // Temp object names (/tmp/function-1a2b3c.o) and the work dir are not the user's business.
  static std::string clean_diagnostics(std::string s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
      if (s.compare(i, 14, "/tmp/function-") == 0) {
        size_t j = i + 14;
        while (j < s.size() && std::isalnum(static_cast<unsigned char>(s[j]))) ++j;
        if (s.compare(j, 2, ".o") == 0) {
          out += "function.o";
          i = j + 2;
          continue;
        }
      }
      if (s.compare(i, 6, "/work/") == 0) {
        i += 6;
        continue;
      }
      out += s[i++];
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
  }

  ClangLanguage lang_;
  ClangToolchain tc_;
  std::vector<std::string> libs_;
};

}  // namespace

std::unique_ptr<Driver> make_clang_driver(ClangLanguage lang, const ClangToolchain& tc) {
  const std::string clang = (tc.llvm_dir / "bin/clang").string();
  const std::string lld = (tc.llvm_dir / "bin/lld").string();
  const char* name = lang == ClangLanguage::kC ? "c" : "cpp";
  if (find_bwrap().empty()) {
    log::warn("compile driver disabled: bubblewrap (bwrap) is not installed", {{"language", name}});
    return nullptr;
  }
  for (const fs::path& p : {fs::path(clang), fs::path(lld), tc.wasi_include, tc.wasi_lib,
                            tc.llvm_dir / "lib/clang/16/include",
                            tc.llvm_dir / "include/wasm32-wasi/c++/v1", tc.sdk_include}) {
    if (!fs::exists(p)) {
      log::warn("compile driver disabled: toolchain path missing",
                {{"language", name}, {"path", p.string()}});
      return nullptr;
    }
  }
  auto libs = shared_library_closure({clang, lld});
  if (libs.empty()) {
    log::warn("compile driver disabled: cannot list clang's shared libraries",
              {{"language", name}});
    return nullptr;
  }
  return std::make_unique<ClangDriver>(lang, tc, std::move(libs));
}

}  // namespace nil::compile
