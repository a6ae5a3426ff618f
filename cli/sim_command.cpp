#include "cli/sim_command.hpp"
#include "cli/options.hpp"

#include <boost/program_options.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "sim/report.hpp"
#include "sim/simulator.hpp"

namespace herd::cli {

namespace {

constexpr const char* usage =
    "usage: herd sim SCENARIO [--seed N] [--trace FILE.jsonl] [--report FILE.json]\n";

}  // namespace

int run_sim(int argc, char** argv) {
    po::options_description visible("options");
    visible.add_options()("help,h", "show this help")(
        "seed", po::value<std::uint64_t>(), "seed for this run (overrides the scenario's `seed`)")(
        "trace", po::value<std::string>(), "write the event trace as JSON lines to this file")(
        "report", po::value<std::string>(), "write the report as JSON to this file")(
        "quiet,q", "no progress on stderr");
    po::options_description hidden;
    hidden.add_options()("scenario", po::value<std::string>());
    po::positional_options_description positional;
    positional.add("scenario", 1);
    po::variables_map vm;
    const CommandLine line{
        "herd sim",
        usage,
        "Replays a scenario file in the deterministic simulator and checks its expectations.\n"
        "Exit status: 0 all hold, 1 one fails, 2 malformed scenario.",
        visible,
        &hidden,
        &positional};
    if (auto status = parse_command_line(line, argc, argv, vm)) return *status;
    if (!vm.count("scenario")) {
        std::cerr << "herd sim: a scenario file is required\n" << usage << visible;
        return 2;
    }
    const std::string file = vm["scenario"].as<std::string>();
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        std::cerr << "herd sim: cannot read " << file << "\n";
        return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    std::optional<std::uint64_t> seed;
    if (vm.count("seed")) seed = vm["seed"].as<std::uint64_t>();
    auto parsed = sim::parse_scenario(text.str(), file, seed);
    if (auto* e = std::get_if<sim::ScenarioError>(&parsed)) {
        std::cerr << e->message << "\n";
        return 2;
    }
    const sim::Scenario& scenario = std::get<sim::Scenario>(parsed);

    sim::SimOptions options;
    std::ofstream trace;
    if (vm.count("trace")) {
        trace.open(vm["trace"].as<std::string>(), std::ios::binary | std::ios::trunc);
        if (!trace) {
            std::cerr << "herd sim: cannot write " << vm["trace"].as<std::string>() << "\n";
            return 2;
        }
        options.trace = &trace;
    }
    // Progress is the only thing here that reads a clock, and it goes to stderr only.
    const auto started = std::chrono::steady_clock::now();
    auto last_shown = started;
    bool shown = false;
    if (!vm.count("quiet")) {
        options.progress = [&](Instant now, const sim::SimStats& stats) {
            const auto wall = std::chrono::steady_clock::now();
            if (wall - started < std::chrono::seconds(3) ||
                wall - last_shown < std::chrono::seconds(1))
                return;
            last_shown = wall;
            shown = true;
            std::cerr << "\rherd sim: simulated " << sim::format_latency(now.ns) << " of "
                      << sim::format_duration(
                             Duration{scenario.steps.empty() ? 0 : scenario.steps.back().at.ns})
                      << ", " << stats.events << " events, " << stats.deliveries << " deliveries   "
                      << std::flush;
        };
    }
    sim::Simulator simulator(scenario, options);
    const sim::SimResult result = simulator.run();
    if (shown) std::cerr << "\n";
    std::ostringstream command;
    command << "herd sim " << file << " --seed " << scenario.seed;
    sim::print_report(std::cout, scenario, result, command.str());
    if (vm.count("report")) {
        std::ofstream report(vm["report"].as<std::string>(), std::ios::binary | std::ios::trunc);
        if (!report) {
            std::cerr << "herd sim: cannot write " << vm["report"].as<std::string>() << "\n";
            return 2;
        }
        report << sim::json_report(scenario, result);
    }
    return result.passed() ? 0 : 1;
}

}  // namespace herd::cli
