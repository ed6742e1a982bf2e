// `nil deploy FILE` and `nil deploy` (the nil.toml project). A function is created with
// POST /functions, or updated with PUT /functions/{id} when the name exists (new source →
// new version, compiled again); then the CLI polls GET /functions/{id} until READY or FAILED.
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/input.h"
#include "cli/output.h"
#include "cli/project.h"
#include "cli/source.h"
#include "common/util.h"

namespace nil::cli {

namespace fs = std::filesystem;

namespace {

// What one deploy sends.
struct Spec {
  std::string name;
  std::string language;
  std::string bytes;    // source text, or module bytes for wasm
  std::string display;  // the file as the user named it
  std::optional<std::vector<std::string>> environments;
  std::optional<int64_t> timeout_ms;
  std::optional<int64_t> memory_mb;
};

// Creates the function, or gives the existing one the new source and settings. With an
// Idempotency-Key the request carries it; a repeat of a deploy whose first attempt created the
// function (its answer lost) finds the function and sends a PUT, which the server refuses as
// idempotency_key_reused (the key belongs to the POST): then the POST is sent again, and its
// stored answer — the function this key created — is the result.
Expected<json::value> submit(ApiClient& c, const Spec& s, const json::value* existing,
                             const std::optional<std::string>& key = std::nullopt) {
  json::object body;
  body["language"] = s.language;
  if (s.language == "wasm") {
    body["wasmBase64"] = base64_encode(s.bytes);
  } else {
    body["source"] = s.bytes;
  }
  if (s.timeout_ms || s.memory_mb) {
    json::object limits;
    if (s.timeout_ms) limits["timeoutMs"] = *s.timeout_ms;
    if (s.memory_mb) limits["memoryMb"] = *s.memory_mb;
    body["limits"] = std::move(limits);
  }
  if (s.environments) {
    json::array envs;
    for (const auto& e : *s.environments) envs.push_back(json::string(e));
    body["environments"] = std::move(envs);
  }
  Headers headers;
  if (key) headers.emplace_back("Idempotency-Key", *key);
  if (existing) {
    const json::value update(body);
    auto put = c.call("PUT", "/functions/" + str(*existing, "id"), &update, headers);
    if (put) return std::move(put->value);
    if (!key || put.error().wire_code() != "idempotency_key_reused") return put.error();
    body["name"] = s.name;
    const json::value create(body);
    auto created = c.call("POST", "/functions", &create, headers);
    if (!created) return put.error();  // not the POST of this key either: the PUT's refusal
    return std::move(created->value);
  }
  body["name"] = s.name;
  const json::value create(body);
  return NIL_TRY(c.call("POST", "/functions", &create, headers)).value;
}

// GET /functions/{name}: the function, or null if the server has none of that name.
Expected<json::value> find_function(ApiClient& c, const std::string& name) {
  auto r = c.get("/functions/" + path_segment(name));
  if (r) return std::move(r->value);
  if (r.error().wire_code() == "function_not_found") return json::value(nullptr);
  return r.error();
}

bool terminal_status(const std::string& s) { return s == "READY" || s == "FAILED"; }

// Polls until READY or FAILED (10 minutes at most: the compile queue may be long).
Expected<json::value> wait_compiled(ApiClient& c, const json::value& submitted,
                                    bool progress_on_terminal, bool quiet) {
  const std::string id = str(submitted, "id");
  const std::string name = str(submitted, "name");
  json::value fn = submitted;
  Progress progress(progress_on_terminal);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  auto interval = std::chrono::milliseconds(50);
  while (!terminal_status(str(fn, "status"))) {
    if (!quiet) progress.update(name + ": " + str(fn, "status"));
    if (std::chrono::steady_clock::now() > deadline) {
      progress.finish();
      // NOLINTNEXTLINE(performance-inefficient-string-concatenation): one message, then return.
      return failure(name + " is still " + str(fn, "status") + " after 10 minutes (see `nil get " +
                     name + "`)");
    }
    std::this_thread::sleep_for(interval);
    interval = std::min(interval * 2, std::chrono::milliseconds(400));
    auto r = c.get("/functions/" + id);
    if (!r) {
      progress.finish();
      return r.error();
    }
    fn = std::move(r->value);
  }
  progress.finish();
  return fn;
}

// The compileError with the user's file name, then the offending line with a caret.
void print_compile_failure(const json::value& fn, const Spec& s) {
  std::string err = str(fn, "compileError");
  std::string server_file = server_file_name(s.language);
  std::fprintf(stderr, "nil: %s failed to compile:\n%s\n", s.name.c_str(),
               with_file_name(err, server_file, s.display).c_str());
  if (auto at = first_location(err, server_file)) {
    std::string excerpt = source_excerpt(s.bytes, *at, s.display);
    if (!excerpt.empty()) std::fprintf(stderr, "\n%s", excerpt.c_str());
  }
  std::fflush(stderr);
}

std::string describe_ready(const json::value& fn) {
  return str(fn, "name") + ": " + str(fn, "status") + " (" + str(fn, "language") + ", version " +
         std::to_string(num(fn, "version")) + ")";
}

struct DeployFlags {
  std::optional<std::string> file;
  std::optional<std::string> name;
  std::optional<std::string> lang;
  std::vector<std::string> envs;
  std::optional<int64_t> timeout_ms;
  std::optional<int64_t> memory_mb;
  bool no_wait = false;
  std::optional<std::string> idempotency_key;
};

Expected<void> deploy_file(Context& ctx, const DeployFlags& f) {
  Spec s;
  s.display = *f.file;
  if (f.lang) {
    s.language = *f.lang;
  } else if (auto l = language_for_path(*f.file)) {
    s.language = *l;
  } else {
    return usage_error("cannot tell the language of " + *f.file +
                       " from its extension (.ts, .c, .cpp/.cc, .wat, .wasm): give --lang");
  }
  s.name = f.name ? *f.name : name_from_path(*f.file);
  s.bytes = NIL_TRY(read_file(*f.file));
  if (!f.envs.empty()) s.environments = f.envs;
  s.timeout_ms = f.timeout_ms;
  s.memory_mb = f.memory_mb;

  ApiClient& c = *NIL_TRY(ctx.client());
  json::value existing = NIL_TRY(find_function(c, s.name));
  json::value fn =
      NIL_TRY(submit(c, s, existing.is_null() ? nullptr : &existing, f.idempotency_key));
  if (!f.no_wait) fn = NIL_TRY(wait_compiled(c, fn, ctx.stderr_terminal, ctx.json));
  if (ctx.json) print_line(json_text(fn));
  if (str(fn, "status") == "FAILED") {
    print_compile_failure(fn, s);
    return function_failed("");
  }
  if (!ctx.json) {
    print_line(f.no_wait ? s.name + ": submitted (version " + std::to_string(num(fn, "version")) +
                               ", " + str(fn, "status") + ")"
                         : describe_ready(fn));
  }
  return {};
}

// One function of the project and what became of it.
struct Outcome {
  std::string name;
  std::string result;  // unchanged | deployed | failed
  json::value function;
  std::string error;
  bool compile_failed = false;
};

Expected<void> deploy_project(Context& ctx, const DeployFlags& flags) {
  auto file = find_project_file(fs::current_path());
  if (!file) {
    return usage_error(
        "no FILE given and no nil.toml in this directory or its parents (see `nil deploy --help`)");
  }
  Project project = NIL_TRY(load_project(*file));
  ProjectState state = load_state(project);
  ApiClient& c = *NIL_TRY(ctx.client());

  std::vector<Outcome> outcomes;
  std::vector<std::pair<Spec, json::value>> submitted;  // waiting for their compile
  std::vector<std::string> fingerprints;
  for (const ProjectFunction& pf : project.functions) {
    Outcome o{pf.name, "failed", nullptr, "", false};
    Spec s{pf.name,         pf.language,   "",          pf.source_display,
           pf.environments, pf.timeout_ms, pf.memory_mb};
    auto bytes = read_file(pf.source.string());
    if (!bytes) {
      o.error = bytes.error().message;
      outcomes.push_back(std::move(o));
      continue;
    }
    s.bytes = std::move(*bytes);
    std::string fp = fingerprint(pf, s.bytes);
    json::value existing = NIL_TRY(find_function(c, pf.name));
    auto known = state.find(pf.name);
    // Unchanged: same fingerprint, and the server still has that deploy (same id and version,
    // not FAILED — a version still compiling is that deploy in flight).
    if (!existing.is_null() && known != state.end() && known->second.fingerprint == fp &&
        known->second.id == str(existing, "id") &&
        known->second.version == num(existing, "version") && str(existing, "status") != "FAILED") {
      o.result = "unchanged";
      o.function = existing;
      outcomes.push_back(std::move(o));
      continue;
    }
    auto fn = submit(c, s, existing.is_null() ? nullptr : &existing);
    if (!fn) {
      if (fn.error().wire_code() == "unreachable") return fn.error();
      o.error = fn.error().message;
      state.erase(pf.name);
      outcomes.push_back(std::move(o));
      continue;
    }
    o.result = "deployed";
    o.function = *fn;
    state[pf.name] = DeployedFunction{fp, str(*fn, "id"), num(*fn, "version")};
    outcomes.push_back(std::move(o));
    submitted.emplace_back(std::move(s), std::move(*fn));
  }
  // Everything is submitted first so that the server compiles in parallel; then the waits.
  if (!flags.no_wait) {
    for (auto& [spec, fn] : submitted) {
      Outcome* o = nullptr;
      for (auto& out : outcomes) {
        if (out.name == spec.name) o = &out;
      }
      auto done = wait_compiled(c, fn, ctx.stderr_terminal, ctx.json);
      if (!done) {
        if (done.error().wire_code() == "unreachable") return done.error();
        o->result = "failed";
        o->error = done.error().message;
        continue;
      }
      o->function = *done;
      if (str(*done, "status") == "FAILED") {
        o->result = "failed";
        o->compile_failed = true;
        o->error = "compile error";
        state.erase(spec.name);
        if (!ctx.json) print_compile_failure(*done, spec);
      } else {
        state[spec.name].version = num(*done, "version");
      }
    }
  }
  // Functions no longer in nil.toml are forgotten (not deleted from the server).
  for (auto it = state.begin(); it != state.end();) {
    bool listed = false;
    for (const auto& pf : project.functions) listed |= pf.name == it->first;
    it = listed ? std::next(it) : state.erase(it);
  }
  Expected<void> saved = save_state(project, state);

  size_t unchanged = 0, deployed = 0, failed = 0;
  bool compile_failed = false;
  for (const auto& o : outcomes) {
    (o.result == "unchanged" ? unchanged : o.result == "deployed" ? deployed : failed)++;
    compile_failed |= o.compile_failed;
  }
  if (ctx.json) {
    json::array items;
    for (const auto& o : outcomes) {
      items.push_back(
          json::object{{"name", o.name},
                       {"result", o.result},
                       {"function", o.function},
                       {"error", o.error.empty() ? json::value(nullptr) : json::value(o.error)}});
    }
    print_line(json_text(json::object{{"functions", std::move(items)},
                                      {"unchanged", unchanged},
                                      {"deployed", deployed},
                                      {"failed", failed}}));
  } else {
    Table t({"RESULT", "FUNCTION", "DETAIL"});
    for (const auto& o : outcomes) {
      std::string detail = o.error;
      if (detail.empty() && !o.function.is_null()) {
        detail = "version " + std::to_string(num(o.function, "version")) + ", " +
                 str(o.function, "status");
      }
      t.add({o.result, o.name, detail});
    }
    t.print();
    print_line(std::to_string(outcomes.size()) + " functions: " + std::to_string(unchanged) +
               " unchanged, " + std::to_string(deployed) + " deployed, " + std::to_string(failed) +
               " failed");
  }
  if (!saved) return saved.error();
  if (compile_failed) return function_failed("");
  if (failed)
    return failure(std::to_string(failed) + " of " + std::to_string(outcomes.size()) +
                   " functions failed to deploy");
  return {};
}

}  // namespace

void add_deploy_command(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<DeployFlags>();
  CLI::App* cmd =
      app.add_subcommand("deploy", "Deploy FILE as a function, or every function of nil.toml");
  cmd->add_option("file", flags->file,
                  "source (.ts .c .cpp .cc .wat) or module (.wasm); none: the nil.toml project");
  cmd->add_option("--name", flags->name,
                  "function name (default: the file name without extension)");
  cmd->add_option("--lang", flags->lang,
                  "language: assemblyscript, c, cpp, wat, wasm (default: from the extension)")
      ->check(CLI::IsMember({"assemblyscript", "c", "cpp", "wat", "wasm"}));
  cmd->add_option("--env", flags->envs,
                  "attach this environment (repeatable; replaces the attached list)")
      ->allow_extra_args(false);
  cmd->add_option("--timeout-ms", flags->timeout_ms, "limit of one execution in milliseconds");
  cmd->add_option("--memory-mb", flags->memory_mb, "memory limit in MiB");
  cmd->add_flag("--no-wait", flags->no_wait,
                "return once submitted, without waiting for the compile");
  cmd->add_option("--idempotency-key", flags->idempotency_key,
                  "send this Idempotency-Key: a repeat with the same key and file within 24 h "
                  "deploys once (needs a FILE)");
  cmd->callback([&ctx, flags] {
    ctx.run = [&ctx, flags]() -> Expected<void> {
      if (flags->file) return deploy_file(ctx, *flags);
      if (flags->name || flags->lang || !flags->envs.empty() || flags->timeout_ms ||
          flags->memory_mb || flags->idempotency_key) {
        return usage_error(
            "--name, --lang, --env, limits and --idempotency-key need a FILE (a project's "
            "settings are in nil.toml)");
      }
      return deploy_project(ctx, *flags);
    };
  });
}

}  // namespace nil::cli
