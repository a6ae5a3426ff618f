#include "replay/real_herd.hpp"

#include "replay/loopback.hpp"

#include "netmode/files.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "core/assert.hpp"
#include "core/hash.hpp"
#include "core/peer_protocol.hpp"
#include "core/prng.hpp"
#include "core/text.hpp"
#include "netmode/process.hpp"
#include "sim/distribution.hpp"

namespace herd::replay {

namespace {

using Clock = std::chrono::steady_clock;

// "+123.000000000s" / "-5.250000000s": a signed duration as --clock-offset reads it.
std::string offset_text(std::int64_t ns) {
    const auto magnitude = static_cast<std::uint64_t>(ns < 0 ? -ns : ns);
    return format_signed_seconds(
               TimeDifference{ns < 0, magnitude / nanos_per_second,
                              static_cast<std::uint32_t>(magnitude % nanos_per_second)}) +
           "s";
}

std::vector<int> neighbours(const HerdSpec& herd, int s) {
    std::vector<int> out;
    for (const auto& [a, b] : herd.links) {
        if (a == s) out.push_back(b);
        if (b == s) out.push_back(a);
    }
    return out;
}

}  // namespace

net::LatencyParser scenario_latencies(std::uint64_t seed) {
    return [seed](std::string_view text,
                  std::string_view stream) -> std::optional<net::LatencySampler> {
        auto distribution = sim::parse_distribution(text);
        if (!distribution) return std::nullopt;
        auto prng = std::make_shared<Prng>(seed ^ fnv1a64(stream));
        return net::LatencySampler([d = *distribution, prng] { return d.sample(*prng); });
    };
}

RealHerd::RealHerd(const sim::Scenario& scenario, RealHerdOptions options)
    : sc_(scenario), options_(std::move(options)), work_(io_.get_executor()) {
    servers_.resize(sc_.herd.servers.size());
    link_state_.assign(sc_.herd.links.size(), LinkState{});
    proxy_ = std::make_unique<net::Proxy>(io_, scenario_latencies(options_.seed));
    // The servers stop when this process goes, even killed (herd serve follows the PID).
    ::setenv("HERD_SUPERVISOR_PID", std::to_string(::getpid()).c_str(), 1);
    thread_ = std::thread([this] { io_.run(); });
}

RealHerd::~RealHerd() {
    stop();
    for (int fd : held_)
        ::close(fd);
    on_io([this] {
        proxy_->stop();
        if (stub_) stub_->stop();
    });
    work_.reset();
    io_.stop();
    thread_.join();
}

std::string RealHerd::name(int s) const {
    return sc_.herd.servers[static_cast<std::size_t>(s)].name.str();
}

std::string RealHerd::path(const std::string& file) const {
    return (std::filesystem::path(options_.folder) / file).string();
}

std::uint16_t RealHerd::client_port(int s) const {
    return proxy_->port("client>" + name(s));
}

// Every port of the run, from the base port up: two per server (clients and peers; admin), one
// per proxy link and one for the Places stub, each held for the whole run (hold_port), so no
// other program takes one, even while its server is down. By default below Linux's usual
// ephemeral range (32768 up), where no outgoing connection lands either. 0: none left.
std::uint16_t RealHerd::take_port() {
    if (next_port_ == 0) next_port_ = options_.base_port;
    if (next_port_ == 0)
        next_port_ = 20000 + static_cast<std::uint32_t>(std::random_device{}() % 10000);
    for (; next_port_ <= 65535; ++next_port_) {
        const int fd = hold_port(static_cast<std::uint16_t>(next_port_));
        if (fd < 0) continue;
        held_.push_back(fd);
        return static_cast<std::uint16_t>(next_port_++);
    }
    return 0;
}

std::optional<Error> RealHerd::pick_ports() {
    for (Process& p : servers_) {
        p.port = take_port();
        p.admin = take_port();
        if (p.port == 0 || p.admin == 0)
            return Error{"no free ports from the base port up for the herd"};
    }
    return std::nullopt;
}

std::optional<Error> RealHerd::add_links() {
    std::optional<Error> failed;
    on_io([&] {
        auto add = [&](const std::string& link, int to, const sim::Distribution& latency) {
            if (failed) return;
            const std::string up =
                "127.0.0.1:" + std::to_string(servers_[static_cast<std::size_t>(to)].port);
            const std::uint16_t port = take_port();
            if (port == 0) {
                failed = Error{"no free ports from the base port up for the proxy links"};
                return;
            }
            failed = proxy_->add(link, "127.0.0.1:" + std::to_string(port), up);
            if (!failed) failed = proxy_->set_latency(link, "both", latency.describe());
        };
        for (int s = 0; s < static_cast<int>(servers_.size()); ++s) {
            add("client>" + name(s), s, sc_.client_latency);
            for (int n : neighbours(sc_.herd, s))
                add(name(s) + ">" + name(n), n, sc_.latency_of(s, n));
        }
    });
    return failed;
}

std::optional<Error> RealHerd::write_herd_file(int s) const {
    // The scenario's herd (its links and TLS lines as they are), through the one herd-file
    // writer, with every address on loopback: a neighbour's is its proxy link's.
    HerdSpec view = sc_.herd;
    for (int t = 0; t < static_cast<int>(servers_.size()); ++t) {
        ServerSpec& spec = view.servers[static_cast<std::size_t>(t)];
        spec.host = "127.0.0.1";
        spec.port = servers_[static_cast<std::size_t>(t)].port;
        if (t != s && sc_.herd.linked(s, t)) spec.port = proxy_->port(name(s) + ">" + name(t));
    }
    return net::write_text_file(path(name(s) + ".herd"),
                                "# " + name(s) +
                                    "'s view of the replayed herd: neighbours through proxy "
                                    "links\n" +
                                    format_herd_file(view));
}

std::optional<Error> RealHerd::start(std::chrono::system_clock::time_point t0_wall) {
    std::error_code ec;
    std::filesystem::create_directories(path("logs"), ec);
    if (ec) return Error{"cannot make " + path("logs") + ": " + ec.message()};
    if (auto e = net::write_text_file(path("places.key"), "replay\n")) return e;
    std::random_device device;
    admin_token_ = hex64((std::uint64_t{device()} << 32) | device()) +
                   hex64((std::uint64_t{device()} << 32) | device());
    if (auto e = net::write_text_file(path("admin.token"), admin_token_ + "\n")) return e;
    if (auto e = pick_ports()) return e;
    if (auto e = add_links()) return e;
    const std::uint16_t stub_port = take_port();
    if (stub_port == 0) return Error{"no free port from the base port up for the Places stub"};
    on_io([&] {
        net::StubOptions stub;
        stub.port = stub_port;
        auto prng = std::make_shared<Prng>(options_.seed ^ fnv1a64("places"));
        stub.fault = [this, prng] {
            net::StubFault f{std::chrono::nanoseconds(sc_.places_latency.sample(*prng).ns), {}};
            if (sc_.places_hang_ppm > 0 && prng->below(1'000'000) < sc_.places_hang_ppm) {
                f.hang = true;
                places_hung_ += 1;
                return f;
            }
            if (sc_.places_fail_ppm > 0 && prng->below(1'000'000) < sc_.places_fail_ppm) {
                f.status = "UNKNOWN_ERROR";
                places_failures_ += 1;
            }
            return f;
        };
        stub_ = std::make_unique<net::PlacesStub>(io_, std::move(stub));
    });
    std::optional<Error> stub_failed;
    on_io([&] { stub_failed = stub_->start(); });
    if (stub_failed) return Error{"places stub: " + stub_failed->message};
    const std::int64_t t0_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(t0_wall.time_since_epoch()).count();
    const std::int64_t epoch_ns = sc_.epoch.seconds * nanos_per_second + sc_.epoch.nanos;
    for (int s = 0; s < static_cast<int>(servers_.size()); ++s) {
        auto it = sc_.clock_offset.find(s);
        const std::int64_t own = it == sc_.clock_offset.end() ? 0 : it->second.ns;
        servers_[static_cast<std::size_t>(s)].offset = offset_text(epoch_ns + own - t0_ns);
        if (auto e = write_herd_file(s)) return e;
    }
    for (int s = 0; s < static_cast<int>(servers_.size()); ++s) {
        if (auto e = spawn(s)) return e;
    }
    return std::nullopt;
}

std::optional<Error> RealHerd::spawn(int s) {
    Process& p = servers_[static_cast<std::size_t>(s)];
    p.lives += 1;
    std::vector<std::string> args = {options_.executable,
                                     "serve",
                                     name(s),
                                     "--config",
                                     path(name(s) + ".herd"),
                                     "--log-dir",
                                     path("logs"),
                                     "--trace",
                                     path(name(s) + "." + std::to_string(p.lives) + ".trace.jsonl"),
                                     "--admin",
                                     "127.0.0.1:" + std::to_string(p.admin),
                                     "--places",
                                     "http://127.0.0.1:" + std::to_string(stub_->port()),
                                     "--places-key-file",
                                     path("places.key"),
                                     "--admin-token-file",
                                     path("admin.token"),
                                     "--clock-offset",
                                     p.offset,
                                     "--tiebreak",
                                     sc_.tie_break == TieBreak::convergent ? "convergent" : "first",
                                     "--places-timeout-ms",
                                     std::to_string(sc_.places_timeout.ns / 1'000'000)};
    // The scenario's peer deadlines, in seconds with millisecond decimals.
    auto seconds = [](Duration d) {
        std::string out;
        append_decimal(out, static_cast<std::uint64_t>(d.ns / 1'000'000'000));
        out += '.';
        append_padded(out, static_cast<std::uint64_t>(d.ns % 1'000'000'000 / 1'000'000), 3);
        return out;
    };
    if (sc_.heartbeat) args.insert(args.end(), {"--heartbeat-s", seconds(*sc_.heartbeat)});
    if (sc_.silence_timeout)
        args.insert(args.end(), {"--silence-timeout-s", seconds(*sc_.silence_timeout)});
    if (sc_.flood_batch > Duration{}) {  // in milliseconds with microsecond decimals
        std::string ms;
        append_decimal(ms, static_cast<std::uint64_t>(sc_.flood_batch.ns / 1'000'000));
        ms += '.';
        append_padded(ms, static_cast<std::uint64_t>(sc_.flood_batch.ns % 1'000'000 / 1'000), 3);
        args.insert(args.end(), {"--flood-batch-ms", ms});
    }
    const auto child =
        net::spawn_child(args, path(name(s) + "." + std::to_string(p.lives) + ".out"));
    if (const Error* e = error_of(child)) return Error{name(s) + ": " + e->message};
    std::lock_guard<std::mutex> lock(pids_);
    p.pid = std::get<net::Child>(child).pid;
    return std::nullopt;
}

// Up once its admin port answers /healthz, and while the process we started still runs (another
// program on the port must not pass for it).
std::optional<Error> RealHerd::wait_accepting(int s) {
    Process& p = servers_[static_cast<std::size_t>(s)];
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    const std::string out = path(name(s) + "." + std::to_string(p.lives) + ".out");
    auto exited = [&] {
        if (!net::reap_child(p.pid)) return false;
        p.pid = -1;
        return true;
    };
    while (Clock::now() < deadline) {
        if (exited()) return Error{name(s) + " exited at start; see " + out};
        const auto health = http_get(p.admin, "/healthz");
        if (const auto* body = std::get_if<std::string>(&health); body && *body == "ok\n") {
            if (exited()) return Error{name(s) + " exited at start; see " + out};
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return Error{name(s) + " did not answer on its admin port within 10 s; see " + out};
}

std::optional<Error> RealHerd::wait_linked(Clock::time_point deadline) {
    for (int s = 0; s < static_cast<int>(servers_.size()); ++s) {
        if (auto e = wait_accepting(s)) return e;
    }
    for (int s = 0; s < static_cast<int>(servers_.size()); ++s) {
        const std::uint64_t want = neighbours(sc_.herd, s).size();
        for (;;) {
            const auto metrics = http_get(servers_[static_cast<std::size_t>(s)].admin, "/metrics");
            if (const auto* text = std::get_if<std::string>(&metrics);
                text && metric_sum(*text, "herd_connections", "kind=\"peer\"") >= want)
                break;
            if (Clock::now() > deadline)
                return Error{name(s) + " did not link its " + std::to_string(want) +
                             " neighbours in time"};
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    return std::nullopt;
}

void RealHerd::read_counters(int s) {
    const auto metrics = http_get(servers_[static_cast<std::size_t>(s)].admin, "/metrics");
    const auto* text = std::get_if<std::string>(&metrics);
    if (text == nullptr) return;
    counters_.peer_lines_sent += metric_sum(*text, "herd_peer_lines_total", "direction=\"out\"");
    counters_.peer_records_sent += metric_sum(*text, "herd_records_flooded_total") +
                                   metric_sum(*text, "herd_sync_records_sent_total");
    counters_.peer_bytes_sent += metric_sum(*text, "herd_peer_bytes_sent_total");
    counters_.peer_writes += metric_sum(*text, "herd_peer_writes_total");
    counters_.links_up += metric_sum(*text, "herd_peer_link_changes_total", "change=\"up\"");
    counters_.links_down += metric_sum(*text, "herd_peer_link_changes_total", "change=\"down\"");
    counters_.places_queries += metric_sum(*text, "herd_places_queries_total");
}

void RealHerd::crash(int s) {
    Process& p = servers_[static_cast<std::size_t>(s)];
    if (p.pid <= 0) return;
    if (!paused(s)) read_counters(s);  // a paused one cannot answer (its counters are lost)
    std::lock_guard<std::mutex> lock(pids_);
    ::kill(p.pid, SIGKILL);
    int status = 0;
    ::waitpid(p.pid, &status, 0);
    p.pid = -1;
    p.paused = false;
}

std::optional<Error> RealHerd::restart(int s) {
    crash(s);
    if (auto e = spawn(s)) return e;
    return wait_accepting(s);
}

void RealHerd::apply(const sim::LinkFaults& faults) {
    on_io([&] {
        for (std::size_t i = 0; i < sc_.herd.links.size(); ++i) {
            const auto [a, b] = sc_.herd.links[i];
            const bool cut = faults.is_cut(a, b);
            // Link a>b carries a's bytes up and b's down; b>a the other way round.
            const bool a_to_b = faults.is_silenced(a, b);
            const bool b_to_a = faults.is_silenced(b, a);
            const LinkState state{cut, a_to_b, b_to_a};
            if (state == link_state_[i]) continue;
            link_state_[i] = state;
            const std::string ab = name(a) + ">" + name(b), ba = name(b) + ">" + name(a);
            if (cut) {
                proxy_->cut(ab);
                proxy_->cut(ba);
                continue;
            }
            proxy_->restore(ab);
            proxy_->restore(ba);
            if (a_to_b || b_to_a) {
                proxy_->silence(ab, a_to_b, b_to_a);
                proxy_->silence(ba, b_to_a, a_to_b);
            }
        }
    });
}

void RealHerd::pause(int s, Duration length) {
    std::lock_guard<std::mutex> lock(pids_);
    Process& p = servers_[static_cast<std::size_t>(s)];
    if (p.pid <= 0) return;
    ::kill(p.pid, SIGSTOP);
    p.paused = true;
    const pid_t pid = p.pid;
    // SIGCONT at the end, unless the process is gone (crashed, or the run ended) by then.
    resumers_.emplace_back([this, s, pid, at = Clock::now() + std::chrono::nanoseconds(length.ns)] {
        std::unique_lock<std::mutex> wait(pids_);
        resumed_.wait_until(wait, at, [this] { return ending_; });
        Process& q = servers_[static_cast<std::size_t>(s)];
        if (q.pid == pid && q.paused) {
            ::kill(pid, SIGCONT);
            q.paused = false;
        }
    });
}

bool RealHerd::paused(int s) const {
    std::lock_guard<std::mutex> lock(pids_);
    return servers_[static_cast<std::size_t>(s)].paused;
}

Result<RecordStore> RealHerd::store(int s) const {
    if (paused(s)) return Error{name(s) + " is paused (SIGSTOP): a stopped process cannot answer"};
    auto body = http_get(servers_[static_cast<std::size_t>(s)].admin, "/store", admin_token_);
    if (const Error* e = error_of(body)) return Error{name(s) + ": " + e->message};
    RecordStore store(sc_.tie_break);
    const std::string& text = std::get<std::string>(body);
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        const auto view = AtLineView::parse(std::string_view(text).substr(at, end - at));
        if (!view) return Error{name(s) + ": /store gave a line that is not a record"};
        store.apply(*view);
        at = end + 1;
    }
    return store;
}

void RealHerd::stop() {
    {
        std::lock_guard<std::mutex> lock(pids_);
        ending_ = true;
        for (Process& p : servers_) {
            if (p.pid > 0 && p.paused) ::kill(p.pid, SIGCONT);
            p.paused = false;
        }
    }
    resumed_.notify_all();
    for (std::thread& t : resumers_)
        t.join();
    resumers_.clear();
    for (int s = 0; s < static_cast<int>(servers_.size()); ++s) {
        Process& p = servers_[static_cast<std::size_t>(s)];
        if (p.pid <= 0) continue;
        read_counters(s);
        net::stop_child(p.pid, std::chrono::milliseconds(3000));
        std::lock_guard<std::mutex> lock(pids_);
        p.pid = -1;
    }
}

std::vector<std::string> RealHerd::traces(int s) const {
    std::vector<std::string> out;
    for (int life = 1; life <= servers_[static_cast<std::size_t>(s)].lives; ++life)
        out.push_back(path(name(s) + "." + std::to_string(life) + ".trace.jsonl"));
    return out;
}

std::vector<std::string> RealHerd::assertion_failures(int s) const {
    std::vector<std::string> out;
    constexpr std::string_view mark = "herd: assertion failed: ";
    // A failed assertion stops the process: its line is among the last a server wrote, however
    // long its output grew before.
    constexpr std::streamoff tail_bytes = 64 << 10;
    for (int life = 1; life <= servers_[static_cast<std::size_t>(s)].lives; ++life) {
        std::ifstream in(path(name(s) + "." + std::to_string(life) + ".out"), std::ios::binary);
        if (!in) continue;  // a server that never wrote one
        in.seekg(0, std::ios::end);
        in.seekg(std::max<std::streamoff>(0, static_cast<std::streamoff>(in.tellg()) - tail_bytes));
        std::stringstream tail;
        tail << in.rdbuf();
        std::istringstream lines(tail.str());
        for (std::string line; std::getline(lines, line);) {
            if (line.starts_with(mark))
                out.push_back(line.substr(std::string_view("herd: ").size()));
        }
    }
    return out;
}

}  // namespace herd::replay
