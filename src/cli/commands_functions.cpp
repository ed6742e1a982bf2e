// ls, get, invoke, logs, rm, stats — functions and their executions.
#include <chrono>
#include <set>
#include <thread>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/input.h"
#include "cli/output.h"

namespace nil::cli {

void add_deploy_command(CLI::App& app, Context& ctx);  // deploy.cpp

namespace {

std::string fn_path(const std::string& name) { return "/functions/" + path_segment(name); }

std::string joined(const json::value& v, std::string_view key) {
  std::string out;
  if (v.is_object()) {
    if (auto it = v.as_object().find(key); it != v.as_object().end() && it->value().is_array()) {
      for (const auto& e : it->value().as_array()) {
        if (!out.empty()) out += ", ";
        out += e.is_string() ? std::string(e.as_string()) : json_text(e);
      }
    }
  }
  return out.empty() ? "-" : out;
}

Expected<void> ls(Context& ctx) {
  ApiClient& c = *NIL_TRY(ctx.client());
  json::array items = NIL_TRY(list_all(c, "/functions"));
  if (ctx.json) {
    print_line(json_text(json::object{{"items", std::move(items)}, {"nextCursor", nullptr}}));
    return {};
  }
  if (items.empty()) {
    print_line("no functions");
    return {};
  }
  Table t({"NAME", "STATUS", "LANGUAGE", "VERSION", "UPDATED"});
  for (const auto& f : items) {
    t.add({str(f, "name"), str(f, "status"), str(f, "language"), std::to_string(num(f, "version")),
           short_time(str(f, "updatedAt"))});
  }
  t.print();
  return {};
}

Expected<void> get(Context& ctx, const std::string& name) {
  ApiClient& c = *NIL_TRY(ctx.client());
  JsonReply r = NIL_TRY(c.get(fn_path(name)));
  if (ctx.json) {
    print_json_reply(r);
    return {};
  }
  const json::value& f = r.value;
  json::value limits =
      f.is_object() && f.as_object().contains("limits") ? f.at("limits") : json::value();
  Table t({"name:", str(f, "name")});
  t.add({"id:", str(f, "id")});
  t.add({"status:", str(f, "status")});
  t.add({"language:", str(f, "language")});
  t.add({"version:", std::to_string(num(f, "version"))});
  t.add({"limits:", "timeout " + std::to_string(num(limits, "timeoutMs")) + " ms, memory " +
                        std::to_string(num(limits, "memoryMb")) + " MiB"});
  t.add({"environments:", joined(f, "environments")});
  t.add({"httpAllow:", joined(f, "httpAllow")});
  t.add({"grants:", joined(f, "grants")});
  if (f.is_object() && f.as_object().contains("public"))
    t.add({"public:", json_text(f.at("public"))});
  t.add({"wasmSha256:", str(f, "wasmSha256").empty() ? "-" : str(f, "wasmSha256")});
  t.add({"created:", short_time(str(f, "createdAt"))});
  t.add({"updated:", short_time(str(f, "updatedAt"))});
  t.print();
  if (!str(f, "compileError").empty()) print_line("compileError:\n" + str(f, "compileError"));
  return {};
}

struct InvokeFlags {
  std::string name;
  std::optional<std::string> data;
  std::optional<std::string> idempotency_key;
  bool async = false;
  bool wait = false;
};

// A finished execution (the execute answer, or GET /executions/{id} of an async one): its output
// on stdout, or exit 3 with its error. `text` is printed as is with --json.
Expected<void> report_execution(Context& ctx, const std::string& name, const json::value& v,
                                const std::string& text) {
  bool ok = str(v, "status") == "SUCCEEDED";
  if (ctx.json) {
    print_line(text);
  } else if (ok) {
    const json::value* out = v.as_object().if_contains("output");
    print_line(out ? json_text(*out) : "null");
  }
  if (ok) return {};
  const json::value* err = v.as_object().if_contains("error");
  std::string what = err && err->is_object() ? str(*err, "type") + ": " + str(*err, "message")
                                             : "the function failed";
  std::string id = str(v, "executionId").empty() ? str(v, "id") : str(v, "executionId");
  return function_failed(name + " failed: " + what + " (execution " + id + ")");
}

// --async: POST /functions/{name}/invocations answers 202 {"executionId","status":"QUEUED"} at
// once; --wait then polls GET /executions/{id} until SUCCEEDED or FAILED.
Expected<void> invoke_async(Context& ctx, const InvokeFlags& f, ApiClient& c,
                            const std::string& input, const Headers& headers) {
  HttpReply reply =
      NIL_TRY(c.send("POST", fn_path(f.name) + "/invocations", input, "application/json", headers));
  if (reply.status < 200 || reply.status >= 300) {
    return not_on_this_server(error_from_reply(reply), "async invocations",
                              "POST /functions/{name}/invocations");
  }
  boost::system::error_code ec;
  json::value v = json::parse(reply.body, ec);
  const std::string id = ec ? std::string() : str(v, "executionId");
  if (id.empty()) return failure("unexpected answer from the server: " + reply.body.substr(0, 200));
  if (!f.wait) {
    print_line(ctx.json ? reply.body : id);
    return {};
  }
  Progress progress(ctx.stderr_terminal);
  auto interval = std::chrono::milliseconds(50);
  for (;;) {
    JsonReply r = NIL_TRY(c.get("/executions/" + path_segment(id)));
    const std::string status = str(r.value, "status");
    if (status == "SUCCEEDED" || status == "FAILED") {
      progress.finish();
      return report_execution(ctx, f.name, r.value, r.text);
    }
    if (!ctx.json) progress.update(f.name + ": " + (status.empty() ? "QUEUED" : status) + " " + id);
    std::this_thread::sleep_for(interval);
    interval = std::min(interval * 2, std::chrono::milliseconds(1000));
  }
}

Expected<void> invoke(Context& ctx, const InvokeFlags& f) {
  std::string input = NIL_TRY(invocation_input(f.data, ctx.stdin_terminal));
  ApiClient& c = *NIL_TRY(ctx.client());
  Headers headers;
  if (f.idempotency_key) headers.emplace_back("Idempotency-Key", *f.idempotency_key);
  if (f.async) return invoke_async(ctx, f, c, input, headers);
  HttpReply reply =
      NIL_TRY(c.send("POST", fn_path(f.name) + "/execute", input, "application/json", headers));
  if (reply.status < 200 || reply.status >= 300) return error_from_reply(reply);
  boost::system::error_code ec;
  json::value v = json::parse(reply.body, ec);
  if (ec || !v.is_object())
    return failure("unexpected answer from the server: " + reply.body.substr(0, 200));
  return report_execution(ctx, f.name, v, reply.body);
}

void print_execution(const json::value& e) {
  std::string head = short_time(str(e, "startedAt")) + "  " + str(e, "status") + "  ";
  if (const json::value* d = e.as_object().if_contains("durationMs")) head += json_text(*d) + " ms";
  head += "  " + str(e, "trigger") + "  " + str(e, "id");
  print_line(head);
  std::string logs = str(e, "logs");
  size_t pos = 0;
  while (pos < logs.size()) {
    size_t nl = logs.find('\n', pos);
    std::string line = logs.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    print_line("  | " + line);
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  const json::value* err = e.as_object().if_contains("error");
  if (err && err->is_object()) print_line("  ! " + str(*err, "type") + ": " + str(*err, "message"));
}

struct LogsFlags {
  std::string name;
  bool follow = false;
  int limit = 20;
};

Expected<void> logs(Context& ctx, const LogsFlags& f) {
  ApiClient& c = *NIL_TRY(ctx.client());
  const std::string path = fn_path(f.name) + "/executions?limit=";
  JsonReply first = NIL_TRY(c.get(path + std::to_string(f.limit)));
  auto items_of = [](const json::value& v) -> json::array {
    if (v.is_object()) {
      if (const json::value* it = v.as_object().if_contains("items"); it && it->is_array())
        return it->as_array();
    }
    return {};
  };
  // The server lists newest first; people read logs oldest first.
  json::array items = items_of(first.value);
  std::set<std::string> seen;
  for (const auto& e : items) seen.insert(str(e, "id"));
  if (!f.follow) {
    if (ctx.json) {
      print_json_reply(first);
    } else {
      for (auto it = items.rbegin(); it != items.rend(); ++it) print_execution(*it);
    }
    return {};
  }
  // --follow: one execution per line with --json (JSON Lines), polled every second until ^C.
  auto emit = [&](const json::value& e) {
    ctx.json ? print_line(json_text(e)) : print_execution(e);
  };
  for (auto it = items.rbegin(); it != items.rend(); ++it) emit(*it);
  for (;;) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    JsonReply r = NIL_TRY(c.get(path + "200"));
    json::array page = items_of(r.value);
    for (auto it = page.rbegin(); it != page.rend(); ++it) {
      if (seen.insert(str(*it, "id")).second) emit(*it);
    }
  }
}

Expected<void> rm(Context& ctx, const std::string& name) {
  ApiClient& c = *NIL_TRY(ctx.client());
  NIL_TRY(c.del(fn_path(name)));
  if (ctx.json) {
    print_line(json_text(json::object{{"removed", name}}));
  } else {
    print_line("removed function " + name);
  }
  return {};
}

Expected<void> stats(Context& ctx, const std::string& name) {
  ApiClient& c = *NIL_TRY(ctx.client());
  auto r = c.get(fn_path(name) + "/stats");
  if (!r && r.error().wire_code() == "route_not_found") {
    return failure(
        "stats are not available on this server (it has no GET /functions/{name}/stats yet)");
  }
  if (!r) return r.error();
  print_json_reply(*r);
  return {};
}

}  // namespace

void add_function_commands(CLI::App& app, Context& ctx) {
  add_deploy_command(app, ctx);

  app.add_subcommand("ls", "List functions")->callback([&ctx] {
    ctx.run = [&ctx] { return ls(ctx); };
  });

  auto name = std::make_shared<std::string>();
  CLI::App* g =
      app.add_subcommand("get", "Show a function: status, compile error, limits, settings");
  g->add_option("name", *name, "function name or id")->required();
  g->callback([&ctx, name] { ctx.run = [&ctx, name] { return get(ctx, *name); }; });

  auto inv = std::make_shared<InvokeFlags>();
  CLI::App* i =
      app.add_subcommand("invoke", "Run a function and print its output (or queue it: --async)");
  i->add_option("name", inv->name, "function name or id")->required();
  i->add_option("-d,--data", inv->data,
                "input JSON, @FILE, or @- for stdin (default: stdin when it is not a terminal)");
  CLI::Option* async = i->add_flag(
      "--async", inv->async,
      "queue the invocation (POST /functions/{name}/invocations) and print its executionId");
  i->add_flag("--wait", inv->wait,
              "with --async: poll the execution until SUCCEEDED or FAILED, then print like a "
              "synchronous invoke")
      ->needs(async);
  i->add_option("--idempotency-key", inv->idempotency_key,
                "send this Idempotency-Key: a repeat with the same key and input within 24 h "
                "gets the first answer (the same execution) instead of running again");
  i->callback([&ctx, inv] { ctx.run = [&ctx, inv] { return invoke(ctx, *inv); }; });

  auto lf = std::make_shared<LogsFlags>();
  CLI::App* l = app.add_subcommand("logs", "Show a function's recent executions with their logs");
  l->add_option("name", lf->name, "function name or id")->required();
  l->add_flag("-f,--follow", lf->follow,
              "keep printing new executions (polls every second; ^C to stop)");
  l->add_option("-n,--limit", lf->limit, "how many recent executions (1..200)")
      ->check(CLI::Range(1, 200));
  l->callback([&ctx, lf] { ctx.run = [&ctx, lf] { return logs(ctx, *lf); }; });

  auto rm_name = std::make_shared<std::string>();
  CLI::App* r = app.add_subcommand("rm", "Delete a function (its executions stay readable)");
  r->add_option("name", *rm_name, "function name or id")->required();
  r->callback([&ctx, rm_name] { ctx.run = [&ctx, rm_name] { return rm(ctx, *rm_name); }; });

  auto st_name = std::make_shared<std::string>();
  CLI::App* s =
      app.add_subcommand("stats", "A function's execution statistics (when the server has them)");
  s->add_option("name", *st_name, "function name or id")->required();
  s->callback([&ctx, st_name] { ctx.run = [&ctx, st_name] { return stats(ctx, *st_name); }; });
}

}  // namespace nil::cli
