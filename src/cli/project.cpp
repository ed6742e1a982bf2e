#include "cli/project.h"

#include <toml++/toml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "cli/errors.h"
#include "cli/output.h"
#include "cli/source.h"
#include "common/util.h"

namespace nil::cli {

namespace fs = std::filesystem;
namespace json = boost::json;

std::optional<fs::path> find_project_file(const fs::path& start) {
  std::error_code ec;
  fs::path dir = fs::absolute(start, ec);
  while (!dir.empty()) {
    if (fs::is_regular_file(dir / "nil.toml", ec)) return dir / "nil.toml";
    if (dir == dir.root_path()) break;
    dir = dir.parent_path();
  }
  return std::nullopt;
}

namespace {

Expected<ProjectFunction> parse_function(const toml::table& t, size_t index, const fs::path& dir,
                                         const std::string& file) {
  std::string where = file + ": [[function]] #" + std::to_string(index + 1);
  static const std::set<std::string> kKnown = {
      "name", "source", "language", "environment", "environments", "timeout_ms", "memory_mb"};
  for (const auto& [k, v] : t) {
    if (!kKnown.count(std::string(k.str())))
      return failure(where + ": unknown key \"" + std::string(k.str()) + "\"");
  }
  ProjectFunction f;
  auto name = t["name"].value<std::string>();
  if (!name || name->empty()) return failure(where + ": \"name\" (a string) is required");
  f.name = *name;
  where = file + ": function \"" + f.name + "\"";
  auto source = t["source"].value<std::string>();
  if (!source || source->empty()) return failure(where + ": \"source\" (a path) is required");
  f.source_display = *source;
  f.source = fs::path(*source).is_absolute() ? fs::path(*source) : dir / *source;
  if (auto lang = t["language"].value<std::string>();
      lang && !lang->empty() && t["language"].is_string()) {
    f.language = *lang;
  } else if (t.contains("language")) {  // found by fuzz_nil_toml: "" was taken as the language
    return failure(where + ": \"language\" must be a non-empty string");
  } else if (auto guessed = language_for_path(*source)) {
    f.language = *guessed;
  } else {
    return failure(where + ": cannot tell the language of " + *source +
                   " (set language = \"c\", \"cpp\", "
                   "\"assemblyscript\", \"wat\" or \"wasm\")");
  }
  if (t.contains("environment") && t.contains("environments")) {
    return failure(where + ": give \"environment\" or \"environments\", not both");
  }
  if (auto e = t["environment"].value<std::string>()) {
    f.environments = std::vector<std::string>{*e};
  } else if (t.contains("environment")) {
    return failure(where + ": \"environment\" must be a string");
  }
  if (const toml::array* arr = t["environments"].as_array()) {
    std::vector<std::string> envs;
    for (const auto& e : *arr) {
      auto s = e.value<std::string>();
      if (!s) return failure(where + ": \"environments\" must be an array of strings");
      envs.push_back(*s);
    }
    f.environments = std::move(envs);
  } else if (t.contains("environments")) {
    return failure(where + ": \"environments\" must be an array of strings");
  }
  for (const char* key : {"timeout_ms", "memory_mb"}) {
    if (!t.contains(key)) continue;
    auto v = t[key].value<int64_t>();
    if (!v || !t[key].is_integer()) return failure(where + ": \"" + key + "\" must be an integer");
    (std::string_view(key) == "timeout_ms" ? f.timeout_ms : f.memory_mb) = *v;
  }
  return f;
}

Expected<Project> project_from(const toml::table& root, const fs::path& file) {
  Project p;
  p.file = file;
  p.dir = file.parent_path();
  for (const auto& [k, v] : root) {
    if (k.str() != "function")
      return failure(file.string() + ": unknown table or key \"" + std::string(k.str()) + "\"");
  }
  const toml::array* fns = root["function"].as_array();
  if (!fns || fns->empty()) return failure(file.string() + ": no [[function]] tables");
  std::set<std::string> names;
  for (size_t i = 0; i < fns->size(); ++i) {
    const toml::table* t = (*fns)[i].as_table();
    if (!t)
      return failure(file.string() + ": \"function\" must be an array of tables ([[function]])");
    ProjectFunction f = NIL_TRY(parse_function(*t, i, p.dir, file.string()));
    if (!names.insert(f.name).second)
      return failure(file.string() + ": function \"" + f.name + "\" is listed twice");
    p.functions.push_back(std::move(f));
  }
  return p;
}

Error toml_failure(const toml::parse_error& e, const fs::path& file) {
  std::ostringstream where;
  where << e.source().begin;
  return failure(file.string() + ": " + std::string(e.description()) + " (" + where.str() + ")");
}

}  // namespace

Expected<Project> load_project(const fs::path& file) {
  try {
    return project_from(toml::parse_file(file.string()), file);
  } catch (const toml::parse_error& e) {
    return toml_failure(e, file);
  }
}

Expected<Project> parse_project(std::string_view text, const fs::path& file) {
  try {
    return project_from(toml::parse(text, file.string()), file);
  } catch (const toml::parse_error& e) {
    return toml_failure(e, file);
  }
}

fs::path state_path(const Project& p) { return p.dir / ".nil" / "state.json"; }

ProjectState load_state(const Project& p) {
  ProjectState s;
  std::ifstream in(state_path(p), std::ios::binary);
  if (!in) return s;
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  if (ec || !v.is_object()) return s;
  auto it = v.as_object().find("functions");
  if (it == v.as_object().end() || !it->value().is_object()) return s;
  for (const auto& kv : it->value().as_object()) {
    DeployedFunction d;
    d.fingerprint = str(kv.value(), "fingerprint");
    d.id = str(kv.value(), "id");
    d.version = num(kv.value(), "version");
    s[std::string(kv.key())] = d;
  }
  return s;
}

Expected<void> save_state(const Project& p, const ProjectState& s) {
  fs::path path = state_path(p);
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return failure("cannot create " + path.parent_path().string() + ": " + ec.message());
  json::object fns;
  for (const auto& [name, d] : s) {
    fns[name] = json::object{{"fingerprint", d.fingerprint}, {"id", d.id}, {"version", d.version}};
  }
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << json_text(json::object{{"functions", std::move(fns)}}) << "\n";
    if (!out) return failure("cannot write " + tmp.string());
  }
  fs::rename(tmp, path, ec);
  if (ec) return failure("cannot write " + path.string() + ": " + ec.message());
  return {};
}

std::string fingerprint(const ProjectFunction& f, std::string_view source_bytes) {
  // Settings first, each on its own line, then the source: a change to either changes the hash.
  std::string text = "nil-function-v1\nlanguage=" + f.language + "\n";
  if (f.environments) {
    text += "environments=";
    for (const auto& e : *f.environments) text += e + ",";
    text += "\n";
  }
  if (f.timeout_ms) text += "timeout_ms=" + std::to_string(*f.timeout_ms) + "\n";
  if (f.memory_mb) text += "memory_mb=" + std::to_string(*f.memory_mb) + "\n";
  text += "source:\n";
  text.append(source_bytes);
  return sha256_hex(text);
}

}  // namespace nil::cli
