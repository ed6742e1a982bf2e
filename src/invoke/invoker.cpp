#include "invoke/invoker.h"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/log.h"
#include "common/util.h"

namespace nil::invoke {

Invoker::Invoker(store::Store& store, engine::Sandbox& sandbox, ExecutionWriter& writer,
                 host::HostRuntime* host)
    : store_(store), sandbox_(sandbox), writer_(writer), host_(host) {}

void Invoker::invalidate(std::string_view function_id) {
  std::unique_lock lk(mu_);
  ++generation_;
  auto it = by_id_.find(std::string(function_id));
  if (it == by_id_.end()) return;
  by_name_.erase(it->second->function.name);
  by_id_.erase(it);
}

void Invoker::invalidate_all() {
  std::unique_lock lk(mu_);
  ++generation_;
  by_id_.clear();
  by_name_.clear();
}

namespace {

// Attached environments merged in order: a later environment's key replaces an earlier one's
// value in place. Secrets: every secret value of every attached environment, shadowed or not
// (redacting a shadowed one costs nothing and is never wrong).
void merge_environments(const std::vector<store::Environment>& envs,
                        std::vector<std::pair<std::string, std::string>>& env,
                        std::vector<std::string>& secrets) {
  for (const auto& e : envs) {
    for (const auto& v : e.vars) {
      if (v.secret) secrets.push_back(v.value);
      auto it = std::find_if(env.begin(), env.end(), [&](const auto& kv) { return kv.first == v.key; });
      if (it != env.end()) {
        it->second = v.value;
      } else {
        env.emplace_back(v.key, v.value);
      }
    }
  }
}

// [{"name","count","bytesIn","bytesOut","ms"}], as GET /executions/{id} shows it.
std::string host_calls_json(const std::vector<engine::HostCallStats>& calls) {
  if (calls.empty()) return "[]";  // most functions call no nil.* service: skip building a DOM
  boost::json::array a;
  for (const auto& c : calls) {
    a.push_back(boost::json::object{{"name", c.name},
                                    {"count", c.count},
                                    {"bytesIn", c.bytes_in},
                                    {"bytesOut", c.bytes_out},
                                    {"ms", std::round(c.ms * 1000.0) / 1000.0}});
  }
  return boost::json::serialize(a);
}

}  // namespace

Expected<std::shared_ptr<const Invoker::Loaded>> Invoker::load(std::string_view ref) {
  uint64_t generation;
  {
    std::shared_lock lk(mu_);
    auto& index = is_uuid(ref) ? by_id_ : by_name_;
    auto it = index.find(std::string(ref));
    if (it != index.end()) return it->second;
    generation = generation_;
  }
  store::Function fn = NIL_TRY(store_.get_function(ref));
  if (fn.status != store::FunctionStatus::kReady) {
    return make_error(ErrorKind::kConflict, "function_not_ready",
                      "function \"" + fn.name + "\" is " + std::string(store::to_string(fn.status)) +
                          ", not READY");
  }
  std::shared_ptr<const engine::PreparedModule> module;
  const std::string sha = fn.wasm_sha256.value_or("");
  {
    std::shared_lock lk(mu_);
    if (auto it = modules_.find(sha); it != modules_.end()) module = it->second.lock();
  }
  if (!module) {
    std::string wasm = NIL_TRY(store_.get_function_wasm(fn.id));
    module = NIL_TRY(sandbox_.prepare(wasm));
  }
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> secrets;
  if (!fn.access.environments.empty()) {
    merge_environments(NIL_TRY(store_.function_environments(fn.id)), env, secrets);
  }
  host::FunctionGrants grants;
  grants.http_allow = fn.access.http_allow;
  grants.db_ddl = std::find(fn.access.grants.begin(), fn.access.grants.end(), "db:ddl") !=
                  fn.access.grants.end();
  auto loaded = std::make_shared<const Loaded>(Loaded{std::move(fn), module, std::move(env),
                                                      Redactor(std::move(secrets)), std::move(grants)});
  std::unique_lock lk(mu_);
  if (generation == generation_) {
    by_id_[loaded->function.id] = loaded;
    by_name_[loaded->function.name] = loaded;
  }
  // Modules are shared by content hash (two functions with the same wasm share one); the map
  // holds weak references, so a module lives only while some function's cache entry uses it.
  modules_[sha] = module;
  return std::shared_ptr<const Loaded>(loaded);
}

Expected<store::Execution> Invoker::invoke(std::string_view ref, std::string input,
                                           std::string_view trigger) {
  auto loaded = NIL_TRY(load(ref));
  const store::Function& fn = loaded->function;

  engine::Invocation inv;
  inv.input = input;
  inv.limits.timeout_ms = fn.limits.timeout_ms;
  inv.limits.memory_mb = fn.limits.memory_mb;
  inv.args = {fn.name};
  inv.env = loaded->env;
  // One HostServices per invocation (its database connection, open transaction and held
  // answers die with it, at the end of this function).
  std::unique_ptr<engine::HostServices> services;
  if (host_ != nullptr) {
    services = host_->for_invocation(loaded->grants, loaded->env);
    inv.host = services.get();
  }

  store::Execution ex;
  ex.id = new_uuid_v7();  // time-ordered: cheap appends to the executions primary key
  ex.function_id = fn.id;
  ex.trigger = std::string(trigger);
  ex.started_at = now_micros();
  engine::Result r = sandbox_.invoke(*loaded->module, inv);
  ex.finished_at = now_micros();
  ex.duration_ms = std::chrono::duration<double, std::milli>(r.duration).count();
  const Redactor& redactor = loaded->redactor;
  ex.logs = redactor.empty() ? std::move(r.logs) : redactor.text(r.logs);
  if (r.succeeded) {
    ex.status = store::ExecutionStatus::kSucceeded;
    ex.output = redactor.json(std::move(r.output));
  } else {
    ex.status = store::ExecutionStatus::kFailed;
    engine::Failure f = r.failure.value_or(engine::Failure{"internal", "unknown failure"});
    if (!redactor.empty()) f.message = redactor.text(f.message);
    ex.error = store::ExecutionError{std::move(f.type), std::move(f.message)};
    log::info("execution failed", {{"functionId", fn.id},
                                   {"executionId", ex.id},
                                   {"errorType", ex.error->type},
                                   {"durationMs", ex.duration_ms}});
  }
  ex.host_calls = host_calls_json(r.host_calls);
  ex.input = std::move(input);
  writer_.submit(ex);
  return ex;
}

}  // namespace nil::invoke
