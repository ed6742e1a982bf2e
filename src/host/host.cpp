// HostRuntime and the per-invocation HostServices it hands to the engine.
#include "host/host.h"

#include <map>
#include <mutex>

#include "host/app_db.h"
#include "host/http_fetch.h"

namespace nil::host {

struct HostRuntime::Impl {
  explicit Impl(HostConfig c) : cfg(std::move(c)), db(cfg) {}
  const HostConfig cfg;
  AppDb db;
};

namespace {

// Everything one invocation holds of the host: its grants, its environment and (lazily) one
// application-database connection, released when the invocation ends.
class InvocationServices final : public engine::HostServices {
 public:
  InvocationServices(const HostConfig* cfg, AppDb* db, FunctionGrants grants,
                     std::vector<std::pair<std::string, std::string>> env)
      : cfg_(cfg), db_(db), grants_(std::move(grants)) {
    for (auto& kv : env) env_[std::move(kv.first)] = std::move(kv.second);  // later pairs win
  }

  std::optional<std::string> env(std::string_view key) override {
    auto it = env_.find(std::string(key));
    if (it == env_.end()) return std::nullopt;
    return it->second;
  }

  Expected<std::string> http_fetch(std::string_view request_json,
                                   std::chrono::steady_clock::time_point deadline) override {
    return host::http_fetch(*cfg_, grants_.http_allow, request_json, deadline);
  }

  Expected<std::string> db_query(std::string_view sql, std::string_view params_json,
                                 std::chrono::steady_clock::time_point deadline) override {
    if (!lease_) lease_ = NIL_TRY(db_->lease(grants_.function_id));
    return lease_->query(sql, params_json, grants_.db_ddl, deadline);
  }

 private:
  const HostConfig* cfg_;  // both owned by the HostRuntime, which outlives its invocations
  AppDb* db_;
  FunctionGrants grants_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<AppDb::Lease> lease_;
};

}  // namespace

HostRuntime::HostRuntime(HostConfig cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {
  init_http();
}

HostRuntime::~HostRuntime() = default;

std::unique_ptr<engine::HostServices> HostRuntime::for_invocation(
    const FunctionGrants& grants, std::vector<std::pair<std::string, std::string>> env) {
  return std::make_unique<InvocationServices>(&impl_->cfg, &impl_->db, grants, std::move(env));
}

}  // namespace nil::host
