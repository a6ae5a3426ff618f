// `herd sim SCENARIO [--seed N] [--trace F.jsonl] [--report F.json] [--html F.html]`
// (design §6).
#pragma once

#include <boost/program_options/variables_map.hpp>
#include <optional>
#include <string>

#include "sim/scenario.hpp"
#include "sim/simulator.hpp"

namespace herd::cli {

// The scenario named by vm["scenario"], parsed with vm["seed"] if given; nothing (after printing
// why, prefixed by `command`) when it cannot be read or is malformed.
std::optional<sim::Scenario> load_scenario(const boost::program_options::variables_map& vm,
                                           const std::string& command, const char* usage);

// Whether --trace, --report or --html names the scenario file (saying so): it would be lost.
bool overwrites_scenario(const boost::program_options::variables_map& vm,
                         const std::string& command);

// Where a run keeps its trace for the HTML report when no --trace is asked for: the system's
// temporary folder, named after the tool and the process.
std::string html_trace_path(const std::string& tool);

// Writes the HTML report of a run (sim/html_report.hpp) drawn from the trace at `trace_path`;
// false, after saying why (prefixed by `tool`), when it cannot.
bool write_html(const std::string& path, const std::string& scenario_file, const sim::Scenario& sc,
                const sim::SimResult& r, const std::string& trace_path, const std::string& tool);

// Exit status: 0 every expectation holds, 1 one fails, 2 malformed scenario or bad arguments.
int run_sim(int argc, char** argv);

}  // namespace herd::cli
