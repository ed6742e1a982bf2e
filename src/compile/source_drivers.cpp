// Registers the source-language drivers (issue 3): c, cpp (clang-16, wasm32-wasi) and
// assemblyscript (a long-lived asc worker). A driver whose toolchain is missing is left out with
// a warning in the log, so the server still starts and the API answers "unknown language".
#include "compile/source_drivers.h"

#include "compile/worker.h"

namespace nil::compile {

void register_source_drivers(DriverRegistry& registry, const ToolchainConfig& cfg) {
  const std::filesystem::path work =
      cfg.work_dir.empty() ? std::filesystem::temp_directory_path() / "nil-compile" : cfg.work_dir;

  ClangToolchain clang;
  clang.sdk_include = cfg.project_dir / "sdk/c";
  clang.work_dir = work;
  for (auto lang : {ClangLanguage::kC, ClangLanguage::kCpp}) {
    if (auto d = make_clang_driver(lang, clang)) registry.add(std::move(d));
  }

  AscToolchain asc;
  asc.node_modules = cfg.project_dir / "node_modules";
  asc.worker_script = cfg.project_dir / "src/compile/asc_worker.mjs";
  asc.sdk_dir = cfg.project_dir / "sdk/assemblyscript";
  asc.prewarm = cfg.prewarm;
  if (auto d = make_assemblyscript_driver(asc)) registry.add(std::move(d));
}

}  // namespace nil::compile
