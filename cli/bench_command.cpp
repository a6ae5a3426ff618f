// `herd bench load HOST:PORT ...` and `herd bench propagation ...`: the command lines of the
// tools in bench/ (which know nothing of command lines).
#include <unistd.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/net_commands.hpp"
#include "cli/options.hpp"
#include "loadgen/bare_relay.hpp"
#include "loadgen/load.hpp"
#include "loadgen/propagation.hpp"
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
    "                                 [--requests N] [--clients C] [--json FILE] [--history FILE]\n"
    "                                 [--ceiling [--rounds R]]\n";

// The flags of `herd bench load` past its target into `o` and `rounds`; the Error (exit 2, with
// the usage) of the first that is wrong.
std::optional<Error> read_load_flags(const CommandLine& line, const po::variables_map& vm,
                                     loadgen::LoadOptions& o, int& rounds) {
    std::uint64_t connections = 0, in_flight = 0, percent = 0, requests = 0, clients = 0, n = 0;
    Decimal seconds;
    std::optional<Error> e = take(whole_flag(line, vm, "connections", 1, 10000), connections);
    if (!e) e = take(whole_flag(line, vm, "in-flight", 1, 10000), in_flight);
    if (!e) e = take(number_flag(line, vm, "seconds", 600, 9), seconds);
    if (!e) e = take(whole_flag(line, vm, "whatsat-percent", 0, 100), percent);
    if (!e) e = take(whole_flag(line, vm, "requests", 0, UINT64_MAX), requests);
    if (!e) e = take(whole_flag(line, vm, "clients", 1, UINT64_MAX), clients);
    if (!e) e = take(whole_flag(line, vm, "rounds", 1, 20), n);
    if (e) return e;
    if (decimal_seconds(seconds).ns == 0) return usage_error(line, "--seconds takes more than 0");
    o.connections = static_cast<int>(connections);
    o.in_flight = static_cast<int>(in_flight);
    o.seconds = static_cast<double>(decimal_seconds(seconds).ns) / 1e9;
    o.whatsat_percent = static_cast<int>(percent);
    o.requests_max = requests;
    o.clients_per_connection = clients;
    rounds = static_cast<int>(n);
    return std::nullopt;
}

int run_bench_load(int argc, char** argv) {
    po::options_description visible("options");
    visible.add_options()("help,h", "show this help")(
        "connections", po::value<std::string>()->default_value("64"), "connections (1-10000)")(
        "in-flight", po::value<std::string>()->default_value("16"),
        "requests in flight on each connection (1-10000)")(
        "seconds", po::value<std::string>()->default_value("5"),
        "how long to send (more than 0, at most 600)")(
        "whatsat-percent", po::value<std::string>()->default_value("0"),
        "share of WHATSATs (0-100); the rest are IAMATs")(
        "requests", po::value<std::string>()->default_value("0"),
        "stop after this many requests (0: time only)")(
        "clients", po::value<std::string>()->default_value("1000"),
        "distinct client IDs per connection")("json", po::value<std::string>(),
                                              "also write the result as JSON to this file")(
        "history", po::value<std::string>(),
        "write every request and reply as a client history (for `herd check`; with --ceiling, "
        "the target's last round)")(
        "ceiling",
        "also load a bare line server (no herd work) in this process with the same connections, "
        "in turn with the target, and print target / ceiling")(
        "rounds", po::value<std::string>()->default_value("3"),
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
    loadgen::LoadOptions o;
    const auto address =
        vm.count("target") ? parse_address(vm["target"].as<std::string>()) : std::nullopt;
    if (!address) return report(line, usage_error(line, "expected HOST:PORT"));
    int rounds = 0;
    if (auto e = read_load_flags(line, vm, o, rounds)) return report(line, *e);
    o.host = address->first;
    o.port = address->second;
    if (vm.count("history")) o.history_path = vm["history"].as<std::string>();
    if (auto e = loadgen::fit_descriptors(o, vm.count("ceiling") > 0)) return report(line, *e);
    std::string json;
    int status = 0;
    if (vm.count("ceiling")) {
        const loadgen::CeilingRun run = loadgen::run_with_ceiling(o, rounds);
        std::cout << loadgen::ceiling_report(o, run);
        json = loadgen::ceiling_json(o, run);
        status = run.ok() ? 0 : 1;
    } else {
        const loadgen::LoadResult r = loadgen::run_load(o);
        std::cout << loadgen::load_report(o, r);
        json = loadgen::load_json(o, r);
        status = r.errors == 0 && r.replies > 0 ? 0 : 1;
    }
    if (vm.count("json")) {
        // Said after "herd bench", as it always was.
        if (auto e = net::write_text_file(vm["json"].as<std::string>(), json))
            return report("herd bench", with_status(*e, 1));
    }
    return status;
}

constexpr const char* propagation_usage =
    "usage: herd bench propagation [--config HERD_FILE] [--origin NAME] [--count N] "
    "[--interval-ms MS]\n"
    "                              [--json FILE] [--log-lines BOOL] [--secret-file F] [--no-bare]\n"
    "                              [--sim [--sim-latency D]]\n";

int run_bench_propagation(int argc, char** argv) {
    po::options_description visible("options");
    visible.add_options()("help,h", "show this help")("config", po::value<std::string>(),
                                                      "herd file (default: the Fall 2017 herd)")(
        "origin", po::value<std::string>(), "server that receives the IAMATs (default: the first)")(
        "count", po::value<std::string>()->default_value("200"), "updates to send (1 to 100000)")(
        "interval-ms", po::value<std::string>()->default_value("5"),
        "pause between updates (0 to 10000)")("json", po::value<std::string>(),
                                              "also write the table as JSON")(
        "sim", "replay the same herd and schedule in the simulator instead")(
        "sim-latency", po::value<std::string>()->default_value("50us"),
        "one-way link latency in the simulator")(
        "log-lines", po::value<bool>()->default_value(true, "true"),
        "the servers log every line (as herd serve does by default)")(
        "secret-file", po::value<std::string>(),
        "herd secret: TLS peer links as a deployed herd has them (and on the bare relay)")(
        "no-bare",
        "skip the bare relay (a process that forwards the same lines with no herd work)");
    po::variables_map vm;
    const CommandLine line{
        "herd bench propagation", propagation_usage,
        "Measures how long an update takes to reach every server, by hop distance.", visible};
    if (auto status = parse_command_line(line, argc, argv, vm)) return *status;
    loadgen::PropagationOptions o;
    std::uint64_t count = 0, interval = 0;
    std::optional<Error> bad = take(whole_flag(line, vm, "count", 1, 100000), count);
    if (!bad) bad = take(whole_flag(line, vm, "interval-ms", 0, 10000), interval);
    if (bad) return report(line, *bad);
    o.count = static_cast<int>(count);
    o.interval_ms = static_cast<int>(interval);
    o.sim = vm.count("sim") > 0;
    o.sim_latency = vm["sim-latency"].as<std::string>();
    o.log_lines = vm["log-lines"].as<bool>();
    o.bare = vm.count("no-bare") == 0;
    if (vm.count("secret-file"))
        o.secret_file = std::filesystem::absolute(vm["secret-file"].as<std::string>()).string();
    HerdSpec herd = fall2017_herd();
    std::string herd_file;  // a temporary one for the built-in herd, removed at the end
    if (vm.count("config")) {
        herd_file = vm["config"].as<std::string>();
        auto loaded = net::load_herd_file(herd_file);
        if (const Error* error = error_of(loaded)) return report(line, with_status(*error, 2));
        herd = std::get<HerdSpec>(std::move(loaded));
    }
    o.origin =
        vm.count("origin") ? vm["origin"].as<std::string>() : herd.servers.front().name.str();
    if (herd.index_of(o.origin) < 0)
        return report(line, Error{"unknown server '" + o.origin + "'", 2});
    const bool temporary = herd_file.empty() && !o.sim;
    if (temporary) {
        herd_file = (std::filesystem::temp_directory_path() /
                     ("herd-fall2017-" + std::to_string(::getpid()) + ".herd"))
                        .string();
        if (auto e = net::write_text_file(herd_file, format_herd_file(herd)))
            return report(line, with_status(*e, 1));
    }
    const auto measured = loadgen::measure_propagation(o, herd, herd_file);
    if (temporary) std::filesystem::remove(herd_file);
    if (const Error* e = error_of(measured)) return report(line, *e);
    const loadgen::Propagation& p = std::get<loadgen::Propagation>(measured);
    std::cout << loadgen::propagation_report(o, herd, p);
    // A JSON file that cannot be written is said, and the measurement's status stands.
    if (vm.count("json")) {
        if (auto e =
                net::write_text_file(vm["json"].as<std::string>(), loadgen::propagation_json(o, p)))
            report(line, *e);
    }
    return p.passed ? 0 : 1;
}

// `herd bench relay entry|exit ...`: one end of the bare relay, started by `herd bench
// propagation` (not listed in the usage: it is the bench's own tool).
int run_bench_relay(int argc, char** argv) {
    constexpr const char* usage =
        "usage: herd bench relay entry|exit --port-file F --stamps F [--to PORT] [--secret-file "
        "F]\n";
    po::options_description visible("options");
    visible.add_options()("help,h", "show this help")("port-file", po::value<std::string>())(
        "stamps", po::value<std::string>())("to", po::value<std::string>()->default_value("0"))(
        "secret-file", po::value<std::string>());
    po::options_description hidden;
    hidden.add_options()("role", po::value<std::string>());
    po::positional_options_description positional;
    positional.add("role", 1);
    const CommandLine line{"herd bench relay",
                           usage,
                           "One end of the bare relay of `herd bench propagation`.",
                           visible,
                           &hidden,
                           &positional};
    po::variables_map vm;
    if (auto status = parse_command_line(line, argc, argv, vm)) return *status;
    loadgen::RelayOptions o;
    const std::string role = vm.count("role") ? vm["role"].as<std::string>() : "";
    if ((role != "entry" && role != "exit") || !vm.count("port-file") || !vm.count("stamps"))
        return report(line, usage_error(line, "expected entry or exit, --port-file and --stamps"));
    std::uint64_t to = 0;
    if (auto bad = take(whole_flag(line, vm, "to", 0, 65535), to)) return report(line, *bad);
    o.exit = role == "exit";
    o.to_port = static_cast<int>(to);
    o.port_file = vm["port-file"].as<std::string>();
    o.stamps_file = vm["stamps"].as<std::string>();
    if (vm.count("secret-file")) o.secret_file = vm["secret-file"].as<std::string>();
    return loadgen::run_relay(o);
}

}  // namespace

int run_bench(int argc, char** argv) {
    const std::string_view what = argc > 1 ? argv[1] : "";
    if (what == "load") return run_bench_load(argc - 1, argv + 1);
    if (what == "propagation") return run_bench_propagation(argc - 1, argv + 1);
    if (what == "relay") return run_bench_relay(argc - 1, argv + 1);
    if (what == "--help" || what == "-h" || what == "help") {
        std::cout << bench_usage;
        return 0;
    }
    std::cerr << bench_usage;
    return 2;
}

}  // namespace herd::cli
