#include "api/http_server.h"

#include <unistd.h>

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "api/problem.h"
#include "api/request_parser.h"
#include "common/log.h"

namespace nil::api {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

// One event loop: an io_context run by one thread (concurrency hint 1: no other thread runs it).
struct HttpServer::Loop {
  Loop() : ioc(1), work(net::make_work_guard(ioc)) {}
  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work;  // run() waits for sockets
  std::atomic<int> busy{0};  // requests being handled on this loop now (read by the acceptor)
};

// The acceptor has a loop of its own, so that accepting never waits for a request running
// inline on a connection loop.
struct HttpServer::Acceptor {
  Acceptor() : ioc(1), acceptor(ioc), backoff(ioc) {}
  net::io_context ioc;
  tcp::acceptor acceptor;
  tcp protocol = tcp::v4();
  net::steady_timer backoff;  // accepting again after EMFILE/ENFILE
  std::chrono::steady_clock::time_point last_error_log{};
  int64_t suppressed_errors = 0;
  int64_t refusals_logged = 0;
};

// Runs an event loop until it is stopped. An exception escaping a handler (none should: the
// parser and the API catch theirs) destroys that handler — and with it its connection — and is
// logged; the loop goes on serving the others. It never reaches std::terminate.
static void run_loop(net::io_context& ioc, const char* which) {
  while (true) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      log::error("unhandled exception in an I/O handler", {{"loop", which}, {"error", e.what()}});
    } catch (...) {
      log::error("unhandled exception in an I/O handler", {{"loop", which}, {"error", "unknown"}});
    }
  }
}

// Per-address connection counts (HttpServer::admit); held by a Session for its life.
struct HttpServer::Connections {
  std::mutex mu;
  int64_t total = 0;
  std::unordered_map<std::string, int64_t> by_address;
};

class HttpServer::ConnectionSlot {
 public:
  ConnectionSlot(HttpServer& server, std::string address)
      : server_(server), address_(std::move(address)) {}
  ~ConnectionSlot() { server_.release(address_); }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  const std::string& address() const { return address_; }

 private:
  HttpServer& server_;
  std::string address_;
};

// Reads requests with RequestParser (which never throws), hands each to the Handler, writes the
// answer. Every way out of a request — answered, rejected, peer gone, an exception escaping a
// handler (the loop catches it; the Session is then destroyed with its handler) — releases the
// request's in-flight count exactly once (request_counted_).
class HttpServer::Session : public std::enable_shared_from_this<HttpServer::Session> {
 public:
  Session(tcp::socket&& socket, HttpServer& server, Loop& loop,
          std::unique_ptr<ConnectionSlot> slot)
      : stream_(std::move(socket)),
        server_(server),
        loop_(loop),
        slot_(std::move(slot)),
        buffer_(server.opts_.header_limit + 4096) {}

  ~Session() { end_request(); }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
  }

 private:
  RequestParser::Limits limits() const {
    return RequestParser::Limits{server_.opts_.body_limit, server_.opts_.header_limit};
  }

  void read_request() {
    parser_.emplace(limits());
    body_phase_ = false;
    stream_.expires_after(server_.opts_.header_timeout);
    parse_buffered();
  }

  // Parses what is buffered (pipelined bytes of an earlier read), then reads more if needed.
  void parse_buffered() {
    if (buffer_.size() > 0) {
      auto data = buffer_.data();
      size_t n =
          parser_->feed(std::string_view(static_cast<const char*>(data.data()), data.size()));
      buffer_.consume(n);
    }
    switch (parser_->state()) {
      case RequestParser::State::kDone:
        return on_request();
      case RequestParser::State::kRejected:
        return on_rejected();
      case RequestParser::State::kNeedMore:
        break;
    }
    if (parser_->header_done() && !body_phase_) {
      body_phase_ = true;
      stream_.expires_after(server_.opts_.body_timeout);
    }
    size_t room = buffer_.max_size() - buffer_.size();
    if (room == 0) {
      // A header, chunk header or trailer section longer than the buffer.
      return reject(http::status::request_header_fields_too_large, ErrorCode::kMalformedRequest,
                    "request header or trailer section is too large");
    }
    stream_.async_read_some(
        buffer_.prepare(std::min<size_t>(room, 64 * 1024)),
        [self = shared_from_this()](beast::error_code ec, size_t n) { self->on_read(ec, n); });
  }

  void on_read(beast::error_code ec, size_t n) {
    buffer_.commit(n);
    if (ec) {
      // EOF, reset, timeout, shutdown: nothing to answer on a connection that is gone or idle.
      if (ec == net::error::eof) parser_->feed_eof();
      return close();
    }
    parse_buffered();
  }

  void on_rejected() {
    const Rejection& r = parser_->rejection();
    if (!r.answer()) return close();
    reject(r.status, r.code, r.detail);
  }

  void reject(http::status status, ErrorCode code, const std::string& detail) {
    keep_alive_ = false;
    begin_request();
    Response res;
    try {
      res = server_.handler_.reject(status, code, detail);
    } catch (const std::exception&) {
      res = Response{status, 11};
    }
    res.keep_alive(false);
    write(std::move(res));
  }

  void begin_request() {
    if (request_counted_) return;
    request_counted_ = true;
    server_.in_flight_++;
    loop_.busy.fetch_add(1, std::memory_order_relaxed);
  }

  void end_request() {
    if (!request_counted_) return;
    request_counted_ = false;
    loop_.busy.fetch_sub(1, std::memory_order_relaxed);
    server_.in_flight_--;
  }

  void on_request() {
    stream_.expires_never();
    begin_request();
    Request req = parser_->release();
    keep_alive_ = req.keep_alive();
    // The peer address, for the handler (login throttling). set() replaces whatever a client
    // sent under that name (in a header or a trailer), so it cannot be forged.
    req.set(kPeerAddressField, slot_->address());
    auto self = shared_from_this();
    server_.handler_.handle(std::move(req), [self](Response&& res) {
      // Answered inline on this connection's loop (the usual case): write at once. From another
      // thread (the offload or work pool): hand the response to the loop.
      if (self->loop_.ioc.get_executor().running_in_this_thread())
        return self->write(std::move(res));
      auto shared = std::make_shared<Response>(std::move(res));
      net::post(self->loop_.ioc, [self, shared] { self->write(std::move(*shared)); });
    });
  }

  // The response head is written here rather than by Beast's serializer (the same bytes: status
  // line, then the fields as stored, then CRLF) and goes out with the body in one gather write;
  // the serializer's buffer-sequence machinery cost ~20k instructions per response.
  void write(Response&& res) {
    if (server_.draining_) keep_alive_ = false;
    if (!keep_alive_) res.keep_alive(false);
    if (res.find(http::field::server) == res.end()) res.set(http::field::server, "nild");
    res.set(kNodeField, server_.node_id_);
    res.prepare_payload();
    response_ = std::move(res);
    head_.clear();
    head_ += response_.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    head_ += std::to_string(response_.result_int());
    head_ += ' ';
    head_ += response_.reason();
    head_ += "\r\n";
    for (const auto& f : response_) {
      head_ += f.name_string();
      head_ += ": ";
      head_ += f.value();
      head_ += "\r\n";
    }
    head_ += "\r\n";
    std::array<net::const_buffer, 2> buffers{net::buffer(head_), net::buffer(response_.body())};
    stream_.expires_after(server_.opts_.body_timeout);
    net::async_write(stream_, buffers, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->on_write(ec);
    });
  }

  void on_write(beast::error_code ec) {
    bool again = !ec && response_.keep_alive();
    response_ = Response{};
    end_request();
    if (again) return read_request();
    close();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  HttpServer& server_;
  Loop& loop_;
  std::unique_ptr<ConnectionSlot> slot_;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  bool body_phase_ = false;
  Response response_;
  std::string head_;
  bool keep_alive_ = true;
  bool request_counted_ = false;
};

// A connection over a cap: answered 503 at once, without reading its request, and closed. What
// the peer already sent is read and dropped first: closing a socket with unread bytes sends a
// reset, which can destroy the answer before the peer reads it. The refusal lives only as long
// as its write (never waits for the peer), so refusals cannot pile up descriptors.
class HttpServer::Refusal : public std::enable_shared_from_this<HttpServer::Refusal> {
 public:
  Refusal(tcp::socket&& socket, std::string text, std::function<void()> done)
      : socket_(std::move(socket)), text_(std::move(text)), done_(std::move(done)) {}
  ~Refusal() { done_(); }

  void start() {
    beast::error_code ec;
    socket_.non_blocking(true, ec);
    net::async_write(socket_, net::buffer(text_),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (!ec) self->drop_unread();
                       beast::error_code ignored;
                       self->socket_.shutdown(tcp::socket::shutdown_both, ignored);
                       self->socket_.close(ignored);
                     });
  }

 private:
  void drop_unread() {
    std::array<char, 4096> scratch;
    for (int i = 0; i < 16; ++i) {
      beast::error_code ec;
      size_t n = socket_.read_some(net::buffer(scratch), ec);  // non-blocking: would_block ends it
      if (ec || n == 0) return;
    }
  }

  tcp::socket socket_;
  std::string text_;
  std::function<void()> done_;
};

HttpServer::HttpServer(ServerOptions opts, Handler& handler)
    : opts_(std::move(opts)),
      handler_(handler),
      connections_(std::make_unique<Connections>()),
      acceptor_(std::make_unique<Acceptor>()) {
  for (int i = 0; i < std::max(1, opts_.io_threads); ++i)
    loops_.push_back(std::make_unique<Loop>());
}

HttpServer::~HttpServer() { shutdown(std::chrono::milliseconds(0)); }

Expected<void> HttpServer::start() {
  auto colon = opts_.listen.rfind(':');
  if (colon == std::string::npos) {
    return make_error(ErrorCode::kInvalidListen, "--listen must be host:port");
  }
  std::string host = opts_.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned long port_num = 0;
  try {
    port_num = std::stoul(opts_.listen.substr(colon + 1));
  } catch (...) {
    return make_error(ErrorCode::kInvalidListen, "bad port in --listen");
  }
  beast::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec || port_num > 65535) {
    return make_error(ErrorCode::kInvalidListen, "bad address in --listen: " + opts_.listen);
  }
  tcp::endpoint ep(address, static_cast<uint16_t>(port_num));
  auto& a = acceptor_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return make_error(ErrorCode::kListenFailed,
                      "cannot listen on " + opts_.listen + ": " + ec.message());
  }
  port_ = a.local_endpoint().port();
  node_id_ = opts_.node_id;
  if (node_id_.empty()) {
    char name[256] = {};
    if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') std::strcpy(name, "nild");
    node_id_ = std::string(name) + ":" + std::to_string(port_);
  }
  acceptor_->protocol = ep.protocol();
  do_accept();
  threads_.emplace_back([this] { run_loop(acceptor_->ioc, "acceptor"); });
  for (auto& loop : loops_)
    threads_.emplace_back([l = loop.get()] { run_loop(l->ioc, "connection"); });
  return {};
}

// Accept errors that mean "out of a resource" (descriptors, kernel memory): accepting again at
// once fails again at once — the loop would spin on a core and flood the log — so wait a little.
// The pending connections stay in the kernel's backlog meanwhile.
static bool is_resource_exhaustion(const beast::error_code& ec) {
  return ec == net::error::no_descriptors || ec.value() == ENFILE ||
         ec == net::error::no_buffer_space || ec == net::error::no_memory;
}

void HttpServer::do_accept() {
  acceptor_->acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor_->acceptor.is_open()) return;
      note_accept_error(ec);
      if (is_resource_exhaustion(ec)) {
        acceptor_->backoff.expires_after(opts_.accept_backoff);
        acceptor_->backoff.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec && acceptor_->acceptor.is_open()) do_accept();
        });
        return;
      }
    } else {
      on_accepted(std::move(socket));
    }
    if (acceptor_->acceptor.is_open()) do_accept();
  });
}

// At most one log line per second about failed accepts, with the number left unlogged.
void HttpServer::note_accept_error(const beast::error_code& ec) {
  auto now = std::chrono::steady_clock::now();
  if (now - acceptor_->last_error_log < std::chrono::seconds(1)) {
    acceptor_->suppressed_errors++;
    return;
  }
  log::warn("accept failed",
            {{"error", ec.message()}, {"suppressed", acceptor_->suppressed_errors}});
  acceptor_->last_error_log = now;
  acceptor_->suppressed_errors = 0;
}

void HttpServer::on_accepted(tcp::socket socket) {
  beast::error_code ec;
  std::string address;
  auto ep = socket.remote_endpoint(ec);
  if (!ec) address = ep.address().to_string();
  if (auto why = admit(address)) return refuse(std::move(socket), *why);
  auto slot = std::make_unique<ConnectionSlot>(*this, address);
  socket.set_option(tcp::no_delay(true), ec);
  // The loop is chosen now, not when the accept was started: the socket moves to it.
  Loop& loop = pick_loop();
  auto fd = socket.release(ec);
  if (ec) return;
  tcp::socket moved(loop.ioc);
  moved.assign(acceptor_->protocol, fd, ec);
  if (ec) {
    ::close(fd);
    note_accept_error(ec);
    return;
  }
  std::make_shared<Session>(std::move(moved), *this, loop, std::move(slot))->start();
}

// Counts the connection in (nullopt) or says which cap it is over.
std::optional<std::string> HttpServer::admit(const std::string& address) {
  std::lock_guard lk(connections_->mu);
  if (opts_.max_connections > 0 && connections_->total >= opts_.max_connections) {
    return "the server has " + std::to_string(connections_->total) + " connections open, its limit";
  }
  int64_t& mine = connections_->by_address[address];
  if (opts_.max_connections_per_address > 0 && mine >= opts_.max_connections_per_address) {
    if (mine == 0) connections_->by_address.erase(address);
    return "this client address has " + std::to_string(mine) +
           " connections open, the limit per address";
  }
  ++mine;
  ++connections_->total;
  return std::nullopt;
}

void HttpServer::release(const std::string& address) {
  std::lock_guard lk(connections_->mu);
  --connections_->total;
  auto it = connections_->by_address.find(address);
  if (it != connections_->by_address.end() && --it->second <= 0) connections_->by_address.erase(it);
}

int64_t HttpServer::connections() const {
  std::lock_guard lk(connections_->mu);
  return connections_->total;
}

void HttpServer::refuse(tcp::socket socket, const std::string& why) {
  // Refusals hold descriptors too: past a few in flight, close at once.
  if (acceptor_->refusals_logged++ % 1000 == 0) {
    log::warn("connection refused: over the connection limit",
              {{"reason", why}, {"count", acceptor_->refusals_logged}});
  }
  if (refusals_in_flight_.load() >= 64) {
    beast::error_code ignored;
    socket.close(ignored);
    return;
  }
  Response res = handler_.reject(status_for(ErrorCode::kTooManyConnections),
                                 ErrorCode::kTooManyConnections, why);
  res.keep_alive(false);
  res.set(http::field::retry_after, "1");
  res.set(http::field::server, "nild");
  res.prepare_payload();
  std::string text = "HTTP/1.1 503 Service Unavailable\r\n";
  for (const auto& f : res) {
    text += f.name_string();
    text += ": ";
    text += f.value();
    text += "\r\n";
  }
  text += "\r\n";
  text += res.body();
  refusals_in_flight_++;
  auto r = std::make_shared<Refusal>(std::move(socket), std::move(text),
                                     [this] { refusals_in_flight_--; });
  r->start();
}

// Round robin over the loops, skipping those running a request right now: a long function there
// would hold up the new connection's first request. When every loop is busy, plain round robin.
HttpServer::Loop& HttpServer::pick_loop() {
  const size_t n = loops_.size();
  for (size_t i = 0; i < n; ++i) {
    size_t k = (next_loop_ + i) % n;
    if (loops_[k]->busy.load(std::memory_order_relaxed) == 0) {
      next_loop_ = (k + 1) % n;
      return *loops_[k];
    }
  }
  Loop& l = *loops_[next_loop_];
  next_loop_ = (next_loop_ + 1) % n;
  return l;
}

void HttpServer::shutdown(std::chrono::milliseconds grace) {
  if (threads_.empty()) return;
  draining_ = true;
  net::post(acceptor_->acceptor.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_->acceptor.close(ignored);
  });
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  acceptor_->ioc.stop();
  for (auto& loop : loops_) loop->ioc.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace nil::api
