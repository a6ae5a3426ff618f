// `herd bench propagation`: how long an update takes to reach every server.
//
// Real mode: starts the herd (default the Fall 2017 herd; any herd file) as `herd serve`
// processes on this machine with event traces, sends IAMATs at one server one after another,
// stops the herd, and reads from the traces when every other server applied each update
// (CLOCK_MONOTONIC, shared by processes on one host). Sim mode (--sim) replays the same herd and
// schedule in the simulator. Both print one table: p50/p90/p99/max per hop distance.
#pragma once

namespace herd::bench {

int propagation_command(int argc, char** argv);

}  // namespace herd::bench
