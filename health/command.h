// RunBounded: runs an operator's command (fence_command) from the control plane's thread,
// bounded in time and in the output it keeps.
#pragma once

#include <string>
#include <vector>

namespace sluice::health {

// Runs ARGV (argv[0] looked up in PATH) with stdin from /dev/null; waits at most TIMEOUT_MS,
// then kills it (SIGKILL to the process group it was started in, by its PID). Returns its exit
// status, 128+N when killed by signal N, or -1 when it did not finish or could not start. OUTPUT
// gets the first 1 KiB of its stdout and stderr.
int RunBounded(const std::vector<std::string>& argv, int timeout_ms, std::string* output);

}  // namespace sluice::health
