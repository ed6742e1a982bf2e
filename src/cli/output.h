// How the CLI prints: results to stdout (tables for people, JSON with --json), everything else
// (progress, errors) to stderr.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace nil::cli {

namespace json = boost::json;

// JSON text with numbers as people write them (Boost.JSON 1.81 prints 0.5 as 5E-1).
std::string json_text(const json::value& v);

// Member access that tolerates absence: "" / 0 / false when missing or of another type.
std::string str(const json::value& v, std::string_view key);
int64_t num(const json::value& v, std::string_view key);

// "2026-12-04T08:40:01.123Z" → "2026-12-04 08:40:01".
std::string short_time(std::string_view rfc3339);

// Left-aligned columns separated by two spaces; the header is printed as given.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t size() const { return rows_.size() - 1; }
  void print(std::FILE* out = stdout) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// A status line while waiting. On a terminal one line redrawn in place with a spinner and the
// elapsed time; otherwise a plain line each time the state changes (logs stay readable).
class Progress {
 public:
  Progress(bool terminal, std::FILE* out = stderr);
  ~Progress();
  void update(const std::string& state);
  // Clears the redrawn line (terminal) so the final message starts on a clean line.
  void finish();

 private:
  bool terminal_;
  std::FILE* out_;
  std::string last_;
  bool drawn_ = false;
  unsigned tick_ = 0;
  std::chrono::steady_clock::time_point start_;
};

// Prints to stdout and flushes (for --follow through pipes).
void print_line(std::string_view s);

}  // namespace nil::cli
