// Logging to stderr in one readable line per event:
//   2026-11-26T10:00:00.123Z INFO  [worker-1] message
// Logging is for the control plane and for rare data-plane events (connect errors,
// protocol errors); it is never called per statement.
#pragma once

#include <fmt/format.h>
#include <cstdio>
#include <string>
#include <string_view>

namespace sluice::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLevel(Level level);
Level GetLevel();
bool ParseLevel(std::string_view name, Level* out);
// Names the calling thread in log lines ("main", "worker-0", "monitor").
void SetThreadName(std::string name);
void Write(Level level, std::string_view message);
// SIGHUP: reopens the log destination (a no-op for stderr).
void Reopen();

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
