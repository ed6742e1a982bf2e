// The queue worker (src/queue) against real parts: a SQLite store in a temporary directory, the
// interpreter sandbox, WAT guests, the one invocation path (invoke::Invoker). Each test enqueues
// through the store as the API does and waits for the record's final state.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "../engine/wat.h"
#include "../store/store_fixture.h"
#include "common/util.h"
#include "engine/engine.h"
#include "host/http_fetch.h"
#include "queue/callback.h"
#include "queue/worker.h"

namespace nil::queue {
namespace {

using engine::testing::wat_to_wasm;

constexpr const char* kEcho = R"((module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "_start")
    (local $n i32)
    (loop $read
      (i32.store (i32.const 0) (i32.const 1024))
      (i32.store (i32.const 4) (i32.const 4096))
      (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))
        (then (return)))
      (local.set $n (i32.load (i32.const 8)))
      (if (i32.eqz (local.get $n)) (then (return)))
      (i32.store (i32.const 4) (local.get $n))
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (br $read))))
)";

constexpr const char* kTrap = R"((module
  (memory (export "memory") 1)
  (func (export "_start") unreachable))
)";

// Writes "oops": not JSON (invalid_output, which is not retried).
constexpr const char* kNotJson = R"((module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "oops")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 4))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
)";

// Receives HTTP requests on 127.0.0.1 (port 0) and keeps them; answers `status`.
class Receiver {
 public:
  explicit Receiver(int status = 200) : status_(status) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~Receiver() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  std::vector<std::string> requests() {
    std::lock_guard lk(mu_);
    return requests_;
  }

 private:
  void loop() {
    while (!stopping_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
        size_t end = req.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        size_t cl = req.find("ontent-Length: ");
        size_t want = cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 15));
        if (req.size() >= end + 4 + want) break;
      }
      std::string answer = "HTTP/1.1 " + std::to_string(status_) +
                           " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!::write(c, answer.data(), answer.size());
      ::close(c);
      std::lock_guard lk(mu_);
      requests_.push_back(std::move(req));
    }
  }
  int status_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

// The header's value in a raw request (names as curl sends them: as given, lower case here).
std::string header_of(const std::string& req, const std::string& name) {
  size_t p = req.find("\r\n" + name + ": ");
  if (p == std::string::npos) return "";
  p += name.size() + 4;
  return req.substr(p, req.find("\r\n", p) - p);
}

class QueueWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::open_store(db_.url());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    sandbox_ = engine::make_interpreter_sandbox();
    writer_ = std::make_unique<invoke::ExecutionWriter>(*store_);
    invoker_ = std::make_unique<invoke::Invoker>(*store_, *sandbox_, *writer_);
    host::init_http();
    host::HostConfig hc;
    hc.http_allow_private = true;  // the receiver listens on 127.0.0.1
    callbacks_ = std::make_unique<CallbackSender>(hc, std::chrono::milliseconds(10), 3);
    QueueSettings qs;
    qs.callbacks = callbacks_.get();
    qs.threads = 2;
    qs.batch = 8;
    qs.poll = std::chrono::milliseconds(50);
    worker_ = std::make_unique<QueueWorker>(*store_, *invoker_, qs);
    worker_->start();
  }
  void TearDown() override {
    worker_->stop();
    callbacks_->stop();
    writer_->stop();
  }

  // A READY function running `wat`, as the compile pool would leave it.
  std::string deploy(const std::string& name, const char* wat, store::RetryPolicy retry = {}) {
    store::NewFunction nf;
    nf.name = name;
    nf.language = "wasm";
    nf.source = wat_to_wasm(wat);
    nf.retry = retry;
    auto f = store_->create_function(nf);
    EXPECT_TRUE(f.ok()) << f.error().message;
    auto job = store_->claim_compile_job("test", 60'000'000);
    EXPECT_TRUE(job.ok() && job->has_value());
    store::CompileOutcome o;
    o.ok = true;
    o.wasm = nf.source;
    o.wasm_sha256 = sha256_hex(o.wasm);
    EXPECT_TRUE(store_->complete_compile_job(**job, o).ok());
    return f->id;
  }

  std::string enqueue(const std::string& function_id, std::string input,
                      std::optional<std::string> callback_url = std::nullopt) {
    store::NewInvocation inv;
    inv.function_id = function_id;
    inv.input = std::move(input);
    inv.callback_url = std::move(callback_url);
    auto e = store_->enqueue_invocation(inv);
    EXPECT_TRUE(e.ok()) << e.error().message;
    worker_->notify();
    return e.ok() ? e->id : "";
  }

  // The record once it is SUCCEEDED or FAILED (the test fails after a generous minute).
  store::Execution final_record(const std::string& id) {
    auto until = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    for (;;) {
      auto e = store_->get_execution(id);
      EXPECT_TRUE(e.ok());
      if (!e.ok()) return {};
      if (e->status == store::ExecutionStatus::kSucceeded ||
          e->status == store::ExecutionStatus::kFailed)
        return *e;
      if (std::chrono::steady_clock::now() > until) {
        ADD_FAILURE() << "execution " << id << " still " << store::to_string(e->status);
        return *e;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  static size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
  }

  store::testing::SqliteTestDatabase db_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<engine::Sandbox> sandbox_;
  std::unique_ptr<invoke::ExecutionWriter> writer_;
  std::unique_ptr<invoke::Invoker> invoker_;
  std::unique_ptr<CallbackSender> callbacks_;
  std::unique_ptr<QueueWorker> worker_;
};

TEST_F(QueueWorkerTest, RunsAnEnqueuedInvocationThroughTheInvoker) {
  std::string fn = deploy("echo", kEcho);
  std::string id = enqueue(fn, "{\"hello\":\"queue\"}");
  store::Execution e = final_record(id);
  EXPECT_EQ(e.status, store::ExecutionStatus::kSucceeded);
  EXPECT_EQ(e.output, "{\"hello\":\"queue\"}");
  EXPECT_EQ(e.trigger, "queue");
  ASSERT_TRUE(e.attempts);
  EXPECT_EQ(count(*e.attempts, "\"attempt\":"), 1u) << *e.attempts;
  EXPECT_EQ(count(*e.attempts, "\"error\":null"), 1u) << *e.attempts;
}

TEST_F(QueueWorkerTest, ManyInvocationsAllFinishOnce) {
  std::string fn = deploy("many", kEcho);
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(enqueue(fn, std::to_string(i)));
  for (int i = 0; i < 50; ++i) {
    store::Execution e = final_record(ids[i]);
    EXPECT_EQ(e.status, store::ExecutionStatus::kSucceeded);
    EXPECT_EQ(e.output, std::to_string(i));
    EXPECT_EQ(count(e.attempts.value_or(""), "\"attempt\":"), 1u);
  }
}

TEST_F(QueueWorkerTest, RetriesATrapThenDeadLettersIt) {
  store::RetryPolicy retry;
  retry.max_attempts = 3;
  retry.backoff = store::Backoff::kFixed;
  retry.initial_delay_ms = 0;
  retry.max_delay_ms = 0;
  std::string fn = deploy("trap", kTrap, retry);
  std::string id = enqueue(fn, "null");
  store::Execution e = final_record(id);
  EXPECT_EQ(e.status, store::ExecutionStatus::kFailed);
  ASSERT_TRUE(e.error);
  EXPECT_EQ(e.error->type, "trap");
  EXPECT_EQ(count(e.attempts.value_or(""), "\"type\":\"trap\""), 3u) << e.attempts.value_or("");
  auto dead = store_->list_dead_letters(fn, store::PageRequest{});
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->items.size(), 1u);
  EXPECT_EQ(dead->items[0].execution_id, id);
  EXPECT_EQ(dead->items[0].attempts, 3);
  EXPECT_EQ(dead->items[0].error.type, "trap");
}

TEST_F(QueueWorkerTest, InvalidOutputIsNotRetried) {
  std::string fn = deploy("not-json", kNotJson);
  std::string id = enqueue(fn, "null");
  store::Execution e = final_record(id);
  EXPECT_EQ(e.status, store::ExecutionStatus::kFailed);
  ASSERT_TRUE(e.error);
  EXPECT_EQ(e.error->type, "invalid_output");
  EXPECT_EQ(count(e.attempts.value_or(""), "\"attempt\":"), 1u) << e.attempts.value_or("");
  auto dead = store_->list_dead_letters(fn, store::PageRequest{});
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ(dead->items.size(), 1u);
}

TEST_F(QueueWorkerTest, DeletedFunctionFailsItsInvocations) {
  std::string fn = deploy("gone", kEcho);
  worker_->stop();  // hold the invocation in the queue while the function goes away
  std::string id = enqueue(fn, "1");
  ASSERT_TRUE(store_->delete_function(fn).ok());
  invoker_->invalidate(fn);
  worker_->start();
  worker_->notify();
  store::Execution e = final_record(id);
  EXPECT_EQ(e.status, store::ExecutionStatus::kFailed);
  ASSERT_TRUE(e.error);
  EXPECT_EQ(e.error->type, "function_not_found");
}

TEST_F(QueueWorkerTest, ResultIsPostedToTheCallbackSigned) {
  Receiver receiver;
  std::string fn = deploy("called-back", kEcho);
  std::string id = enqueue(fn, "{\"x\":1}", receiver.url());
  EXPECT_EQ(final_record(id).status, store::ExecutionStatus::kSucceeded);
  auto until = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (receiver.requests().empty()) {
    ASSERT_LT(std::chrono::steady_clock::now(), until) << "no callback arrived";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string req = receiver.requests()[0];
  EXPECT_EQ(req.rfind("POST /hook ", 0), 0u) << req;
  std::string body = req.substr(req.find("\r\n\r\n") + 4);
  EXPECT_NE(body.find("\"executionId\":\"" + id + "\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"status\":\"SUCCEEDED\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"output\":{\"x\":1}"), std::string::npos) << body;
  EXPECT_EQ(header_of(req, "webhook-id"), id) << req;
  std::string ts = header_of(req, "webhook-timestamp");
  ASSERT_FALSE(ts.empty()) << req;
  auto f = store_->get_function(fn);
  ASSERT_TRUE(f.ok() && f->callback_secret);
  EXPECT_EQ(f->callback_secret->rfind("whsec_", 0), 0u);
  EXPECT_EQ(header_of(req, "webhook-signature"),
            webhook_signature(*f->callback_secret, id, std::stoll(ts), body));
}

TEST_F(QueueWorkerTest, RefusedCallbackIsRetriedThenGivenUp) {
  Receiver receiver(500);
  std::string fn = deploy("called-back-500", kEcho);
  std::string id = enqueue(fn, "1", receiver.url());
  EXPECT_EQ(final_record(id).status, store::ExecutionStatus::kSucceeded);
  auto until = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (receiver.requests().size() < 3) {
    ASSERT_LT(std::chrono::steady_clock::now(), until) << "callback not retried";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(receiver.requests().size(), 3u) << "tried past max_tries";
}

TEST(WebhookSignature, StandardWebhooksReferenceVector) {
  // The example of the Standard Webhooks specification.
  EXPECT_EQ(webhook_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                              "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "{\"test\": 2432232314}"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(RetryDelay, ExponentialDoublesUpToTheCapFixedStays) {
  store::RetryPolicy p;  // the defaults: 60 s, exponential, capped at 300 s
  EXPECT_EQ(retry_delay_ms(p, 2), 60'000);
  EXPECT_EQ(retry_delay_ms(p, 3), 120'000);
  EXPECT_EQ(retry_delay_ms(p, 4), 240'000);
  EXPECT_EQ(retry_delay_ms(p, 5), 300'000);
  EXPECT_EQ(retry_delay_ms(p, 10), 300'000);
  p.backoff = store::Backoff::kFixed;
  EXPECT_EQ(retry_delay_ms(p, 2), 60'000);
  EXPECT_EQ(retry_delay_ms(p, 7), 60'000);
}

TEST(RetryDelay, WhatIsRetried) {
  for (const char* t : {"timeout", "trap", "memory_limit", "exit", "host_call"})
    EXPECT_TRUE(retryable(t)) << t;
  for (const char* t : {"invalid_output", "output_limit", "instantiate", "function_not_found"})
    EXPECT_FALSE(retryable(t)) << t;
}

}  // namespace
}  // namespace nil::queue
