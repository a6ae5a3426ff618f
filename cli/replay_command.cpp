// `herd replay SCENARIO [--seed N] [--report F.json] [--trace-dir D] [--keep-logs D]
// [--skew-tolerance D] [--late-tolerance D] [--base-port P] [--compare] [--history F]`: the
// scenario against real processes (replay/replay.hpp), reported as `herd sim` reports; with
// --compare, beside the simulator's run of the same file and seed.
#include <atomic>
#include <boost/program_options.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/net_commands.hpp"
#include "cli/options.hpp"
#include "cli/sim_command.hpp"
#include "core/assert.hpp"
#include "netmode/files.hpp"
#include "replay/replay.hpp"
#include "sim/distribution.hpp"
#include "sim/report.hpp"
#include "sim/simulator.hpp"
#include "sim/visibility.hpp"

namespace herd::cli {

namespace {

// SIGINT or SIGTERM: the replay stops its herd and its folder before exiting.
std::atomic<bool> stop_requested{false};

constexpr const char* usage =
    "usage: herd replay SCENARIO [--seed N] [--report F.json] [--trace-dir D] [--keep-logs D]\n"
    "                            [--skew-tolerance D] [--late-tolerance D] [--base-port P]\n"
    "                            [--compare [--sim-processing DIST]] [--strict] [--html F]\n"
    "                            [--history F.jsonl]\n"
    "       herd replay --calibrate [--base-port P]\n";

std::string cell(std::string text, std::size_t width) {
    if (text.size() < width) text.insert(0, width - text.size(), ' ');
    return text;
}

// Real ÷ simulated, two decimals.
std::string times(std::int64_t real, std::int64_t simulated) {
    if (simulated <= 0) return "n/a";
    return sim::ratio(static_cast<std::uint64_t>(std::max<std::int64_t>(real, 0)),
                      static_cast<std::uint64_t>(simulated));
}

void print_propagation(std::ostream& out, const sim::SimResult& s, const sim::SimResult& r) {
    out << "propagation by hops    (sim | real | real/sim)\n";
    std::map<int, bool> hops;
    for (const auto& [h, v] : s.propagation_by_hops)
        hops[h] = true;
    for (const auto& [h, v] : r.propagation_by_hops)
        hops[h] = true;
    if (hops.empty()) {
        out << "  (no update reached another server without meeting a fault, in either world)\n";
        return;
    }
    out << "  hops   n sim  n real     p50 sim    p50 real  ratio     p90 sim    p90 real  ratio"
           "     p99 sim    p99 real  ratio\n";
    static const sim::Samples none;
    for (const auto& [h, unused] : hops) {
        auto find = [h = h](const sim::SimResult& x) -> const sim::Samples& {
            auto it = x.propagation_by_hops.find(h);
            return it == x.propagation_by_hops.end() ? none : it->second;
        };
        const sim::Percentiles a = sim::percentiles(find(s));
        const sim::Percentiles b = sim::percentiles(find(r));
        out << cell(std::to_string(h), 6) << cell(std::to_string(a.count), 8)
            << cell(std::to_string(b.count), 8);
        for (const auto& [x, y] : {std::pair{a.p50, b.p50}, {a.p90, b.p90}, {a.p99, b.p99}}) {
            out << cell(sim::format_latency(x), 12) << cell(sim::format_latency(y), 12)
                << cell(times(y, x), 7);
        }
        out << "\n";
    }
}

// One t-visibility distribution in both worlds: pairs, the windows for 50, 99 and 99.9 %, and
// the largest gap between the two curves P(window <= t) (what bench/README.md's fidelity table
// reports).
void print_visibility_pair(std::ostream& out, const char* what, const sim::Samples& s,
                           const sim::Samples& r) {
    if (s.empty() && r.empty()) return;
    out << what << ": pairs sim " << s.size() << ", real " << r.size();
    if (!s.empty() && !r.empty()) {
        for (const auto& [label, per_100k] :
             {std::pair{"50%", 50'000}, {"99%", 99'000}, {"99.9%", 99'900}})
            out << "; " << label << " sim "
                << sim::format_window(s.nearest_rank(static_cast<std::uint64_t>(per_100k)))
                << ", real "
                << sim::format_window(r.nearest_rank(static_cast<std::uint64_t>(per_100k)));
        const sim::CurveGap gap = sim::largest_gap(s, r);
        out << "\n  largest gap between the curves: " << sim::format_points(gap.per_100k)
            << " at t=" << sim::format_latency(gap.at_ns);
    }
    out << "\n";
}

// Side by side; the exit status: 0 when every verdict agrees, 1 otherwise.
int compare(std::ostream& out, const sim::Scenario& sc, const sim::SimResult& s,
            const sim::SimResult& r) {
    out << "\nherd replay --compare " << sc.file << " (seed " << sc.seed << ")\n"
        << "   sim  real  expectation\n";
    int disagreements = 0;
    for (std::size_t i = 0; i < s.expectations.size() && i < r.expectations.size(); ++i) {
        const sim::ExpectationResult& a = s.expectations[i];
        const sim::ExpectationResult& b = r.expectations[i];
        out << (a.pass ? "  PASS" : "  FAIL") << (b.pass ? "  PASS" : "  FAIL") << "  " << sc.file
            << ":" << a.line << " at " << sim::format_duration(Duration{a.at.ns}) << "  " << a.text;
        if (b.pass && b.late.ns > 0)
            out << "  (real: held " << sim::format_latency(b.late.ns) << " late)";
        out << "\n";
        if (a.pass != b.pass) {
            disagreements += 1;
            out << "        DISAGREE: "
                << (a.pass ? "the real herd found: " + b.found : "the simulator found: " + a.found)
                << "\n";
        }
    }
    if (s.violations.size() != r.violations.size()) disagreements += 1;
    out << "invariant violations: sim " << s.violations.size() << ", real " << r.violations.size()
        << "\n";
    print_propagation(out, s, r);
    const sim::Percentiles fs = sim::percentiles(s.propagation_fault_ns);
    const sim::Percentiles fr = sim::percentiles(r.propagation_fault_ns);
    if (fs.count + fr.count > 0)
        out << "across a fault: n sim " << fs.count << ", real " << fr.count << "; p50 sim "
            << sim::format_latency(fs.p50) << ", real " << sim::format_latency(fr.p50) << " ("
            << times(fr.p50, fs.p50) << "); max sim " << sim::format_latency(fs.max) << ", real "
            << sim::format_latency(fr.max) << "\n";
    print_visibility_pair(out, "t-visibility (pairs that met no fault)",
                          sim::merged(s.visibility_by_hops), sim::merged(r.visibility_by_hops));
    print_visibility_pair(out, "t-visibility across a fault", s.visibility_fault_ns,
                          r.visibility_fault_ns);
    out << "messages per update: sim " << sim::ratio(s.stats.peer_at_lines, s.stats.updates)
        << ", real " << sim::ratio(r.stats.peer_at_lines, r.stats.updates)
        << " record lines; writes sim " << sim::ratio(s.stats.peer_messages, s.stats.updates)
        << ", real " << sim::ratio(r.stats.peer_messages, r.stats.updates) << " (updates: sim "
        << s.stats.updates << ", real " << r.stats.updates << ")\n";
    out << "worlds: " << (disagreements == 0 ? "AGREE" : "DISAGREE") << " ("
        << s.expectations.size() << " expectations, " << disagreements << " disagreements)\n";
    return disagreements == 0 ? 0 : 1;
}

// The folders and the report file can be made and written, before a run that would only then
// find out. Returns the Error (exit 2) saying which cannot, or nothing.
std::optional<Error> unwritable_paths(const po::variables_map& vm) {
    for (const char* flag : {"keep-logs", "trace-dir"}) {
        if (!vm.count(flag)) continue;
        std::error_code ec;
        const std::string dir = vm[flag].as<std::string>();
        std::filesystem::create_directories(dir, ec);
        if (ec || !std::filesystem::is_directory(dir)) {
            return Error{"--" + std::string(flag) + ": cannot make the folder " + dir +
                             (ec ? ": " + ec.message() : std::string(": a file is in the way")),
                         2};
        }
    }
    if (vm.count("report")) {
        std::ofstream report(vm["report"].as<std::string>(), std::ios::binary | std::ios::app);
        if (!report) return Error{"--report: cannot write " + vm["report"].as<std::string>(), 2};
    }
    return std::nullopt;
}

// The flags past the scenario into `options` and `processing`; the Error (exit 2) of the first
// that is wrong.
std::optional<Error> read_options(const CommandLine& line, const po::variables_map& vm,
                                  replay::ReplayOptions& options,
                                  std::optional<sim::Distribution>& processing) {
    const auto tolerance = parse_duration(vm["skew-tolerance"].as<std::string>());
    if (!tolerance) return usage_error(line, "--skew-tolerance takes a duration such as 5ms");
    const std::string late_text = vm["late-tolerance"].as<std::string>();
    const auto late = late_text == "0" ? Duration{0} : parse_duration(late_text);
    if (!late || late->ns > replay::replay_late_tolerance_max.ns) {
        return usage_error(line, "--late-tolerance takes a duration from 0 to " +
                                     sim::format_duration(replay::replay_late_tolerance_max) +
                                     ", such as 50ms");
    }
    if (vm.count("sim-processing")) {
        processing = sim::parse_distribution(vm["sim-processing"].as<std::string>());
        if (!processing) {
            return usage_error(line,
                               "--sim-processing takes a distribution such as 200us or "
                               "normal(200us,60us)");
        }
    }
    const auto base_port = whole_flag(line, vm, "base-port", 0, 65000);  // 0: a random one
    if (const Error* e = error_of(base_port)) return *e;
    if (vm.count("sim-processing") && !vm.count("compare"))
        return usage_error(line, "--sim-processing goes with --compare");
    if (vm.count("calibrate") && vm.count("scenario"))
        return usage_error(line, "--calibrate runs a scenario of its own; give it no file");
    if (auto e = unwritable_paths(vm)) return e;
    options.executable = net::self_executable();
    options.skew_tolerance = *tolerance;
    options.late_tolerance = *late;
    options.base_port = static_cast<std::uint16_t>(std::get<std::uint64_t>(base_port));
    if (vm.count("keep-logs")) {
        options.folder = vm["keep-logs"].as<std::string>();
        options.keep = true;
    }
    if (vm.count("trace-dir")) options.trace_dir = vm["trace-dir"].as<std::string>();
    options.note = [](const std::string& what) { std::cerr << "herd replay: " << what << "\n"; };
    options.interrupted = &stop_requested;
    std::signal(SIGINT, [](int) { stop_requested = true; });
    std::signal(SIGTERM, [](int) { stop_requested = true; });
    return std::nullopt;
}

// Writes --html (drawn from `trace_path`, with --compare's simulator run beside when there is
// one) and --report; the Error (exit 2) of one that cannot be written.
std::optional<Error> write_report(const po::variables_map& vm, const sim::Scenario& sc,
                                  const sim::SimResult& r, const std::string& trace_path,
                                  const sim::SimResult* simulated = nullptr) {
    if (vm.count("html")) {
        if (auto e = write_html(vm["html"].as<std::string>(), vm["scenario"].as<std::string>(), sc,
                                r, trace_path, "herd replay", simulated))
            return e;
    }
    if (!vm.count("report")) return std::nullopt;
    std::ofstream report(vm["report"].as<std::string>(), std::ios::binary | std::ios::trunc);
    report << sim::json_report(sc, r);
    if (!report) return Error{"cannot write " + vm["report"].as<std::string>(), 2};
    return std::nullopt;
}

void describe(po::options_description& visible) {
    visible.add_options()("help,h", "show this help")(
        "seed", po::value<std::string>(), "seed for this run (overrides the scenario's `seed`)")(
        "report", po::value<std::string>(), "write the report as JSON to this file")(
        "trace-dir", po::value<std::string>(),
        "copy every server's record trace (one JSON-lines file per process) into this folder")(
        "keep-logs", po::value<std::string>(),
        "run in this folder and keep it: herd files, logs, traces, each process's output")(
        "skew-tolerance", po::value<std::string>()->default_value("5ms"),
        "how far an AT reply's skew may be from the one an `expect reply` spells out")(
        "late-tolerance", po::value<std::string>()->default_value("50ms"),
        "how long after its time a has, converged or reply expectation that failed is looked at "
        "again (a pass then says how late it held; 0: one look)")(
        "base-port", po::value<std::string>()->default_value("0"),
        "first port to try for every port the run listens on: servers, admin ports, proxy links "
        "and the Places stub, each held for the whole run (0: a random one in 20000-29999)")(
        "strict", "treat the scenario's warnings as errors (exit 2)")(
        "html", po::value<std::string>(),
        "write a self-contained HTML report of the real run (timeline, the servers' applies, "
        "staleness, propagation)")(
        "history", po::value<std::string>(),
        "write the clients' history (design §11: every request of the sends and workloads, its "
        "reply's first line, invocation and completion on the run's clock) to this file, as "
        "JSON lines `herd check` reads")(
        "compare", "also run the simulator on the same file and seed; print both side by side")(
        "sim-processing", po::value<std::string>(),
        "with --compare: the simulator charges this processing cost per message instead of the "
        "scenario's (e.g. the line --calibrate prints)")(
        "calibrate",
        "measure what a real hop costs here besides its latency and print the `processing` line "
        "that makes the simulator charge it");
}

}  // namespace

// The simulator's run of the scenario, or the failed assertion that stopped it (a bug of the core
// or of the simulator, which must not cost the finished real run its report).
Result<sim::SimResult> simulate(const sim::Scenario& sc) {
    ThrowingAssertions scope;
    try {
        return sim::Simulator(sc, sim::SimOptions{}).run();
    } catch (const AssertionFailure& e) {
        return Error{e.what(), 1};
    }
}

// Prints the real run's report (and --compare's). Returns the exit status, or the Error (exit 2)
// of a report file that cannot be written.
Result<int> report_run(const po::variables_map& vm, const sim::Scenario& scenario,
                       const sim::SimResult& real,
                       const std::optional<sim::Distribution>& processing,
                       const std::string& trace_path) {
    const std::string command = "herd replay " + vm["scenario"].as<std::string>() + " --seed " +
                                std::to_string(scenario.seed);
    sim::print_report(std::cout, scenario, real, command, "herd replay");
    if (!vm.count("compare")) {
        if (auto e = write_report(vm, scenario, real, trace_path)) return *e;
    }
    int status = real.passed() ? 0 : 1;
    if (vm.count("compare")) {
        sim::Scenario modelled = scenario;
        if (processing) modelled.processing = *processing;
        const Result<sim::SimResult> simulated = simulate(modelled);
        if (const Error* e = error_of(simulated)) {
            // The real run's report stands; the simulator's world is the one that failed.
            std::cout
                << "\nherd replay --compare " << scenario.file << " (seed " << scenario.seed
                << ")\nsim: stopped on " << e->message
                << "\nworlds: DISAGREE (the simulator stopped; the real herd ran to the end)\n";
            if (auto w = write_report(vm, scenario, real, trace_path)) return *w;
            return 1;
        }
        if (auto e =
                write_report(vm, scenario, real, trace_path, &std::get<sim::SimResult>(simulated)))
            return *e;
        status = std::max(status,
                          compare(std::cout, scenario, std::get<sim::SimResult>(simulated), real));
    }
    return status;
}

int run_calibrate(const replay::ReplayOptions& options) {
    std::cerr << "herd replay --calibrate: a line of 4 servers, 1 ms links, 150 updates from s1 "
                 "(about 4 s)\n";
    auto measured = replay::calibrate(options);
    if (const Error* e = error_of(measured))
        return report("herd replay --calibrate", with_status(*e, 3));
    const replay::Calibration& c = std::get<replay::Calibration>(measured);
    std::cout << "propagation on the real herd, by hops (each hop has 1 ms of link latency):\n";
    sim::print_hop_table(std::cout, c.result.propagation_by_hops);
    std::cout << "a hop costs " << sim::format_latency(c.per_hop_p50.ns)
              << " besides its latency (median, fitted over the hops; spread "
              << sim::format_latency(c.spread.ns) << ")\n"
              << "put this line in a scenario to have the simulator charge it:\n"
              << c.processing_line << "\n";
    return 0;
}

int run_replay(int argc, char** argv) {
    po::options_description visible("options");
    describe(visible);
    po::options_description hidden;
    hidden.add_options()("scenario", po::value<std::string>());
    po::positional_options_description positional;
    positional.add("scenario", 1);
    po::variables_map vm;
    const CommandLine line{"herd replay",
                           usage,
                           "Runs a scenario file against real herd processes on loopback, every "
                           "link through a fault proxy,\nin wall-clock time, and checks its "
                           "expectations. Exit status: 0 all hold (and with --compare,\nthe "
                           "simulator agrees), 1 one fails or the worlds disagree, 2 malformed "
                           "scenario or bad arguments,\n3 the herd could not be run.",
                           visible,
                           &hidden,
                           &positional};
    if (auto status = parse_command_line(line, argc, argv, vm)) return *status;
    if (vm.count("calibrate") && !vm.count("scenario")) {
        replay::ReplayOptions options;
        std::optional<sim::Distribution> unused;
        if (auto e = read_options(line, vm, options, unused)) return report(line, *e);
        return run_calibrate(options);
    }
    if (!vm.count("scenario"))
        return report(line, usage_error(line, "a scenario file is required"));
    const auto loaded = load_scenario(line, vm);
    if (const Error* e = error_of(loaded)) return report(line, *e);
    const sim::Scenario& scenario = std::get<sim::Scenario>(loaded);
    replay::ReplayOptions options;
    std::optional<sim::Distribution> processing;
    std::optional<Error> refused = overwrites_scenario(vm);
    if (!refused) refused = read_options(line, vm, options, processing);
    if (!refused) refused = replay::replay_refusal(scenario);
    if (refused) return report(line, Error{refused->message, 2});
    // The servers' applies for --html, in a temporary file removed however the run ends.
    const TempFile temporary(vm.count("html") ? "herd-replay" : "");
    std::ofstream trace;
    if (vm.count("html")) {
        trace.open(temporary.path(), std::ios::binary | std::ios::trunc);
        if (temporary.path().empty() || !trace)
            return report(line, Error{"cannot make a temporary file for the HTML report", 2});
        options.trace = &trace;
    }
    std::ofstream history;
    if (vm.count("history")) {
        history.open(vm["history"].as<std::string>(), std::ios::binary | std::ios::trunc);
        if (!history)
            return report(line,
                          Error{"--history: cannot write " + vm["history"].as<std::string>(), 2});
        options.history = &history;
    }
    auto result = replay::replay(scenario, options);
    trace.close();
    history.close();
    if (vm.count("history") && !history)
        return report(line, Error{"--history: cannot write " + vm["history"].as<std::string>(), 2});
    if (stop_requested) return report(line, Error{"interrupted; every server was stopped", 130});
    if (const Error* e = error_of(result)) return report(line, with_status(*e, 3));
    const auto status =
        report_run(vm, scenario, std::get<sim::SimResult>(result), processing, temporary.path());
    if (const Error* e = error_of(status)) return report(line, *e);
    return std::get<int>(status);
}

}  // namespace herd::cli
