// nil — the command-line client of NIL. It speaks only the public REST API (docs/openapi.yaml);
// docs/cli.md describes the commands, the configuration, nil.toml and the exit codes.
#include <curl/curl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/errors.h"

namespace {

// The words that are not options (nor the value of --url): the command path the user typed.
std::vector<std::string> command_words(int argc, char** argv) {
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") break;
    if (a == "--url") {
      ++i;
      continue;
    }
    if (!a.empty() && a[0] == '-') continue;
    words.push_back(a);
  }
  return words;
}

// "unknown command" for a word that names no command (CLI11 would say "arguments were not
// expected"), at the top level and inside command groups (env, users, groups, keys).
std::string unknown_command(const CLI::App& app, const std::vector<std::string>& words) {
  const CLI::App* at = &app;
  std::string path;
  for (const auto& w : words) {
    if (at->get_subcommands({}).empty()) break;
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : at->get_subcommands({})) {
      if (sub->get_name() == w) next = sub;
    }
    if (!path.empty()) path += ' ';
    path += w;
    if (!next) return path;
    at = next;
  }
  return "";
}

int run(int argc, char** argv) {
  using namespace nil::cli;
  Context ctx;
  ctx.stdin_terminal = ::isatty(STDIN_FILENO) == 1;
  ctx.stdout_terminal = ::isatty(STDOUT_FILENO) == 1;
  ctx.stderr_terminal = ::isatty(STDERR_FILENO) == 1;

  CLI::App app{"nil — deploy and run functions on a NIL server (docs/cli.md)", "nil"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the command: `nil ls --json`
  app.set_version_flag("--version", "nil 0.1.0");
  app.add_option("--url", ctx.url_flag,
                 "server URL (default: $NIL_URL, then `nil login`'s, then http://127.0.0.1:8080)");
  app.add_flag("--json", ctx.json, "machine-readable JSON on stdout");
  add_function_commands(app, ctx);
  add_env_commands(app, ctx);
  add_admin_commands(app, ctx);
  add_dlq_commands(app, ctx);

  if (std::string unknown = unknown_command(app, command_words(argc, argv)); !unknown.empty()) {
    std::fprintf(stderr, "nil: unknown command \"%s\" (run `nil --help` for the list)\n",
                 unknown.c_str());
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (argc == 1) {
      std::fprintf(stderr, "%s", app.help().c_str());
    } else {
      std::fprintf(stderr, "nil: %s (see --help)\n", e.what());
    }
    return kExitUsage;
  }
  if (!ctx.run) {
    std::fprintf(stderr, "nil: nothing to do (see --help)\n");
    return kExitUsage;
  }
  nil::Expected<void> r = ctx.run();
  if (r) return kExitOk;
  if (!r.error().message.empty()) std::fprintf(stderr, "nil: %s\n", r.error().message.c_str());
  return exit_code_for(r.error());
}

}  // namespace

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int code = nil::cli::kExitError;
  try {
    code = run(argc, argv);
  } catch (const std::exception& e) {
    // Nothing is expected to throw; a bug still gets one line, not "terminate called".
    std::fprintf(stderr, "nil: internal error: %s\n", e.what());
  }
  std::fflush(stdout);
  curl_global_cleanup();
  return code;
}
