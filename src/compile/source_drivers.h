// Source-language drivers (private to nil_compile): C and C++ through clang-16, AssemblyScript
// through a long-lived asc worker. Both run their compiler inside the bubblewrap sandbox
// (compile/sandbox.h). register_source_drivers (source_drivers.cpp) adds them to a registry.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "compile/driver.h"

namespace nil::compile {

// Host files a dynamically linked program needs (its ELF interpreter and shared libraries, as
// resolved by the dynamic loader), for read-only binds. Empty on failure.
std::vector<std::string> shared_library_closure(const std::vector<std::string>& programs);

enum class ClangLanguage { kC, kCpp };

struct ClangToolchain {
  std::filesystem::path llvm_dir = "/usr/lib/llvm-16";  // bin/clang, lib/clang/16, libc++
  std::filesystem::path wasi_include = "/usr/include/wasm32-wasi";
  std::filesystem::path wasi_lib = "/usr/lib/wasm32-wasi";
  std::filesystem::path sdk_include;  // sdk/c (nil.h)
  std::filesystem::path work_dir;     // per-compile temp dirs are made here
};

// nullptr (and a warning in the log) when the toolchain is not installed.
std::unique_ptr<Driver> make_clang_driver(ClangLanguage lang, const ClangToolchain& tc);

struct AscToolchain {
  std::filesystem::path node = "/usr/bin/node";
  std::filesystem::path node_modules;   // holds assemblyscript/ (and its dependencies)
  std::filesystem::path worker_script;  // src/compile/asc_worker.mjs
  std::filesystem::path sdk_dir;        // sdk/assemblyscript
  bool prewarm = true;                  // start the worker and warm asc up at construction
};

std::unique_ptr<Driver> make_assemblyscript_driver(const AscToolchain& tc);

// Turns an unsuccessful run's details into the user-facing compile_error.
Error compile_error(std::string message);

}  // namespace nil::compile
