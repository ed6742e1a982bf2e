#include "cli/source.h"

#include <cctype>
#include <filesystem>
#include <vector>

namespace nil::cli {

std::optional<std::string> language_for_path(std::string_view path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (ext == ".ts") return "assemblyscript";
  if (ext == ".c") return "c";
  if (ext == ".cpp" || ext == ".cc" || ext == ".cxx") return "cpp";
  if (ext == ".wat") return "wat";
  if (ext == ".wasm") return "wasm";
  return std::nullopt;
}

std::string server_file_name(std::string_view language) {
  if (language == "assemblyscript") return "function.ts";
  if (language == "c") return "function.c";
  if (language == "cpp") return "function.cpp";
  if (language == "wat") return "function.wat";
  return "";
}

namespace {

// Reads digits at s[i...]; returns the number and advances i, or -1.
int read_int(std::string_view s, size_t& i) {
  size_t start = i;
  int n = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && i - start < 9) {
    n = n * 10 + (s[i] - '0');
    ++i;
  }
  return i == start ? -1 : n;
}

// Positions where `file` is followed by ":L" or "(L,": the places that name a location.
struct Mention {
  size_t at;
  SourceLocation loc;
};

std::vector<Mention> mentions(std::string_view text, std::string_view file) {
  std::vector<Mention> out;
  if (file.empty()) return out;
  size_t pos = 0;
  while ((pos = text.find(file, pos)) != std::string_view::npos) {
    size_t i = pos + file.size();
    // A longer name ("function.cpp" when looking for "function.c") is not a match.
    bool boundary_before = pos == 0 || !(std::isalnum(static_cast<unsigned char>(text[pos - 1])) ||
                                         text[pos - 1] == '_');
    if (boundary_before && i < text.size() && (text[i] == ':' || text[i] == '(')) {
      char open = text[i++];
      int line = read_int(text, i);
      int col = 0;
      if (line > 0 && i < text.size() && text[i] == (open == ':' ? ':' : ',')) {
        ++i;
        col = std::max(0, read_int(text, i));
      }
      if (line > 0) out.push_back({pos, {line, col}});
    }
    pos += file.size();
  }
  return out;
}

}  // namespace

std::optional<SourceLocation> first_location(std::string_view compile_error,
                                             std::string_view server_file) {
  auto m = mentions(compile_error, server_file);
  if (m.empty()) return std::nullopt;
  return m.front().loc;
}

std::string with_file_name(std::string compile_error, std::string_view server_file,
                           std::string_view display_name) {
  auto m = mentions(compile_error, server_file);
  for (auto it = m.rbegin(); it != m.rend(); ++it)
    compile_error.replace(it->at, server_file.size(), display_name);
  return compile_error;
}

std::string source_excerpt(std::string_view source, SourceLocation at,
                           std::string_view display_name) {
  if (at.line < 1) return "";
  size_t begin = 0;
  for (int l = 1; l < at.line; ++l) {
    size_t nl = source.find('\n', begin);
    if (nl == std::string_view::npos) return "";
    begin = nl + 1;
  }
  size_t end = source.find('\n', begin);
  std::string_view text =
      source.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  std::string num = std::to_string(at.line);
  std::string pad(num.size(), ' ');
  std::string out = pad + "--> " + std::string(display_name) + ":" + num;
  if (at.column > 0) {
    out += ':';
    out += std::to_string(at.column);
  }
  out += "\n" + pad + " |\n" + num + " | " + std::string(text) + "\n";
  if (at.column > 0) {
    // Keep tabs so that the caret lands under the same character as the line above.
    std::string lead;
    for (size_t i = 0; i + 1 < static_cast<size_t>(at.column) && i < text.size(); ++i)
      lead += text[i] == '\t' ? '\t' : ' ';
    out += pad + " | " + lead + "^\n";
  }
  return out;
}

std::string name_from_path(std::string_view path) {
  std::string stem = std::filesystem::path(path).stem().string();
  for (char& ch : stem) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (ch == '_' || ch == '.' || ch == ' ') ch = '-';
  }
  return stem;
}

}  // namespace nil::cli
