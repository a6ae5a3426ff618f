#include "netmode/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace herd::net {

Result<Child> spawn_child(const std::vector<std::string>& args, const std::string& output_file) {
    std::vector<char*> argv;
    for (const std::string& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    int fds[2] = {-1, -1};
    if (output_file.empty()) {
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            posix_spawn_file_actions_destroy(&actions);
            return Error{std::string("pipe: ") + std::strerror(errno)};
        }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    } else {
        posix_spawn_file_actions_addopen(&actions, 1, output_file.c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
    }
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    // Nothing else of ours reaches the child (listening sockets of a proxy in this process, say):
    // only stdin, stdout and stderr.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    Child child;
    const int status =
        posix_spawn(&child.pid, args[0].c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (fds[1] >= 0) ::close(fds[1]);
    if (status != 0) {
        if (fds[0] >= 0) ::close(fds[0]);
        return Error{"cannot start " + args[0] + ": " + std::strerror(status)};
    }
    child.output_fd = fds[0];
    return child;
}

std::optional<int> reap_child(pid_t pid) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return -1;
    return std::nullopt;
}

int stop_child(pid_t pid, std::chrono::milliseconds grace) {
    if (pid <= 0) return -1;
    if (auto status = reap_child(pid)) return *status;
    ::kill(pid, SIGTERM);
    const auto end = std::chrono::steady_clock::now() + grace;
    while (std::chrono::steady_clock::now() < end) {
        if (auto status = reap_child(pid)) return *status;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    return ::waitpid(pid, &status, 0) == pid ? status : -1;
}

std::uint64_t raise_open_file_limit(std::uint64_t wanted) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return UINT64_MAX;
    if (limit.rlim_cur < wanted && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, wanted);
        ::setrlimit(RLIMIT_NOFILE, &limit);
        ::getrlimit(RLIMIT_NOFILE, &limit);
    }
    return static_cast<std::uint64_t>(limit.rlim_cur);
}

}  // namespace herd::net
