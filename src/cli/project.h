// A NIL project: nil.toml lists functions; `nil deploy` without a file deploys them all,
// idempotently.
//
//   [[function]]
//   name = "hello"              # required
//   source = "hello.wat"        # required, relative to nil.toml
//   language = "wat"            # optional, from the extension otherwise
//   environments = ["prod"]     # optional (or environment = "prod"); replaces the attached list
//   timeout_ms = 2000           # optional
//   memory_mb = 64              # optional
//
// .nil/state.json beside nil.toml remembers, per function, the fingerprint of what was last
// deployed (sha256 of the source bytes and the settings) and the server's id and version. A
// function is redeployed when its fingerprint changed or the server no longer has that id at
// that version in state READY.
#pragma once

#include <boost/json.hpp>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/expected.h"

namespace nil::cli {

struct ProjectFunction {
  std::string name;
  std::filesystem::path source;  // absolute
  std::string source_display;    // as written in nil.toml
  std::string language;
  std::optional<std::vector<std::string>> environments;
  std::optional<int64_t> timeout_ms;
  std::optional<int64_t> memory_mb;
};

struct Project {
  std::filesystem::path file;  // nil.toml
  std::filesystem::path dir;
  std::vector<ProjectFunction> functions;
};

// nil.toml in `start` or the nearest parent directory; nullopt if there is none.
std::optional<std::filesystem::path> find_project_file(const std::filesystem::path& start);
Expected<Project> load_project(const std::filesystem::path& file);
// load_project of nil.toml's text, as if read from `file` (fuzzed by fuzz_nil_toml).
Expected<Project> parse_project(std::string_view text, const std::filesystem::path& file);

// What the state file remembers of one function.
struct DeployedFunction {
  std::string fingerprint;
  std::string id;
  int64_t version = 0;
};

using ProjectState = std::map<std::string, DeployedFunction>;

std::filesystem::path state_path(const Project& p);
ProjectState load_state(const Project& p);  // missing or unreadable → empty (everything redeploys)
Expected<void> save_state(const Project& p, const ProjectState& s);

// sha256 over the settings and the source bytes.
std::string fingerprint(const ProjectFunction& f, std::string_view source_bytes);

}  // namespace nil::cli
