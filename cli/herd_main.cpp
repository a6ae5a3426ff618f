// herd: the command-line entry point. Subcommands dispatch to their own files.
#include <cstring>
#include <iostream>
#include <string_view>

#include "cli/demo.hpp"
#include "cli/net_commands.hpp"
#include "cli/sim_command.hpp"
#include "herd_version.hpp"

namespace {

constexpr const char* usage_text =
    "usage: herd COMMAND [ARGS...]\n"
    "\n"
    "commands:\n"
    "  serve        run one server of a herd (default: the Fall 2017 herd on 127.0.0.1)\n"
    "  up           run every server of a herd file that lives on this machine\n"
    "  client       talk to a server: stdin lines in, replies out\n"
    "  places-stub  a local Google-compatible Places fake\n"
    "  proxy        a fault proxy for TCP links: latency, cut, restore\n"
    "  sim          replay a scenario file in the deterministic simulator\n"
    "  replay       run a scenario file against a real herd on loopback (--compare: and sim)\n"
    "  sweep        generated fault schedules over a scenario, failures shrunk\n"
    "  fmt          print scenario files in canonical form (--check, --write)\n"
    "  bench        load HOST:PORT | propagation: measure a real herd\n"
    "  log          print server logs as text (--follow: as they grow)\n"
    "  check        check a client history for session anomalies and stale reads\n"
    "  data         check DIR | repair DIR: look into and salvage a server's data folder\n"
    "  demo         answer an IAMAT and a WHATSAT through the core (no network)\n"
    "  version      print the version and the git commit it was built from\n"
    "  help [CMD]   show this help, or a command's\n"
    "\n"
    "Run `herd COMMAND --help` for a command's options.\n";

int dispatch(int argc, char** argv);

}  // namespace

int main(int argc, char** argv) {
    return dispatch(argc, argv);
}

namespace {

int dispatch(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << usage_text;
        return 2;
    }
    const std::string_view command = argv[1];
    if (command == "version" || command == "--version") {
        std::cout << "herd " << HERD_VERSION << " (commit " << HERD_COMMIT << ")\n";
        return 0;
    }
    if (command == "help" && argc == 3 && std::string_view(argv[2]) != "help") {
        // `herd help CMD` is `herd CMD --help`.
        char help[] = "--help";
        char* args[] = {argv[0], argv[2], help, nullptr};
        return dispatch(3, args);
    }
    if (command == "help" || command == "--help" || command == "-h") {
        std::cout << usage_text;
        return 0;
    }
    if (command == "sim") return herd::cli::run_sim(argc - 1, argv + 1);
    if (command == "serve") return herd::cli::run_serve(argc - 1, argv + 1);
    if (command == "bench") return herd::cli::run_bench(argc - 1, argv + 1);
    if (command == "up") return herd::cli::run_up(argc - 1, argv + 1);
    if (command == "client") return herd::cli::run_client(argc - 1, argv + 1);
    if (command == "places-stub") return herd::cli::run_places_stub(argc - 1, argv + 1);
    if (command == "proxy") return herd::cli::run_proxy(argc - 1, argv + 1);
    if (command == "replay") return herd::cli::run_replay(argc - 1, argv + 1);
    if (command == "sweep") return herd::cli::run_sweep(argc - 1, argv + 1);
    if (command == "data") return herd::cli::run_data(argc - 1, argv + 1);
    if (command == "fmt") return herd::cli::run_fmt(argc - 1, argv + 1);
    if (command == "log") return herd::cli::run_log(argc - 1, argv + 1);
    if (command == "check") return herd::cli::run_check(argc - 1, argv + 1);
    if (command == "demo") {
        if (argc > 2 && (std::strcmp(argv[2], "--help") == 0 || std::strcmp(argv[2], "-h") == 0)) {
            std::cout << "usage: herd demo\n\nAnswers a few client lines through the core alone.\n";
            return 0;
        }
        if (argc > 2) {
            std::cerr << "herd demo: unexpected argument '" << argv[2] << "'\nusage: herd demo\n";
            return 2;
        }
        return herd::cli::run_demo(std::cout);
    }
    std::cerr << "herd: unknown command '" << command << "'\n" << usage_text;
    return 2;
}

}  // namespace
