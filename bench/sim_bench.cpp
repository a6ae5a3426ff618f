// Simulator speed: peer message deliveries per CPU-second on a 300-server random herd under a
// workload, and the cost per delivery as the run grows from about 10^4 to 10^7 deliveries.
// Each delivery is real work of the unchanged core: a text line framed, parsed, applied (or
// recognised as a duplicate) and flooded on.
#include <benchmark/benchmark.h>

#include <ctime>
#include <functional>
#include <queue>
#include <string>
#include <vector>

#include "core/prng.hpp"
#include "sim/simulator.hpp"

namespace {

herd::sim::Scenario random300(std::int64_t updates) {
    // 2000 IAMATs a second from 1000 clients; then 3 s for the last floods and a final check.
    const std::int64_t length_ms = updates / 2 + 1;
    const std::string text =
        "herd random 300 4\nseed 300\nlatency uniform(1ms,5ms)\n"
        "at 0ms workload clients=1000 rate=2000/s for=" +
        std::to_string(length_ms) +
        "ms\n"
        "at " +
        std::to_string(length_ms + 3000) + "ms expect converged\n";
    return std::get<herd::sim::Scenario>(herd::sim::parse_scenario(text, "bench"));
}

// The baseline measured in the same run: as many events through a bare scheduler with nothing
// to do but schedule the next one (a payload as big as a small event, about as many pending as
// the simulator keeps), in events per CPU-second. The scheduler is the standard library's
// binary heap, not the simulator's EventQueue, so that the baseline stays put when the
// simulator's own queue changes and ratios compare across versions.
double bare_scheduler_events_per_cpu_s(std::uint64_t events) {
    struct Event {
        std::int64_t at;
        std::uint64_t sequence;
        std::uint64_t a, b, c, d;
        bool operator>(const Event& o) const {
            return at != o.at ? at > o.at : sequence > o.sequence;
        }
    };
    std::priority_queue<Event, std::vector<Event>, std::greater<Event>> queue;
    herd::Prng prng(7);
    const std::clock_t start = std::clock();
    std::uint64_t sequence = 0;
    for (int i = 0; i < 4096; ++i)
        queue.push(Event{static_cast<std::int64_t>(prng.below(5'000'000)), sequence++, 0, 0, 0, 0});
    for (std::uint64_t done = 0; done < events; ++done) {
        Event e = queue.top();
        queue.pop();
        e.a += done;
        benchmark::DoNotOptimize(e);
        e.at += 1'000'000 + static_cast<std::int64_t>(prng.below(4'000'000));
        e.sequence = sequence++;
        queue.push(e);
    }
    const double seconds = static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
    return static_cast<double>(events) / std::max(seconds, 1e-9);
}

void BM_SimRandom300Workload(benchmark::State& state) {
    const herd::sim::Scenario scenario = random300(state.range(0));
    std::uint64_t deliveries = 0;
    std::uint64_t events = 0;
    bool passed = true;
    double sim_cpu_s = 0;
    for (auto _ : state) {
        const std::clock_t start = std::clock();
        herd::sim::Simulator sim(scenario, {});
        const herd::sim::SimResult r = sim.run();
        sim_cpu_s += static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
        deliveries += r.stats.deliveries;
        events += r.stats.events;
        passed = passed && r.passed();
    }
    // Simulator ÷ bare scheduler over the same number of events, in this process: a ratio that
    // a busy machine moves far less than either absolute figure.
    const double bare = bare_scheduler_events_per_cpu_s(events);
    state.counters["bare_events_per_cpu_s"] = benchmark::Counter(bare);
    state.counters["sim_vs_bare"] =
        benchmark::Counter(static_cast<double>(events) / std::max(sim_cpu_s, 1e-9) / bare);
    if (!passed) state.SkipWithError("the scenario did not converge");
    state.counters["deliveries"] = benchmark::Counter(static_cast<double>(deliveries) /
                                                      static_cast<double>(state.iterations()));
    state.counters["deliveries_per_cpu_s"] =
        benchmark::Counter(static_cast<double>(deliveries), benchmark::Counter::kIsRate);
    state.counters["ns_per_delivery"] =
        benchmark::Counter(static_cast<double>(deliveries) / 1e9,
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.counters["events_per_cpu_s"] =
        benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}
// About 10^4, 10^5, 10^6 and 10^7 deliveries (about 850 per update on this herd).
BENCHMARK(BM_SimRandom300Workload)
    ->Arg(12)
    ->Arg(120)
    ->Arg(1200)
    ->Arg(12000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

void BM_SimFall2017OneUpdate(benchmark::State& state) {
    const auto scenario = std::get<herd::sim::Scenario>(
        herd::sim::parse_scenario("herd fall2017\nat 1s send Alford IAMAT kiwi "
                                  "+34.068930-118.445127 {now}\nat 2s expect converged\n",
                                  "bench"));
    for (auto _ : state) {
        herd::sim::Simulator sim(scenario, {});
        benchmark::DoNotOptimize(sim.run());
    }
}
BENCHMARK(BM_SimFall2017OneUpdate)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
