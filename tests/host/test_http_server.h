// A tiny real HTTP/1.1 server for the host tests: 127.0.0.1, port 0, one thread per connection,
// `Connection: close` on every answer. Routes:
//   /hello          200 "hello", header X-Test: yes
//   /echo           200 JSON {"method","body","headers":{lower-case name: value}}
//   /big?n=N        200 with N bytes of 'x'
//   /bigheaders?n=N[&line=L]  200 "small body" after about N bytes of extra header lines
//                   (each at most L bytes, default 8 KiB)
//   /binary         200 with bytes ff 00 fe
//   /hang           reads the request and never answers (until the server stops)
//   /gate           200 "through the gate" once open_gate() was called (waits until then)
//   /redirect?to=U  302 Location: U
//   anything else   404
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace nil::host::testing {

class TestHttpServer {
 public:
  TestHttpServer();
  ~TestHttpServer();
  int port() const { return port_; }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  int requests() const { return requests_.load(); }
  void open_gate() { gate_open_ = true; }

 private:
  void accept_loop();
  void serve(int fd);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> gate_open_{false};
  std::atomic<int> requests_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;  // guarded by mu_
};

}  // namespace nil::host::testing
