// nil::queue callbacks — the result of an async invocation POSTed to the callback URL it was
// enqueued with (X-Nil-Callback-Url; docs/openapi.yaml), signed the Standard Webhooks way:
//   webhook-id:        the execution id
//   webhook-timestamp: Unix seconds of the delivery attempt
//   webhook-signature: "v1," + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")), where key is
//                      the base64 decoding of the function's secret after its "whsec_" prefix.
// The body is {"executionId","functionId","status","output","error","durationMs","attempts"}.
// Delivery goes through http_fetch (the same address policy: no private address unless
// --http-allow-private) and is retried with backoff (1 s, doubling, 6 tries) while any answer
// other than 2xx comes back. Deliveries wait in memory: a restart loses the pending ones (the
// execution record stays readable).
//
// Threads: deliver() may be called from any thread; one thread sends. stop() gives up on what
// is still pending.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "host/host.h"

namespace nil::queue {

// "v1,<base64>" for `msg_id`, `timestamp` and `body` under `secret` ("whsec_<base64 key>").
std::string webhook_signature(std::string_view secret, std::string_view msg_id, int64_t timestamp,
                              std::string_view body);

class CallbackSender {
 public:
  // `cfg`: the host runtime's configuration (address policy, timeouts).
  explicit CallbackSender(host::HostConfig cfg,
                          std::chrono::milliseconds first_retry = std::chrono::seconds(1),
                          int max_tries = 6);
  ~CallbackSender();
  void deliver(std::string url, std::string msg_id, std::string secret, std::string body);
  void stop();

 private:
  struct Delivery {
    std::string url, msg_id, secret, body;
    int tries = 0;
    std::chrono::steady_clock::time_point due;
  };
  bool send(const Delivery& d);
  void run();

  host::HostConfig cfg_;
  std::chrono::milliseconds first_retry_;
  int max_tries_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Delivery> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace nil::queue
