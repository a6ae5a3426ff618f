// Replay: a scenario file against a real herd (`herd replay`), in wall-clock time from a common
// start. Every statement happens for real: latencies in fault proxies, partitions and cuts as
// proxy cuts, crash as SIGKILL, restart as a new process, clock offsets as each server's
// `--clock-offset`, Places latency and failures in a local stub, sends and workloads as real
// client connections. Expectations are checked by the simulator's own Checker against the
// servers' stores (read from their admin ports' /store) and the replies the clients read;
// propagation and the invariants come from the servers' record traces, read after the run.
// The result has the simulator's shape, so `herd replay` prints the same report.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "sim/scenario.hpp"
#include "sim/simulator.hpp"

namespace herd::replay {

// What one machine can replay faithfully.
inline constexpr std::size_t replay_servers_max = 40;
// IAMATs per second of all workloads together.
inline constexpr std::uint64_t replay_workload_rate_max = 5000;
// Workload clients (each a record in every store).
inline constexpr std::uint64_t replay_workload_clients_max = 100'000;
// Scenario time: a replay takes as long as the scenario says.
inline constexpr std::int64_t replay_length_max_ns = 600 * std::int64_t{1'000'000'000};

// The longest --late-tolerance: past it, "late" is a different verdict, not a slow machine.
inline constexpr Duration replay_late_tolerance_max = Duration::milliseconds(10'000);

struct ReplayOptions {
    std::string executable;  // the herd binary that runs the servers
    std::string folder;      // herd files, logs, traces; kept when `keep` (else removed)
    bool keep = false;
    std::string trace_dir;  // where to copy the servers' record traces (empty: nowhere)
    Duration skew_tolerance = Duration::milliseconds(5);
    // How long after its time an expectation that can only come to hold later (has, converged,
    // reply; not lacks) is looked at again before it fails: real hops cost more than the
    // simulator's latency, and a loaded machine delays them further. 0: one look, at its time.
    Duration late_tolerance = Duration::milliseconds(50);
    std::uint16_t base_port = 0;                   // 0: a random one in 20000-29999
    std::function<void(const std::string&)> note;  // progress notes (stderr)
    // Set (say by a SIGINT handler) to stop the run early: the herd is stopped, the folder
    // removed, and the result is an Error saying so.
    const std::atomic<bool>* interrupted = nullptr;
    // When set, the servers' applies go here as trace lines ("apply" events at scenario time,
    // as `herd sim --trace` writes them), for the HTML report.
    std::ostream* trace = nullptr;
    // When set, the clients' history (design §11; `--history`): every send's and workload's
    // request, with its reply's first line, on the run's steady clock from t0.
    std::ostream* history = nullptr;
};

// What one real hop costs on this machine besides its link latency: proxies, kernel, the server.
struct Calibration {
    sim::Scenario scenario;  // the one measured
    sim::SimResult result;
    Duration per_hop_p50;         // fitted over the hop distances (least squares through zero)
    Duration spread;              // a normal's sigma, from the one-hop p50 and p90
    std::string processing_line;  // "processing normal(...)": the line for a scenario
};

// Replays a built-in scenario (a line of `servers` with 1 ms links and `updates` updates from one
// end, one every 20 ms) and fits the per-hop cost the simulator's `processing` setting models.
Result<Calibration> calibrate(const ReplayOptions& options, int servers = 4, int updates = 150);

// Why this scenario cannot be replayed on one machine, or nothing.
std::optional<Error> replay_refusal(const sim::Scenario& scenario);

// Runs the scenario against real processes. An Error when the herd could not be set up.
Result<sim::SimResult> replay(const sim::Scenario& scenario, const ReplayOptions& options);

}  // namespace herd::replay
