#include "loadgen/propagation.hpp"

#include "loadgen/bare_relay.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "core/assert.hpp"
#include "core/herd_file.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "netmode/files.hpp"
#include "netmode/process.hpp"
#include "netmode/server.hpp"
#include "sim/report.hpp"
#include "sim/simulator.hpp"

namespace herd::loadgen {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Table = std::map<int, sim::Samples>;

using Options = PropagationOptions;

// One request on a fresh connection; the reply, or empty on failure.
std::string ask(const ServerSpec& s, const std::string& line,
                std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) {
    asio::io_context io;
    tcp::socket socket(io);
    boost::system::error_code ec;
    socket.connect(tcp::endpoint(asio::ip::make_address(s.host, ec), s.port), ec);
    if (ec) return {};
    asio::write(socket, asio::buffer(line), ec);
    socket.shutdown(tcp::socket::shutdown_send, ec);
    std::string out;
    std::array<char, 4096> buffer;
    const auto end = Clock::now() + limit;
    while (Clock::now() < end) {
        pollfd p{socket.native_handle(), POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        const std::size_t n = socket.read_some(asio::buffer(buffer), ec);
        out.append(buffer.data(), n);
        if (ec) break;
    }
    return out;
}

std::string now_text() {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    return format_timestamp(
        Timestamp{ns / nanos_per_second, static_cast<std::int32_t>(ns % nanos_per_second)});
}

Result<Propagation> run_sim(const Options& o, const HerdSpec& herd) {
    // The same herd without addresses (a scenario needs none).
    HerdSpec names_only = herd;
    for (ServerSpec& s : names_only.servers)
        s.host.clear(), s.port = 0;
    std::string text = format_herd_file(names_only);
    text += "latency " + o.sim_latency + "\n";
    // Links come up in the first second; then the same schedule as the real run.
    for (int i = 0; i < o.count; ++i) {
        text += "at " + std::to_string(1000 + i * o.interval_ms) + "ms send " + o.origin +
                " IAMAT bench" + std::to_string(i) + " +34.068930-118.445127 {now}\n";
    }
    text += "at " + std::to_string(2000 + o.count * o.interval_ms) + "ms expect converged\n";
    auto parsed = sim::parse_scenario(text, "bench-propagation");
    if (const Error* e = error_of(parsed)) return Error{e->message, 2};
    sim::Simulator simulator(std::get<sim::Scenario>(parsed), {});
    const sim::SimResult r = simulator.run();
    return Propagation{"simulated, latency " + o.sim_latency + " per hop",
                       r.propagation_by_hops,
                       r.stats.updates,
                       r.passed(),
                       {}};
}

std::string first_line_of(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    return line.empty() ? "(no output)" : line;
}

// One measurement on a real herd: its servers as children with traces in a folder of the run's
// own, which goes when the run ends.
class RealRun {
  public:
    RealRun(const Options& o, const HerdSpec& herd)
        : o_(o),
          herd_(herd),
          dir_(std::filesystem::temp_directory_path() /
               ("herd-propagation-" + std::to_string(::getpid()))),
          origin_(herd.index_of(o.origin)) {
        std::filesystem::create_directories(dir_);
    }
    ~RealRun() {
        stop();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    // Starts every server; the Error (exit 1) of one that cannot be started.
    std::optional<Error> start(const std::string& herd_file) {
        const std::string exe = net::self_executable();
        for (const ServerSpec& s : herd_.servers) {
            const std::vector<std::string> args = {exe,
                                                   "serve",
                                                   s.name.str(),
                                                   "--config",
                                                   herd_file,
                                                   "--log-dir",
                                                   logs(),
                                                   "--trace",
                                                   trace(s),
                                                   "--log-lines",
                                                   o_.log_lines ? "true" : "false"};
            std::vector<std::string> all = args;
            if (!o_.secret_file.empty()) all.insert(all.end(), {"--secret-file", o_.secret_file});
            const auto child = net::spawn_child(all, (dir_ / (s.name.str() + ".out")).string());
            if (const Error* e = error_of(child)) return Error{e->message, 1};
            pids_.push_back(std::get<net::Child>(child).pid);
        }
        return std::nullopt;
    }

    // Ready when a warm-up update has reached every server, and every one of ours runs (another
    // herd on these ports could answer the warm-up). The Error (exit 1) when not within 15 s.
    std::optional<Error> wait_ready() {
        const ServerSpec& origin = herd_.servers[static_cast<std::size_t>(origin_)];
        const auto deadline = Clock::now() + std::chrono::seconds(15);
        bool ready = false;
        while (!ready && Clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (auto e = exited()) return e;
            if (ask(origin, "IAMAT bench-warmup +1.0+1.0 " + now_text() + "\n").rfind("AT ", 0) !=
                0)
                continue;
            ready = true;
            for (const ServerSpec& s : herd_.servers)
                ready = ready && ask(s, "WHATSAT bench-warmup 1 0\n").rfind("AT ", 0) == 0;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        if (auto e = exited()) return e;
        if (!ready) return Error{"the herd did not come up within 15 s", 1};
        return std::nullopt;
    }

    void send_updates() {
        const ServerSpec& origin = herd_.servers[static_cast<std::size_t>(origin_)];
        for (int i = 0; i < o_.count; ++i) {
            ask(origin,
                "IAMAT bench" + std::to_string(i) + " +34.068930-118.445127 " + now_text() + "\n");
            std::this_thread::sleep_for(std::chrono::milliseconds(o_.interval_ms));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1000));
        stop();
    }

    // From the traces: each update's delay from the origin to every other server, by hops; and
    // how many updates the origin applied.
    std::pair<Table, std::size_t> table() const {
        std::map<std::string, std::int64_t> origin_time;  // (client, client time) -> steady ns
        std::vector<std::tuple<std::string, int, std::int64_t>> applies;
        for (int s = 0; s < static_cast<int>(herd_.servers.size()); ++s) {
            std::ifstream in(trace(herd_.servers[static_cast<std::size_t>(s)]));
            for (std::string line; std::getline(in, line);) {
                const auto r = net::parse_trace_record(line);
                if (!r || r->client.rfind("bench", 0) != 0 || r->client == "bench-warmup") continue;
                const std::string key = r->client + " " + r->client_time_text;
                if (s == origin_ && r->via.empty())
                    origin_time[key] = r->steady_ns;
                else
                    applies.emplace_back(key, s, r->steady_ns);
            }
        }
        const std::vector<int> distance = hop_distances(herd_, origin_);
        Table table;
        for (const auto& [key, s, t] : applies) {
            auto it = origin_time.find(key);
            if (it != origin_time.end())
                table[distance[static_cast<std::size_t>(s)]].add(t - it->second);
        }
        for (auto& [h, v] : table)
            v.seal();
        return {table, origin_time.size()};
    }

    // The bare relay on the same schedule, in a folder of this run's.
    Result<std::vector<std::int64_t>> bare() const {
        const std::filesystem::path folder = dir_ / "bare";
        std::filesystem::create_directories(folder);
        return measure_bare_hop(folder.string(), o_.secret_file, o_.count, o_.interval_ms);
    }

  private:
    std::string logs() const { return (dir_ / "logs").string(); }
    std::string trace(const ServerSpec& s) const {
        return (dir_ / (s.name.str() + ".jsonl")).string();
    }
    // A server that exited (its port taken, say) fails the run: the Error (exit 1) with what it
    // said, or nothing while all run.
    std::optional<Error> exited() {
        for (std::size_t i = 0; i < pids_.size(); ++i) {
            if (pids_[i] < 0 || !net::reap_child(pids_[i])) continue;
            const std::string name = herd_.servers[i].name.str();
            pids_[i] = -1;
            return Error{
                "server " + name + " could not start: " + first_line_of(dir_ / (name + ".out")), 1};
        }
        return std::nullopt;
    }
    void stop() {
        for (pid_t& p : pids_) {
            if (p > 0) net::stop_child(p, std::chrono::seconds(5));
            p = -1;
        }
    }

    const Options& o_;
    const HerdSpec& herd_;
    std::filesystem::path dir_;
    int origin_;
    std::vector<pid_t> pids_;  // in the order of herd.servers; -1 once gone
};

Result<Propagation> run_real(const Options& o, const HerdSpec& herd, const std::string& herd_file) {
    RealRun run(o, herd);
    std::optional<Error> e = run.start(herd_file);
    if (!e) e = run.wait_ready();
    if (e) return *e;
    run.send_updates();
    auto [table, updates] = run.table();
    if (table.empty()) return Error{"no update was measured (the servers' traces hold none)", 1};
    Propagation p{"real herd on this machine", std::move(table), updates, true, {}};
    if (o.bare) {
        auto bare = run.bare();
        if (const Error* e = error_of(bare)) return *e;
        p.bare = std::move(std::get<std::vector<std::int64_t>>(bare));
    }
    return p;
}

std::string format_ratio(double r) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", r);
    return text;
}

}  // namespace

Result<Propagation> measure_propagation(const PropagationOptions& o, const HerdSpec& herd,
                                        const std::string& herd_file) {
    HERD_ASSERT(herd.index_of(o.origin) >= 0);
    if (o.sim) return run_sim(o, herd);
    return run_real(o, herd, herd_file);
}

std::string propagation_report(const PropagationOptions& o, const HerdSpec& herd,
                               const Propagation& p) {
    std::ostringstream out;
    out << "herd bench propagation (" << p.mode << "): " << herd.servers.size()
        << " servers, origin " << o.origin << ", " << p.updates << " updates " << o.interval_ms
        << " ms apart\n";
    sim::print_hop_table(out, p.by_hops);
    if (p.bare.empty()) return out.str();
    const sim::Percentiles b = sim::percentiles(p.bare);
    out << "bare relay (" << (o.secret_file.empty() ? "plain TCP" : "TLS")
        << " link, no herd work): n " << b.count << ", p50 " << sim::format_latency(b.p50)
        << ", p90 " << sim::format_latency(b.p90) << ", p99 " << sim::format_latency(b.p99) << "\n";
    if (auto hop = hop_over_bare(p)) out << "hop/bare: " << format_ratio(*hop) << "\n";
    return out.str();
}

std::optional<double> hop_over_bare(const Propagation& p) {
    auto one = p.by_hops.find(1);
    if (p.bare.empty() || one == p.by_hops.end() || one->second.empty()) return std::nullopt;
    const std::int64_t bare = sim::percentiles(p.bare).p50;
    if (bare <= 0) return std::nullopt;
    return static_cast<double>(sim::percentiles(one->second).p50) / static_cast<double>(bare);
}

std::string propagation_json(const PropagationOptions& o, const Propagation& p) {
    std::string json = "{\"mode\": \"";
    append_json_escaped(json, p.mode);
    json += "\", \"origin\": \"";
    append_json_escaped(json, o.origin);
    json += "\", \"updates\": " + std::to_string(p.updates) +
            ", \"by_hops\": " + sim::hop_table_json(p.by_hops);
    if (!p.bare.empty()) {
        const sim::Percentiles b = sim::percentiles(p.bare);
        json += ", \"bare\": {\"n\": " + std::to_string(b.count) +
                ", \"p50_ns\": " + std::to_string(b.p50) +
                ", \"p90_ns\": " + std::to_string(b.p90) +
                ", \"p99_ns\": " + std::to_string(b.p99) + "}";
        if (auto hop = hop_over_bare(p)) json += ", \"hop_over_bare\": " + format_ratio(*hop);
    }
    json += "}\n";
    return json;
}

}  // namespace herd::loadgen
