#include "common/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <ctime>

namespace sluice::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
thread_local std::string t_name = "main";

const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO ";
    case Level::kWarn:
      return "WARN ";
    case Level::kError:
      return "ERROR";
  }
  return "?";
}
}  // namespace

void SetLevel(Level level) {
  g_level.store(level, std::memory_order_relaxed);
}
Level GetLevel() {
  return g_level.load(std::memory_order_relaxed);
}
void SetThreadName(std::string name) {
  t_name = std::move(name);
}

bool ParseLevel(std::string_view name, Level* out) {
  if (name == "debug")
    *out = Level::kDebug;
  else if (name == "info")
    *out = Level::kInfo;
  else if (name == "warn")
    *out = Level::kWarn;
  else if (name == "error")
    *out = Level::kError;
  else
    return false;
  return true;
}

void Reopen() {}

void Write(Level level, std::string_view message) {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char ts[32];
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  // One write(2) per line so lines from different threads never interleave.
  std::string line = fmt::format("{}.{:03d}Z {} [{}] {}\n", ts, static_cast<int>(tv.tv_usec / 1000),
                                 LevelName(level), t_name, message);
  ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  (void)n;
}

}  // namespace sluice::log
