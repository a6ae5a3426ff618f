#include "cli/sim_command.hpp"
#include "cli/options.hpp"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "core/text.hpp"
#include "netmode/files.hpp"
#include "sim/html_report.hpp"
#include "sim/report.hpp"
#include "sim/simulator.hpp"

namespace herd::cli {

namespace {

constexpr const char* usage =
    "usage: herd sim SCENARIO [--seed N] [--trace FILE.jsonl] [--report FILE.json]\n"
    "                         [--html FILE.html] [--history FILE.jsonl] [--strict]\n";

}  // namespace

TempFile::TempFile(const std::string& tool) {
    if (tool.empty()) return;
    std::error_code ec;
    std::string pattern =
        (std::filesystem::temp_directory_path(ec) / (tool + "-XXXXXX.trace.jsonl")).string();
    const int fd = ::mkstemps(pattern.data(), 12);  // 12: ".trace.jsonl"
    if (fd < 0) return;
    ::close(fd);
    path_ = pattern;
}

TempFile::~TempFile() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove(path_, ec);
}

// Copies `from` to `to` (a pipe or /dev/null too); the Error (exit 2) when it cannot.
std::optional<Error> copy_file_to(const std::string& from, const std::string& to) {
    std::ifstream in(from, std::ios::binary);
    std::ofstream out(to, std::ios::binary | std::ios::trunc);
    if (in.peek() != std::ifstream::traits_type::eof()) out << in.rdbuf();
    out.close();
    if ((in.good() || in.eof()) && out) return std::nullopt;
    return Error{"cannot write " + to, 2};
}

std::optional<Error> write_html(const std::string& path, const std::string& scenario_file,
                                const sim::Scenario& sc, const sim::SimResult& r,
                                const std::string& trace_path, const std::string& tool,
                                const sim::SimResult* simulated) {
    auto text = net::read_text_file(scenario_file);
    const std::string* scenario_text = std::get_if<std::string>(&text);
    std::ifstream trace(trace_path, std::ios::binary);
    if (!trace) return Error{"cannot read the trace back from " + trace_path, 2};
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << sim::html_report(sim::HtmlInput{sc, scenario_text ? *scenario_text : std::string(), r,
                                           trace, tool, simulated});
    out.close();
    if (!out) return Error{"cannot write " + path, 2};
    return std::nullopt;
}

// The Error (exit 2) of an output flag that names a file that cannot be written (its folder
// missing or not writable, or a folder itself): said before any work, not after the run.
std::optional<Error> unwritable_output(const po::variables_map& vm) {
    namespace fs = std::filesystem;
    for (const char* flag : {"trace", "report", "html", "history"}) {
        if (!vm.count(flag)) continue;
        const fs::path path = vm[flag].as<std::string>();
        std::error_code ec;
        const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
        std::string why;
        if (fs::is_directory(path, ec)) {
            why = "a folder";
        } else if (!fs::is_directory(folder, ec)) {
            why = "no folder " + folder.string();
        } else if (::access(folder.c_str(), W_OK) != 0) {
            why = "folder " + folder.string() + " not writable";
        } else if (fs::exists(path, ec) && ::access(path.c_str(), W_OK) != 0) {
            why = "not writable";
        }
        if (!why.empty())
            return Error{
                "--" + std::string(flag) + " " + path.string() + ": cannot write (" + why + ")", 2};
    }
    return std::nullopt;
}

std::optional<Error> overwrites_scenario(const po::variables_map& vm) {
    if (auto e = unwritable_output(vm)) return e;
    namespace fs = std::filesystem;
    std::error_code ec;
    std::map<fs::path, std::string> named{
        {fs::weakly_canonical(vm["scenario"].as<std::string>(), ec), "the scenario file"}};
    for (const char* flag : {"trace", "report", "html", "history"}) {
        if (!vm.count(flag)) continue;
        const auto [it, added] = named.try_emplace(
            fs::weakly_canonical(vm[flag].as<std::string>(), ec), std::string("--") + flag);
        if (!added) {
            return Error{"--" + std::string(flag) + " names " + it->second +
                             (it->second[0] == '-' ? "'s file too" : " itself"),
                         2};
        }
    }
    return std::nullopt;
}

Result<sim::Scenario> load_scenario(const CommandLine& c, const po::variables_map& vm) {
    const std::string file = vm["scenario"].as<std::string>();
    std::optional<std::uint64_t> seed;
    if (vm.count("seed")) {
        seed = parse_whole(vm["seed"].as<std::string>(), UINT64_MAX);
        if (!seed) {
            return usage_error(c, "--seed takes a whole number from 0 to 2^64-1, not '" +
                                      vm["seed"].as<std::string>() + "'");
        }
    }
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec))
        return Error{file + " is a directory, not a scenario file", 2};
    // One byte past the bound is enough for the parser to refuse a file too large (and a
    // stream without end, such as /dev/zero, is never read whole).
    const auto text = net::read_text_file(file, sim::scenario_bytes_max + 1);
    if (const Error* e = error_of(text)) return with_status(*e, 2);
    auto parsed = sim::parse_scenario(std::get<std::string>(text), file, seed);
    if (const Error* e = error_of(parsed)) return with_status(*e, 2);
    const auto& warnings = std::get<sim::Scenario>(parsed).warnings;
    for (const std::string& w : warnings)
        std::cerr << w << "\n";
    if (vm.count("strict") && !warnings.empty()) {
        return Error{"--strict: " + std::to_string(warnings.size()) +
                         (warnings.size() == 1 ? " warning" : " warnings") + " about " + file,
                     2};
    }
    return parsed;
}

namespace {

// Progress on stderr for long runs: the only thing in `herd sim` that reads a clock.
std::function<void(Instant, const sim::SimStats&)> progress_printer(const sim::Scenario& scenario,
                                                                    bool* shown) {
    const auto started = std::chrono::steady_clock::now();
    auto last_shown = std::make_shared<std::chrono::steady_clock::time_point>(started);
    return [&scenario, shown, started, last_shown](Instant now, const sim::SimStats& stats) {
        const auto wall = std::chrono::steady_clock::now();
        if (wall - started < std::chrono::seconds(3) ||
            wall - *last_shown < std::chrono::seconds(1))
            return;
        *last_shown = wall;
        *shown = true;
        std::cerr << "\rherd sim: simulated " << sim::format_latency(now.ns) << " of "
                  << sim::format_duration(Duration{scenario.end().ns}) << ", " << stats.events
                  << " events, " << stats.deliveries << " deliveries   " << std::flush;
    };
}

}  // namespace

// Writes --trace (copied from the HTML report's own trace), --report and --html; the Error
// (exit 2) of one that cannot be written.
std::optional<Error> write_files(const po::variables_map& vm, const sim::Scenario& sc,
                                 const sim::SimResult& r, const std::string& trace_path) {
    if (vm.count("trace") && vm.count("html")) {
        if (auto e = copy_file_to(trace_path, vm["trace"].as<std::string>())) return e;
    }
    if (vm.count("report")) {
        std::ofstream report(vm["report"].as<std::string>(), std::ios::binary | std::ios::trunc);
        report << sim::json_report(sc, r);
        report.close();
        if (!report) return Error{"cannot write " + vm["report"].as<std::string>(), 2};
    }
    if (!vm.count("html")) return std::nullopt;
    return write_html(vm["html"].as<std::string>(), vm["scenario"].as<std::string>(), sc, r,
                      trace_path, "herd sim");
}

void describe(po::options_description& visible) {
    visible.add_options()("help,h", "show this help")(
        "seed", po::value<std::string>(), "seed for this run (overrides the scenario's `seed`)")(
        "trace", po::value<std::string>(), "write the event trace as JSON lines to this file")(
        "report", po::value<std::string>(), "write the report as JSON to this file")(
        "html", po::value<std::string>(),
        "write a self-contained HTML report (timeline, space-time diagram, staleness heatmap, "
        "propagation) to this file")(
        "history", po::value<std::string>(),
        "write the clients' history (every IAMAT and WHATSAT, for `herd check`) to this file")(
        "strict", "treat the scenario's warnings as errors (exit 2)")("quiet,q",
                                                                      "no progress on stderr");
}

int run_sim(int argc, char** argv) {
    po::options_description visible("options");
    describe(visible);
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
    if (!vm.count("scenario"))
        return report(line, usage_error(line, "a scenario file is required"));
    const auto loaded = load_scenario(line, vm);
    if (const Error* e = error_of(loaded)) return report(line, *e);
    const sim::Scenario& scenario = std::get<sim::Scenario>(loaded);
    if (auto e = overwrites_scenario(vm)) return report(line, *e);
    sim::SimOptions options;
    // The HTML report draws from the trace: written to a temporary file of its own (copied to
    // --trace afterwards, which may be a pipe or /dev/null), removed however the run ends.
    const TempFile temporary(vm.count("html") ? "herd-sim" : "");
    if (vm.count("html") && temporary.path().empty())
        return report(line, Error{"cannot make a temporary file for the HTML report's trace", 2});
    const std::string trace_path = vm.count("html")    ? temporary.path()
                                   : vm.count("trace") ? vm["trace"].as<std::string>()
                                                       : "";
    const Error unwritable_trace{"cannot write " + trace_path, 2};
    std::ofstream trace;
    if (!trace_path.empty()) {
        trace.open(trace_path, std::ios::binary | std::ios::trunc);
        if (!trace) return report(line, unwritable_trace);
        options.trace = &trace;
    }
    std::ofstream history;
    if (vm.count("history")) {
        history.open(vm["history"].as<std::string>(), std::ios::binary | std::ios::trunc);
        if (!history)
            return report(line, Error{"cannot write " + vm["history"].as<std::string>(), 2});
        options.history = &history;
    }
    bool shown = false;
    if (!vm.count("quiet")) options.progress = progress_printer(scenario, &shown);
    const sim::SimResult result = sim::Simulator(scenario, options).run();
    if (shown) std::cerr << "\n";
    const std::string command =
        "herd sim " + vm["scenario"].as<std::string>() + " --seed " + std::to_string(scenario.seed);
    sim::print_report(std::cout, scenario, result, command);
    // A full disk (or /dev/full) must not pass for a run that was written: exit 2, saying so.
    std::cout.flush();
    if (!std::cout) return report(line, Error{"cannot write the report to standard output", 2});
    if (trace.is_open()) {
        trace.close();
        if (!trace) return report(line, unwritable_trace);
    }
    if (history.is_open()) {
        history.close();
        if (!history)
            return report(line, Error{"cannot write " + vm["history"].as<std::string>(), 2});
    }
    if (auto e = write_files(vm, scenario, result, trace_path)) return report(line, *e);
    return result.passed() ? 0 : 1;
}

}  // namespace herd::cli
