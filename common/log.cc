#include "common/log.h"

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <memory>
#include <mutex>

namespace sluice::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{Format::kText};
thread_local std::string t_name = "main";

const char* TextLevel(Level l) {
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

const char* JsonLevel(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "?";
}

spdlog::level::level_enum SpdLevel(Level l) {
  switch (l) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

// One logger for the process. Its only sink is a dist_sink whose target (stderr or a file)
// SetFile and Reopen swap under the dist_sink's own lock, so writers never see a closed
// file. The pattern adds the UTC time; Write formats the rest (level, thread, escaping).
struct Sinks {
  std::shared_ptr<spdlog::sinks::dist_sink_mt> dist;
  std::shared_ptr<spdlog::logger> logger;
  std::mutex mu;  // path changes (SetFile, Reopen): control-plane calls only
  std::string path;
};

Sinks& Get() {
  static Sinks* s = [] {
    auto* out = new Sinks;
    out->dist = std::make_shared<spdlog::sinks::dist_sink_mt>();
    out->dist->add_sink(std::make_shared<spdlog::sinks::stderr_sink_mt>());
    out->logger = std::make_shared<spdlog::logger>("sluice", out->dist);
    out->logger->set_level(spdlog::level::trace);
    out->logger->flush_on(spdlog::level::trace);  // one event, one write: nothing waits
    return out;
  }();
  return *s;
}

// The pattern adds the UTC time; Write formats the rest. Applied again after a sink change
// (a dist_sink gives new sinks no formatter of their own).
void ApplyFormat(Sinks& s) {
  const char* pattern = g_format.load(std::memory_order_relaxed) == Format::kJson
                            ? "{\"time\":\"%Y-%m-%dT%H:%M:%S.%eZ\",%v"
                            : "%Y-%m-%dT%H:%M:%S.%eZ %v";
  s.logger->set_formatter(
      std::make_unique<spdlog::pattern_formatter>(pattern, spdlog::pattern_time_type::utc));
}

Sinks& Logger() {
  static Sinks* s = [] {
    Sinks* out = &Get();
    ApplyFormat(*out);
    return out;
  }();
  return *s;
}

}  // namespace

void SetLevel(Level level) {
  g_level.store(level, std::memory_order_relaxed);
}
Level GetLevel() {
  return g_level.load(std::memory_order_relaxed);
}
void SetFormat(Format format) {
  g_format.store(format, std::memory_order_relaxed);
  Sinks& s = Logger();
  std::lock_guard<std::mutex> lock(s.mu);
  ApplyFormat(s);
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

bool ParseFormat(std::string_view name, Format* out) {
  if (name == "text")
    *out = Format::kText;
  else if (name == "json")
    *out = Format::kJson;
  else
    return false;
  return true;
}

Status SetFile(const std::string& path) {
  Sinks& s = Logger();
  std::lock_guard<std::mutex> lock(s.mu);
  std::shared_ptr<spdlog::sinks::sink> sink;
  try {
    if (path.empty())
      sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    else
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, false);
  } catch (const spdlog::spdlog_ex& e) {
    return Unavailable(fmt::format("log file {}: {}", path, e.what()));
  }
  s.dist->set_sinks({sink});
  ApplyFormat(s);
  s.path = path;
  return Status::Ok();
}

void Reopen() {
  std::string path;
  {
    Sinks& s = Logger();
    std::lock_guard<std::mutex> lock(s.mu);
    path = s.path;
  }
  if (path.empty()) return;
  if (Status st = SetFile(path); !st.ok())
    Error("cannot reopen the log, still writing to the old file: {}", st.message());
}

std::string EscapeText(std::string_view m) {
  std::string out;
  out.reserve(m.size());
  for (unsigned char c : m) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  return out;
}

std::string EscapeJson(std::string_view m) {
  std::string out;
  out.reserve(m.size());
  for (unsigned char c : m) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

void Write(Level level, std::string_view message) {
  Sinks& s = Logger();
  if (g_format.load(std::memory_order_relaxed) == Format::kJson) {
    // The pattern puts {"time":"…", first.
    s.logger->log(SpdLevel(level), R"("level":"{}","thread":"{}","msg":"{}"}})", JsonLevel(level),
                  EscapeJson(t_name), EscapeJson(message));
  } else {
    s.logger->log(SpdLevel(level), "{} [{}] {}", TextLevel(level), t_name, EscapeText(message));
  }
}

bool RateLimiter::Allow(int64_t now_s, uint64_t* suppressed) {
  *suppressed = 0;
  int64_t w = window_.load(std::memory_order_relaxed);
  if (now_s != w && window_.compare_exchange_strong(w, now_s, std::memory_order_relaxed)) {
    in_window_.store(0, std::memory_order_relaxed);
    *suppressed = dropped_.exchange(0, std::memory_order_relaxed);
  }
  if (in_window_.fetch_add(1, std::memory_order_relaxed) < per_second_) return true;
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace sluice::log
