// validate_module: the guest contract's import/export rules (docs/abi.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/host_interface.h"
#include "wat.h"

namespace nil::engine {
namespace {

using ::testing::HasSubstr;
using testing::wat_to_wasm;

Error validation_error(std::string_view wat) {
  auto info = validate_module(wat_to_wasm(wat));
  EXPECT_FALSE(info.ok());
  return info.ok() ? Error{} : info.error();
}

TEST(ValidateModule, AcceptsAMinimalCommand) {
  auto info = validate_module(wat_to_wasm(R"((module (func (export "_start"))))"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_THAT(info->exports, ::testing::ElementsAre("_start"));
  EXPECT_TRUE(info->imports.empty());
}

TEST(ValidateModule, ReportsImportsExportsAndMemory) {
  auto info = validate_module(wat_to_wasm(R"((module
    (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
    (memory (export "memory") 3)
    (func (export "_start"))))"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_THAT(info->imports, ::testing::ElementsAre("wasi_snapshot_preview1.fd_write",
                                                    "wasi_snapshot_preview1.proc_exit"));
  EXPECT_EQ(info->initial_memory_pages, 3u);
}

TEST(ValidateModule, ForbiddenImportIsNamed) {
  Error e = validation_error(R"((module
    (import "env" "foo" (func))
    (func (export "_start"))))");
  EXPECT_EQ(http_status(e.code), 400);
  EXPECT_EQ(e.code, ErrorCode::kForbiddenImport);
  EXPECT_EQ(e.message, "import env.foo is not part of the host interface");
}

TEST(ValidateModule, UnknownWasiNameIsForbidden) {
  Error e = validation_error(R"((module
    (import "wasi_snapshot_preview1" "sock_open" (func (param i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "_start"))))");
  EXPECT_EQ(e.code, ErrorCode::kForbiddenImport);
  EXPECT_THAT(e.message, HasSubstr("wasi_snapshot_preview1.sock_open"));
}

TEST(ValidateModule, InternalImportsAreNotForUsers) {
  Error e = validation_error(R"((module
    (import "nil_internal" "tick" (func (result i32)))
    (func (export "_start"))))");
  EXPECT_EQ(e.code, ErrorCode::kForbiddenImport);
  EXPECT_THAT(e.message, HasSubstr("nil_internal.tick"));
}

TEST(ValidateModule, NonFunctionImportsAreForbidden) {
  Error e = validation_error(R"((module
    (import "env" "memory" (memory 1))
    (func (export "_start"))))");
  EXPECT_EQ(e.code, ErrorCode::kForbiddenImport);
  EXPECT_THAT(e.message, HasSubstr("env.memory"));
}

TEST(ValidateModule, WrongWasiSignatureIsRejected) {
  Error e = validation_error(R"((module
    (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "_start"))))");
  EXPECT_EQ(e.code, ErrorCode::kForbiddenImport);
  EXPECT_THAT(e.message, HasSubstr("wasi_snapshot_preview1.fd_write"));
  EXPECT_THAT(e.message, HasSubstr("(i32, i32, i32, i32) -> (i32)"));
}

TEST(ValidateModule, I64WhereI32IsExpectedIsRejected) {
  Error e = validation_error(R"((module
    (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "_start"))))");
  EXPECT_EQ(e.code, ErrorCode::kForbiddenImport);
}

TEST(ValidateModule, MissingStart) {
  Error e = validation_error(R"((module (func (export "main"))))");
  EXPECT_EQ(e.code, ErrorCode::kMissingExport);
  EXPECT_THAT(e.message, HasSubstr("_start"));
}

TEST(ValidateModule, StartWithWrongType) {
  Error e = validation_error(R"((module (func (export "_start") (param i32))))");
  EXPECT_EQ(e.code, ErrorCode::kMissingExport);
  Error e2 = validation_error(R"((module (memory (export "_start") 1)))");
  EXPECT_EQ(e2.code, ErrorCode::kMissingExport);
}

TEST(ValidateModule, WasiWithoutExportedMemory) {
  Error e = validation_error(R"((module
    (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
    (memory 1)
    (func (export "_start"))))");
  EXPECT_EQ(e.code, ErrorCode::kMissingExport);
  EXPECT_THAT(e.message, HasSubstr("memory"));
}

TEST(ValidateModule, InvalidBytes) {
  auto r = validate_module("definitely not wasm");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidWasm);
  EXPECT_EQ(http_status(r.error().code), 400);
  EXPECT_THAT(r.error().message, HasSubstr("0000004: error"));  // the byte offset

  EXPECT_EQ(validate_module("").error().code, ErrorCode::kInvalidWasm);
  std::string truncated = wat_to_wasm(R"((module (func (export "_start"))))");
  truncated.resize(truncated.size() - 3);
  EXPECT_EQ(validate_module(truncated).error().code, ErrorCode::kInvalidWasm);
}

TEST(ValidateModule, InvalidCodeIsReportedWithOffset) {
  // (func (result i32)) with an empty body: a type error the validator finds, not the parser.
  std::string wasm =
      wat_to_wasm(R"((module (func (export "_start")) (func (result i32) i32.const 1)))");
  // Patch the second body's `i32.const 1` (0x41 0x01) to `nop nop` (0x01 0x01): stack underflow.
  auto pos = wasm.rfind("\x41\x01");
  ASSERT_NE(pos, std::string::npos);
  wasm[pos] = 0x01;
  auto r = validate_module(wasm);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidWasm);
  EXPECT_THAT(r.error().message, HasSubstr("error"));
}

TEST(HostInterface, TableIsConsistent) {
  size_t n = 0;
  for (const HostImport& row : host_interface()) {
    ++n;
    EXPECT_EQ(find_host_import(row.module, row.name), &row) << row.name;
    for (char c : row.params) EXPECT_TRUE(c == 'i' || c == 'I') << row.name;
  }
  EXPECT_GE(n, 40u);
  EXPECT_EQ(find_host_import("env", "abort"), nullptr);
  EXPECT_EQ(format_signature("iI", ""), "(i32, i64) -> ()");
}

}  // namespace
}  // namespace nil::engine
