#include "health/command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/clock.h"

extern char** environ;

namespace sluice::health {
namespace {

constexpr size_t kMaxOutput = 1024;

}  // namespace

Result<CommandOutcome> RunCommand(const std::string& command, const std::vector<std::string>& args,
                                  int timeout_ms, const std::atomic<bool>* cancel) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Internal(fmt::format("pipe: {}", std::strerror(errno)));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: a timeout stops all it started
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);  // main blocks SIGTERM/SIGINT for sigwait()
  sigset_t dfl;
  sigemptyset(&dfl);
  sigaddset(&dfl, SIGPIPE);
  sigaddset(&dfl, SIGTERM);
  sigaddset(&dfl, SIGINT);
  posix_spawnattr_setsigdefault(&attr, &dfl);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> argv_s = {"/bin/sh", "-c", command + " \"$@\"", "sluice"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int64_t start = MonotonicMs();
  int rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return Internal(fmt::format("cannot start /bin/sh: {}", std::strerror(rc)));
  }
  CommandOutcome out;
  int status = 0;
  bool exited = false, pipe_open = true;
  int64_t deadline = start + timeout_ms;
  int64_t kill_at = -1;
  while (!exited) {
    if (pipe_open) {
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        char buf[4096];
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) {
          pipe_open = false;
        } else if (out.output.size() < kMaxOutput) {
          out.output.append(buf, std::min(static_cast<size_t>(n), kMaxOutput - out.output.size()));
        }
      }
    } else {
      ::usleep(20'000);
    }
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) exited = true;
    int64_t now = MonotonicMs();
    bool cancelled = cancel && cancel->load();
    if (!exited && !out.timed_out && (now >= deadline || cancelled)) {
      out.timed_out = true;
      ::kill(-pid, SIGTERM);
      kill_at = now + 1000;
    } else if (!exited && kill_at > 0 && now >= kill_at) {
      ::kill(-pid, SIGKILL);
      kill_at = -1;
    }
  }
  ::close(fds[0]);
  out.took_ms = MonotonicMs() - start;
  if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  while (!out.output.empty() && (out.output.back() == '\n' || out.output.back() == ' '))
    out.output.pop_back();
  return out;
}

}  // namespace sluice::health
