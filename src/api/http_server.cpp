#include "api/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>

#include "common/log.h"

namespace nil::api {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

struct HttpServer::Acceptor {
  explicit Acceptor(net::io_context& ioc) : acceptor(net::make_strand(ioc)) {}
  tcp::acceptor acceptor;
};

class HttpServer::Session : public std::enable_shared_from_this<HttpServer::Session> {
 public:
  Session(tcp::socket&& socket, HttpServer& server) : stream_(std::move(socket)), server_(server) {
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
    server_.in_flight_++;
    write(std::move(res));
  }

  void on_body(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    stream_.expires_never();
    server_.in_flight_++;
    Request req = parser_->release();
    keep_alive_ = req.keep_alive();
    // The peer address, for the handler (login throttling). set() replaces whatever a client
    // sent under that name, so it cannot be forged.
    req.set(kPeerAddressField, peer_);
    auto self = shared_from_this();
    server_.handler_.handle(std::move(req), [self](Response&& res) {
      auto shared = std::make_shared<Response>(std::move(res));
      // dispatch: when the handler ran inline on this connection's strand, write at once.
      net::dispatch(self->stream_.get_executor(), [self, shared] { self->write(std::move(*shared)); });
    });
  }

  void write(Response&& res) {
    if (server_.draining_) keep_alive_ = false;
    if (!keep_alive_) res.keep_alive(false);
    if (res.find(http::field::server) == res.end()) res.set(http::field::server, "nild");
    res.prepare_payload();
    response_ = std::make_shared<Response>(std::move(res));
    stream_.expires_after(server_.opts_.body_timeout);
    http::async_write(stream_, *response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->on_write(ec);
                      });
  }

  void on_write(beast::error_code ec) {
    bool again = !ec && response_->keep_alive();
    response_.reset();
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
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Response> response_;
  bool keep_alive_ = true;
  std::string peer_;
};

HttpServer::HttpServer(ServerOptions opts, Handler& handler)
    : opts_(std::move(opts)), handler_(handler), acceptor_(std::make_unique<Acceptor>(ioc_)) {}

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
  do_accept();
  for (int i = 0; i < std::max(1, opts_.io_threads); ++i) threads_.emplace_back([this] { ioc_.run(); });
  return {};
}

void HttpServer::do_accept() {
  acceptor_->acceptor.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor_->acceptor.is_open()) return;
      log::warn("accept failed", {{"error", ec.message()}});
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket), *this)->start();
    }
    if (acceptor_->acceptor.is_open()) do_accept();
  });
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
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace nil::api
