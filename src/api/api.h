// nil::api — the REST API: routes, JSON shapes, validation. See docs/openapi.yaml.
//
// Every request is handled on the work pool (never on an I/O thread): store calls and
// invocations may block. Errors become problem+json through api/problem.h only.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "invoke/invoker.h"
#include "store/store.h"

namespace nil::api {

struct ApiOptions {
  uint64_t max_source_bytes = 1 << 20;
  int work_threads = 16;
  std::vector<std::string> languages;  // accepted `language` values
};

struct ApiDeps {
  store::Store& store;
  invoke::Invoker& invoker;
  invoke::ExecutionWriter& writer;
  std::function<void()> compile_enqueued;  // wakes the compile workers
  std::function<bool()> draining;          // true once SIGTERM started the drain
};

class Api final : public Handler {
 public:
  Api(ApiOptions opts, ApiDeps deps);
  ~Api() override;

  void handle(Request&& req, Respond respond) override;
  Response reject(http::status status, std::string_view code, std::string_view detail) override;
  void stop();  // finishes queued work, joins the work pool

 private:
  Response route(const Request& req);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nil::api
