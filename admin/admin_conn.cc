#include "admin/admin_conn.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "common/clock.h"

namespace sluice {
namespace {

constexpr int kPollMs = 200;

}  // namespace

bool AdminWriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool AdminReadAll(int fd, char* buf, size_t len, int64_t deadline_ms) {
  size_t off = 0;
  while (off < len) {
    if (deadline_ms) {
      int64_t left = deadline_ms - MonotonicMs();
      if (left <= 0) return false;
      pollfd p{fd, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, kPollMs)));
      if (r < 0 && errno != EINTR) return false;
      if (r <= 0) continue;
    }
    ssize_t n = ::recv(fd, buf + off, len - off, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

void AdminLinger(int fd) {
  ::shutdown(fd, SHUT_WR);
  int64_t deadline = MonotonicMs() + kLingerMs;
  char buf[4096];
  for (size_t dropped = 0; dropped < kLingerBytes;) {
    int64_t left = deadline - MonotonicMs();
    if (left <= 0) return;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client closed too
    dropped += static_cast<size_t>(n);
  }
}

}  // namespace sluice
