#include "cli/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "cli/errors.h"

namespace nil::cli {

namespace fs = std::filesystem;

fs::path config_path() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg && *xdg) return fs::path(xdg) / "nil" / "config.toml";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : ".") / ".config" / "nil" / "config.toml";
}

Expected<Login> load_login() {
  fs::path p = config_path();
  std::error_code ec;
  if (!fs::exists(p, ec)) return Login{};
  Login login;
  try {
    toml::table t = toml::parse_file(p.string());
    login.url = t["url"].value_or(std::string());
    login.api_key = t["api_key"].value_or(std::string());
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    return failure(p.string() + ": " + std::string(e.description()) + " (" + where.str() + ")");
  }
  return login;
}

Expected<void> save_login(const Login& login) {
  fs::path p = config_path();
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  if (ec) return failure("cannot create " + p.parent_path().string() + ": " + ec.message());
  ::chmod(p.parent_path().c_str(), 0700);
  toml::table t;
  t.insert("url", login.url);
  t.insert("api_key", login.api_key);
  std::ostringstream text;
  text << "# Written by `nil login`. Holds a credential: keep it mode 0600.\n" << t << "\n";
  std::string body = text.str();

  // Created 0600 from the start (never briefly world-readable), then renamed over the old file.
  fs::path tmp = p;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return failure("cannot write " + tmp.string() + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  size_t off = 0;
  while (off < body.size()) {
    ssize_t n = ::write(fd, body.data() + off, body.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      return failure("cannot write " + tmp.string() + ": " + std::strerror(err));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    return failure("cannot write " + tmp.string() + ": " + std::strerror(errno));
  if (::rename(tmp.c_str(), p.c_str()) != 0)
    return failure("cannot write " + p.string() + ": " + std::strerror(errno));
  return {};
}

Expected<std::string> normalize_url(std::string url) {
  while (!url.empty() && (url.back() == '/' || url.back() == ' ')) url.pop_back();
  if (!(url.starts_with("http://") || url.starts_with("https://")) || url.size() <= 8) {
    return usage_error("invalid server URL \"" + url + "\": give http://HOST:PORT or https://HOST");
  }
  return url;
}

Expected<Login> resolve_login(const std::optional<std::string>& url_flag) {
  Login stored = NIL_TRY(load_login());
  Login out;
  const char* env_url = std::getenv("NIL_URL");
  const char* env_key = std::getenv("NIL_API_KEY");
  if (url_flag) {
    out.url = *url_flag;
  } else if (env_url && *env_url) {
    out.url = env_url;
  } else if (!stored.url.empty()) {
    out.url = stored.url;
  } else {
    out.url = kDefaultUrl;
  }
  out.url = NIL_TRY(normalize_url(out.url));
  out.api_key = env_key && *env_key ? std::string(env_key) : stored.api_key;
  return out;
}

}  // namespace nil::cli
