// `herd proxy [--listen ADDR --upstream ADDR] [--name N] [--latency D] [--latency-up D]
// [--latency-down D] [--control ADDR] [--seed N]`: the fault proxy (netmode/proxy.hpp), one link
// from the command line and any number more through the control port.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>
#include <csignal>
#include <iostream>

#include "cli/net_commands.hpp"
#include "cli/options.hpp"
#include "core/text.hpp"
#include "netmode/files.hpp"
#include "netmode/proxy.hpp"
#include "replay/real_herd.hpp"

namespace herd::cli {

namespace {

constexpr const char* usage =
    "usage: herd proxy [--listen ADDR --upstream ADDR] [--name N] [--latency D]\n"
    "                  [--latency-up D] [--latency-down D] [--control ADDR] [--seed N]\n"
    "                  [--control-token-file F]\n";

// The link's latencies from --latency, --latency-up and --latency-down; the Error (exit 2, with
// the usage) of one that is not a duration or distribution.
std::optional<Error> set_latencies(const CommandLine& line, net::Proxy& proxy,
                                   const std::string& name, const po::variables_map& vm) {
    for (const auto& [flag, direction] :
         {std::pair{"latency", "both"}, {"latency-up", "up"}, {"latency-down", "down"}}) {
        if (!vm.count(flag)) continue;
        if (auto e = proxy.set_latency(name, direction, vm[flag].as<std::string>()))
            return usage_error(line, "--" + std::string(flag) + ": " + e->message);
    }
    return std::nullopt;
}

// The token of --control-token-file (none without it); the Error (exit 2) when the file cannot be
// read or holds too short a token.
Result<std::string> control_token(const po::variables_map& vm) {
    if (!vm.count("control-token-file")) return std::string();
    const auto text = net::read_text_file(vm["control-token-file"].as<std::string>());
    if (const Error* e = error_of(text)) return with_status(*e, 2);
    std::string token(trim(std::get<std::string>(text)));
    if (token.size() < 16)
        return Error{"the control token file must hold at least 16 characters", 2};
    return token;
}

}  // namespace

int run_proxy(int argc, char** argv) {
    po::options_description visible("options");
    visible.add_options()("help,h", "show this help")(
        "listen", po::value<std::string>(), "address of the link's listening end (HOST:PORT)")(
        "upstream", po::value<std::string>(), "where its connections go (HOST:PORT)")(
        "name", po::value<std::string>()->default_value("link"), "the link's name")(
        "latency", po::value<std::string>(),
        "one-way latency both ways: 5ms, uniform(1ms,5ms), ...")(
        "latency-up", po::value<std::string>(), "latency towards upstream only")(
        "latency-down", po::value<std::string>(), "latency from upstream only")(
        "control", po::value<std::string>(),
        "a control port (lines: add, latency, cut, silence, restore, list); off loopback it "
        "needs --control-token-file")(
        "control-token-file", po::value<std::string>(),
        "file holding a token (16 characters or more): every control connection must first "
        "send `auth TOKEN`")("seed", po::value<std::string>()->default_value("1"),
                             "seeds the latency draws");
    po::variables_map vm;
    const CommandLine line{"herd proxy", usage,
                           "A fault proxy for TCP links: latency per direction (bytes kept in "
                           "order), cut and restore,\nchanged at run time on the control port.",
                           visible};
    if (auto status = parse_command_line(line, argc, argv, vm)) return *status;
    const bool one_link = vm.count("listen") > 0;
    if (one_link != (vm.count("upstream") > 0) || (!one_link && !vm.count("control"))) {
        return report(line, usage_error(line,
                                        "give --listen and --upstream, or a --control "
                                        "port, or both"));
    }
    const auto seed = whole_flag(line, vm, "seed", 0, UINT64_MAX);
    if (const Error* e = error_of(seed)) return report(line, *e);
    boost::asio::io_context io;
    net::Proxy proxy(io, replay::scenario_latencies(std::get<std::uint64_t>(seed)));
    const std::string name = vm["name"].as<std::string>();
    if (one_link) {
        if (auto e =
                proxy.add(name, vm["listen"].as<std::string>(), vm["upstream"].as<std::string>()))
            return report(line, with_status(*e, 1));
        if (auto e = set_latencies(line, proxy, name, vm)) return report(line, *e);
    }
    if (vm.count("control")) {
        const auto token = control_token(vm);
        if (const Error* e = error_of(token)) return report(line, *e);
        if (auto e =
                proxy.listen_control(vm["control"].as<std::string>(), std::get<std::string>(token)))
            return report(line, *e);
    }
    std::cout << "herd proxy: " << (one_link ? proxy.list() : std::string("no link yet\n"))
              << (vm.count("control")
                      ? "herd proxy: control on " + vm["control"].as<std::string>() + "\n"
                      : "")
              << std::flush;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) {
        proxy.stop();
        io.stop();
    });
    io.run();
    return 0;
}

}  // namespace herd::cli
