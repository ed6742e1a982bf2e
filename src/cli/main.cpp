// nil — the command-line client of NIL. It speaks only the public REST API (docs/openapi.yaml);
// docs/cli.md describes the commands, the configuration, nil.toml and the exit codes.
#include <curl/curl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "cli/errors.h"

namespace {

// The first word that is not an option (nor the value of --url): the command the user asked for.
std::string first_command_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--url") {
      ++i;
      continue;
    }
    if (!a.empty() && a[0] == '-') continue;
    return a;
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
  app.add_option("--url", ctx.url_flag, "server URL (default: $NIL_URL, then `nil login`'s, then http://127.0.0.1:8080)");
  app.add_flag("--json", ctx.json, "machine-readable JSON on stdout");
  add_function_commands(app, ctx);
  add_env_commands(app, ctx);
  add_admin_commands(app, ctx);

  std::string word = first_command_word(argc, argv);
  if (!word.empty()) {
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) known |= sub->get_name() == word;
    if (!known) {
      std::fprintf(stderr, "nil: unknown command \"%s\" (run `nil --help` for the list)\n", word.c_str());
      return kExitUsage;
    }
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
