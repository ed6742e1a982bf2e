#include "test_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstring>

namespace nil::host::testing {
namespace {

bool send_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string response(int status, const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n" +
         extra + "\r\n" + body;
}

std::string query_param(const std::string& target, const std::string& key) {
  size_t q = target.find('?');
  if (q == std::string::npos) return {};
  std::string query = target.substr(q + 1);
  std::string prefix = key + "=";
  size_t at = query.find(prefix);
  if (at == std::string::npos) return {};
  size_t end = query.find('&', at);
  return query.substr(at + prefix.size(),
                      end == std::string::npos ? end : end - at - prefix.size());
}

}  // namespace

TestHttpServer::TestHttpServer() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::listen(listen_fd_, 64);
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TestHttpServer::~TestHttpServer() {
  stopping_ = true;
  acceptor_.join();
  ::close(listen_fd_);
  std::lock_guard lock(mu_);
  for (std::thread& t : workers_) t.join();
}

void TestHttpServer::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    workers_.emplace_back([this, fd] {
      serve(fd);
      ::close(fd);
    });
  }
}

void TestHttpServer::serve(int fd) {
  std::string in;
  char buf[4096];
  size_t header_end = std::string::npos;
  auto read_more = [&]() -> bool {
    pollfd p{fd, POLLIN, 0};
    while (!stopping_) {
      int r = ::poll(&p, 1, 20);
      if (r > 0) break;
    }
    if (stopping_) return false;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    in.append(buf, static_cast<size_t>(n));
    return true;
  };
  while ((header_end = in.find("\r\n\r\n")) == std::string::npos) {
    if (!read_more()) return;
  }
  requests_++;
  std::string head = in.substr(0, header_end);
  std::string method = head.substr(0, head.find(' '));
  size_t t0 = head.find(' ') + 1;
  std::string target = head.substr(t0, head.find(' ', t0) - t0);
  boost::json::object headers;
  size_t content_length = 0;
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    size_t next = head.find("\r\n", pos + 2);
    std::string line = head.substr(pos + 2, next == std::string::npos ? next : next - pos - 2);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      headers[name] = value;
      if (name == "content-length") content_length = std::stoul(value);
    }
    pos = next;
  }
  while (in.size() < header_end + 4 + content_length) {
    if (!read_more()) return;
  }
  std::string body = in.substr(header_end + 4, content_length);
  std::string path = target.substr(0, target.find('?'));

  if (path == "/hello") {
    send_all(fd, response(200, "hello", "X-Test: yes\r\n"));
  } else if (path == "/echo") {
    boost::json::object o;
    o["method"] = method;
    o["body"] = body;
    o["headers"] = headers;
    send_all(fd, response(200, boost::json::serialize(o), "Content-Type: application/json\r\n"));
  } else if (path == "/big") {
    send_all(fd, response(200, std::string(std::stoul(query_param(target, "n")), 'x')));
  } else if (path == "/bigheaders") {
    // n bytes of headers, in lines of at most `line` bytes (default 8 KiB): "X-Pad-i: xxx…".
    size_t n = std::stoul(query_param(target, "n"));
    std::string line_param = query_param(target, "line");
    size_t line = line_param.empty() ? 8192 : std::stoul(line_param);
    std::string extra;
    for (size_t i = 0; extra.size() < n; ++i) {
      std::string name = "X-Pad-" + std::to_string(i) + ": ";
      size_t value = std::min<size_t>(line, n - extra.size() + 1);
      extra += name + std::string(value, 'x') + "\r\n";
    }
    send_all(fd, response(200, "small body", extra));
  } else if (path == "/binary") {
    send_all(fd, response(200, std::string("\xff\x00\xfe", 3)));
  } else if (path == "/gate") {
    while (!stopping_ && !gate_open_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    send_all(fd, response(200, "through the gate"));
  } else if (path == "/hang") {
    while (!stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } else if (path == "/redirect") {
    send_all(fd, response(302, "", "Location: " + query_param(target, "to") + "\r\n"));
  } else {
    send_all(fd, response(404, "not found"));
  }
}

}  // namespace nil::host::testing
