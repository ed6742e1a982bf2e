#include "tiers.h"

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "compile/native_builder.h"

#ifndef NIL_TEST_NATIVE_CACHE
#define NIL_TEST_NATIVE_CACHE "/tmp/nil-test-native-cache"
#endif

namespace nil::engine::testing {
namespace {

class BuildingNativeSandbox final : public Sandbox {
 public:
  BuildingNativeSandbox() : dir_(native_test_cache_dir()) {
    NativeOptions o;
    o.artifact_dir = dir_;
    native_ = make_native_sandbox(o);
  }
  std::string_view tier() const override { return native_->tier(); }
  Expected<std::shared_ptr<const PreparedModule>> prepare(std::string_view wasm) override {
    NIL_TRY(validate_module(wasm));
    std::filesystem::path so =
        std::filesystem::path(dir_) / native_artifact_name(module_sha256(wasm));
    std::error_code ec;
    if (!std::filesystem::exists(so, ec)) {
      compile::NativeBuildOptions o;
      o.timeout_ms = 600'000;  // a loaded CI machine
      NIL_TRY_VOID(compile::build_native(wasm, so, o));
    }
    return native_->load(so.string());
  }
  Result invoke(const PreparedModule& module, const Invocation& inv) override {
    return native_->invoke(module, inv);
  }

 private:
  std::string dir_;
  std::unique_ptr<NativeSandbox> native_;
};

}  // namespace

std::string native_test_cache_dir() {
  if (const char* d = std::getenv("NIL_TEST_NATIVE_CACHE")) return d;
  return NIL_TEST_NATIVE_CACHE;
}

std::unique_ptr<Sandbox> make_test_sandbox(std::string_view tier) {
  if (tier == "native") return std::make_unique<BuildingNativeSandbox>();
  return make_interpreter_sandbox();
}

}  // namespace nil::engine::testing
