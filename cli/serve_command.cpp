// `herd serve NAME [--config HERD_FILE] [--places P] [--log-dir DIR] [--secret-file F] ...`
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>

#include "cli/net_commands.hpp"
#include "cli/options.hpp"
#include "herd_version.hpp"
#include "netmode/clock.hpp"
#include "netmode/files.hpp"
#include "netmode/server.hpp"

namespace herd::cli {

namespace {

constexpr const char* usage =
    "usage: herd serve NAME [--config HERD_FILE] [--places P] [--places-key-env VAR]\n"
    "                       [--places-key-file F] [--places-timeout-ms MS] [--secret-file F]\n"
    "                       [--log-dir DIR] [--log-lines BOOL] [--log-heartbeats BOOL]\n"
    "                       [--log-max-mb MB] [--log-keep N] [--trace F.jsonl]\n"
    "                       [--tiebreak first|convergent] [--connections-max N]\n"
    "                       [--max-conns-per-ip N] [--line-timeout-s S] [--idle-timeout-s S]\n"
    "                       [--write-timeout-s S] [--store-max-mb MB] [--admin ADDR:PORT]\n"
    "                       [--insecure-peers] [--data-dir DIR] [--fsync always|batch|off]\n"
    "                       [--compact-mb MB] [--clock-offset D] [--heartbeat-s S]\n"
    "                       [--silence-timeout-s S] [--flood-batch-ms MS]\n"
    "                       [--data-backlog-mb MB] [--admin-token-file F]\n"
    "                       [--client-buffers-mb MB] [--client-output-mb MB]\n";

// Limits given as text, checked by number_flag: (flag, default, maximum, digits allowed after
// the point: 0 for counts, 9 for seconds, 6 for MiB, 3 for milliseconds).
struct NumberFlag {
    const char* name;
    const char* fallback;
    std::uint64_t max;
    int decimals;
    const char* help;
};

constexpr NumberFlag number_flags[] = {
    {"connections-max", "10000", 1'000'000, 0, "client connections in all; more are refused"},
    {"max-conns-per-ip", "256", 1'000'000, 0,
     "client connections from one address; more are refused"},
    {"line-timeout-s", "10", 86400, 9, "a started line must end within S seconds (0: never)"},
    {"idle-timeout-s", "300", 86400, 9, "close clients with nothing pending after S (0: never)"},
    {"write-timeout-s", "30", 86400, 9, "close a client that takes no output for S (0: never)"},
    {"log-max-mb", "64", 1'000'000, 6, "rotate the log past this size, in MiB (0: never)"},
    {"store-max-mb", "1024", 1'000'000, 6,
     "past this many MiB of stored records, IAMATs for new clients get ? (0: none at all)"},
    {"log-keep", "5", 1000, 0, "rotated log files kept (NAME.log.1 .. NAME.log.N)"},
    {"heartbeat-s", "1", 60, 9, "send a peer a heartbeat after S without other lines"},
    {"silence-timeout-s", "3", 600, 9,
     "close a peer link (or a peer handshake) silent for S; one-way latencies must stay below "
     "half of it"},
    {"flood-batch-ms", "0", static_cast<std::uint64_t>(flood_batch_max.ns / 1'000'000), 3,
     "hold records flooded to a peer up to MS to write them together (0: each at once)"},
    {"compact-mb", "64", 1'000'000, 6,
     "compact the data log into a snapshot past this many MiB (and the last snapshot's size)"},
    {"client-output-mb", "256", 1'000'000, 6,
     "output waiting for clients, over all connections: past it those holding the most are "
     "closed"},
    {"client-buffers-mb", "128", 1'000'000, 6,
     "bytes read from clients and not yet whole lines, over all connections: past it those "
     "holding the most are closed"},
    {"data-backlog-mb", "64", 1'000'000, 6,
     "records waiting for the data folder (a full disk) past which IAMATs get ? until it "
     "takes writes again"},
};

void describe_options(po::options_description& visible) {
    visible.add_options()("help,h", "show this help")(
        "config", po::value<std::string>(),
        "herd file (default: the Fall 2017 herd on 127.0.0.1:12000-12004)")(
        "places", po::value<std::string>()->default_value(""),
        "URL (Nearby Search Legacy at that base URL), new=URL (Places API New), google, "
        "google-new or offline; default google-new with GOOGLE_PLACES_API_KEY set, else offline")(
        "places-key-env", po::value<std::string>()->default_value("GOOGLE_PLACES_API_KEY"),
        "environment variable holding the API key (the key never reaches a log)")(
        "places-key-file", po::value<std::string>(),
        "file holding the API key (instead of the environment)")(
        "places-timeout-ms",
        po::value<std::string>()->default_value(
            std::to_string(places_timeout_default.ns / 1'000'000)),
        "timeout of one Places request (100 to 60000)")(
        "log-dir", po::value<std::string>()->default_value("logs"),
        "folder for NAME.log (created if missing; \"\": no log)")(
        "log-lines", po::value<bool>()->default_value(true, "true"),
        "log every input and output line (false: connections, peers and errors only)")(
        "secret-file", po::value<std::string>(),
        "file holding the herd secret (peers authenticate with it)")(
        "data-dir", po::value<std::string>(),
        "keep every stored record in DIR (a log and its compacted snapshot) and load them back "
        "at start")(
        "fsync", po::value<std::string>()->default_value("batch"),
        "always (an AT reply only once its record is on disk), batch (every 10 ms) or off")(
        "insecure-peers",
        "run peer links without a herd secret although the herd is not all on loopback")(
        "trace", po::value<std::string>(),
        "write every applied record as a JSON line to this file")(
        "tiebreak", po::value<std::string>()->default_value("first"),
        "rule for equal client times: first or convergent")(
        "log-heartbeats", po::value<bool>()->default_value(false, "false"),
        "log the peers' PING lines too")(
        "admin-token-file", po::value<std::string>(),
        "file holding a token (16 characters or more) that turns /store on the admin port on "
        "for requests with `Authorization: Bearer TOKEN`; without it /store is off")(
        "admin", po::value<std::string>(),
        "serve /metrics, /healthz, /readyz and /store over HTTP on ADDR:PORT (never the client "
        "port)")("clock-offset", po::value<std::string>(),
                 "run on the system clock plus D (a signed duration: -2s, 1.5ms); AT replies' "
                 "skews and the trace's wall times use it, the log keeps the machine's time");
    for (const NumberFlag& f : number_flags)
        visible.add_options()(f.name, po::value<std::string>()->default_value(f.fallback), f.help);
}

// The herd and which server of it this is; the Error (exit 2) when the herd file cannot be read
// or has no such server.
std::optional<Error> read_herd(const CommandLine& line, const po::variables_map& vm,
                               net::ServerOptions& options) {
    if (vm.count("config")) {
        auto loaded = net::load_herd_file(vm["config"].as<std::string>());
        if (const Error* error = error_of(loaded)) return with_status(*error, 2);
        options.herd = std::get<HerdSpec>(std::move(loaded));
        // Certificate paths in the herd file are relative to its folder.
        const std::string file = vm["config"].as<std::string>();
        const std::size_t slash = file.rfind('/');
        const std::string folder = slash == std::string::npos ? "." : file.substr(0, slash);
        options.tls_files =
            options.herd.tls.for_server(vm["name"].as<std::string>(), slash == 0 ? "/" : folder);
    } else {
        options.herd = fall2017_herd();
    }
    const std::string name = vm["name"].as<std::string>();
    options.self = options.herd.index_of(name);
    if (options.self < 0) {
        std::string names;
        for (const auto& s : options.herd.servers)
            names += " " + s.name.str();
        return usage_error(line, "unknown server '" + name + "'; this herd has:" + names);
    }
    if (options.herd.servers[static_cast<std::size_t>(options.self)].port == 0)
        return Error{"server '" + name + "' has no address in the herd file", 2};
    return std::nullopt;
}

// The trimmed text of the file a flag names, or why it cannot be read (exit 2).
Result<std::string> flag_file(const po::variables_map& vm, const char* flag) {
    const auto text = net::read_text_file(vm[flag].as<std::string>());
    if (const Error* e = error_of(text)) return with_status(*e, 2);
    return net::trimmed_file(std::get<std::string>(text));
}

// The Places provider, its key and timeout; the Error (exit 2) of a bad flag or key file.
std::optional<Error> read_places(const CommandLine& line, const po::variables_map& vm,
                                 net::ServerOptions& options) {
    const auto timeout =
        whole_flag(line, vm, "places-timeout-ms", places_timeout_min.ns / 1'000'000,
                   places_timeout_max.ns / 1'000'000);
    if (const Error* e = error_of(timeout)) return *e;
    const std::uint64_t timeout_ms = std::get<std::uint64_t>(timeout);
    std::string key;
    if (vm.count("places-key-file")) {
        auto text = flag_file(vm, "places-key-file");
        if (const Error* e = error_of(text)) return *e;
        key = std::get<std::string>(std::move(text));
    } else if (const char* env = std::getenv(vm["places-key-env"].as<std::string>().c_str())) {
        key = env;
    }
    auto places = net::parse_places_option(vm["places"].as<std::string>(), key);
    if (!places)
        return usage_error(line, "--places takes URL, new=URL, google, google-new or offline");
    places->timeout = std::chrono::milliseconds(timeout_ms);
    options.places = *places;
    // The core gives up a little after the provider's own timeout, so its status comes through.
    options.limits.places_timeout =
        Duration::milliseconds(static_cast<std::int64_t>(timeout_ms)) + places_timeout_grace;
    return std::nullopt;
}

// The limits of number_flags; the Error (exit 2) of the first bad one, or of peer deadlines that
// do not fit together.
std::optional<Error> read_limits(const CommandLine& line, const po::variables_map& vm,
                                 net::ServerOptions& options) {
    std::map<std::string, Decimal> number;
    for (const NumberFlag& f : number_flags) {
        const auto value = number_flag(line, vm, f.name, f.max, f.decimals);
        if (const Error* e = error_of(value)) return *e;
        number[f.name] = std::get<Decimal>(value);
    }
    auto whole = [&](const char* name) {
        return static_cast<std::size_t>(*parse_whole(number.at(name).whole, UINT64_MAX));
    };
    options.connections_max = whole("connections-max");
    options.conns_per_ip_max = whole("max-conns-per-ip");
    options.log_keep = whole("log-keep");
    options.limits.client_line_timeout = decimal_seconds(number.at("line-timeout-s"));
    options.limits.client_idle_timeout = decimal_seconds(number.at("idle-timeout-s"));
    options.limits.client_write_timeout = decimal_seconds(number.at("write-timeout-s"));
    options.log_bytes_max = decimal_mebibytes(number.at("log-max-mb"));
    options.limits.store_bytes_max = decimal_mebibytes(number.at("store-max-mb"));
    options.compact_bytes = std::max<std::uint64_t>(decimal_mebibytes(number.at("compact-mb")), 1);
    options.limits.client_output_total_bytes_max =
        std::max<std::size_t>(decimal_mebibytes(number.at("client-output-mb")), 1);
    options.limits.client_buffered_bytes_max =
        std::max<std::size_t>(decimal_mebibytes(number.at("client-buffers-mb")), 1);
    options.data_backlog_bytes_max =
        std::max<std::size_t>(decimal_mebibytes(number.at("data-backlog-mb")), 1);
    options.limits.heartbeat_interval = decimal_seconds(number.at("heartbeat-s"));
    options.limits.silence_timeout = decimal_seconds(number.at("silence-timeout-s"));
    options.limits.flood_batch = Duration{decimal_seconds(number.at("flood-batch-ms")).ns / 1000};
    if (options.limits.heartbeat_interval.ns < 10'000'000 ||
        options.limits.silence_timeout.ns < 100'000'000 ||
        options.limits.heartbeat_interval >= options.limits.silence_timeout) {
        return usage_error(line,
                           "--heartbeat-s takes 0.01 to 60 and --silence-timeout-s 0.1 to 600, the "
                           "heartbeat shorter than the silence timeout");
    }
    return std::nullopt;
}

// A herd secret keys every peer link: one a guess finds, or the manifest's placeholder, is
// refused. Returns that refusal (exit 2), or nothing for a secret strong enough.
std::optional<Error> weak_secret(const std::string& secret, const std::string& file) {
    constexpr std::size_t secret_chars_min = 16;
    if (secret.size() >= secret_chars_min && secret.find("replace-me") == std::string::npos)
        return std::nullopt;
    return Error{"the herd secret in " + file + " is " +
                     (secret.size() < secret_chars_min
                          ? "shorter than " + std::to_string(secret_chars_min) + " characters"
                          : std::string("a placeholder")) +
                     "; make one with `head -c 32 /dev/urandom | base64 > " + file + "`",
                 2};
}

// Whether users other than its owner may read `file` (a secret's file should be chmod 600).
bool readable_by_others(const std::string& file) {
    struct stat st {};
    return ::stat(file.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
}

// The herd secret, the admin token, the data folder and the rules; the Error (exit 2) of a file
// that cannot be read or is too weak, of a herd that reaches off this machine without a secret,
// or of a bad --fsync or --tiebreak.
std::optional<Error> read_secret_and_rules(const CommandLine& line, const po::variables_map& vm,
                                           net::ServerOptions& options) {
    if (vm.count("secret-file")) {
        auto secret = flag_file(vm, "secret-file");
        if (const Error* e = error_of(secret)) return *e;
        const std::string& text = std::get<std::string>(secret);
        if (auto e = weak_secret(text, vm["secret-file"].as<std::string>())) return e;
        options.secret = text;
    }
    if (vm.count("admin-token-file")) {
        auto token = flag_file(vm, "admin-token-file");
        if (const Error* e = error_of(token)) return *e;
        if (std::get<std::string>(token).size() < 16)
            return Error{"the admin token file must hold at least 16 characters", 2};
        options.admin_token = std::get<std::string>(std::move(token));
    }
    // Secure by default: a herd that reaches beyond this machine needs a secret (or the herd
    // file's certificates), unless the operator says otherwise in so many words.
    if (options.secret.empty() && !options.tls_files.complete()) {
        const ServerSpec* outside = first_off_loopback(options.herd);
        options.insecure_peers = vm.count("insecure-peers") > 0;
        if (outside != nullptr && !options.insecure_peers) {
            return Error{"server " + outside->name.str() + " is at " + outside->host +
                             ", off this machine: peers need a herd secret (--secret-file F) or "
                             "certificates (tls-ca, tls-cert, tls-key in the herd file), or "
                             "--insecure-peers to run them unauthenticated",
                         2};
        }
    }
    if (vm.count("data-dir")) options.data_dir = vm["data-dir"].as<std::string>();
    const std::string fsync = vm["fsync"].as<std::string>();
    if (fsync == "always") {
        options.fsync = net::StoreFile::Sync::always;
    } else if (fsync == "off") {
        options.fsync = net::StoreFile::Sync::off;
    } else if (fsync != "batch") {
        return usage_error(line, "--fsync takes always, batch or off");
    }
    const std::string tiebreak = vm["tiebreak"].as<std::string>();
    if (tiebreak == "convergent") {
        options.tie_break = TieBreak::convergent;
    } else if (tiebreak != "first") {
        return usage_error(line, "--tiebreak takes first or convergent");
    }
    return std::nullopt;
}

// --clock-offset, when given, set as the offset of the wall clock; the Error (exit 2) when it is
// not a signed duration.
std::optional<Error> read_clock_offset(const CommandLine& line, const po::variables_map& vm) {
    if (!vm.count("clock-offset")) return std::nullopt;
    const std::string text = vm["clock-offset"].as<std::string>();
    const auto offset = parse_duration(text, true);
    if (!offset) {
        return usage_error(
            line,
            "--clock-offset takes a signed duration such as -2s or 1.5ms, not '" + text + "'");
    }
    net::wall_offset_ns() = offset->ns;
    return std::nullopt;
}

}  // namespace

namespace {

// Started by `herd up`: stop when it goes, even if it is killed and cannot say so.
void follow_supervisor() {
    const char* pid = std::getenv("HERD_SUPERVISOR_PID");
    if (pid == nullptr) return;
    const long supervisor = std::strtol(pid, nullptr, 10);
    if (supervisor <= 1 || static_cast<long>(::getppid()) != supervisor) return;
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (static_cast<long>(::getppid()) != supervisor) std::raise(SIGTERM);  // it went meanwhile
}

}  // namespace

int run_serve(int argc, char** argv) {
    follow_supervisor();
    po::options_description visible("options");
    describe_options(visible);
    po::options_description hidden;
    hidden.add_options()("name", po::value<std::string>());
    po::positional_options_description positional;
    positional.add("name", 1);
    po::variables_map vm;
    const CommandLine line{
        "herd serve", usage,   "Runs one server of a herd: clients and peers on one port.",
        visible,      &hidden, &positional};
    if (auto status = parse_command_line(line, argc, argv, vm)) return *status;
    if (!vm.count("name")) return report(line, usage_error(line, "a server name is required"));
    net::ServerOptions options;
    std::optional<Error> e = read_herd(line, vm, options);
    if (!e) e = read_places(line, vm, options);
    if (!e) e = read_limits(line, vm, options);
    if (!e) e = read_secret_and_rules(line, vm, options);
    // A secret taken (it is set only then) that others can read: said even when a later flag
    // stops the run.
    if (!options.secret.empty() && readable_by_others(vm["secret-file"].as<std::string>()))
        std::cerr << "herd serve: warning: " << vm["secret-file"].as<std::string>()
                  << " can be read by other users (chmod 600 it)\n";
    if (!e) e = read_clock_offset(line, vm);
    if (e) return report(line, *e);
    options.log_dir = vm["log-dir"].as<std::string>();
    options.log_lines = vm["log-lines"].as<bool>();
    options.log_heartbeats = vm["log-heartbeats"].as<bool>();
    if (vm.count("admin")) options.admin = vm["admin"].as<std::string>();
    options.version = HERD_VERSION;
    options.commit = HERD_COMMIT;
    if (vm.count("trace")) options.trace_path = vm["trace"].as<std::string>();
    return net::serve(std::move(options));
}

}  // namespace herd::cli
