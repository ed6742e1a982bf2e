#include "api/http_server.h"

#include <unistd.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>

#include <array>

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
  Acceptor() : ioc(1), acceptor(ioc) {}
  net::io_context ioc;
  tcp::acceptor acceptor;
  tcp protocol = tcp::v4();
};

class HttpServer::Session : public std::enable_shared_from_this<HttpServer::Session> {
 public:
  Session(tcp::socket&& socket, HttpServer& server, Loop& loop)
      : stream_(std::move(socket)), server_(server), loop_(loop) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ = ep.address().to_string();
  }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
  }

 private:
  void read_header() {
    parser_.emplace();
    parser_->body_limit(server_.opts_.body_limit);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(server_.opts_.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              self->on_header(ec);
                            });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    stream_.expires_after(server_.opts_.body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return reject(http::status::payload_too_large, "body_too_large",
                    "request body is larger than " + std::to_string(server_.opts_.body_limit) +
                        " bytes");
    }
    if (ec == http::error::header_limit) {
      return reject(http::status::request_header_fields_too_large, "malformed_request",
                    "request header is too large");
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == beast::error::timeout || ec == net::error::connection_reset ||
        ec == net::error::operation_aborted) {
      return close();
    }
    if (ec == http::error::partial_message) return close();
    if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
      return reject(http::status::bad_request, "malformed_request",
                    "malformed HTTP request: " + ec.message());
    }
    close();
  }

  void reject(http::status status, std::string_view code, const std::string& detail) {
    Response res = server_.handler_.reject(status, code, detail);
    res.keep_alive(false);
    begin_request();
    write(std::move(res));
  }

  void begin_request() {
    server_.in_flight_++;
    loop_.busy.fetch_add(1, std::memory_order_relaxed);
  }

  void on_body(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    stream_.expires_never();
    begin_request();
    Request req = parser_->release();
    keep_alive_ = req.keep_alive();
    // The peer address, for the handler (login throttling). set() replaces whatever a client
    // sent under that name, so it cannot be forged.
    req.set(kPeerAddressField, peer_);
    auto self = shared_from_this();
    server_.handler_.handle(std::move(req), [self](Response&& res) {
      // Answered inline on this connection's loop (the usual case): write at once. From another
      // thread (--work-threads): hand the response to the loop.
      if (self->loop_.ioc.get_executor().running_in_this_thread()) return self->write(std::move(res));
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
    loop_.busy.fetch_sub(1, std::memory_order_relaxed);
    server_.in_flight_--;
    if (again) return read_header();
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
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;
  std::string head_;
  bool keep_alive_ = true;
  std::string peer_;
};

HttpServer::HttpServer(ServerOptions opts, Handler& handler)
    : opts_(std::move(opts)), handler_(handler), acceptor_(std::make_unique<Acceptor>()) {
  for (int i = 0; i < std::max(1, opts_.io_threads); ++i) loops_.push_back(std::make_unique<Loop>());
}

HttpServer::~HttpServer() { shutdown(std::chrono::milliseconds(0)); }

Expected<void> HttpServer::start() {
  auto colon = opts_.listen.rfind(':');
  if (colon == std::string::npos) {
    return make_error(ErrorKind::kInvalidInput, "invalid_listen", "--listen must be host:port");
  }
  std::string host = opts_.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long port_num = 0;
  try {
    port_num = std::stoul(opts_.listen.substr(colon + 1));
  } catch (...) {
    return make_error(ErrorKind::kInvalidInput, "invalid_listen", "bad port in --listen");
  }
  beast::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec || port_num > 65535) {
    return make_error(ErrorKind::kInvalidInput, "invalid_listen", "bad address in --listen: " + opts_.listen);
  }
  tcp::endpoint ep(address, static_cast<uint16_t>(port_num));
  auto& a = acceptor_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return make_error(ErrorKind::kUnavailable, "listen_failed",
                      "cannot listen on " + opts_.listen + ": " + ec.message());
  }
  port_ = a.local_endpoint().port();
  acceptor_->protocol = ep.protocol();
  do_accept();
  threads_.emplace_back([this] { acceptor_->ioc.run(); });
  for (auto& loop : loops_) threads_.emplace_back([l = loop.get()] { l->ioc.run(); });
  return {};
}

void HttpServer::do_accept() {
  acceptor_->acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor_->acceptor.is_open()) return;
      log::warn("accept failed", {{"error", ec.message()}});
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      // The loop is chosen now, not when the accept was started: the socket moves to it.
      Loop& loop = pick_loop();
      auto fd = socket.release(ec);
      if (!ec) {
        tcp::socket moved(loop.ioc);
        moved.assign(acceptor_->protocol, fd, ec);
        if (ec) {
          ::close(fd);
          log::warn("accept failed", {{"error", ec.message()}});
        } else {
          std::make_shared<Session>(std::move(moved), *this, loop)->start();
        }
      }
    }
    if (acceptor_->acceptor.is_open()) do_accept();
  });
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
