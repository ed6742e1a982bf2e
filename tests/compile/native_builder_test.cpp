// compile::NativeBuilder, the background queue of native builds: a request builds the artifact
// under its cache name and reports it; duplicates are dropped; a failed build is not retried
// (the module stays on the interpreter); wait_idle and stop.
#include "compile/native_builder.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>

#include "common/util.h"
#include "compile/driver.h"
#include "engine/engine.h"

namespace nil::compile {
namespace {

namespace fs = std::filesystem;

std::string module_bytes(const char* wat) {
  auto wasm = make_wat_driver()->compile(wat, {});
  EXPECT_TRUE(wasm.ok()) << wasm.error().message;
  return wasm.ok() ? *wasm : std::string();
}

class NativeBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("nil_native_builder_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(NativeBuilderTest, BuildsOnceReportsAndDoesNotRetryFailures) {
  std::string good = module_bytes(R"((module (func (export "_start"))))");
  std::string good_sha = sha256_hex(good);
  std::atomic<int> fetches{0};
  std::mutex mu;
  std::multiset<std::string> built;
  NativeBuilder builder(
      dir_, 1, NativeBuildOptions{},
      [&](const std::string& sha) -> Expected<std::string> {
        ++fetches;
        if (sha == good_sha) return good;
        return make_error(ErrorCode::kFunctionNotFound, "gone");
      },
      [&](const std::string& sha) {
        std::lock_guard lk(mu);
        built.insert(sha);
      });
  builder.request(good_sha);
  builder.request(good_sha);  // queued already: dropped
  builder.request("feedface");
  builder.wait_idle();
  EXPECT_TRUE(fs::exists(builder.artifact_path(good_sha)));
  EXPECT_EQ(builder.artifact_path(good_sha).filename().string(),
            engine::native_artifact_name(good_sha));
  {
    std::lock_guard lk(mu);
    EXPECT_EQ(built.count(good_sha), 1u);
    EXPECT_EQ(built.count("feedface"), 0u);
  }
  int after_first = fetches.load();
  EXPECT_LE(after_first, 2);
  builder.request("feedface");  // failed before: not retried
  builder.request(good_sha);    // built: reported again without a fetch (the file exists)
  builder.wait_idle();
  EXPECT_EQ(fetches.load(), after_first);
  builder.stop();
  builder.request(good_sha);  // after stop: ignored, no hang
  builder.wait_idle();
}

}  // namespace
}  // namespace nil::compile
