// Child processes, the one way herd starts and stops them (`herd up`, `herd bench
// propagation`, `herd replay`): spawned with their output to a file or a pipe, stopped by PID
// (SIGTERM, a grace period, then SIGKILL) and always reaped.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace herd::net {

struct Child {
    pid_t pid = -1;
    int output_fd = -1;  // the read end of the child's stdout+stderr, when asked for a pipe
};

// Starts `args` (args[0]: the executable's path). Its stdout and stderr go to `output_file`
// (created or truncated), or, when that is empty, into a pipe returned in output_fd. It inherits
// no other descriptor.
Result<Child> spawn_child(const std::vector<std::string>& args, const std::string& output_file);

// Sends SIGTERM, waits up to `grace` for the child to exit, then SIGKILLs it; reaps it either way.
// Returns its wait status (as waitpid gives it), or -1 if it was not our child.
int stop_child(pid_t pid, std::chrono::milliseconds grace);

// Reaps `pid` if it has exited; its wait status then, nothing while it runs.
std::optional<int> reap_child(pid_t pid);

// Raises this process's soft limit on open files towards `wanted` (never past the hard limit)
// and returns the soft limit then; UINT64_MAX when the limit cannot be read.
std::uint64_t raise_open_file_limit(std::uint64_t wanted);

}  // namespace herd::net
