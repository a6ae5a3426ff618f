// The bare relay of `herd bench propagation`: the hop a herd's update makes (a line read from a
// client's connection, forwarded to another process over loopback TCP, with TLS when the herd's
// peer links have it) with no herd work at all: no parsing, store, flood rule, log or trace. It
// puts the herd's hop in proportion: `hop/bare` is the herd's one-hop p50 over the relay's.
//
// Two processes (`herd bench relay entry|exit`, started by the bench): the entry takes one line
// per client connection, stamps it (CLOCK_MONOTONIC, as the herd's traces do) and forwards it
// on its link; the exit stamps each line as it reads it. Each writes "LINE NS" per line to its
// stamps file when stopped (SIGTERM).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace herd::loadgen {

struct RelayOptions {
    bool exit = false;        // the end that accepts the link
    std::string port_file;    // the listening port is written here once it listens
    int to_port = 0;          // the entry: the exit's port
    std::string secret_file;  // TLS on the link (keyed by the herd secret) when not empty
    std::string stamps_file;
};

// Runs one end until SIGTERM; its exit status (1 with a message on stderr when it cannot run).
int run_relay(const RelayOptions& o);

// Starts both ends as children in `dir`, sends `count` lines `interval_ms` apart at the entry,
// and returns each line's delay from the entry's stamp to the exit's, sorted (ns); an Error
// (exit 1) when the relay does not come up or measures nothing.
Result<std::vector<std::int64_t>> measure_bare_hop(const std::string& dir,
                                                   const std::string& secret_file, int count,
                                                   int interval_ms);

}  // namespace herd::loadgen
