// `herd bench load HOST:PORT`: K connections with W requests in flight each, for T seconds, an
// IAMAT/WHATSAT mix; every reply is verified; replies per second and latency percentiles.
// It speaks only the client protocol, so it works against any server that does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace herd::loadgen {

struct LoadOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 12000;
    int connections = 64;
    int in_flight = 16;
    double seconds = 5.0;
    int whatsat_percent = 0;
    std::uint64_t requests_max = 0;  // 0: no limit but time
    std::uint64_t clients_per_connection = 1000;
    std::string json_path;
    // Every request and its reply as a client history (design §11, for `herd check`); empty:
    // none. Each request is a session of its own (a connection's requests are pipelined, so
    // they overlap); times are nanoseconds since the run began, on this host's monotonic clock.
    std::string history_path;
};

struct LoadResult {
    std::uint64_t replies = 0;
    std::uint64_t errors = 0;  // wrong or unexpected replies
    double seconds = 0;
    std::int64_t p50_ns = 0, p90_ns = 0, p99_ns = 0, max_ns = 0;
    std::string first_error;
};

LoadResult run_load(const LoadOptions& options);
// Raises this process's open-file limit to its hard limit if needed for `connections`
// connections (twice as many with the ceiling's bare server in the process); the Error (exit 2:
// fewer connections, or a higher limit) when even that is too few.
std::optional<Error> fit_descriptors(const LoadOptions& options, bool ceiling);
double replies_per_second(const LoadResult& r);

// `--ceiling`: the same load against a bare line server (loadgen/echo_server.hpp) in this process
// and against the target, in turn, `rounds` times; the ratios say what the target's own work
// costs, measured in one run on one machine whatever else it is doing.
struct CeilingRun {
    std::vector<LoadResult> target, ceiling;                         // one of each per round
    double target_median = 0, ceiling_median = 0, ratio_median = 0;  // replies/s; target÷ceiling
    std::string error;                                               // the run could not be made
    bool ok() const;  // every round's replies verified, none missing
};
CeilingRun run_with_ceiling(const LoadOptions& options, int rounds);
std::string ceiling_report(const LoadOptions& options, const CeilingRun& run);
std::string ceiling_json(const LoadOptions& options, const CeilingRun& run);
// The result as printed by `herd bench load`, and as its --json file.
std::string load_report(const LoadOptions& options, const LoadResult& r);
std::string load_json(const LoadOptions& options, const LoadResult& r);

}  // namespace herd::loadgen
