// `herd log [--heartbeats] [--follow] FILE...`: prints a server's log (netmode/log_format.hpp)
// as text, one line per event and per line read or written, in order.
#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "cli/net_commands.hpp"
#include "cli/options.hpp"
#include "netmode/log_format.hpp"

namespace herd::cli {

namespace {

constexpr const char* usage = "usage: herd log [--heartbeats] [--follow] FILE...\n";

constexpr std::size_t read_chunk_bytes = 1 << 20;

// Prints one file; with `follow`, waits for more at its end (and starts over when the file is
// replaced by a rotation) until interrupted.
std::optional<Error> print_log(const std::string& path, bool heartbeats, bool follow) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{"cannot read " + path, 2};
    net::logfmt::LogPrinter printer(heartbeats);
    std::string pending;  // bytes read but not yet decoded (an entry still being written)
    std::string text;
    std::vector<char> chunk(read_chunk_bytes);
    std::streamoff offset = 0;
    while (true) {
        in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        const auto got = static_cast<std::size_t>(in.gcount());
        offset += static_cast<std::streamoff>(got);
        pending.append(chunk.data(), got);
        const bool at_end = got < chunk.size();
        text.clear();
        const std::size_t used = printer.feed(pending, text, at_end && !follow);
        pending.erase(0, used);
        std::cout << text;
        if (!at_end) continue;
        if (!follow) break;
        std::cout.flush();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        in.clear();
        std::ifstream again(path, std::ios::binary | std::ios::ate);
        if (again && again.tellg() < offset) {  // rotated away: the new file from its start
            in = std::move(again);
            in.seekg(0);
            offset = 0;
            pending.clear();
        }
    }
    text.clear();
    printer.finish(text);
    std::cout << text;
    if (in.bad()) return Error{"cannot read " + path, 2};
    return std::nullopt;
}

}  // namespace

int run_log(int argc, char** argv) {
    po::options_description visible("options");
    visible.add_options()("help,h", "show this help")("heartbeats", po::bool_switch(),
                                                      "also print heartbeat lines (PING)")(
        "follow,f", po::bool_switch(), "keep printing what the server adds (one FILE)");
    po::options_description hidden;
    hidden.add_options()("file", po::value<std::vector<std::string>>());
    po::positional_options_description positional;
    positional.add("file", -1);
    const CommandLine c{"herd log",
                        usage,
                        "Prints server logs (herd serve --log-dir) as text: each event, and each "
                        "line read\n(<) or written (>) with its connection, in order, with its "
                        "time. A log from an\nolder herd (already text) is printed as it is.",
                        visible,
                        &hidden,
                        &positional};
    po::variables_map vm;
    if (auto status = parse_command_line(c, argc, argv, vm)) return *status;
    if (!vm.count("file")) return report(c, usage_error(c, "expected a log FILE"));
    const auto files = vm["file"].as<std::vector<std::string>>();
    const bool follow = vm["follow"].as<bool>();
    if (follow && files.size() != 1) return report(c, usage_error(c, "--follow takes one FILE"));
    int status = 0;
    for (const std::string& file : files) {
        if (auto e = print_log(file, vm["heartbeats"].as<bool>(), follow)) status = report(c, *e);
    }
    return status;
}

}  // namespace herd::cli
