// What the CLI knows about a function's source file: its language from the extension, and how
// to point at the offending line of a compileError.
//
// The server compiles the user's source under a fixed name (function.c, function.cpp,
// function.ts, function.wat) and its diagnostics say "function.c:2:12: ..." (clang, wabt) or
// "function.ts(2,12)" (asc). The CLI shows them with the user's own file name and prints that
// line with a caret under the column.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nil::cli {

// "assemblyscript", "c", "cpp", "wat", "wasm" from the extension; nullopt if unknown.
std::optional<std::string> language_for_path(std::string_view path);

// The file name the server compiles `language` under ("" for wasm).
std::string server_file_name(std::string_view language);

struct SourceLocation {
  int line = 0;    // 1-based
  int column = 0;  // 1-based, 0 if unknown
};

// The first line:column the diagnostics give for `server_file`.
std::optional<SourceLocation> first_location(std::string_view compile_error,
                                             std::string_view server_file);

// The diagnostics with `server_file` replaced by `display_name` where it names a position.
std::string with_file_name(std::string compile_error, std::string_view server_file,
                           std::string_view display_name);

// "  --> hello.c:2:11\n   |\n 2 |   return 0\n   |           ^\n" ("" if the line does not exist).
std::string source_excerpt(std::string_view source, SourceLocation at,
                           std::string_view display_name);

// A function name from a file name: "hello_world.c" → "hello-world" (lower-case; the server
// checks the rules).
std::string name_from_path(std::string_view path);

}  // namespace nil::cli
