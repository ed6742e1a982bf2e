// nil::api HTTP server — asynchronous HTTP/1.1 on Boost.Beast.
//
// Keep-alive; pipelined requests are answered in order (one request per connection is handled
// at a time, the next is parsed from the buffer after the answer is written); request bodies
// over the limit get 413 and the connection closes; header and body read timeouts; graceful
// shutdown: stop accepting, answer what is in flight, then close. Before that, begin_drain() lets
// a load balancer notice (docs/operations.md, "Cluster"): still accepting, every answer closes
// its connection, so no client keeps a connection the shutdown would cut.
//
// Every answer names the node in kNodeField (ServerOptions::node_id), so a client behind a load
// balancer can tell which node served it.
//
// Hostile input (docs/security.md, "HTTP"): requests are parsed by RequestParser, which never
// throws and refuses ambiguous framing (400, then close); an exception that still escapes an I/O
// handler closes that connection, never the process; connections are capped in total and per
// client address (503 too_many_connections); when accept() runs out of descriptors the acceptor
// waits accept_backoff instead of spinning, and logs that at most once a second.
//
// Threads: `io_threads` event loops, each an io_context run by its own thread. A connection
// belongs to one loop for its life (accepted onto the loop with no request running, round robin
// among those), so its handlers never hop threads: no strand, no wake-up of another thread per
// request — with one shared io_context each ready socket went to a different sleeping thread
// (1.2 context switches per request). Handler::handle is called on the connection's loop thread;
// it answers through `respond`, from any thread, exactly once. It may block that thread (the
// API runs requests inline): that stalls only the other connections of the same loop, which
// is why there are many loops (default 16) on few cores.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/expected.h"

namespace nil::api {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using Respond = std::function<void(Response&&)>;

// The server puts the client's IP address in this request field (any client-sent value of the
// same name is replaced).
inline constexpr std::string_view kPeerAddressField = "X-Nil-Peer-Address";
// The response header naming the node that answered (--node-id).
inline constexpr std::string_view kNodeField = "X-Nil-Node";

class Handler {
 public:
  virtual ~Handler() = default;
  virtual void handle(Request&& req, Respond respond) = 0;
  // Answers for requests that never reached the handler (413, 400, 431).
  // `status` is the registry's for `code` except a too-large header's 431 malformed_request.
  virtual Response reject(http::status status, ErrorCode code, std::string_view detail) = 0;
};

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free one
  uint64_t body_limit = 8 << 20;          // every route; 413 past it
  uint32_t header_limit = 64 * 1024;      // request line + header fields; 431 past it
  // Open connections in total and per client address (0: no cap). A connection over a cap is
  // answered 503 too_many_connections at once and closed.
  int64_t max_connections = 0;
  int64_t max_connections_per_address = 0;
  // After accept() fails for want of descriptors or memory, wait this long before the next one.
  std::chrono::milliseconds accept_backoff{100};
  int io_threads = 16;
  std::string node_id;  // kNodeField of every answer; empty: <hostname>:<bound port>
  std::chrono::seconds header_timeout{60};  // also the keep-alive idle timeout
  std::chrono::seconds body_timeout{60};
};

class HttpServer {
 public:
  HttpServer(ServerOptions opts, Handler& handler);
  ~HttpServer();

  Expected<void> start();  // binds and starts the I/O threads
  uint16_t port() const { return port_; }
  // Stops accepting, waits (up to `grace`) until no request is in flight, then stops the I/O.
  void shutdown(std::chrono::milliseconds grace);
  // The first step of a drain: keep accepting and answering, but close each connection after its
  // answer (Connection: close), so none is left to cut when shutdown() stops the loops.
  void begin_drain() { draining_ = true; }
  const std::string& node_id() const { return node_id_; }  // after start()
  int64_t in_flight() const { return in_flight_.load(); }
  bool draining() const { return draining_; }
  int64_t connections() const;  // open connections now (refused ones not counted)

 private:
  class Session;
  class Refusal;
  class ConnectionSlot;
  struct Connections;
  struct Loop;
  void do_accept();
  void on_accepted(boost::asio::ip::tcp::socket socket);
  void note_accept_error(const boost::system::error_code& ec);
  std::optional<std::string> admit(const std::string& address);
  void release(const std::string& address);
  void refuse(boost::asio::ip::tcp::socket socket, const std::string& why);
  Loop& pick_loop();

  ServerOptions opts_;
  Handler& handler_;
  // Before the loops: sessions and refusals still queued in a loop are destroyed with it, and
  // release their counts here.
  std::unique_ptr<Connections> connections_;
  std::atomic<int64_t> refusals_in_flight_{0};
  std::vector<std::unique_ptr<Loop>> loops_;  // loops_[0] also runs the acceptor
  size_t next_loop_ = 0;                      // acceptor's loop only
  struct Acceptor;
  std::unique_ptr<Acceptor> acceptor_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  std::string node_id_;  // set by start(), read-only afterwards
  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> draining_{false};
};

}  // namespace nil::api
