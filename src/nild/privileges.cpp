#include "nild/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace nil::nild {

namespace fs = std::filesystem;

namespace {

Error failed(const std::string& what) {
  return make_error(ErrorCode::kPrivilegeDropFailed, what + ": " + std::strerror(errno));
}

}  // namespace

Expected<RunAs> find_user(const std::string& name) {
  std::vector<char> buf(16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc == 0 && found == nullptr && !name.empty() &&
      name.find_first_not_of("0123456789") == std::string::npos) {
    rc = ::getpwuid_r(static_cast<uid_t>(std::strtoul(name.c_str(), nullptr, 10)), &pw, buf.data(),
                      buf.size(), &found);
  }
  if (rc != 0 || found == nullptr) {
    return make_error(ErrorCode::kUnknownUser, "no such user: " + name);
  }
  return RunAs{found->pw_name, found->pw_uid, found->pw_gid};
}

Expected<void> hand_over(const std::vector<fs::path>& paths, const RunAs& user) {
  for (const auto& root : paths) {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(root, ec))) continue;
    if (::lchown(root.c_str(), user.uid, user.gid) != 0) return failed("chown " + root.string());
    if (!fs::is_directory(fs::symlink_status(root, ec))) continue;
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (::lchown(it->path().c_str(), user.uid, user.gid) != 0) {
        return failed("chown " + it->path().string());
      }
    }
    if (ec) {
      return make_error(ErrorCode::kPrivilegeDropFailed,
                        "walking " + root.string() + ": " + ec.message());
    }
  }
  return {};
}

Expected<void> drop_to(const RunAs& user) {
  gid_t groups[] = {user.gid};
  if (::setgroups(1, groups) != 0) return failed("setgroups");
  if (::setgid(user.gid) != 0) return failed("setgid");
  if (::setuid(user.uid) != 0) return failed("setuid");
  // Paranoia: a partial drop (e.g. a saved uid of 0 left behind) must not go unnoticed.
  if (user.uid != 0 && (::setuid(0) == 0 || ::geteuid() == 0)) {
    errno = EPERM;
    return failed("root could be regained after setuid");
  }
  if (::getuid() != user.uid || ::getgid() != user.gid) {
    errno = EPERM;
    return failed("uid/gid did not change");
  }
  return {};
}

}  // namespace nil::nild
