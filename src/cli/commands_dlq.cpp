// `nil dlq ls|redrive|purge` — a function's dead letters: async invocations that failed their
// last attempt (or outlived retry.maxEventAgeS). The endpoints:
//   GET    /functions/{name}/dead-letters                             paged execution records
//   POST   /functions/{name}/dead-letters/{executionId}/redrive       one, queued again
//   POST   /functions/{name}/dead-letters/redrive[?errorType=T]       all (of that error type)
//   DELETE /functions/{name}/dead-letters/{executionId}               discard one
//   DELETE /functions/{name}/dead-letters                             discard all
// A server without them (404 route_not_found) gets a message that says so.
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/output.h"

namespace nil::cli {

namespace {

constexpr std::string_view kWhat = "dead letters";

std::string dlq_path(const std::string& name) {
  return "/functions/" + path_segment(name) + "/dead-letters";
}

// "type: message", cut to one short line for the table.
std::string error_summary(const json::value& e) {
  const json::value* err = e.is_object() ? e.as_object().if_contains("error") : nullptr;
  if (!err || !err->is_object()) return "-";
  std::string s = str(*err, "type");
  std::string msg = str(*err, "message");
  if (!msg.empty()) s += ": " + msg;
  for (char& ch : s) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

std::string attempts(const json::value& e) {
  const json::value* a = e.is_object() ? e.as_object().if_contains("attempts") : nullptr;
  if (a && a->is_array()) return std::to_string(a->as_array().size());
  if (a && a->is_int64()) return std::to_string(a->as_int64());
  return "-";
}

Expected<void> ls(Context& ctx, const std::string& name) {
  ApiClient& c = *NIL_TRY(ctx.client());
  auto items = list_all(c, dlq_path(name));
  if (!items) return not_on_this_server(items.error(), kWhat, "GET /functions/{name}/dead-letters");
  if (ctx.json) {
    print_line(json_text(json::object{{"items", std::move(*items)}, {"nextCursor", nullptr}}));
    return {};
  }
  if (items->empty()) {
    print_line("no dead letters for " + name);
    return {};
  }
  Table t({"EXECUTION", "FAILED", "ATTEMPTS", "ERROR"});
  for (const auto& e : *items) {
    t.add({str(e, "id"), short_time(str(e, "finishedAt")), attempts(e), error_summary(e)});
  }
  t.print();
  return {};
}

struct RedriveFlags {
  std::string name;
  std::optional<std::string> execution_id;
  bool all = false;
  std::optional<std::string> error_type;
};

Expected<void> redrive(Context& ctx, const RedriveFlags& f) {
  if (f.execution_id.has_value() == f.all) {
    return usage_error("give one EXECUTION_ID or --all (see `nil dlq redrive --help`)");
  }
  ApiClient& c = *NIL_TRY(ctx.client());
  std::string path = dlq_path(f.name);
  if (f.execution_id) {
    path += "/" + path_segment(*f.execution_id) + "/redrive";
  } else {
    path += "/redrive";
    if (f.error_type) path += "?errorType=" + path_segment(*f.error_type);
  }
  auto r = c.call("POST", path);
  if (!r) {
    return not_on_this_server(r.error(), kWhat,
                              f.execution_id
                                  ? "POST /functions/{name}/dead-letters/{executionId}/redrive"
                                  : "POST /functions/{name}/dead-letters/redrive");
  }
  if (ctx.json) {
    print_json_reply(*r);
  } else if (f.execution_id) {
    print_line("redriven " + *f.execution_id + " of " + f.name + " (queued again)");
  } else {
    std::string detail = r->text.empty() ? "" : ": " + r->text;
    print_line("redriven the dead letters of " + f.name +
               (f.error_type ? " with error type " + *f.error_type : "") + detail);
  }
  return {};
}

struct PurgeFlags {
  std::string name;
  std::optional<std::string> execution_id;
};

Expected<void> purge(Context& ctx, const PurgeFlags& f) {
  ApiClient& c = *NIL_TRY(ctx.client());
  std::string path = dlq_path(f.name);
  if (f.execution_id) path += "/" + path_segment(*f.execution_id);
  auto r = c.del(path);
  if (!r) {
    return not_on_this_server(r.error(), kWhat,
                              f.execution_id ? "DELETE /functions/{name}/dead-letters/{executionId}"
                                             : "DELETE /functions/{name}/dead-letters");
  }
  if (ctx.json) {
    if (r->text.empty()) {
      print_line(json_text(json::object{
          {"purged", f.execution_id ? json::value(*f.execution_id) : json::value("all")},
          {"function", f.name}}));
    } else {
      print_json_reply(*r);
    }
  } else {
    print_line(f.execution_id ? "purged dead letter " + *f.execution_id + " of " + f.name
                              : "purged every dead letter of " + f.name);
  }
  return {};
}

}  // namespace

void add_dlq_commands(CLI::App& app, Context& ctx) {
  CLI::App* dlq = app.add_subcommand(
      "dlq", "A function's dead letters: async invocations that failed their last attempt");
  dlq->require_subcommand(1);

  auto ls_name = std::make_shared<std::string>();
  CLI::App* l = dlq->add_subcommand("ls", "List a function's dead letters");
  l->add_option("name", *ls_name, "function name or id")->required();
  l->callback([&ctx, ls_name] { ctx.run = [&ctx, ls_name] { return ls(ctx, *ls_name); }; });

  auto rf = std::make_shared<RedriveFlags>();
  CLI::App* r = dlq->add_subcommand(
      "redrive", "Queue dead letters again: one EXECUTION_ID, or --all [--error-type T]");
  r->add_option("name", rf->name, "function name or id")->required();
  CLI::Option* id = r->add_option("execution_id", rf->execution_id, "the dead letter's execution");
  CLI::Option* all = r->add_flag("--all", rf->all, "every dead letter of the function");
  all->excludes(id);
  r->add_option("--error-type", rf->error_type,
                "with --all: only those that failed with this error type (timeout, trap, ...)")
      ->needs(all);
  r->callback([&ctx, rf] { ctx.run = [&ctx, rf] { return redrive(ctx, *rf); }; });

  auto pf = std::make_shared<PurgeFlags>();
  CLI::App* p = dlq->add_subcommand(
      "purge", "Discard dead letters: one EXECUTION_ID, or every one of the function");
  p->add_option("name", pf->name, "function name or id")->required();
  p->add_option("execution_id", pf->execution_id, "the dead letter's execution (default: all)");
  p->callback([&ctx, pf] { ctx.run = [&ctx, pf] { return purge(ctx, *pf); }; });
}

}  // namespace nil::cli
