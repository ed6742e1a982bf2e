// Fuzz target: the CLI's nil.toml (cli::parse_project, the parser behind load_project and
// `nil deploy`), including toml++ itself: arbitrary text must give a Project or an error, never
// a crash or an escaping exception.
//
// Invariants checked (a violation aborts, which the fuzzer reports):
//   - an accepted project has at least one function; names are non-empty and unique; every
//     source is non-empty, absolute, and the project directory joined with what nil.toml says
//     (unless that is absolute already); every language is set;
//   - round trip: the project written back as TOML parses to the same functions, settings and
//     fingerprints.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cli/project.h"

namespace {

void require(bool cond) {
  if (!cond) std::abort();
}

const std::filesystem::path kFile = "/project/nil.toml";

// A TOML basic string. Not toml++'s writer: it emits a string that starts with a newline as a
// multi-line string, whose first newline TOML then trims (a round trip that loses a byte).
std::string toml_string(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string write_back(const nil::cli::Project& p) {
  std::string out;
  for (const auto& f : p.functions) {
    out += "[[function]]\nname = " + toml_string(f.name) +
           "\nsource = " + toml_string(f.source_display) +
           "\nlanguage = " + toml_string(f.language) + "\n";
    if (f.environments) {
      out += "environments = [";
      for (const auto& e : *f.environments) out += toml_string(e) + ", ";
      out += "]\n";
    }
    if (f.timeout_ms) out += "timeout_ms = " + std::to_string(*f.timeout_ms) + "\n";
    if (f.memory_mb) out += "memory_mb = " + std::to_string(*f.memory_mb) + "\n";
  }
  return out;
}

bool same(const nil::cli::ProjectFunction& a, const nil::cli::ProjectFunction& b) {
  return a.name == b.name && a.source == b.source && a.source_display == b.source_display &&
         a.language == b.language && a.environments == b.environments &&
         a.timeout_ms == b.timeout_ms && a.memory_mb == b.memory_mb &&
         nil::cli::fingerprint(a, "x") == nil::cli::fingerprint(b, "x");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = nil::cli::parse_project(text, kFile);
  if (!p.ok()) {
    require(!p.error().message.empty());
    return 0;
  }
  require(p->file == kFile && p->dir == kFile.parent_path());
  require(!p->functions.empty());
  for (size_t i = 0; i < p->functions.size(); ++i) {
    const auto& f = p->functions[i];
    require(!f.name.empty() && !f.source_display.empty() && !f.language.empty());
    require(f.source.is_absolute());
    std::filesystem::path written(f.source_display);
    require(f.source == (written.is_absolute() ? written : p->dir / written));
    for (size_t j = 0; j < i; ++j) require(p->functions[j].name != f.name);
  }

  std::string again_text = write_back(*p);
  auto again = nil::cli::parse_project(again_text, kFile);
  require(again.ok());
  require(again->functions.size() == p->functions.size());
  for (size_t i = 0; i < p->functions.size(); ++i)
    require(same(again->functions[i], p->functions[i]));
  return 0;
}
