#include "invoke/invoker.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>

#include "common/log.h"
#include "common/util.h"

namespace nil::invoke {

Invoker::Invoker(store::Store& store, engine::Sandbox& sandbox, ExecutionWriter& writer,
                 host::HostRuntime* host, LimitSettings limits, const Clock& clock)
    : store_(store),
      sandbox_(sandbox),
      writer_(writer),
      host_(host),
      clock_(clock),
      limits_(limits, clock) {}

void Invoker::add_observer(InvocationObserver* observer) {
  if (observer != nullptr) observers_.push_back(observer);
}

void Invoker::invalidate(std::string_view function_id) {
  std::unique_lock lk(mu_);
  ++generation_;
  auto it = by_id_.find(std::string(function_id));
  if (it == by_id_.end()) return;
  by_name_.erase(it->second->function.name);
  by_id_.erase(it);
}

void Invoker::set_native_tier(NativeTier tier) {
  std::unique_lock lk(mu_);
  native_ = std::move(tier);
}

std::string Invoker::tier(const store::Function& f) const {
  if (!native_.sandbox || !f.wasm_sha256) return "interpreter";
  std::error_code ec;
  return std::filesystem::exists(
             native_.artifact_dir / engine::native_artifact_name(*f.wasm_sha256), ec)
             ? "native"
             : "interpreter";
}

void Invoker::native_ready(const std::string& sha256) {
  std::unique_lock lk(mu_);
  ++generation_;
  modules_.erase(sha256);
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    if (it->second->function.wasm_sha256.value_or("") == sha256) {
      by_name_.erase(it->second->function.name);
      it = by_id_.erase(it);
    } else {
      ++it;
    }
  }
}

std::shared_ptr<const engine::PreparedModule> Invoker::load_native(const std::string& sha,
                                                                   const std::string& function_id) {
  if (!native_.sandbox || sha.empty()) return nullptr;
  std::filesystem::path path = native_.artifact_dir / engine::native_artifact_name(sha);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (native_.request_build) native_.request_build(sha, function_id);
    return nullptr;
  }
  auto loaded = native_.sandbox->load(path.string());
  if (!loaded.ok()) {
    // A damaged artifact (e.g. truncated by a full disk): remove it so that it is rebuilt; the
    // interpreter serves meanwhile.
    log::warn("cannot load native artifact; rebuilding it",
              {{"sha256", sha}, {"error", loaded.error().message}});
    std::filesystem::remove(path, ec);
    if (native_.request_build) native_.request_build(sha, function_id);
    return nullptr;
  }
  return std::move(loaded).value();
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
      auto it =
          std::find_if(env.begin(), env.end(), [&](const auto& kv) { return kv.first == v.key; });
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

// The engine's invalid_output message ends with the first kOutputExcerptBytes of stdout: cut
// there, a secret could lose its tail and escape redaction, so the excerpt is made again from
// the whole stdout, redacted first and never cut inside a secret.
constexpr size_t kOutputExcerptBytes = 200;  // as engine::finish_result

std::string redact_failure_message(const Redactor& redactor, const engine::Failure& f,
                                   std::string_view output) {
  std::string_view message = f.message;
  std::string_view shown = output.substr(0, kOutputExcerptBytes);
  if (f.type == "invalid_output" && !shown.empty() && message.ends_with(shown)) {
    message.remove_suffix(shown.size());
    return redactor.text(message) + redactor.excerpt(output, kOutputExcerptBytes);
  }
  return redactor.text(message);
}

}  // namespace

std::optional<double> Invoker::recent_ms(std::string_view ref) {
  std::shared_lock lk(mu_);
  auto it = recent_.find(std::string(ref));
  if (it == recent_.end()) return std::nullopt;
  double ms = it->second->load(std::memory_order_relaxed);
  if (ms < 0) return std::nullopt;
  return ms;
}

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
    return make_error(ErrorCode::kFunctionNotReady, "function \"" + fn.name + "\" is " +
                                                        std::string(store::to_string(fn.status)) +
                                                        ", not READY");
  }
  std::shared_ptr<const engine::PreparedModule> module;
  engine::Sandbox* sandbox = &sandbox_;
  const std::string sha = fn.wasm_sha256.value_or("");
  {
    std::shared_lock lk(mu_);
    if (auto it = modules_.find(sha); it != modules_.end()) {
      module = it->second.module.lock();
      sandbox = it->second.sandbox;
    }
  }
  if (!module) {
    sandbox = &sandbox_;
    module = load_native(sha, fn.id);
    if (module) {
      sandbox = native_.sandbox;
    } else {
      std::string wasm = NIL_TRY(store_.get_function_wasm(fn.id));
      module = NIL_TRY(sandbox_.prepare(wasm));
    }
  }
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> secrets;
  if (!fn.access.environments.empty()) {
    merge_environments(NIL_TRY(store_.function_environments(fn.id)), env, secrets);
  }
  host::FunctionGrants grants;
  grants.function_id = fn.id;
  grants.http_allow = fn.access.http_allow;
  grants.db_ddl = std::find(fn.access.grants.begin(), fn.access.grants.end(), "db:ddl") !=
                  fn.access.grants.end();
  std::shared_ptr<std::atomic<double>> recent;
  {
    std::unique_lock lk(mu_);
    auto& slot = recent_[fn.id];
    if (!slot) slot = std::make_shared<std::atomic<double>>(-1.0);
    recent = slot;
    recent_[fn.name] = slot;
  }
  auto loaded = std::make_shared<const Loaded>(
      Loaded{std::move(fn), module, std::move(env), Redactor(std::move(secrets)), std::move(grants),
             sandbox, std::move(recent)});
  std::unique_lock lk(mu_);
  if (generation == generation_) {
    by_id_[loaded->function.id] = loaded;
    by_name_[loaded->function.name] = loaded;
    // Modules are shared by content hash (two functions with the same wasm share one); the map
    // holds weak references, so a module lives only while some function's cache entry uses it.
    // Not after a race with invalidation: a native_ready() must not be undone by a stale load.
    modules_[sha] = CachedModule{module, sandbox};
  }
  return std::shared_ptr<const Loaded>(loaded);
}

Expected<std::shared_ptr<const Invoker::Loaded>> Invoker::admit(InvocationContext& ctx) {
  auto loaded = NIL_TRY(load(ctx.function_ref_));
  // Aliasing pointers: the context pins the cache entry without knowing its type.
  ctx.function_ = std::shared_ptr<const store::Function>(loaded, &loaded->function);
  ctx.redactor_ = std::shared_ptr<const Redactor>(loaded, &loaded->redactor);
  if (ctx.caller_.authorize) NIL_TRY_VOID(ctx.caller_.authorize(loaded->function));
  // After authorization: a caller who may not run the function spends none of its tokens.
  ctx.admission_ = NIL_TRY(limits_.admit(loaded->function));
  return loaded;
}

Expected<store::Execution> Invoker::invoke(InvocationContext ctx) {
  auto admitted = admit(ctx);
  if (!admitted) {
    ctx.phase_ = InvocationContext::Phase::kRejected;
    for (InvocationObserver* o : observers_) o->on_reject(ctx, admitted.error());
    return admitted.error();
  }
  std::shared_ptr<const Loaded> loaded = std::move(admitted).value();
  const store::Function& fn = loaded->function;
  const Caller& caller = ctx.caller_;

  engine::Invocation& inv = ctx.engine_;
  inv.input = ctx.input_;
  inv.limits = limits_.resolve(fn);
  inv.args = {fn.name};
  inv.env = loaded->env;
  // The caller's identity comes last and replaces any same-named environment variable: an
  // environment must not be able to impersonate a user.
  std::erase_if(inv.env, [](const auto& kv) {
    return kv.first == "NIL_USER_ID" || kv.first == "NIL_USERNAME" || kv.first == "NIL_USER_ROLE";
  });
  inv.env.emplace_back("NIL_USER_ID", caller.user_id);
  inv.env.emplace_back("NIL_USERNAME", caller.username);
  inv.env.emplace_back("NIL_USER_ROLE", caller.role);
  // One HostServices per invocation: its database connection, open transaction and held answers
  // die with the context, when this function returns.
  if (host_ != nullptr) {
    ctx.services_ = host_->for_invocation(loaded->grants, inv.env);
    inv.host = ctx.services_.get();
  }

  // Logs are redacted before they are cut (issue 11): the engine keeps the longest spelling of a
  // secret past the cap, so that a secret straddling the cap is seen whole and masked.
  const Redactor& redactor = loaded->redactor;
  const uint32_t log_cap = inv.limits.log_bytes;
  if (!redactor.empty()) {
    inv.limits.log_bytes =
        static_cast<uint32_t>(std::min<uint64_t>(uint64_t{log_cap} + redactor.slack(), UINT32_MAX));
  }

  store::Execution& ex = ctx.execution_;
  // Time-ordered: cheap appends to the executions primary key. A queued invocation keeps the id
  // of the record its trigger wrote at enqueue.
  ex.id = ctx.details_.execution_id ? *ctx.details_.execution_id : new_uuid_v7();
  ex.function_id = fn.id;
  ex.trigger = std::string(to_string(ctx.trigger_));
  if (!caller.user_id.empty()) ex.user_id = caller.user_id;
  ctx.deadline_ = clock_.steady_now() + std::chrono::milliseconds(inv.limits.timeout_ms);
  ctx.phase_ = InvocationContext::Phase::kRunning;
  for (InvocationObserver* o : observers_) o->on_start(ctx);

  ex.started_at = clock_.now_micros();
  engine::Result r = loaded->sandbox->invoke(*loaded->module, inv);
  ex.finished_at = clock_.now_micros();
  ex.duration_ms = std::chrono::duration<double, std::milli>(r.duration).count();
  {
    // A heuristic, so a lost update between concurrent invocations does not matter.
    std::atomic<double>& recent = *loaded->recent_ms;
    double prev = recent.load(std::memory_order_relaxed);
    recent.store(prev < 0 ? ex.duration_ms : 0.7 * prev + 0.3 * ex.duration_ms,
                 std::memory_order_relaxed);
  }
  ex.logs = redactor.empty() ? std::move(r.logs) : redactor.logs(r.logs, log_cap);
  if (r.succeeded) {
    ex.status = store::ExecutionStatus::kSucceeded;
    ex.output = redactor.json(std::move(r.output));
  } else {
    ex.status = store::ExecutionStatus::kFailed;
    engine::Failure f = r.failure.value_or(engine::Failure{"internal", "unknown failure"});
    if (!redactor.empty()) f.message = redact_failure_message(redactor, f, r.output);
    ex.error = store::ExecutionError{std::move(f.type), std::move(f.message)};
    log::info("execution failed", {{"functionId", fn.id},
                                   {"executionId", ex.id},
                                   {"errorType", ex.error->type},
                                   {"durationMs", ex.duration_ms}});
  }
  ex.host_calls = host_calls_json(r.host_calls);
  ctx.accounting_.duration = r.duration;
  ctx.accounting_.host_calls = std::move(r.host_calls);
  ex.input = std::move(ctx.input_);  // ctx.input() reads it from the record from now on
  ctx.phase_ = InvocationContext::Phase::kFinished;
  if (!ctx.details_.execution_id) writer_.submit(ex);  // else the trigger records it
  for (InvocationObserver* o : observers_) o->on_finish(ctx, ex);
  // The record leaves the context; the context (services, concurrency slot, pins) dies here.
  return std::move(ex);
}

}  // namespace nil::invoke
