// Supervisor: what `herd up` does with its `herd serve` children, as a process manager would.
//
// - Every child's output is printed line by line, prefixed with its server's name.
// - A child is up once it prints its banner ("herd serve NAME: listening on ..."). One that ends
//   before it was ever up could not start at all (a taken port, a bad option): the whole herd is
//   stopped and the run fails, at once.
// - A child that dies later is reported with its cause and started again after a delay: 1 s,
//   doubling to 30 s, back to 1 s once it had been up for a minute. With restarts off, it is
//   only reported.
// - SIGINT or SIGTERM stops every running child (SIGTERM, then SIGKILL after 5 s).
// The exit status: 0 when every child ended because it was asked to and none ever died; 1
// otherwise (a child that could not start, died, or did not stop cleanly).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>
#include <vector>

namespace herd::cli {

struct ServerCommand {
    std::string name;
    std::vector<std::string> args;  // args[0]: the executable
};

struct SupervisorOptions {
    bool restart = true;
    std::chrono::milliseconds backoff_initial{1000};
    std::chrono::milliseconds backoff_max{30000};
    std::chrono::milliseconds healthy_after{60000};  // up this long: the backoff starts again
    std::chrono::milliseconds stop_grace{5000};
};

// Runs the children until they have all ended; the exit status.
int supervise(const std::vector<ServerCommand>& servers, const SupervisorOptions& options);

}  // namespace herd::cli
