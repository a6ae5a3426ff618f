// `herd places-stub --port P [--host H] [--latency D] [--status S]`
#include <boost/program_options.hpp>
#include <iostream>

#include "cli/net_commands.hpp"
#include "cli/options.hpp"
#include "core/time.hpp"
#include "netmode/places_stub.hpp"

namespace herd::cli {

int run_places_stub(int argc, char** argv) {
    constexpr const char* usage =
        "usage: herd places-stub --port P [--host H] [--latency D] [--status S]\n";
    po::options_description visible("options");
    visible.add_options()("help,h", "show this help")("port", po::value<std::string>(),
                                                      "port to listen on (0: any)")(
        "host", po::value<std::string>()->default_value("127.0.0.1"), "address to listen on")(
        "latency", po::value<std::string>()->default_value("0ms"),
        "delay before every answer (e.g. 50ms, 10s)")(
        "status", po::value<std::string>()->default_value(""),
        "answer every request with this error status (REQUEST_DENIED, OVER_QUERY_LIMIT, "
        "INVALID_REQUEST, ...)");
    po::variables_map vm;
    const CommandLine line{
        "herd places-stub", usage,
        "A local, Google-compatible Places fake (Nearby Search Legacy and Places API New),\n"
        "answering from herd's synthetic generator.",
        visible};
    if (auto status = parse_command_line(line, argc, argv, vm)) return *status;
    if (!vm.count("port"))
        return report(line, usage_error(line, "--port is required (0 to 65535)"));
    const auto port = whole_flag(line, vm, "port", 0, 65535);
    if (const Error* e = error_of(port)) return report(line, *e);
    const auto latency = parse_duration(vm["latency"].as<std::string>());
    if (!latency) return report(line, usage_error(line, "--latency takes a duration such as 50ms"));
    net::StubOptions options;
    options.port = static_cast<std::uint16_t>(std::get<std::uint64_t>(port));
    options.host = vm["host"].as<std::string>();
    options.latency = std::chrono::milliseconds(latency->ns / 1'000'000);
    options.status = vm["status"].as<std::string>();
    return net::run_places_stub(options);
}

}  // namespace herd::cli
