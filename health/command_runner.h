// command_runner: runs an operator's hook command (scale_out_command, scale_in_command) with
// positional arguments, bounded in time, and reports its exit and the start of its output.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::health {

struct CommandOutcome {
  int exit_code = -1;  // -1: killed (timeout) or not started
  bool timed_out = false;
  std::string output;  // stdout and stderr, the first 1 KiB
  int64_t took_ms = 0;
};

// Runs `/bin/sh -c 'COMMAND "$@"' sluice ARGS...` in a process group of its own, so the
// arguments reach the command unquoted and unsplit. Stdin is /dev/null. After TIMEOUT_MS the
// group gets SIGTERM, one second later SIGKILL. Returns once the shell exited (background
// children that keep the output pipe open do not hold it). CANCEL (may be null) set to true
// ends it early as a timeout does (sluice is stopping). An error only when the command could
// not be started.
Result<CommandOutcome> RunCommand(const std::string& command, const std::vector<std::string>& args,
                                  int timeout_ms, const std::atomic<bool>* cancel = nullptr);

}  // namespace sluice::health
