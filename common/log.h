// Logging in one line per event, through spdlog, to stderr (journald under systemd) or a
// file: text "2026-11-26T10:00:00.123Z INFO  [worker-1] message" or, with log_format =
// "json", {"time":"…","level":"info","thread":"worker-1","msg":"…"}. Newlines and other
// control characters in messages are escaped, so one event is always one line.
// Logging is for the control plane and for rare data-plane events (connect errors,
// protocol errors); it is never called per statement.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

void SetLevel(Level level);
Level GetLevel();
bool ParseLevel(std::string_view name, Level* out);
bool ParseFormat(std::string_view name, Format* out);
// Text (default) or JSON lines from now on.
void SetFormat(Format format);
// Logs to PATH (appending) instead of stderr; "" goes back to stderr.
Status SetFile(const std::string& path);
// SIGHUP: reopens the log file (after logrotate moved it); a no-op for stderr.
void Reopen();
// Names the calling thread in log lines ("main", "worker-0", "monitor").
void SetThreadName(std::string name);
void Write(Level level, std::string_view message);

// MESSAGE with control characters escaped (\n, \r, \t, \xNN) for the text format.
std::string EscapeText(std::string_view message);
// MESSAGE as the contents of a JSON string (without the quotes).
std::string EscapeJson(std::string_view message);

// At most `per_second` events pass per wall-clock second; the rest are counted. Lock-free:
// for callbacks that may fire on any thread at any rate (libevent's warnings when accept()
// fails with EMFILE). Allow() returns whether to log, and in *suppressed how many were
// dropped in the windows before this one (to log once, with the count).
class RateLimiter {
 public:
  explicit RateLimiter(uint32_t per_second) : per_second_(per_second) {}
  bool Allow(int64_t now_s, uint64_t* suppressed);

 private:
  const uint32_t per_second_;
  std::atomic<int64_t> window_{0};
  std::atomic<uint32_t> in_window_{0};
  std::atomic<uint64_t> dropped_{0};
};

template <typename... Args>
void Debug(fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kDebug)
    Write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Info(fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kInfo) Write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Warn(fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kWarn) Write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Error(fmt::format_string<Args...> f, Args&&... args) {
  Write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace sluice::log
