// Test helper: WebAssembly text → binary with libwabt's own parser, so test modules are written
// inline next to the behaviour they check.
#pragma once

#include <string>
#include <string_view>

namespace nil::engine::testing {

// Parses `wat` and returns the binary module; a parse error fails the calling test (and
// returns an empty string).
std::string wat_to_wasm(std::string_view wat);

// `bytes` as the inside of a WAT string literal (every byte \xx-escaped), for data segments.
std::string wat_string(std::string_view bytes);

// A command that writes `text` to `fd` (1 or 2) and, if fd is 2, `{}` to stdout.
std::string writer_module(int fd, std::string_view text);

}  // namespace nil::engine::testing
