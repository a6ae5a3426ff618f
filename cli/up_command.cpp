// `herd up --config HERD_FILE [--places P] [--log-dir DIR] [--secret-file F] [--trace-dir DIR]`:
// one `herd serve` child per server of the file whose address is on this machine, supervised
// (cli/supervisor.hpp): output prefixed with the server's name, a child that dies restarted with
// backoff, the herd stopped at once when one cannot start, Ctrl-C (or SIGTERM) stops all.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

#include "cli/net_commands.hpp"
#include "cli/options.hpp"
#include "cli/supervisor.hpp"
#include "core/herd_file.hpp"
#include "netmode/files.hpp"
#include "netmode/log.hpp"
#include "netmode/process.hpp"

namespace asio = boost::asio;

namespace herd::cli {

namespace {

constexpr const char* usage =
    "usage: herd up --config HERD_FILE [--places P] [--log-dir DIR] [--secret-file F]\n"
    "               [--trace-dir DIR] [--tiebreak first|convergent] [--log-lines BOOL]\n"
    "               [--log-heartbeats BOOL] [--log-max-mb MB] [--log-keep N]\n"
    "               [--connections-max N] [--max-conns-per-ip N] [--line-timeout-s S]\n"
    "               [--idle-timeout-s S] [--write-timeout-s S] [--store-max-mb MB]\n"
    "               [--data-dir DIR] [--fsync always|batch|off] [--compact-mb MB]\n"
    "               [--flood-batch-ms MS] [--admin-offset N] [--no-restart]\n";

// True when `host` names an address of this machine (we can bind to it).
bool is_local(const std::string& host) {
    asio::io_context io;
    boost::system::error_code ec;
    asio::ip::udp::resolver resolver(io);
    const auto results = resolver.resolve(host, "0", ec);
    if (ec) return false;
    for (const auto& r : results) {
        asio::ip::udp::socket s(io);
        s.open(r.endpoint().protocol(), ec);
        if (ec) continue;
        s.bind(asio::ip::udp::endpoint(r.endpoint().address(), 0), ec);
        if (!ec) return true;
    }
    return false;
}

}  // namespace

// Options of `herd serve` that `herd up` passes on unchanged to every server it starts.
constexpr const char* passed_on[] = {
    "log-lines",         "log-heartbeats",    "log-max-mb",       "log-keep",
    "connections-max",   "max-conns-per-ip",  "line-timeout-s",   "idle-timeout-s",
    "write-timeout-s",   "store-max-mb",      "compact-mb",       "flood-batch-ms",
    "data-backlog-mb",   "client-buffers-mb", "heartbeat-s",      "silence-timeout-s",
    "places-timeout-ms", "places-key-file",   "client-output-mb",
};

namespace {

// The herd secret file: the one given, the one a previous `herd up` left in LOG_DIR/herd.secret
// (servers on other hosts already have it), or a new random secret written there. The Error
// (exit 1) when it cannot be written.
Result<std::string> secret_file_for(const po::variables_map& vm, const std::string& log_dir) {
    if (vm.count("secret-file")) return vm["secret-file"].as<std::string>();
    const std::string file = log_dir + "/herd.secret";
    const auto existing = net::read_text_file(file);
    if (const auto* text = std::get_if<std::string>(&existing);
        text != nullptr && text->find_first_not_of(" \r\n") != std::string::npos) {
        std::cout << "herd up: using the herd secret in " << file << "\n";
        return file;
    }
    std::random_device rd;
    std::string secret;
    static constexpr char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; ++i)
        secret += hex[rd() % 16];
    secret += '\n';
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const bool written =
        fd >= 0 && ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size());
    if (fd >= 0) ::close(fd);
    if (!written) return Error{"cannot write " + file, 1};
    std::cout << "herd up: a new herd secret is in " << file
              << " (give it to servers on other hosts)\n";
    return file;
}

// The command line of `herd serve NAME` with every option herd up passes on.
std::vector<std::string> serve_args(const po::variables_map& vm, const std::string& name,
                                    const std::string& log_dir, const std::string& secret_file,
                                    int admin_port) {
    std::vector<std::string> args = {net::self_executable(),
                                     "serve",
                                     name,
                                     "--config",
                                     vm["config"].as<std::string>(),
                                     "--log-dir",
                                     log_dir,
                                     "--secret-file",
                                     secret_file};
    if (vm.count("data-dir"))
        args.insert(args.end(), {"--data-dir", vm["data-dir"].as<std::string>() + "/" + name});
    if (vm.count("insecure-peers")) args.push_back("--insecure-peers");
    for (const char* option : {"places", "tiebreak", "fsync", "admin-token-file"}) {
        if (vm.count(option))
            args.insert(args.end(), {std::string("--") + option, vm[option].as<std::string>()});
    }
    for (const char* option : passed_on) {
        if (vm.count(option))
            args.insert(args.end(), {std::string("--") + option, vm[option].as<std::string>()});
    }
    if (vm.count("trace-dir"))
        args.insert(args.end(),
                    {"--trace", vm["trace-dir"].as<std::string>() + "/" + name + ".jsonl"});
    if (admin_port != 0)
        args.insert(args.end(), {"--admin", "127.0.0.1:" + std::to_string(admin_port)});
    return args;
}

// The names of the servers of `herd` that listen on this machine.
std::vector<std::string> local_servers(const HerdSpec& herd) {
    std::vector<std::string> local;
    for (const ServerSpec& s : herd.servers) {
        if (s.port == 0) continue;
        asio::io_context io;
        boost::system::error_code ec;
        asio::ip::udp::resolver(io).resolve(s.host, "0", ec);
        if (ec) {
            std::cerr << "herd up: " << s.name.str() << "'s host " << s.host
                      << " does not resolve here (" << ec.message() << "); not started\n";
            continue;
        }
        if (is_local(s.host)) local.push_back(s.name.str());
    }
    return local;
}

// Each local server's admin port (its port + offset; none with offset 0) into `admin`, clear of
// the herd's own ports and of each other; the Error (exit 2) of one that is not.
std::optional<Error> admin_ports(const HerdSpec& herd, const std::vector<std::string>& local,
                                 unsigned offset, std::map<std::string, int>& admin) {
    std::map<unsigned, std::string> taken;
    for (const ServerSpec& s : herd.servers)
        taken[s.port] = s.name.str() + "'s port";
    for (const std::string& name : local) {
        admin[name] = 0;
        if (offset == 0) continue;
        const unsigned port =
            herd.servers[static_cast<std::size_t>(herd.index_of(name))].port + offset;
        std::string clash = port > 65535 ? "past 65535" : "";
        if (auto [it, fresh] = taken.emplace(port, name + "'s admin port"); !fresh)
            clash = "on " + std::to_string(port) + ", which is " + it->second;
        if (!clash.empty()) {
            return Error{"--admin-offset " + std::to_string(offset) + " puts " + name +
                             "'s admin port " + clash + "; choose another offset",
                         2};
        }
        admin[name] = static_cast<int>(port);
    }
    return std::nullopt;
}

}  // namespace

int run_up(int argc, char** argv) {
    po::options_description visible("options");
    visible.add_options()("help,h", "show this help")("config", po::value<std::string>(),
                                                      "the herd file (required)")(
        "places", po::value<std::string>(), "passed to every server (see herd serve --help)")(
        "log-dir", po::value<std::string>()->default_value("logs"), "log folder of every server")(
        "secret-file", po::value<std::string>(),
        "the herd secret (default: a new one, written to LOG_DIR/herd.secret)")(
        "trace-dir", po::value<std::string>(),
        "each server writes its applied-record trace to DIR/NAME.jsonl")(
        "tiebreak", po::value<std::string>(), "passed to every server")(
        "admin-token-file", po::value<std::string>(),
        "passed to every server: turns /store on for requests with this bearer token")(
        "data-dir", po::value<std::string>(), "each server keeps its records in DIR/NAME")(
        "fsync", po::value<std::string>(), "passed to every server: always, batch or off")(
        "insecure-peers", "passed to every server (see herd serve --help)")(
        "admin-offset", po::value<std::string>()->default_value("1000"),
        "each server's admin port (/metrics, /healthz, /readyz) is 127.0.0.1:its port + N "
        "(0: none)")("no-restart", "report a server that dies, but do not start it again");
    for (const char* name : passed_on)
        visible.add_options()(name, po::value<std::string>(),
                              "passed to every server (see herd serve --help)");
    po::variables_map vm;
    const CommandLine line{
        "herd up", usage,
        "Starts every server of the herd file whose address is on this machine.\n"
        "Across machines, run `herd serve NAME --config F --secret-file S` on each host.",
        visible};
    if (auto status = parse_command_line(line, argc, argv, vm)) return *status;
    if (!vm.count("config")) return report(line, usage_error(line, "--config is required"));
    auto loaded = net::load_herd_file(vm["config"].as<std::string>());
    if (const Error* e = error_of(loaded)) return report(line, with_status(*e, 2));
    const HerdSpec herd = std::get<HerdSpec>(std::move(loaded));
    const std::vector<std::string> local = local_servers(herd);
    if (local.empty()) {
        return report(line, Error{"no server of " + vm["config"].as<std::string>() +
                                      " has an address on this machine",
                                  2});
    }
    const std::string log_dir = vm["log-dir"].as<std::string>();
    // Everything given is checked before anything is written.
    const auto admin_offset = whole_flag(line, vm, "admin-offset", 0, 65535);
    if (const Error* e = error_of(admin_offset)) return report(line, *e);
    const auto offset = static_cast<unsigned>(std::get<std::uint64_t>(admin_offset));
    std::map<std::string, int> admin;
    if (auto e = admin_ports(herd, local, offset, admin)) return report(line, *e);
    if (log_dir.empty() && !vm.count("secret-file")) {
        return report(line, Error{"--log-dir \"\" (no logs) needs --secret-file: herd up keeps "
                                  "the herd secret it makes in the log folder",
                                  2});
    }
    if (!log_dir.empty()) {
        if (auto e = net::Log::make_folder(log_dir)) return report(line, with_status(*e, 1));
    }
    const auto secret = secret_file_for(vm, log_dir);
    if (const Error* e = error_of(secret)) return report(line, *e);
    const std::string& secret_file = std::get<std::string>(secret);
    std::vector<ServerCommand> servers;
    for (const std::string& name : local)
        servers.push_back(
            ServerCommand{name, serve_args(vm, name, log_dir, secret_file, admin[name])});
    SupervisorOptions supervision;
    supervision.restart = vm.count("no-restart") == 0;
    return supervise(servers, supervision);
}

}  // namespace herd::cli
