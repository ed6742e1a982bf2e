// The native tier's Sandbox: loads artifacts built by compile::build_native (dlopen, RTLD_LOCAL)
// and runs them through the native runtime. An artifact stays mapped while any PreparedModule
// of it lives; dlopen counts references, so loading one path twice maps it once.
#include <dlfcn.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "common/util.h"
#include "engine/engine.h"
#include "engine/native/native_abi.h"
#include "engine/native/native_runtime.h"

namespace nil::engine {
namespace {

using Clock = std::chrono::steady_clock;

struct NativeModule final : PreparedModule {
  void* handle = nullptr;
  native::ArtifactEntryPoints entry{};
  ~NativeModule() override {
    if (handle) dlclose(handle);
  }
};

Error load_failed(const std::string& path, const std::string& why) {
  return make_error(ErrorCode::kNativeLoadFailed,
                    "cannot load native artifact " + path + ": " + why);
}

template <typename F>
bool lookup(void* handle, const char* name, F*& out) {
  out = reinterpret_cast<F*>(dlsym(handle, name));
  return out != nullptr;
}

class NativeSandboxImpl final : public NativeSandbox {
 public:
  explicit NativeSandboxImpl(NativeOptions options) : options_(std::move(options)) {}

  std::string_view tier() const override { return "native"; }

  Expected<std::shared_ptr<const PreparedModule>> prepare(std::string_view wasm) override {
    NIL_TRY(validate_module(wasm));
    if (options_.artifact_dir.empty()) {
      return make_error(ErrorCode::kNativeNotBuilt,
                        "this native sandbox has no artifact directory");
    }
    std::filesystem::path path =
        std::filesystem::path(options_.artifact_dir) / native_artifact_name(module_sha256(wasm));
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return make_error(ErrorCode::kNativeNotBuilt, "no native artifact " + path.string());
    }
    return load(path.string());
  }

  Expected<std::shared_ptr<const PreparedModule>> load(const std::string& so_path) override {
    auto module = std::make_shared<NativeModule>();
    module->handle = dlopen(so_path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!module->handle) {
      const char* why = dlerror();
      return load_failed(so_path, why ? why : "dlopen failed");
    }
    native::ArtifactEntryPoints& e = module->entry;
    if (!lookup(module->handle, "nil_native_abi", e.abi) ||
        !lookup(module->handle, "nil_native_bind", e.bind) ||
        !lookup(module->handle, "nil_native_instance_size", e.instance_size) ||
        !lookup(module->handle, "nil_native_init_module", e.init_module) ||
        !lookup(module->handle, "nil_native_instantiate", e.instantiate) ||
        !lookup(module->handle, "nil_native_start", e.start) ||
        !lookup(module->handle, "nil_native_memory", e.memory) ||
        !lookup(module->handle, "nil_native_free", e.free_instance)) {
      return load_failed(so_path, "not a NIL native artifact (entry points missing)");
    }
    if (e.abi() != kNativeAbiVersion) {
      return load_failed(so_path, "built for native ABI v" + std::to_string(e.abi()) +
                                      ", this server runs v" + std::to_string(kNativeAbiVersion));
    }
    e.bind(native::runtime_table());
    e.init_module();  // registers function types only; runs no guest code
    return std::shared_ptr<const PreparedModule>(std::move(module));
  }

  Result invoke(const PreparedModule& prepared, const Invocation& inv) override {
    auto started = Clock::now();
    const auto* module = dynamic_cast<const NativeModule*>(&prepared);
    Result result;
    if (!module) {
      result.failure = Failure{"trap", "internal error: not a native module"};
    } else {
      result = native::run(module->entry, inv, started);
    }
    result.duration = Clock::now() - started;
    return result;
  }

 private:
  NativeOptions options_;
};

}  // namespace

std::string module_sha256(std::string_view wasm) { return sha256_hex(wasm); }

std::string native_artifact_name(std::string_view sha256_hex) {
  return std::string(sha256_hex) + ".v" + std::to_string(kNativeAbiVersion) + ".so";
}

std::unique_ptr<NativeSandbox> make_native_sandbox(NativeOptions options) {
  return std::make_unique<NativeSandboxImpl>(std::move(options));
}

}  // namespace nil::engine
