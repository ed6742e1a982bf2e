// nild's privilege drop (docs/operations.md, "Running as a user").
//
// nild refuses to run as root unless told which user to become (--user) or told that root is
// intended (--allow-root, for development machines and CI). With --user it starts as root, opens
// what needs root (the listening socket, which may be a port below 1024; the data dir), hands
// the data dir to the user (chown -R, symlinks not followed), and then drops to the user for
// good: supplementary groups cleared (setgroups), then setgid, then setuid — in that order,
// since after setuid it could no longer change its groups. glibc applies setuid/setgid/setgroups
// to every thread of the process, so threads started before the drop lose root with it.
//
// Called from nild's main thread only, at start-up.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/expected.h"

namespace nil::nild {

struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The refusal message when run as root without --user (printed on stderr, exit status 2).
inline constexpr const char* kRootRefusal =
    "nild: refusing to run as root. Pass --user NAME to drop to that user once the port and the "
    "data dir are open (e.g. --user nil), or --allow-root on a development machine "
    "(docs/operations.md).";

// The account `name` (a user name or a numeric uid). Error code: unknown_user.
Expected<RunAs> find_user(const std::string& name);

// chown -R every existing path to the user (lchown: symlinks themselves, never their targets).
Expected<void> hand_over(const std::vector<std::filesystem::path>& paths, const RunAs& user);

// setgroups({gid}), setgid, setuid; then checks that root cannot be regained.
Expected<void> drop_to(const RunAs& user);

}  // namespace nil::nild
