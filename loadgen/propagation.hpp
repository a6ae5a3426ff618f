// `herd bench propagation`: how long an update takes to reach every server.
//
// Real mode: starts the herd (default the Fall 2017 herd; any herd file) as `herd serve`
// processes on this machine with event traces, sends IAMATs at one server one after another,
// stops the herd, and reads from the traces when every other server applied each update
// (CLOCK_MONOTONIC, shared by processes on one host). Sim mode (--sim) replays the same herd and
// schedule in the simulator. Both print one table: p50/p90/p99/max per hop distance.
#pragma once

#include <string>

#include "core/herd_file.hpp"

namespace herd::loadgen {

struct PropagationOptions {
    std::string origin;  // the server that receives the IAMATs
    int count = 200;
    int interval_ms = 5;
    std::string json;  // also write the table as JSON here, when set
    bool sim = false;
    std::string sim_latency = "50us";
    bool log_lines = true;
};

// Runs the measurement on `herd` (real: its servers from `herd_file`) and prints the table.
// Returns the exit status: 0, 1 when the herd did not come up, 2 for a bad simulator latency.
int run_propagation(const PropagationOptions& options, const HerdSpec& herd,
                    const std::string& herd_file);

}  // namespace herd::loadgen
