// What the CLI reads from the user: invocation input (--data JSON, --data @file, stdin),
// KEY=VALUE pairs, files, and secrets typed at a terminal without echo.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/expected.h"

namespace nil::cli {

// A file's bytes; a missing or unreadable file is a usage error naming it.
Expected<std::string> read_file(const std::string& path);

// Checks that `text` is one JSON value; the error says where it broke (line, column).
Expected<void> check_json(std::string_view text, std::string_view what);

// The invocation input: `data` ("JSON", "@file", "@-" for stdin) or, without it, stdin when it
// is not a terminal. Empty means no input (the function sees null). Invalid JSON is a usage error.
Expected<std::string> invocation_input(const std::optional<std::string>& data,
                                       bool stdin_is_terminal);

// "KEY=VALUE" → {KEY, VALUE}; no '=' is a usage error.
Expected<std::pair<std::string, std::string>> parse_assignment(std::string_view s);

// Reads one line from the terminal without echo (prompt on stderr), or from stdin otherwise.
Expected<std::string> read_secret(std::string_view prompt, bool stdin_is_terminal);
Expected<std::string> read_line(std::string_view prompt);

}  // namespace nil::cli
