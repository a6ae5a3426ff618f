// `herd bench load HOST:PORT ...` and `herd bench propagation ...`: the command lines of the
// tools in bench/ (which know nothing of command lines).
#include <unistd.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "bench/load.hpp"
#include "bench/propagation.hpp"
#include "cli/net_commands.hpp"
#include "cli/options.hpp"
#include "netmode/files.hpp"

namespace herd::cli {

namespace {

constexpr const char* bench_usage =
    "usage: herd bench load HOST:PORT [options] | herd bench propagation [options]\n"
    "\n"
    "load         pipelined IAMATs (and WHATSATs) against one server, every reply verified:\n"
    "             replies/s and latency percentiles; --ceiling also loads a bare line server\n"
    "             in this process and prints target / ceiling\n"
    "propagation  starts a herd on 127.0.0.1 (or replays it in the simulator with --sim),\n"
    "             sends updates at one server and measures accept -> applied at every other\n"
    "             server, by hop count\n"
    "\n"
    "`herd bench load --help` and `herd bench propagation --help` list their options.\n";

constexpr const char* load_usage =
    "usage: herd bench load HOST:PORT [--connections K] [--in-flight W] [--seconds T] "
    "[--whatsat-percent P]\n"
    "                                 [--requests N] [--clients C] [--json FILE]\n"
    "                                 [--ceiling [--rounds R]]\n";

int run_bench_load(int argc, char** argv) {
    po::options_description visible("options");
    visible.add_options()("help,h", "show this help")(
        "connections", po::value<int>()->default_value(64), "connections")(
        "in-flight", po::value<int>()->default_value(16), "requests in flight on each connection")(
        "seconds", po::value<double>()->default_value(5.0), "how long to send (at most 600)")(
        "whatsat-percent", po::value<int>()->default_value(0),
        "share of WHATSATs (0-100); the rest are IAMATs")(
        "requests", po::value<std::uint64_t>()->default_value(0),
        "stop after this many requests (0: time only)")(
        "clients", po::value<std::uint64_t>()->default_value(1000),
        "distinct client IDs per connection")("json", po::value<std::string>(),
                                              "also write the result as JSON to this file")(
        "ceiling",
        "also load a bare line server (no herd work) in this process with the same connections, "
        "in turn with the target, and print target / ceiling")(
        "rounds", po::value<int>()->default_value(3),
        "with --ceiling: rounds of ceiling then target (1-20; medians are printed)");
    po::options_description hidden;
    hidden.add_options()("target", po::value<std::string>());
    po::positional_options_description positional;
    positional.add("target", 1);
    po::variables_map vm;
    const CommandLine line{"herd bench load",
                           load_usage,
                           "Loads one server with pipelined requests and verifies every reply.",
                           visible,
                           &hidden,
                           &positional};
    if (auto status = parse_command_line(line, argc, argv, vm)) return *status;
    bench::LoadOptions o;
    const auto address =
        vm.count("target") ? parse_address(vm["target"].as<std::string>()) : std::nullopt;
    o.connections = vm["connections"].as<int>();
    o.in_flight = vm["in-flight"].as<int>();
    o.seconds = vm["seconds"].as<double>();
    o.whatsat_percent = vm["whatsat-percent"].as<int>();
    o.requests_max = vm["requests"].as<std::uint64_t>();
    o.clients_per_connection = vm["clients"].as<std::uint64_t>();
    if (!address || o.connections < 1 || o.connections > 10000 || o.in_flight < 1 ||
        o.in_flight > 10000 || !(o.seconds > 0 && o.seconds <= 600) || o.whatsat_percent < 0 ||
        o.whatsat_percent > 100 || o.clients_per_connection == 0 || vm["rounds"].as<int>() < 1 ||
        vm["rounds"].as<int>() > 20) {
        std::cerr << "herd bench load: expected HOST:PORT and options in range\n"
                  << load_usage << visible;
        return 2;
    }
    o.host = address->first;
    o.port = address->second;
    if (std::string why; !bench::fit_descriptors(o, vm.count("ceiling") > 0, &why)) {
        std::cerr << "herd bench load: " << why << "\n";
        return 2;
    }
    if (vm.count("ceiling")) {
        const bench::CeilingRun run = bench::run_with_ceiling(o, vm["rounds"].as<int>());
        std::cout << bench::ceiling_report(o, run);
        if (vm.count("json"))
            std::ofstream(vm["json"].as<std::string>()) << bench::ceiling_json(o, run);
        return run.ok() ? 0 : 1;
    }
    const bench::LoadResult r = bench::run_load(o);
    std::cout << bench::load_report(o, r);
    if (vm.count("json")) std::ofstream(vm["json"].as<std::string>()) << bench::load_json(o, r);
    return r.errors == 0 && r.replies > 0 ? 0 : 1;
}

constexpr const char* propagation_usage =
    "usage: herd bench propagation [--config HERD_FILE] [--origin NAME] [--count N] "
    "[--interval-ms MS]\n"
    "                              [--json FILE] [--log-lines BOOL] [--sim [--sim-latency D]]\n";

int run_bench_propagation(int argc, char** argv) {
    po::options_description visible("options");
    visible.add_options()("help,h", "show this help")("config", po::value<std::string>(),
                                                      "herd file (default: the Fall 2017 herd)")(
        "origin", po::value<std::string>(), "server that receives the IAMATs (default: the first)")(
        "count", po::value<int>()->default_value(200), "updates to send (1 to 100000)")(
        "interval-ms", po::value<int>()->default_value(5), "pause between updates")(
        "json", po::value<std::string>(), "also write the table as JSON")(
        "sim", "replay the same herd and schedule in the simulator instead")(
        "sim-latency", po::value<std::string>()->default_value("50us"),
        "one-way link latency in the simulator")(
        "log-lines", po::value<bool>()->default_value(true, "true"),
        "the servers log every line (as herd serve does by default)");
    po::variables_map vm;
    const CommandLine line{
        "herd bench propagation", propagation_usage,
        "Measures how long an update takes to reach every server, by hop distance.", visible};
    if (auto status = parse_command_line(line, argc, argv, vm)) return *status;
    bench::PropagationOptions o;
    o.count = vm["count"].as<int>();
    o.interval_ms = vm["interval-ms"].as<int>();
    o.sim = vm.count("sim") > 0;
    o.sim_latency = vm["sim-latency"].as<std::string>();
    o.log_lines = vm["log-lines"].as<bool>();
    if (vm.count("json")) o.json = vm["json"].as<std::string>();
    if (o.count < 1 || o.count > 100000 || o.interval_ms < 0 || o.interval_ms > 10000) {
        std::cerr << "herd bench propagation: --count 1..100000, --interval-ms 0..10000\n"
                  << propagation_usage;
        return 2;
    }
    HerdSpec herd = fall2017_herd();
    std::string herd_file;  // a temporary one for the built-in herd, removed at the end
    bool temporary = false;
    if (vm.count("config")) {
        herd_file = vm["config"].as<std::string>();
        auto loaded = net::load_herd_file(herd_file);
        if (const Error* error = error_of(loaded)) {
            std::cerr << "herd bench propagation: " << error->message << "\n";
            return 2;
        }
        herd = std::get<HerdSpec>(std::move(loaded));
    }
    o.origin =
        vm.count("origin") ? vm["origin"].as<std::string>() : herd.servers.front().name.str();
    if (herd.index_of(o.origin) < 0) {
        std::cerr << "herd bench propagation: unknown server '" << o.origin << "'\n";
        return 2;
    }
    if (herd_file.empty() && !o.sim) {
        herd_file = (std::filesystem::temp_directory_path() /
                     ("herd-fall2017-" + std::to_string(::getpid()) + ".herd"))
                        .string();
        std::ofstream(herd_file) << format_herd_file(herd);
        temporary = true;
    }
    const int status = bench::run_propagation(o, herd, herd_file);
    if (temporary) std::filesystem::remove(herd_file);
    return status;
}

}  // namespace

int run_bench(int argc, char** argv) {
    const std::string_view what = argc > 1 ? argv[1] : "";
    if (what == "load") return run_bench_load(argc - 1, argv + 1);
    if (what == "propagation") return run_bench_propagation(argc - 1, argv + 1);
    if (what == "--help" || what == "-h" || what == "help") {
        std::cout << bench_usage;
        return 0;
    }
    std::cerr << bench_usage;
    return 2;
}

}  // namespace herd::cli
