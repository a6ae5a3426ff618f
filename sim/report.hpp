// Report: what `herd sim` prints (one line per expectation, propagation percentiles, messages
// per update, a verdict) and the JSON report of `--report`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "sim/scenario.hpp"
#include "sim/simulator.hpp"

namespace herd::sim {

struct Percentiles {
    std::size_t count = 0;
    std::int64_t p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// Nearest-rank percentiles of sorted samples.
Percentiles percentiles(const std::vector<std::int64_t>& sorted);
// The same of sealed samples (never counted in max when there is one).
Percentiles percentiles(const Samples& samples);

// "1.234ms" style, exact to the nanosecond for small values, 3 decimals otherwise.
std::string format_latency(std::int64_t ns);

// The propagation table by hop distance (one row per distance, then "all"), as `herd sim` and
// `herd bench propagation` print it.
void print_hop_table(std::ostream& out, const std::map<int, Samples>& by_hops);
std::string hop_table_json(const std::map<int, Samples>& by_hops);

// t-visibility (sim/visibility.hpp): a table by hop distance and over all pairs, with the
// window that 50, 99 and 99.9 % of the pairs closed within, then the pairs a fault was in force
// during. INT64_MAX is a pair that never closed.
void print_visibility(std::ostream& out, const std::map<int, Samples>& by_hops,
                      const Samples& across_faults);
// Every sample over all hop distances, sealed.
Samples merged(const std::map<int, Samples>& by_hops);
// "1.234ms", or "never" for INT64_MAX.
std::string format_window(std::int64_t ns);

// The text report. `command` is how to rerun it (printed with the seed on failure); `tool` names
// the world it ran in ("herd sim", "herd replay").
void print_report(std::ostream& out, const Scenario& scenario, const SimResult& result,
                  const std::string& command, const std::string& tool = "herd sim");

// "1.25" : a / b with two decimals, rounded (integer arithmetic); "n/a" when b is 0.
std::string ratio(std::uint64_t a, std::uint64_t b);

// The JSON report.
std::string json_report(const Scenario& scenario, const SimResult& result);

}  // namespace herd::sim
