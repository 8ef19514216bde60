#include "health/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/clock.h"

extern char** environ;

namespace sluice::health {

namespace {
constexpr size_t kMaxOutput = 1024;
}

int RunBounded(const std::vector<std::string>& argv, int timeout_ms, std::string* output) {
  output->clear();
  if (argv.empty()) return -1;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Its own process group, so that the bound also ends what it started (sh -c '...').
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(fds[1]);
  if (rc != 0) {
    *output = std::string("cannot start: ") + strerror(rc);
    close(fds[0]);
    return -1;
  }
  int64_t deadline = MonotonicMs() + timeout_ms;
  bool open = true;
  int status = 0;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    int64_t left = deadline - MonotonicMs();
    if (left <= 0) {
      kill(-pid, SIGKILL);  // the group we made: the command and its children
      waitpid(pid, &status, 0);
      close(fds[0]);
      return -1;
    }
    if (open) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 50))) > 0) {
        char buf[512];
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n <= 0) {
          open = false;
        } else if (output->size() < kMaxOutput) {
          output->append(buf, std::min<size_t>(n, kMaxOutput - output->size()));
        }
      }
    } else {
      usleep(20'000);
    }
  }
  // What it wrote just before exiting.
  for (pollfd p{fds[0], POLLIN, 0}; open && output->size() < kMaxOutput && poll(&p, 1, 0) > 0;) {
    char buf[512];
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    output->append(buf, std::min<size_t>(n, kMaxOutput - output->size()));
  }
  close(fds[0]);
  while (!output->empty() && (output->back() == '\n' || output->back() == ' ')) output->pop_back();
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace sluice::health
