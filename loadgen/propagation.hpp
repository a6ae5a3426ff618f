// `herd bench propagation`: how long an update takes to reach every server.
//
// Real mode: starts the herd (default the Fall 2017 herd; any herd file) as `herd serve`
// processes on this machine with event traces, sends IAMATs at one server one after another,
// stops the herd, and reads from the traces when every other server applied each update
// (CLOCK_MONOTONIC, shared by processes on one host); then the same schedule through a bare
// relay (loadgen/bare_relay.hpp) for the ratio `hop/bare`. Sim mode (--sim) replays the same herd
// and schedule in the simulator. Both give one table: p50/p90/p99/max per hop distance.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/herd_file.hpp"
#include "sim/samples.hpp"

namespace herd::loadgen {

struct PropagationOptions {
    std::string origin;  // the server that receives the IAMATs
    int count = 200;
    int interval_ms = 5;
    bool sim = false;
    std::string sim_latency = "50us";
    bool log_lines = true;
    std::string
        secret_file;   // real mode: TLS peer links keyed by this herd secret (and the relay's)
    bool bare = true;  // real mode: also measure the bare relay (loadgen/bare_relay.hpp)
};

// What one measurement found.
struct Propagation {
    std::string mode;  // "real herd on this machine", or the simulator's and its latency
    std::map<int, sim::Samples> by_hops;  // hop distance -> delays, ns (sealed)
    std::uint64_t updates = 0;            // updates the origin applied
    bool passed = true;              // the simulator's run held its expectations (a real run: true)
    std::vector<std::int64_t> bare;  // the bare relay's hops, sorted (ns); empty if not measured
};

// Runs the measurement on `herd` (real: its servers from `herd_file`). Returns what it found, or
// the Error when it could not be made: exit 1 when the herd did not come up or nothing was
// measured, 2 for a bad simulator latency.
Result<Propagation> measure_propagation(const PropagationOptions& options, const HerdSpec& herd,
                                        const std::string& herd_file);
// The measurement as `herd bench propagation` prints it (a header and the table by hops), and
// as its --json file.
std::string propagation_report(const PropagationOptions& options, const HerdSpec& herd,
                               const Propagation& p);
// The herd's one-hop p50 over the bare relay's p50; nothing when either was not measured.
std::optional<double> hop_over_bare(const Propagation& p);
std::string propagation_json(const PropagationOptions& options, const Propagation& p);

}  // namespace herd::loadgen
