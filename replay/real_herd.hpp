// RealHerd: a scenario's herd as real `herd serve` processes on loopback, every directed peer
// link and every server's client port behind a fault proxy (netmode/proxy.hpp), and a Places
// stub that draws the scenario's Places latency and failures.
//
// Each server gets its own herd file: its own address is its real port, each neighbour's is the
// port of the proxy link "self>neighbour", whose upstream is that neighbour's real port. So a
// connection a dials to b crosses the link a>b both ways, with the scenario's latency for the
// pair in each direction; a cut or partition between a and b cuts a>b and b>a. Clients reach a
// server through its link "client>s", with the scenario's client latency.
//
// Each server's clock (`herd serve --clock-offset`) reads the scenario's epoch at the run's
// start instant t0, plus its own `clock` offset. The proxy and stub run on one io_context in a
// thread of their own; processes are started and stopped by PID from the caller's thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "core/record_store.hpp"
#include "netmode/places_stub.hpp"
#include "netmode/proxy.hpp"
#include "sim/link_faults.hpp"
#include "sim/scenario.hpp"

namespace herd::replay {

// What the servers counted about their peers, summed over every incarnation (read from each
// server's /metrics before it is killed and when the run ends).
struct PeerCounters {
    std::uint64_t peer_lines_sent = 0;
    std::uint64_t peer_records_sent = 0;  // floods and anti-entropy
    std::uint64_t peer_bytes_sent = 0;
    std::uint64_t peer_writes = 0;
    std::uint64_t links_up = 0;
    std::uint64_t links_down = 0;
    std::uint64_t places_queries = 0;
};

struct RealHerdOptions {
    std::string executable;       // the herd binary
    std::string folder;           // herd files, logs, traces and server output go here
    std::uint16_t base_port = 0;  // first port tried for every port of the run (0: a random one)
    std::uint64_t seed = 1;       // proxy latencies and Places faults
};

class RealHerd {
  public:
    RealHerd(const sim::Scenario& scenario, RealHerdOptions options);
    ~RealHerd();  // stops every process (by PID) and the io thread
    RealHerd(const RealHerd&) = delete;
    RealHerd& operator=(const RealHerd&) = delete;

    // Ports, proxy links, the stub and herd files; then every server, on clocks that read the
    // epoch at `t0_wall`.
    std::optional<Error> start(std::chrono::system_clock::time_point t0_wall);
    // Waits until every server has linked every neighbour.
    std::optional<Error> wait_linked(std::chrono::steady_clock::time_point deadline);
    void crash(int s);                    // SIGKILL (its counters read first)
    std::optional<Error> restart(int s);  // a crash if up, then a new process, accepting
    bool up(int s) const { return servers_[static_cast<std::size_t>(s)].pid > 0; }
    // Cuts, silences and restores proxy links to match `faults`.
    void apply(const sim::LinkFaults& faults);
    // SIGSTOP now, SIGCONT after `length` (unless it crashed meanwhile).
    void pause(int s, Duration length);
    bool paused(int s) const;
    // The server's store, read from its admin port; nothing (and why) if it cannot be.
    Result<RecordStore> store(int s) const;
    std::uint16_t client_port(int s) const;
    // Reads every live server's counters and stops them (SIGTERM, then SIGKILL).
    void stop();
    const PeerCounters& counters() const { return counters_; }
    // Places requests the stub failed on purpose (`places fail`).
    std::uint64_t places_failures() const { return places_failures_; }
    std::uint64_t places_hung() const { return places_hung_; }
    // The record traces of every incarnation of `s`, oldest first.
    std::vector<std::string> traces(int s) const;
    // The failed assertions that stopped an incarnation of `s` (`herd: assertion failed: ...`,
    // from its output), oldest first.
    std::vector<std::string> assertion_failures(int s) const;
    boost::asio::io_context& io() { return io_; }

    // Runs `f` on the io thread and waits for it.
    template <typename F>
    void on_io(F&& f);

  private:
    struct Process {
        pid_t pid = -1;
        bool paused = false;
        int lives = 0;
        std::uint16_t port = 0;
        std::uint16_t admin = 0;
        std::string offset;  // --clock-offset
    };
    std::uint16_t take_port();
    std::optional<Error> pick_ports();
    std::optional<Error> add_links();
    std::optional<Error> write_herd_file(int s) const;
    std::optional<Error> spawn(int s);
    std::optional<Error> wait_accepting(int s);
    void read_counters(int s);
    std::string name(int s) const;
    std::string path(const std::string& file) const;

    const sim::Scenario& sc_;
    RealHerdOptions options_;
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::unique_ptr<net::Proxy> proxy_;
    std::unique_ptr<net::PlacesStub> stub_;
    std::thread thread_;
    std::vector<Process> servers_;
    struct LinkState {
        bool cut = false, a_to_b_silent = false, b_to_a_silent = false;
        friend bool operator==(const LinkState&, const LinkState&) = default;
    };
    std::vector<LinkState> link_state_;  // per link of sc_.herd.links
    mutable std::mutex pids_;            // pids and pauses: resumer threads read them
    std::condition_variable resumed_;
    bool ending_ = false;
    std::vector<std::thread> resumers_;
    PeerCounters counters_;
    std::vector<int> held_;        // sockets holding the run's ports (hold_port)
    std::uint32_t next_port_ = 0;  // the next port take_port() tries
    std::atomic<std::uint64_t> places_failures_{0};
    std::atomic<std::uint64_t> places_hung_{0};
    std::string admin_token_;  // the servers' /store token (random, in admin.token)
};

template <typename F>
void RealHerd::on_io(F&& f) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
        f();
        done.set_value();
    });
    done.get_future().wait();
}

// Proxy latencies drawn as the simulator draws them: the scenario grammar's distributions, each
// stream (a link's direction) with its own PRNG seeded from `seed` and the stream's name.
net::LatencyParser scenario_latencies(std::uint64_t seed);

}  // namespace herd::replay
