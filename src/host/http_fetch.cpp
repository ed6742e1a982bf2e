#include "host/http_fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/fiber.h"
#include "common/log.h"
#include "host/net_policy.h"

namespace nil::host {
namespace {

using Clock = std::chrono::steady_clock;

Error err(ErrorCode code, std::string message) { return make_error(code, std::move(message)); }

struct CurlCloser {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistCloser {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct UrlCloser {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistCloser>;
using UrlPtr = std::unique_ptr<CURLU, UrlCloser>;

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> body;
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_token(std::string_view s) {  // RFC 9110 token
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!(std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c))) return false;
  }
  return true;
}

Expected<Request> parse_request(std::string_view json) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json, ec);
  if (ec) return err(ErrorCode::kInvalidRequest, "the request is not JSON: " + ec.message());
  if (!v.is_object()) return err(ErrorCode::kInvalidRequest, "the request must be a JSON object");
  Request req;
  for (const auto& [key, value] : v.as_object()) {
    if (key == "url") {
      if (!value.is_string()) return err(ErrorCode::kInvalidRequest, "url must be a string");
      req.url = std::string(value.get_string());
    } else if (key == "method") {
      if (!value.is_string()) return err(ErrorCode::kInvalidRequest, "method must be a string");
      std::string m(value.get_string());
      std::transform(m.begin(), m.end(), m.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      if (!is_token(m) || m.size() > 16 || m == "CONNECT" || m == "TRACE") {
        return err(ErrorCode::kInvalidRequest, "method " + m + " is not allowed");
      }
      req.method = m;
    } else if (key == "headers") {
      if (!value.is_object()) return err(ErrorCode::kInvalidRequest, "headers must be an object");
      for (const auto& [name, hv] : value.get_object()) {
        if (!hv.is_string())
          return err(ErrorCode::kInvalidRequest, "header values must be strings");
        std::string n(name);
        std::string val(hv.get_string());
        if (!is_token(n))
          return err(ErrorCode::kInvalidRequest, "header name " + n + " is not a token");
        if (val.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
          return err(ErrorCode::kInvalidRequest, "header " + n + " has a line break or NUL");
        }
        std::string ln = lower(n);
        if (ln == "host" || ln == "content-length" || ln == "transfer-encoding" ||
            ln == "connection" || ln == "expect") {
          return err(ErrorCode::kInvalidRequest, "header " + n + " is set by the host");
        }
        req.headers.emplace_back(std::move(n), std::move(val));
      }
    } else if (key == "body") {
      if (value.is_null()) continue;
      if (!value.is_string()) return err(ErrorCode::kInvalidRequest, "body must be a string");
      req.body = std::string(value.get_string());
    } else {
      return err(ErrorCode::kInvalidRequest,
                 "unknown member " + std::string(key) + " (expected method, url, headers, body)");
    }
  }
  if (req.url.empty()) return err(ErrorCode::kInvalidRequest, "url is required");
  return req;
}

struct Target {
  std::string url;  // normalized
  std::string scheme, host;
  int port = 0;
};

Expected<Target> parse_target(CURLU* u) {
  auto part = [u](CURLUPart what, unsigned flags = 0) -> std::string {
    char* s = nullptr;
    if (curl_url_get(u, what, &s, flags) != CURLUE_OK || !s) return {};
    std::string out(s);
    curl_free(s);
    return out;
  };
  Target t;
  t.url = part(CURLUPART_URL);
  t.scheme = lower(part(CURLUPART_SCHEME));
  t.host = lower(part(CURLUPART_HOST));
  std::string port = part(CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (t.scheme != "http" && t.scheme != "https") {
    return err(ErrorCode::kInvalidRequest, "only http and https URLs can be fetched");
  }
  if (t.host.empty()) return err(ErrorCode::kInvalidRequest, "the URL has no host");
  t.port = port.empty() ? (t.scheme == "https" ? 443 : 80) : std::atoi(port.c_str());
  return t;
}

// Resolves the host and checks every address; returns the one to connect to ("1.2.3.4" or
// "[::1]"), which is then pinned.
Expected<std::string> resolve_checked(const Target& t, bool allow_private) {
  std::string name = t.host;
  if (name.size() > 2 && name.front() == '[') name = name.substr(1, name.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(name.c_str(), nullptr, &hints, &found);
  if (rc != 0 || !found) {
    return err(ErrorCode::kFetchFailed, "cannot resolve " + t.host + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
  std::string chosen;
  for (addrinfo* a = found; a; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    if (is_private_address(a->ai_addr) && !allow_private) {
      return err(ErrorCode::kAddressNotAllowed,
                 t.host + " resolves to a loopback, private or link-local address");
    }
    if (chosen.empty()) {
      char buf[INET6_ADDRSTRLEN] = {};
      if (a->ai_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, buf, sizeof buf);
        chosen = buf;
      } else {
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, buf,
                  sizeof buf);
        chosen = std::string("[") + buf + "]";
      }
    }
  }
  if (chosen.empty()) return err(ErrorCode::kFetchFailed, "no usable address for " + t.host);
  return chosen;
}

// libcurl's own refusals of oversized headers, which never reach on_header: CURLE_TOO_LARGE
// (100) from libcurl 8.6; before, a receive error saying "Too large response headers" (block
// over 300 KiB) or CURLE_OUT_OF_MEMORY for one line over 100 KiB ("Avoided giant realloc"),
// which is what an out-of-memory before any body byte means in practice.
bool curl_headers_too_large(CURLcode rc, const char* errbuf, bool body_started) {
  if (static_cast<int>(rc) == 100) return true;
  if (rc == CURLE_OUT_OF_MEMORY && !body_started) return true;
  return rc == CURLE_RECV_ERROR && lower(errbuf).find("too large") != std::string::npos;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else
      return false;
    if (i + n >= s.size()) return false;  // the sequence is cut off
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// libcurl 7.88 refuses a response whose header block passes 300 KiB, or one header line over
// 100 KiB, with a generic receive error. The host stops earlier by itself, so that headers too
// large are always response_too_large (docs/abi.md), whatever the libcurl version: 192 KiB plus
// one line of at most 100 KiB stays under libcurl's 300 KiB.
constexpr uint64_t kMaxHeaderBytes = 192 << 10;

// One response as it arrives; the cap counts header and body bytes.
struct Response {
  uint64_t cap = 0;
  uint64_t received = 0;
  uint64_t header_bytes = 0;  // of all responses of this transfer (100 Continue included)
  bool over_cap = false;
  bool headers_too_large = false;  // past kMaxHeaderBytes
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* r = static_cast<Response*>(user);
  size_t n = size * count;
  if (r->received + n > r->cap) {
    r->over_cap = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  r->received += n;
  r->body.append(data, n);
  return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* r = static_cast<Response*>(user);
  size_t n = size * count;
  if (r->received + n > r->cap) {
    r->over_cap = true;
    return 0;
  }
  if (r->header_bytes + n > kMaxHeaderBytes) {
    r->headers_too_large = true;
    return 0;
  }
  r->received += n;
  r->header_bytes += n;
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after 100 Continue): start over
    r->headers.clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  r->headers.emplace_back(lower(line.substr(0, colon)), std::string(value));
  return n;
}

// ---- suspended fetches: one event loop for the process -------------------------------------
//
// A fetch made on a fiber (fiber::can_suspend(): a native-tier invocation the API runs on its
// fiber threads) does not block its thread: its easy handle joins one libcurl multi handle
// driven by this thread with the multi-socket API on epoll (its cost follows the sockets that
// are ready, not the number of fetches in flight: 10,000 waiting fetches cost nothing while they
// wait), and the fiber is woken when the transfer ends. Everything else about the fetch — the
// options, the address pinning, the callbacks, the limits and the error mapping — is the same
// code as the blocking path; the handle's callbacks just run on this thread meanwhile.
class FetchLoop {
 public:
  static FetchLoop& get() {
    // Never destroyed: a fetch may still be in flight while static destructors run at exit.
    static auto* loop = new FetchLoop();
    return *loop;
  }

  // Runs the transfer to its end, suspending the calling fiber until then.
  CURLcode perform(CURL* easy) {
    CURLcode rc = CURLE_OK;
    fiber::await([&](const fiber::WakerPtr& waker) {
      {
        std::lock_guard lk(mu_);
        incoming_.push_back(Pending{easy, &rc, waker});
      }
      uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
    });
    return rc;
  }

 private:
  struct Pending {
    CURL* easy;
    CURLcode* rc;  // on the waiting fiber's stack; written before the wake-up
    fiber::WakerPtr waker;
  };

  FetchLoop() {
    multi_ = curl_multi_init();
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    std::thread([this] { run(); }).detach();
  }

  static int on_socket(CURL*, curl_socket_t s, int what, void* self, void*) {
    int ep = static_cast<FetchLoop*>(self)->epoll_fd_;
    if (what == CURL_POLL_REMOVE) {
      ::epoll_ctl(ep, EPOLL_CTL_DEL, s, nullptr);
      return 0;
    }
    epoll_event ev{};
    ev.events = (what & CURL_POLL_IN ? uint32_t{EPOLLIN} : 0u) |
                (what & CURL_POLL_OUT ? uint32_t{EPOLLOUT} : 0u);
    ev.data.fd = s;
    if (::epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT) {
      ::epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    }
    return 0;
  }

  static int on_timer(CURLM*, long timeout_ms, void* self) {
    auto* loop = static_cast<FetchLoop*>(self);
    loop->timer_ = timeout_ms < 0
                       ? std::nullopt
                       : std::optional(Clock::now() + std::chrono::milliseconds(timeout_ms));
    return 0;
  }

  void finish_done() {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      CURL* easy = m->easy_handle;
      CURLcode result = m->data.result;
      curl_multi_remove_handle(multi_, easy);  // invalidates m
      auto it = active_.find(easy);
      if (it == active_.end()) continue;
      Pending p = std::move(it->second);
      active_.erase(it);
      *p.rc = result;
      p.waker->wake();
    }
  }

  void run() {
    std::vector<epoll_event> events(1024);
    int running = 0;
    for (;;) {
      int timeout = -1;
      if (timer_) {
        auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(*timer_ - Clock::now()).count();
        timeout = static_cast<int>(std::clamp<int64_t>(ms, 0, 1000));
      }
      int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout);
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == wake_fd_) {
          uint64_t count;
          [[maybe_unused]] ssize_t r = ::read(wake_fd_, &count, sizeof count);
          continue;
        }
        int flags = (events[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                    (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                    (events[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(multi_, fd, flags, &running);
      }
      std::vector<Pending> in;
      {
        std::lock_guard lk(mu_);
        in.swap(incoming_);
      }
      for (Pending& p : in) {
        if (curl_multi_add_handle(multi_, p.easy) != CURLM_OK) {
          *p.rc = CURLE_FAILED_INIT;
          p.waker->wake();
          continue;
        }
        active_.emplace(p.easy, std::move(p));
      }
      if (timer_ && Clock::now() >= *timer_) {
        timer_.reset();
        curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
      }
      finish_done();
    }
  }

  CURLM* multi_ = nullptr;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::optional<Clock::time_point> timer_;  // when curl wants CURL_SOCKET_TIMEOUT
  std::unordered_map<CURL*, Pending> active_;
  std::mutex mu_;
  std::vector<Pending> incoming_;
};

// The blocking transfer, or the suspended one on a fiber.
CURLcode perform(CURL* easy) {
  if (!fiber::can_suspend()) return curl_easy_perform(easy);
  return FetchLoop::get().perform(easy);
}

}  // namespace

void init_http() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Expected<std::string> http_fetch(const HostConfig& cfg, const std::vector<std::string>& allow,
                                 std::string_view request_json, Clock::time_point deadline) {
  init_http();
  Request req = NIL_TRY(parse_request(request_json));
  auto fetch_deadline =
      std::min(deadline, Clock::now() + std::chrono::milliseconds(cfg.http_timeout_ms));
  auto timeout_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(fetch_deadline - Clock::now()).count();
  if (timeout_ms <= 0)
    return err(ErrorCode::kTimeout, "no time is left before the function's deadline");

  UrlPtr url(curl_url());
  if (!url) return make_error(ErrorCode::kFetchFailed, "out of memory");
  if (curl_url_set(url.get(), CURLUPART_URL, req.url.c_str(), 0) != CURLUE_OK) {
    return err(ErrorCode::kInvalidRequest, "url is not a valid absolute URL");
  }

  for (int hop = 0;; ++hop) {
    Target target = NIL_TRY(parse_target(url.get()));
    std::string host_port = target.host + ":" + std::to_string(target.port);
    if (!host_allowed(allow, target.host, target.port)) {
      return err(ErrorCode::kHostNotAllowed, host_port +
                                                 " is not on this function's HTTP allow-list" +
                                                 std::string(hop ? " (redirect)" : ""));
    }
    std::string address = NIL_TRY(resolve_checked(target, cfg.http_allow_private));
    auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(fetch_deadline - Clock::now())
            .count();
    if (remaining <= 0) {
      return err(ErrorCode::kTimeout,
                 "the fetch took longer than " + std::to_string(timeout_ms) + " ms");
    }

    std::unique_ptr<CURL, CurlCloser> curl(curl_easy_init());
    if (!curl) return make_error(ErrorCode::kFetchFailed, "curl_easy_init failed");
    CURL* c = curl.get();
    char errbuf[CURL_ERROR_SIZE] = {};
    // Pin the checked address: curl never asks DNS again for this name (no rebinding).
    std::string bare_host = target.host;
    SlistPtr resolve;
    in6_addr scratch{};
    bool literal = inet_pton(AF_INET, bare_host.c_str(), &scratch) == 1 || bare_host.front() == '[';
    if (!literal) {
      std::string entry = host_port;
      entry += ':';
      entry += address;
      resolve.reset(curl_slist_append(nullptr, entry.c_str()));
    }
    SlistPtr headers;
    for (const auto& [name, value] : req.headers) {
      std::string line = name;
      line += value.empty() ? ";" : ": ";
      line += value;
      headers.reset(curl_slist_append(headers.release(), line.c_str()));
    }
    headers.reset(curl_slist_append(headers.release(), "Expect:"));

    Response resp;
    resp.cap = cfg.http_max_response_bytes;
    curl_easy_setopt(c, CURLOPT_URL, target.url.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);  // redirects are followed below, checked
    curl_easy_setopt(c, CURLOPT_PROXY, "");           // never a proxy from the environment
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(remaining));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(remaining));
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(resp.cap));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "nil-http-fetch/1");
    if (resolve) curl_easy_setopt(c, CURLOPT_RESOLVE, resolve.get());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &resp);
    if (req.method == "HEAD") {
      curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
      if (req.body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body->size()));
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body->data());
      }
      if (req.method != "GET" || req.body) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      }
    }

    CURLcode rc = perform(c);
    if (rc != CURLE_OK) {
      if (resp.headers_too_large || curl_headers_too_large(rc, errbuf, !resp.body.empty())) {
        return err(ErrorCode::kResponseTooLarge, "the response headers from " + host_port +
                                                     " exceed the limit of " +
                                                     std::to_string(kMaxHeaderBytes) + " bytes");
      }
      if (resp.over_cap || rc == CURLE_FILESIZE_EXCEEDED) {
        return err(ErrorCode::kResponseTooLarge, "the response from " + host_port + " exceeds " +
                                                     std::to_string(resp.cap) + " bytes");
      }
      if (rc == CURLE_OPERATION_TIMEDOUT) {
        return err(ErrorCode::kTimeout,
                   "the fetch took longer than " + std::to_string(timeout_ms) + " ms");
      }
      return err(ErrorCode::kFetchFailed,
                 std::string(curl_easy_strerror(rc)) +
                     (errbuf[0] ? ": " + std::string(errbuf) : std::string()));
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);

    std::string location;
    for (const auto& [name, value] : resp.headers) {
      if (name == "location") location = value;
    }
    bool redirect =
        (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) &&
        !location.empty();
    if (redirect) {
      if (hop >= cfg.http_max_redirects) {
        return err(ErrorCode::kTooManyRedirects,
                   "more than " + std::to_string(cfg.http_max_redirects) + " redirects");
      }
      // Relative locations resolve against the current URL.
      if (curl_url_set(url.get(), CURLUPART_URL, location.c_str(), 0) != CURLUE_OK) {
        return err(ErrorCode::kFetchFailed, "the redirect location is not a valid URL");
      }
      if (status == 303 || ((status == 301 || status == 302) && req.method == "POST")) {
        if (req.method != "HEAD") req.method = "GET";
        req.body.reset();
      }
      Target next = NIL_TRY(parse_target(url.get()));
      // Credentials do not follow to another origin: another host, but also another port (another
      // server) or scheme (https → http would send them in clear text).
      if (next.host != target.host || next.port != target.port || next.scheme != target.scheme) {
        std::erase_if(req.headers, [](const auto& h) {
          std::string n = lower(h.first);
          return n == "authorization" || n == "cookie" || n == "proxy-authorization";
        });
      }
      continue;
    }

    boost::json::object answer;
    answer["status"] = status;
    boost::json::object hdrs;
    for (const auto& [name, value] : resp.headers) {
      auto it = hdrs.find(name);
      if (it == hdrs.end()) {
        hdrs[name] = value;
      } else {
        std::string joined = std::string(it->value().as_string()) + ", " + value;
        it->value() = joined;
      }
    }
    answer["headers"] = std::move(hdrs);
    if (valid_utf8(resp.body)) {
      answer["body"] = resp.body;
    } else {
      answer["bodyBase64"] = base64(resp.body);
    }
    return boost::json::serialize(answer);
  }
}

}  // namespace nil::host
