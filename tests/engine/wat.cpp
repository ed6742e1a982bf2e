#include "wat.h"

#include <gtest/gtest.h>

#include <memory>

#include "wabt/binary-writer.h"
#include "wabt/error-formatter.h"
#include "wabt/ir.h"
#include "wabt/resolve-names.h"
#include "wabt/stream.h"
#include "wabt/wast-lexer.h"
#include "wabt/wast-parser.h"

namespace nil::engine::testing {

std::string wat_to_wasm(std::string_view wat) {
  wabt::Errors errors;
  auto lexer = wabt::WastLexer::CreateBufferLexer("test.wat", wat.data(), wat.size(), &errors);
  wabt::Features features;
  wabt::WastParseOptions options(features);
  std::unique_ptr<wabt::Module> module;
  if (wabt::Failed(wabt::ParseWatModule(lexer.get(), &module, &errors, &options))) {
    ADD_FAILURE() << "WAT does not parse:\n"
                  << wabt::FormatErrorsToString(errors, wabt::Location::Type::Text) << wat;
    return {};
  }
  wabt::MemoryStream stream;
  wabt::WriteBinaryOptions write_options(features, true, false, false);
  if (wabt::Failed(wabt::WriteBinaryModule(&stream, module.get(), write_options))) {
    ADD_FAILURE() << "WAT does not write";
    return {};
  }
  const auto& data = stream.output_buffer().data;
  return std::string(data.begin(), data.end());
}

std::string wat_string(std::string_view text) {
  std::string out;
  char buf[4];
  for (unsigned char c : text) {
    std::snprintf(buf, sizeof buf, "\\%02x", c);
    out += buf;
  }
  return out;
}

std::string writer_module(int fd, std::string_view text) {
  std::string wat = R"((module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "{}")
  (data (i32.const 1024) ")" +
                    wat_string(text) + R"(")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const )" +
                    std::to_string(text.size()) + R"())
    (drop (call $fd_write (i32.const )" +
                    std::to_string(fd) + R"() (i32.const 0) (i32.const 1) (i32.const 8)))
    (if (i32.eq (i32.const )" +
                    std::to_string(fd) + R"() (i32.const 2))
      (then
        (i32.store (i32.const 0) (i32.const 64))
        (i32.store (i32.const 4) (i32.const 2))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))))
)";
  return wat_to_wasm(wat);
}

}  // namespace nil::engine::testing
