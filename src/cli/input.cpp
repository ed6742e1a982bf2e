#include "cli/input.h"

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/errors.h"

namespace nil::cli {

Expected<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return usage_error("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return failure("cannot read " + path + ": " + std::strerror(errno));
  return ss.str();
}

Expected<void> check_json(std::string_view text, std::string_view what) {
  boost::json::stream_parser p;
  boost::system::error_code ec;
  size_t n = p.write(text.data(), text.size(), ec);
  if (!ec) p.finish(ec);
  if (!ec) return {};
  size_t at = std::min(n, text.size());
  size_t line =
      1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
  size_t last_nl = at == 0 ? std::string_view::npos : text.rfind('\n', at - 1);
  size_t col = last_nl == std::string_view::npos ? at + 1 : at - last_nl;
  return usage_error(std::string(what) + " is not valid JSON (line " + std::to_string(line) +
                     ", column " + std::to_string(col) + ": " + ec.message() + ")");
}

namespace {
std::string read_stdin() {
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}
bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; });
}
}  // namespace

Expected<std::string> invocation_input(const std::optional<std::string>& data,
                                       bool stdin_is_terminal) {
  std::string text;
  std::string what;
  // --data @- reads stdin; so does no --data at all when stdin is not a terminal.
  bool from_stdin = data ? *data == "@-" : !stdin_is_terminal;
  if (from_stdin) {
    text = read_stdin();
    what = "the input on stdin";
  } else if (data && data->starts_with("@")) {
    text = NIL_TRY(read_file(data->substr(1)));
    what = data->substr(1);
  } else if (data) {
    text = *data;
    what = "--data";
    if (blank(text))
      return usage_error("--data is empty (give a JSON value, e.g. --data '{}' or --data null)");
  }
  if (blank(text)) return std::string();
  NIL_TRY_VOID(check_json(text, what));
  return text;
}

Expected<std::pair<std::string, std::string>> parse_assignment(std::string_view s) {
  auto eq = s.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return usage_error(std::string("\"").append(s) + "\" is not KEY=VALUE");
  }
  return std::pair<std::string, std::string>(std::string(s.substr(0, eq)),
                                             std::string(s.substr(eq + 1)));
}

Expected<std::string> read_line(std::string_view prompt) {
  if (!prompt.empty()) {
    std::fprintf(stderr, "%.*s", static_cast<int>(prompt.size()), prompt.data());
    std::fflush(stderr);
  }
  std::string line;
  if (!std::getline(std::cin, line)) return usage_error("no input (end of file)");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Expected<std::string> read_secret(std::string_view prompt, bool stdin_is_terminal) {
  if (!stdin_is_terminal) return read_line("");
  termios old{};
  bool restore = ::tcgetattr(STDIN_FILENO, &old) == 0;
  if (restore) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);  // not TCSAFLUSH: typed-ahead input stays
  }
  auto line = read_line(prompt);
  if (restore) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  return line;
}

}  // namespace nil::cli
