// `herd serve NAME [--config HERD_FILE] [--places P] [--log-dir DIR] [--secret-file F] ...`
#include <boost/program_options.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/net_commands.hpp"
#include "cli/options.hpp"
#include "netmode/files.hpp"
#include "netmode/server.hpp"

namespace herd::cli {

namespace {

constexpr const char* usage =
    "usage: herd serve NAME [--config HERD_FILE] [--places P] [--log-dir DIR] [--log-lines BOOL] "
    "[--secret-file F]\n"
    "                       [--trace F.jsonl] [--tiebreak first|convergent] [--connections-max "
    "N]\n";

}  // namespace

int run_serve(int argc, char** argv) {
    po::options_description visible("options");
    visible.add_options()("help,h", "show this help")(
        "config", po::value<std::string>(),
        "herd file (default: the Fall 2017 herd on 127.0.0.1:12000-12004)")(
        "places", po::value<std::string>()->default_value(""),
        "URL (Nearby Search Legacy at that base URL), new=URL (Places API New), google, google-new "
        "or "
        "offline; default google-new with GOOGLE_PLACES_API_KEY set, else offline")(
        "places-key-env", po::value<std::string>()->default_value("GOOGLE_PLACES_API_KEY"),
        "environment variable holding the API key (the key never reaches a log)")(
        "places-key-file", po::value<std::string>(),
        "file holding the API key (instead of the environment)")(
        "places-timeout-ms", po::value<unsigned>()->default_value(4000),
        "timeout of one Places request")("log-dir", po::value<std::string>()->default_value("logs"),
                                         "folder for NAME.log (created if missing; \"\": no log)")(
        "log-lines", po::value<bool>()->default_value(true),
        "log every input and output line (false: connections, peers and errors only)")(
        "secret-file", po::value<std::string>(),
        "file holding the herd secret (peers authenticate with it)")(
        "trace", po::value<std::string>(),
        "write every applied record as a JSON line to this file")(
        "tiebreak", po::value<std::string>()->default_value("first"),
        "rule for equal client times: first or convergent")(
        "connections-max", po::value<std::size_t>()->default_value(10000),
        "connections beyond this are refused")("idle-timeout-s",
                                               po::value<unsigned>()->default_value(300),
                                               "close clients silent this long (0: never)");
    po::options_description hidden;
    hidden.add_options()("name", po::value<std::string>());
    po::positional_options_description positional;
    positional.add("name", 1);
    po::variables_map vm;
    const CommandLine line{
        "herd serve", usage,   "Runs one server of a herd: clients and peers on one port.",
        visible,      &hidden, &positional};
    if (auto status = parse_command_line(line, argc, argv, vm)) return *status;
    if (!vm.count("name")) {
        std::cerr << "herd serve: a server name is required\n" << usage << visible;
        return 2;
    }
    net::ServerOptions options;
    if (vm.count("config")) {
        auto loaded = net::load_herd_file(vm["config"].as<std::string>());
        if (auto* error = std::get_if<std::string>(&loaded)) {
            std::cerr << "herd serve: " << *error << "\n";
            return 2;
        }
        options.herd = std::get<HerdSpec>(std::move(loaded));
    } else {
        options.herd = fall2017_herd();
    }
    const std::string name = vm["name"].as<std::string>();
    options.self = options.herd.index_of(name);
    if (options.self < 0) {
        std::string names;
        for (const auto& s : options.herd.servers)
            names += " " + s.name.str();
        std::cerr << "herd serve: unknown server '" << name << "'; this herd has:" << names << "\n"
                  << usage;
        return 2;
    }
    if (options.herd.servers[static_cast<std::size_t>(options.self)].port == 0) {
        std::cerr << "herd serve: server '" << name << "' has no address in the herd file\n";
        return 2;
    }
    std::string key;
    if (vm.count("places-key-file")) {
        if (!net::read_text_file(vm["places-key-file"].as<std::string>(), &key)) {
            std::cerr << "herd serve: cannot read " << vm["places-key-file"].as<std::string>()
                      << "\n";
            return 2;
        }
        while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' '))
            key.pop_back();
    } else if (const char* env = std::getenv(vm["places-key-env"].as<std::string>().c_str())) {
        key = env;
    }
    auto places = net::parse_places_option(vm["places"].as<std::string>(), key);
    if (!places) {
        std::cerr << "herd serve: --places takes URL, new=URL, google, google-new or offline\n"
                  << usage;
        return 2;
    }
    places->timeout = std::chrono::milliseconds(vm["places-timeout-ms"].as<unsigned>());
    options.places = *places;
    // The core gives up a little after the provider's own timeout, so its status comes through.
    options.limits.places_timeout =
        Duration::milliseconds(vm["places-timeout-ms"].as<unsigned>() + 1000);
    options.limits.client_idle_timeout = Duration::seconds(vm["idle-timeout-s"].as<unsigned>());
    if (vm.count("secret-file")) {
        std::string secret;
        if (!net::read_text_file(vm["secret-file"].as<std::string>(), &secret)) {
            std::cerr << "herd serve: cannot read " << vm["secret-file"].as<std::string>() << "\n";
            return 2;
        }
        while (!secret.empty() &&
               (secret.back() == '\n' || secret.back() == '\r' || secret.back() == ' '))
            secret.pop_back();
        if (secret.empty()) {
            std::cerr << "herd serve: the secret file is empty\n";
            return 2;
        }
        options.secret = secret;
    }
    const std::string tiebreak = vm["tiebreak"].as<std::string>();
    if (tiebreak == "convergent")
        options.tie_break = TieBreak::convergent;
    else if (tiebreak != "first") {
        std::cerr << "herd serve: --tiebreak takes first or convergent\n" << usage;
        return 2;
    }
    options.log_dir = vm["log-dir"].as<std::string>();
    options.log_lines = vm["log-lines"].as<bool>();
    if (vm.count("trace")) options.trace_path = vm["trace"].as<std::string>();
    options.connections_max = vm["connections-max"].as<std::size_t>();
    return net::serve(std::move(options));
}

}  // namespace herd::cli
