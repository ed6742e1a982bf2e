/* Runs inside the compile sandbox (tests/compile/sandbox_seccomp_test.cpp): tries syscalls the
 * seccomp filter denies and a few it allows, and prints NAME=RESULT per line, RESULT being "ok"
 * or the errno's name. Linked statically and without sanitizers: the sandbox has no /proc and
 * only this file's directory bound. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char* name, long rc) {
  if (rc >= 0) {
    printf("%s=ok\n", name);
  } else {
    printf("%s=%s\n", name, errno == EPERM ? "EPERM" : errno == ENOSYS ? "ENOSYS" : strerror(errno));
  }
}

int main(void) {
  errno = 0;
  report("ptrace", ptrace(PTRACE_TRACEME, 0, 0, 0));
  report("unshare_user", unshare(CLONE_NEWUSER));
  report("unshare_net", unshare(CLONE_NEWNET));
  report("socket_inet", socket(AF_INET, SOCK_STREAM, 0));
  report("socket_inet6", socket(AF_INET6, SOCK_DGRAM, 0));
  report("socket_netlink", socket(AF_NETLINK, SOCK_RAW, 0));
  report("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0));
  report("socket_unix", socket(AF_UNIX, SOCK_STREAM, 0));
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int st = 0;
  report("fork", pid < 0 ? -1 : waitpid(pid, &st, 0));
  fflush(stdout);
  return 0;
}
