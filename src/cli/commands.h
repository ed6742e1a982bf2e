// The `nil` commands. main.cpp builds the CLI11 tree; each add_*_commands() registers its
// subcommands, whose parse callbacks store the action to run in Context::run. The action runs
// after parsing succeeded, so usage errors (exit 2) never reach the server.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cli/client.h"
#include "cli/config.h"
#include "common/expected.h"

namespace nil::cli {

struct Context {
  // Global options.
  std::optional<std::string> url_flag;
  bool json = false;
  // Where the standard streams go (progress and prompts differ on a terminal).
  bool stdin_terminal = false;
  bool stdout_terminal = false;
  bool stderr_terminal = false;

  std::function<Expected<void>()> run;

  // The server and key for this run (--url, NIL_URL, NIL_API_KEY, the login file); the client
  // is created on first use.
  Expected<ApiClient*> client();

 private:
  std::unique_ptr<ApiClient> client_;
};

void add_function_commands(CLI::App& app, Context& ctx);  // deploy ls get invoke logs rm stats
void add_env_commands(CLI::App& app, Context& ctx);       // env ls|get|create|set|rm
void add_admin_commands(CLI::App& app, Context& ctx);     // login whoami users groups keys
void add_dlq_commands(CLI::App& app, Context& ctx);       // dlq ls|redrive|purge

// Prints a server list as --json (all pages merged into one {"items":[...],"nextCursor":null})
// or gives the items to the caller. Follows nextCursor up to `max_items` (0: all).
Expected<json::array> list_all(ApiClient& c, const std::string& path, size_t max_items = 0);

// Prints exactly the server's JSON text.
void print_json_reply(const JsonReply& r);

}  // namespace nil::cli
