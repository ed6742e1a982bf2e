// env ls|get|create|set|rm — the environments API. Secret values are write-only: the server
// shows "***", and `env set` keeps a secret it does not change by sending {"key","secret":true}
// without a value.
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/input.h"
#include "cli/output.h"

namespace nil::cli {

namespace {

std::string env_path(const std::string& name) { return "/environments/" + path_segment(name); }

struct EnvFlags {
  std::string name;
  std::vector<std::string> vars;     // KEY=VALUE
  std::vector<std::string> secrets;  // KEY=VALUE, secret
  std::vector<std::string> unset;    // KEY
};

Expected<json::array> vars_from(const EnvFlags& f) {
  json::array out;
  for (const auto& [list, secret] : {std::pair{&f.vars, false}, std::pair{&f.secrets, true}}) {
    for (const auto& a : *list) {
      auto kv = NIL_TRY(parse_assignment(a));
      json::object o{{"key", kv.first}, {"value", kv.second}};
      if (secret) o["secret"] = true;
      out.push_back(std::move(o));
    }
  }
  return out;
}

void print_environment(const json::value& e) {
  print_line("name: " + str(e, "name") + "   id: " + str(e, "id") +
             "   updated: " + short_time(str(e, "updatedAt")));
  const json::value* vars = e.is_object() ? e.as_object().if_contains("vars") : nullptr;
  if (!vars || !vars->is_array() || vars->as_array().empty()) {
    print_line("(no variables)");
    return;
  }
  Table t({"KEY", "VALUE", "SECRET"});
  for (const auto& v : vars->as_array()) {
    bool secret = v.is_object() && v.as_object().if_contains("secret") &&
                  v.at("secret").is_bool() && v.at("secret").as_bool();
    t.add({str(v, "key"), str(v, "value"), secret ? "yes" : ""});
  }
  t.print();
}

Expected<void> env_ls(Context& ctx) {
  ApiClient& c = *NIL_TRY(ctx.client());
  json::array items = NIL_TRY(list_all(c, "/environments"));
  if (ctx.json) {
    print_line(json_text(json::object{{"items", std::move(items)}, {"nextCursor", nullptr}}));
    return {};
  }
  if (items.empty()) {
    print_line("no environments");
    return {};
  }
  Table t({"NAME", "KEYS", "UPDATED"});
  for (const auto& e : items) {
    const json::value* vars = e.as_object().if_contains("vars");
    size_t n = vars && vars->is_array() ? vars->as_array().size() : 0;
    t.add({str(e, "name"), std::to_string(n), short_time(str(e, "updatedAt"))});
  }
  t.print();
  return {};
}

Expected<void> env_get(Context& ctx, const std::string& name) {
  ApiClient& c = *NIL_TRY(ctx.client());
  JsonReply r = NIL_TRY(c.get(env_path(name)));
  if (ctx.json) {
    print_json_reply(r);
  } else {
    print_environment(r.value);
  }
  return {};
}

Expected<void> env_create(Context& ctx, const EnvFlags& f) {
  json::array vars = NIL_TRY(vars_from(f));
  ApiClient& c = *NIL_TRY(ctx.client());
  JsonReply r =
      NIL_TRY(c.post("/environments", json::object{{"name", f.name}, {"vars", std::move(vars)}}));
  if (ctx.json) {
    print_json_reply(r);
  } else {
    print_line("created environment " + f.name);
  }
  return {};
}

Expected<void> env_set(Context& ctx, const EnvFlags& f) {
  json::array changes = NIL_TRY(vars_from(f));
  if (changes.empty() && f.unset.empty())
    return usage_error("nothing to change: give KEY=VALUE, --secret KEY=VALUE or --unset KEY");
  ApiClient& c = *NIL_TRY(ctx.client());
  JsonReply current = NIL_TRY(c.get(env_path(f.name)));
  // The current variables, with secrets as {"key","secret":true} (the server keeps their value).
  json::array merged;
  const json::value* vars =
      current.value.is_object() ? current.value.as_object().if_contains("vars") : nullptr;
  auto changed = [&](const std::string& key) {
    for (const auto& ch : changes) {
      if (str(ch, "key") == key) return true;
    }
    return std::find(f.unset.begin(), f.unset.end(), key) != f.unset.end();
  };
  if (vars && vars->is_array()) {
    for (const auto& v : vars->as_array()) {
      std::string key = str(v, "key");
      if (changed(key)) continue;
      bool secret = v.as_object().if_contains("secret") && v.at("secret").is_bool() &&
                    v.at("secret").as_bool();
      if (secret) {
        merged.push_back(json::object{{"key", key}, {"secret", true}});
      } else {
        merged.push_back(json::object{{"key", key}, {"value", str(v, "value")}});
      }
    }
  }
  for (auto& ch : changes) merged.push_back(std::move(ch));
  JsonReply r = NIL_TRY(c.put(env_path(f.name), json::object{{"vars", std::move(merged)}}));
  if (ctx.json) {
    print_json_reply(r);
  } else {
    print_line("updated environment " + f.name);
  }
  return {};
}

Expected<void> env_rm(Context& ctx, const std::string& name) {
  ApiClient& c = *NIL_TRY(ctx.client());
  NIL_TRY(c.del(env_path(name)));
  if (ctx.json) {
    print_line(json_text(json::object{{"removed", name}}));
  } else {
    print_line("removed environment " + name);
  }
  return {};
}

}  // namespace

void add_env_commands(CLI::App& app, Context& ctx) {
  CLI::App* env =
      app.add_subcommand("env", "Environments: configuration and secrets attached to functions");
  env->require_subcommand(1);

  env->add_subcommand("ls", "List environments")->callback([&ctx] {
    ctx.run = [&ctx] { return env_ls(ctx); };
  });

  auto get_name = std::make_shared<std::string>();
  CLI::App* g = env->add_subcommand("get", "Show an environment's variables (secrets as ***)");
  g->add_option("name", *get_name, "environment name or id")->required();
  g->callback([&ctx, get_name] { ctx.run = [&ctx, get_name] { return env_get(ctx, *get_name); }; });

  auto cf = std::make_shared<EnvFlags>();
  CLI::App* cr = env->add_subcommand("create", "Create an environment");
  cr->add_option("name", cf->name, "environment name")->required();
  cr->add_option("vars", cf->vars, "KEY=VALUE variables");
  cr->add_option("--secret", cf->secrets, "KEY=VALUE stored as a secret (write-only; repeatable)")
      ->allow_extra_args(false);
  cr->callback([&ctx, cf] { ctx.run = [&ctx, cf] { return env_create(ctx, *cf); }; });

  auto sf = std::make_shared<EnvFlags>();
  CLI::App* s =
      env->add_subcommand("set", "Set or remove variables of an environment (others are kept)");
  s->add_option("name", sf->name, "environment name or id")->required();
  s->add_option("vars", sf->vars, "KEY=VALUE variables");
  s->add_option("--secret", sf->secrets, "KEY=VALUE stored as a secret (repeatable)")
      ->allow_extra_args(false);
  s->add_option("--unset", sf->unset, "remove KEY (repeatable)")->allow_extra_args(false);
  s->callback([&ctx, sf] { ctx.run = [&ctx, sf] { return env_set(ctx, *sf); }; });

  auto rm_name = std::make_shared<std::string>();
  CLI::App* r = env->add_subcommand("rm", "Delete an environment");
  r->add_option("name", *rm_name, "environment name or id")->required();
  r->callback([&ctx, rm_name] { ctx.run = [&ctx, rm_name] { return env_rm(ctx, *rm_name); }; });
}

}  // namespace nil::cli
