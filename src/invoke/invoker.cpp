#include "invoke/invoker.h"

#include <chrono>

#include "common/log.h"
#include "common/util.h"

namespace nil::invoke {

Invoker::Invoker(store::Store& store, engine::Sandbox& sandbox, ExecutionWriter& writer)
    : store_(store), sandbox_(sandbox), writer_(writer) {}

void Invoker::invalidate(std::string_view function_id) {
  std::unique_lock lk(mu_);
  ++generation_;
  auto it = by_id_.find(std::string(function_id));
  if (it == by_id_.end()) return;
  by_name_.erase(it->second->function.name);
  by_id_.erase(it);
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
  auto loaded = std::make_shared<const Loaded>(Loaded{std::move(fn), module});
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

  store::Execution ex;
  ex.id = new_uuid();
  ex.function_id = fn.id;
  ex.trigger = std::string(trigger);
  ex.started_at = now_micros();
  engine::Result r = sandbox_.invoke(*loaded->module, inv);
  ex.finished_at = now_micros();
  ex.duration_ms = std::chrono::duration<double, std::milli>(r.duration).count();
  ex.logs = std::move(r.logs);
  if (r.succeeded) {
    ex.status = store::ExecutionStatus::kSucceeded;
    ex.output = std::move(r.output);
  } else {
    ex.status = store::ExecutionStatus::kFailed;
    engine::Failure f = r.failure.value_or(engine::Failure{"internal", "unknown failure"});
    ex.error = store::ExecutionError{std::move(f.type), std::move(f.message)};
    log::info("execution failed", {{"functionId", fn.id},
                                   {"executionId", ex.id},
                                   {"errorType", ex.error->type},
                                   {"durationMs", ex.duration_ms}});
  }
  ex.input = std::move(input);
  writer_.submit(ex);
  return ex;
}

}  // namespace nil::invoke
