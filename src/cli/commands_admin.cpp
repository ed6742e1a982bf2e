// login, whoami, and the administration commands users / groups / keys. The latter are thin
// wrappers over the authentication API (users, groups, api-keys, auth/me); against a server
// without it they fail with the server's route_not_found.
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/input.h"
#include "cli/output.h"
#include "common/util.h"

namespace nil::cli {

namespace {

std::string names_of(const json::value& v, std::string_view key, std::string_view member) {
  std::string out;
  if (v.is_object()) {
    if (const json::value* a = v.as_object().if_contains(key); a && a->is_array()) {
      for (const auto& e : a->as_array()) {
        if (!out.empty()) out += ", ";
        out += e.is_string() ? std::string(e.as_string()) : str(e, member);
      }
    }
  }
  return out.empty() ? "-" : out;
}

std::string user_line(const json::value& u) {
  return str(u, "username") + " (" + str(u, "role") + ")";
}

// --- login / whoami ---

struct LoginFlags {
  std::optional<std::string> api_key;
};

Expected<void> login(Context& ctx, const LoginFlags& f) {
  Login stored = NIL_TRY(load_login());
  Login login;
  // Without --url: $NIL_URL, the stored URL or the default — offered at a prompt on a terminal.
  std::string fallback = stored.url.empty() ? kDefaultUrl : stored.url;
  if (const char* env = std::getenv("NIL_URL"); env && *env) fallback = env;
  if (ctx.url_flag) {
    login.url = *ctx.url_flag;
  } else if (ctx.stdin_terminal) {
    login.url = NIL_TRY(read_line("Server URL [" + fallback + "]: "));
    if (login.url.empty()) login.url = fallback;
  } else {
    login.url = fallback;
  }
  login.url = NIL_TRY(normalize_url(login.url));
  if (f.api_key && *f.api_key == "-") {
    login.api_key = NIL_TRY(read_line(""));
  } else if (f.api_key) {
    login.api_key = *f.api_key;
  } else if (ctx.stdin_terminal) {
    login.api_key = NIL_TRY(read_secret("API key: ", true));
  } else {
    return usage_error("give --api-key KEY (or --api-key - to read it from stdin)");
  }
  if (login.api_key.empty()) return usage_error("the API key is empty");

  // Verify before saving: a wrong key or URL must not replace a working login.
  ApiClient c(login.url, login.api_key);
  json::value user = nullptr;
  bool verified = true;
  auto me = c.get("/auth/me");
  if (me) {
    user = std::move(me->value);
  } else if (me.error().wire_code() == "route_not_found") {
    // A server without authentication accepts any key; check at least that it answers.
    NIL_TRY(c.get("/healthz"));
    verified = false;
  } else {
    return me.error();
  }
  NIL_TRY_VOID(save_login(login));
  if (ctx.json) {
    print_line(json_text(json::object{{"url", login.url},
                                      {"user", user},
                                      {"verified", verified},
                                      {"config", config_path().string()}}));
    return {};
  }
  print_line("logged in to " + login.url + (user.is_null() ? "" : " as " + user_line(user)));
  if (!verified)
    std::fprintf(stderr, "nil: note: this server has no authentication; the key was not checked\n");
  std::fprintf(stderr, "nil: saved to %s\n", config_path().c_str());
  return {};
}

Expected<void> whoami(Context& ctx) {
  ApiClient& c = *NIL_TRY(ctx.client());
  auto me = c.get("/auth/me");
  if (!me && me.error().wire_code() == "route_not_found") {
    return failure("this server has no authentication (no GET /auth/me); server " + c.base_url());
  }
  if (!me) return me.error();
  if (ctx.json) {
    print_json_reply(*me);
  } else {
    print_line(user_line(me->value) + " at " + c.base_url() + " (" +
               str(me->value, "authenticatedBy") + ")");
  }
  return {};
}

// --- users ---

std::string user_path(const std::string& u) { return "/users/" + path_segment(u); }

void print_user(const json::value& u) {
  Table t({"username:", str(u, "username")});
  t.add({"id:", str(u, "id")});
  t.add({"role:", str(u, "role")});
  t.add({"grants:", names_of(u, "grants", "")});
  t.add({"groups:", names_of(u, "groups", "name")});
  t.add({"created:", short_time(str(u, "createdAt"))});
  t.print();
}

Expected<std::string> new_password(Context& ctx, bool from_stdin) {
  if (from_stdin) return read_line("");
  if (!ctx.stdin_terminal)
    return usage_error("give --password-stdin (and the password on stdin), or run on a terminal");
  std::string a = NIL_TRY(read_secret("Password: ", true));
  std::string b = NIL_TRY(read_secret("Password (again): ", true));
  if (a != b) return usage_error("the passwords differ");
  return a;
}

struct UserFlags {
  std::string username;
  std::optional<std::string> role;
  std::vector<std::string> grants;
  bool no_grants = false;
  bool password_stdin = false;
  bool password_prompt = false;
};

Expected<void> print_reply(Context& ctx, const JsonReply& r,
                           const std::function<void(const json::value&)>& human) {
  if (ctx.json) {
    print_json_reply(r);
  } else {
    human(r.value);
  }
  return {};
}

Expected<void> users_ls(Context& ctx) {
  ApiClient& c = *NIL_TRY(ctx.client());
  json::array items = NIL_TRY(list_all(c, "/users"));
  if (ctx.json) {
    print_line(json_text(json::object{{"items", std::move(items)}, {"nextCursor", nullptr}}));
    return {};
  }
  Table t({"USERNAME", "ROLE", "GRANTS", "GROUPS", "ID", "CREATED"});
  for (const auto& u : items) {
    t.add({str(u, "username"), str(u, "role"), names_of(u, "grants", ""),
           names_of(u, "groups", "name"), str(u, "id"), short_time(str(u, "createdAt"))});
  }
  t.print();
  return {};
}

Expected<void> users_create(Context& ctx, const UserFlags& f) {
  std::string password = NIL_TRY(new_password(ctx, f.password_stdin));
  json::object body{
      {"username", f.username}, {"password", password}, {"role", f.role.value_or("dev")}};
  if (!f.grants.empty()) {
    json::array g;
    for (const auto& s : f.grants) g.push_back(json::string(s));
    body["grants"] = std::move(g);
  }
  ApiClient& c = *NIL_TRY(ctx.client());
  JsonReply r = NIL_TRY(c.post("/users", body));
  return print_reply(ctx, r, [](const json::value& u) {
    print_line("created user " + user_line(u) + " " + str(u, "id"));
  });
}

Expected<void> users_set(Context& ctx, const UserFlags& f) {
  json::object body;
  if (f.role) body["role"] = *f.role;
  if (!f.grants.empty() || f.no_grants) {
    json::array g;
    for (const auto& s : f.grants) g.push_back(json::string(s));
    body["grants"] = std::move(g);
  }
  if (f.password_stdin || f.password_prompt)
    body["password"] = NIL_TRY(new_password(ctx, f.password_stdin));
  if (body.empty())
    return usage_error("nothing to change: give --role, --grant, --no-grants or --password");
  ApiClient& c = *NIL_TRY(ctx.client());
  JsonReply r = NIL_TRY(c.put(user_path(f.username), body));
  return print_reply(ctx, r,
                     [](const json::value& u) { print_line("updated user " + user_line(u)); });
}

// --- groups ---

std::string group_path(const std::string& g) { return "/groups/" + path_segment(g); }

json::object member_ref(const std::string& user) {
  return is_uuid(user) ? json::object{{"userId", user}} : json::object{{"username", user}};
}

void print_group(const json::value& g) {
  print_line("name: " + str(g, "name") + "   id: " + str(g, "id") +
             "   created: " + short_time(str(g, "createdAt")));
  print_line("members: " + names_of(g, "members", "username"));
}

// --- keys ---

// --user accepts a user name or id; the API takes an id.
Expected<std::string> user_id(ApiClient& c, const std::string& user) {
  if (is_uuid(user)) return user;
  JsonReply r = NIL_TRY(c.get(user_path(user)));
  return str(r.value, "id");
}

struct KeyFlags {
  std::string name;
  std::optional<std::string> expires;
  std::optional<std::string> user;
};

// Registers `name` with one required positional and an action taking it.
void simple(CLI::App* parent, Context& ctx, const std::string& name, const std::string& help,
            const std::string& arg,
            const std::function<Expected<void>(Context&, const std::string&)>& action) {
  auto value = std::make_shared<std::string>();
  CLI::App* cmd = parent->add_subcommand(name, help);
  cmd->add_option(arg, *value, arg)->required();
  cmd->callback(
      [&ctx, value, action] { ctx.run = [&ctx, value, action] { return action(ctx, *value); }; });
}

Expected<void> removed(Context& ctx, const std::string& what, const std::string& path,
                       const std::string& name) {
  ApiClient& c = *NIL_TRY(ctx.client());
  NIL_TRY(c.del(path));
  print_line(ctx.json ? json_text(json::object{{"removed", name}})
                      : "removed " + what + " " + name);
  return {};
}

}  // namespace

void add_admin_commands(CLI::App& app, Context& ctx) {
  auto lf = std::make_shared<LoginFlags>();
  CLI::App* lg = app.add_subcommand(
      "login", "Check and save the server URL (--url) and API key in ~/.config/nil/config.toml");
  lg->add_option("--api-key", lf->api_key,
                 "the API key (nil_...); - reads it from stdin; prompted on a terminal");
  lg->callback([&ctx, lf] { ctx.run = [&ctx, lf] { return login(ctx, *lf); }; });

  app.add_subcommand("whoami", "Show the user the API key belongs to")->callback([&ctx] {
    ctx.run = [&ctx] { return whoami(ctx); };
  });

  // users
  CLI::App* users = app.add_subcommand("users", "Users (admin)");
  users->require_subcommand(1);
  users->add_subcommand("ls", "List users")->callback([&ctx] {
    ctx.run = [&ctx] { return users_ls(ctx); };
  });
  simple(users, ctx, "get", "Show a user", "user",
         [](Context& ctx, const std::string& u) -> Expected<void> {
           ApiClient& c = *NIL_TRY(ctx.client());
           JsonReply r = NIL_TRY(c.get(user_path(u)));
           return print_reply(ctx, r, print_user);
         });
  for (bool create : {true, false}) {
    auto uf = std::make_shared<UserFlags>();
    CLI::App* cmd = users->add_subcommand(
        create ? "create" : "set",
        create ? "Create a user" : "Change a user's role, grants or password");
    cmd->add_option("user", uf->username, create ? "user name" : "user name or id")->required();
    cmd->add_option("--role", uf->role, create ? "admin or dev (default dev)" : "admin or dev")
        ->check(CLI::IsMember({"admin", "dev"}));
    cmd->add_option("--grant", uf->grants, "a grant, e.g. deploy (repeatable; replaces the list)")
        ->allow_extra_args(false);
    cmd->add_flag("--password-stdin", uf->password_stdin,
                  "read the password from stdin (one line)");
    if (!create) {
      cmd->add_flag("--no-grants", uf->no_grants, "remove every grant");
      cmd->add_flag("--password", uf->password_prompt, "prompt for a new password");
    }
    cmd->callback([&ctx, uf, create] {
      ctx.run = [&ctx, uf, create] {
        return create ? users_create(ctx, *uf) : users_set(ctx, *uf);
      };
    });
  }
  simple(users, ctx, "rm", "Delete a user (revokes their keys and sessions)", "user",
         [](Context& ctx, const std::string& u) { return removed(ctx, "user", user_path(u), u); });

  // groups
  CLI::App* groups = app.add_subcommand("groups", "Groups of users (admin)");
  groups->require_subcommand(1);
  groups->add_subcommand("ls", "List groups")->callback([&ctx] {
    ctx.run = [&ctx]() -> Expected<void> {
      ApiClient& c = *NIL_TRY(ctx.client());
      json::array items = NIL_TRY(list_all(c, "/groups"));
      if (ctx.json) {
        print_line(json_text(json::object{{"items", std::move(items)}, {"nextCursor", nullptr}}));
        return {};
      }
      Table t({"NAME", "MEMBERS", "ID", "CREATED"});
      for (const auto& g : items) {
        t.add({str(g, "name"), names_of(g, "members", "username"), str(g, "id"),
               short_time(str(g, "createdAt"))});
      }
      t.print();
      return {};
    };
  });
  simple(groups, ctx, "get", "Show a group and its members", "group",
         [](Context& ctx, const std::string& g) -> Expected<void> {
           ApiClient& c = *NIL_TRY(ctx.client());
           JsonReply r = NIL_TRY(c.get(group_path(g)));
           return print_reply(ctx, r, print_group);
         });
  simple(groups, ctx, "create", "Create a group", "name",
         [](Context& ctx, const std::string& g) -> Expected<void> {
           ApiClient& c = *NIL_TRY(ctx.client());
           JsonReply r = NIL_TRY(c.post("/groups", json::object{{"name", g}}));
           return print_reply(ctx, r, [](const json::value& v) {
             print_line("created group " + str(v, "name") + " " + str(v, "id"));
           });
         });
  simple(groups, ctx, "rm", "Delete a group", "group", [](Context& ctx, const std::string& g) {
    return removed(ctx, "group", group_path(g), g);
  });
  simple(groups, ctx, "members", "List a group's members", "group",
         [](Context& ctx, const std::string& g) -> Expected<void> {
           ApiClient& c = *NIL_TRY(ctx.client());
           JsonReply r = NIL_TRY(c.get(group_path(g) + "/members"));
           return print_reply(ctx, r, [](const json::value& v) {
             Table t({"USERNAME", "ID"});
             if (const json::value* items =
                     v.is_object() ? v.as_object().if_contains("items") : nullptr;
                 items && items->is_array()) {
               for (const auto& m : items->as_array()) t.add({str(m, "username"), str(m, "id")});
             }
             t.print();
           });
         });
  for (bool add : {true, false}) {
    auto group = std::make_shared<std::string>();
    auto members = std::make_shared<std::vector<std::string>>();
    CLI::App* cmd = groups->add_subcommand(
        add ? "add" : "remove", add ? "Add users to a group" : "Remove users from a group");
    cmd->add_option("group", *group, "group name or id")->required();
    cmd->add_option("users", *members, "user names or ids")->required();
    cmd->callback([&ctx, group, members, add] {
      ctx.run = [&ctx, group, members, add]() -> Expected<void> {
        ApiClient& c = *NIL_TRY(ctx.client());
        for (const auto& u : *members) {
          if (add) {
            NIL_TRY(c.post(group_path(*group) + "/members", member_ref(u)));
          } else {
            NIL_TRY(c.del(group_path(*group) + "/members/" + path_segment(u)));
          }
        }
        json::array list;
        for (const auto& u : *members) list.push_back(json::string(u));
        print_line(ctx.json ? json_text(json::object{{"group", *group},
                                                     {add ? "added" : "removed", std::move(list)}})
                            : (add ? "added to " : "removed from ") + *group + ": " +
                                  names_of(json::object{{"u", list}}, "u", ""));
        return {};
      };
    });
  }

  // keys
  CLI::App* keys = app.add_subcommand("keys", "API keys");
  keys->require_subcommand(1);
  auto ls_user = std::make_shared<std::optional<std::string>>();
  CLI::App* kls = keys->add_subcommand("ls", "List API keys (yours; an admin sees all)");
  kls->add_option("--user", *ls_user, "only this user's keys (admin)");
  kls->callback([&ctx, ls_user] {
    ctx.run = [&ctx, ls_user]() -> Expected<void> {
      ApiClient& c = *NIL_TRY(ctx.client());
      std::string path = "/api-keys";
      if (*ls_user) path += "?userId=" + path_segment(NIL_TRY(user_id(c, **ls_user)));
      json::array items = NIL_TRY(list_all(c, path));
      if (ctx.json) {
        print_line(json_text(json::object{{"items", std::move(items)}, {"nextCursor", nullptr}}));
        return {};
      }
      Table t({"ID", "NAME", "USER", "PREFIX", "CREATED", "EXPIRES", "LAST USED", "REVOKED"});
      for (const auto& k : items) {
        bool revoked = k.as_object().if_contains("revoked") && k.at("revoked").is_bool() &&
                       k.at("revoked").as_bool();
        auto or_dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
        t.add({str(k, "id"), str(k, "name"), str(k, "username"), str(k, "prefix"),
               short_time(str(k, "createdAt")), or_dash(short_time(str(k, "expiresAt"))),
               or_dash(short_time(str(k, "lastUsedAt"))), revoked ? "yes" : "no"});
      }
      t.print();
      return {};
    };
  });
  auto kf = std::make_shared<KeyFlags>();
  CLI::App* kc = keys->add_subcommand("create", "Create an API key (printed once)");
  kc->add_option("name", kf->name, "a name to recognise the key by")->required();
  kc->add_option("--expires", kf->expires, "expiry time, RFC 3339 (e.g. 2027-01-01T00:00:00Z)");
  kc->add_option("--user", kf->user, "for this user (admin only; name or id)");
  kc->callback([&ctx, kf] {
    ctx.run = [&ctx, kf]() -> Expected<void> {
      ApiClient& c = *NIL_TRY(ctx.client());
      json::object body{{"name", kf->name}};
      if (kf->expires) body["expiresAt"] = *kf->expires;
      if (kf->user) body["userId"] = NIL_TRY(user_id(c, *kf->user));
      JsonReply r = NIL_TRY(c.post("/api-keys", body));
      return print_reply(ctx, r, [](const json::value& k) {
        print_line(str(k, "key"));
        std::fprintf(stderr, "nil: key %s (%s) for %s; it is shown only once: store it now\n",
                     str(k, "name").c_str(), str(k, "id").c_str(), str(k, "username").c_str());
      });
    };
  });
  simple(keys, ctx, "rm", "Revoke an API key", "id", [](Context& ctx, const std::string& id) {
    return removed(ctx, "key", "/api-keys/" + path_segment(id), id);
  });
}

}  // namespace nil::cli
