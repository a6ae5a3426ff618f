// `herd sim SCENARIO [--seed N] [--trace F.jsonl] [--report F.json]` (design §6).
#pragma once

#include <boost/program_options/variables_map.hpp>
#include <optional>
#include <string>

#include "sim/scenario.hpp"

namespace herd::cli {

// The scenario named by vm["scenario"], parsed with vm["seed"] if given; nothing (after printing
// why, prefixed by `command`) when it cannot be read or is malformed.
std::optional<sim::Scenario> load_scenario(const boost::program_options::variables_map& vm,
                                           const std::string& command, const char* usage);

// Exit status: 0 every expectation holds, 1 one fails, 2 malformed scenario or bad arguments.
int run_sim(int argc, char** argv);

}  // namespace herd::cli
