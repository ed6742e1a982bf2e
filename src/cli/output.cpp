#include "cli/output.h"

#include "common/json_text.h"

namespace nil::cli {

std::string json_text(const json::value& v) { return to_json_text(v); }

std::string str(const json::value& v, std::string_view key) {
  if (!v.is_object()) return "";
  auto it = v.as_object().find(key);
  if (it == v.as_object().end() || !it->value().is_string()) return "";
  return std::string(it->value().as_string());
}

int64_t num(const json::value& v, std::string_view key) {
  if (!v.is_object()) return 0;
  auto it = v.as_object().find(key);
  if (it == v.as_object().end()) return 0;
  if (it->value().is_int64()) return it->value().as_int64();
  if (it->value().is_uint64()) return static_cast<int64_t>(it->value().as_uint64());
  if (it->value().is_double()) return static_cast<int64_t>(it->value().as_double());
  return 0;
}

std::string short_time(std::string_view t) {
  if (t.size() < 19) return std::string(t);
  std::string out(t.substr(0, 19));
  out[10] = ' ';
  return out;
}

void Table::print(std::FILE* out) const {
  std::vector<size_t> width;
  for (const auto& r : rows_) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows_) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::fprintf(out, "%s\n", line.c_str());
  }
  std::fflush(out);
}

Progress::Progress(bool terminal, std::FILE* out)
    : terminal_(terminal), out_(out), start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { finish(); }

void Progress::update(const std::string& state) {
  if (terminal_) {
    static constexpr const char* kSpinner[] = {"|", "/", "-", "\\"};
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    // \r and "erase line": the same line is redrawn, nothing scrolls.
    std::fprintf(out_, "\r\033[2K%s %s (%.1fs)", kSpinner[tick_++ % 4], state.c_str(), secs);
    std::fflush(out_);
    drawn_ = true;
  } else if (state != last_) {
    std::fprintf(out_, "%s\n", state.c_str());
    std::fflush(out_);
  }
  last_ = state;
}

void Progress::finish() {
  if (terminal_ && drawn_) {
    std::fprintf(out_, "\r\033[2K");
    std::fflush(out_);
  }
  drawn_ = false;
}

void print_line(std::string_view s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace nil::cli
