// The simulator: a scenario's statements, workloads and expectations over the driver
// (driver.hpp, which runs the Nodes on the simulated network), with the checker (checker.hpp)
// told of every record applied. It starts each server with the scenario's settings, carries out
// each statement at its time, and gathers the result.
#include "sim/simulator.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <variant>

#include "core/hash.hpp"
#include "core/node.hpp"
#include "core/peer_protocol.hpp"
#include "core/prng.hpp"
#include "core/text.hpp"
#include "sim/checker.hpp"
#include "sim/driver.hpp"
#include "sim/events.hpp"
#include "sim/history_recorder.hpp"
#include "sim/trace.hpp"
#include "sim/workload.hpp"

namespace herd::sim {

bool SimResult::passed() const {
    if (!violations.empty()) return false;
    return std::all_of(expectations.begin(), expectations.end(),
                       [](const ExpectationResult& e) { return e.pass; });
}

class Simulator::Impl final : public Driver::Owner {
  public:
    Impl(const Scenario& scenario, SimOptions options)
        : sc_(scenario),
          options_(std::move(options)),
          trace_(options_.trace, options_.hash_trace),
          node_prng_(scenario.seed * 4 + 2),
          workload_prng_(scenario.seed * 4 + 3),
          reads_prng_(scenario.seed * 4 + 5),
          driver_(scenario, *this, trace_, result_.stats,
                  Driver::Seeds{scenario.seed * 4 + 1, scenario.seed * 4 + 4}),
          checker_(scenario, result_, trace_) {
        // A history is recorded for --history, and checked as it goes for `expect sessions`.
        const bool sessions_expected = std::any_of(
            sc_.steps.begin(), sc_.steps.end(),
            [](const Step& step) { return std::holds_alternative<ExpectSessions>(step.action); });
        if (sessions_expected) sessions_ = std::make_unique<history::HistoryChecker>();
        if (options_.history != nullptr || sessions_expected)
            history_ = std::make_unique<HistoryRecorder>(options_.history, sessions_.get());
    }

    SimResult run();

    // What the driver leaves to the simulator.
    void step(EvStep& e) override { run_step(sc_.steps[e.index]); }
    void workload(EvWorkload& e) override;
    void applied(int s, const RecordApplied& a) override {
        checker_.applied(
            driver_.now(), s, a,
            a.via.empty() ? std::optional<Timestamp>(driver_.now_of(s).wall) : std::nullopt);
    }
    void client_received(int client, const std::string& bytes) override {
        if (history_) history_->received(client, bytes);
        if (client < history_only) clients_[static_cast<std::size_t>(client)].received += bytes;
    }
    void client_closed(int client) override {
        if (history_) history_->completed(client, now());
        if (auto it = session_of_connection_.find(client); it != session_of_connection_.end()) {
            busy_.erase(it->second);
            session_of_connection_.erase(it);
        }
        if (client < history_only) clients_[static_cast<std::size_t>(client)].complete = true;
    }

  private:
    Instant now() const { return driver_.now(); }
    void start_server(int s);
    void run_step(const Step& step);
    void run_send(const SendStep& send);
    void run_fault(const StepAction& a);
    void workload_read(EvWorkload& w);
    std::vector<int> live_servers() const;
    void workload_send(int target, const std::string& line, std::uint64_t process);
    std::uint64_t session_of(std::size_t step, std::uint64_t client) const;
    // sessions=sticky: the one server a workload client's session talks to.
    int home_of(std::uint64_t client) const {
        return static_cast<int>(client % static_cast<std::uint64_t>(driver_.servers()));
    }
    void note_known(std::size_t step, std::uint64_t client);
    void expect(const Step& step);

    const Scenario& sc_;
    SimOptions options_;
    Trace trace_;
    Prng node_prng_;      // incarnations and Node seeds
    Prng workload_prng_;  // workload clients, positions and targets
    Prng reads_prng_;     // workload reads and sessions: a stream of their own
    SimResult result_;
    Driver driver_;
    Checker checker_;
    std::vector<SimClient> clients_;
    std::vector<int> latest_send_;  // per server: index into clients_, or -1
    // With --history: the recorder, and the connections of workload IAMATs, numbered from
    // history_only up (those of `send` statements are indices into clients_).
    static constexpr int history_only = 1 << 30;
    std::unique_ptr<history::HistoryChecker> sessions_;  // with `expect sessions`
    std::unique_ptr<HistoryRecorder> history_;
    int workload_connections_ = 0;
    // Workloads with reads or sessions: the clients an IAMAT was sent for, by workload step, in
    // the order they were first sent (what reads draw from), and the sessions waiting for a reply.
    struct Known {
        std::vector<bool> seen;
        std::vector<std::uint64_t> order;
    };
    std::map<std::size_t, Known> known_;
    std::set<std::uint64_t> busy_;
    std::map<int, std::uint64_t> session_of_connection_;
    const std::string& server_name(int s) const {
        return sc_.herd.servers[static_cast<std::size_t>(s)].name.str();
    }
};

// ---------------------------------------------------------------- servers

void Simulator::Impl::start_server(int s) {
    NodeConfig config;
    config.self = sc_.herd.servers[static_cast<std::size_t>(s)].name;
    config.neighbours = driver_.herd_index().neighbours_of(s);
    config.tie_break = sc_.tie_break;
    config.limits.places_timeout = sc_.places_timeout;
    if (sc_.heartbeat) config.limits.heartbeat_interval = *sc_.heartbeat;
    config.limits.flood_batch = sc_.flood_batch;
    if (sc_.silence_timeout) config.limits.silence_timeout = *sc_.silence_timeout;
    config.incarnation = node_prng_.next();
    config.seed = node_prng_.next();
    // One key for the whole herd, from the scenario's seed (drawn from no PRNG stream, so every
    // other draw is as before).
    config.client_hash_key =
        HashKey{mix64(sc_.seed ^ 0x6865726420737430ULL), mix64(sc_.seed ^ 0x6865726420737431ULL)};
    checker_.restarted(now(), s);
    if (trace_.enabled()) {
        trace_.begin(now(), "start")
            .field("server", sc_.herd.servers[static_cast<std::size_t>(s)].name.str())
            .field("incarnation", hex64(config.incarnation))
            .end();
    }
    driver_.start(s, std::move(config));
}

void Simulator::Impl::workload(EvWorkload& w) {
    if (w.read) return workload_read(w);
    const WorkloadStep& step = std::get<WorkloadStep>(sc_.steps[w.step].action);
    const std::vector<int> live = live_servers();
    const WorkloadDraw draw = draw_workload(workload_prng_, step.clients);
    if (live.empty()) {
        result_.stats.workload_refused += 1;
    } else if (step.sticky && !driver_.up(home_of(draw.client))) {
        result_.stats.workload_skipped += 1;  // its session's server is down: it waits
    } else {
        const int drawn = live[workload_prng_.below(live.size())];
        const int target = step.sticky ? home_of(draw.client) : drawn;
        const std::uint64_t process = step.sessions ? session_of(w.step, draw.client) : 0;
        if (process != 0 && busy_.count(process)) {
            result_.stats.workload_skipped += 1;
        } else {
            result_.stats.workload_iamats += 1;
            if (step.reads_per_s > 0 || step.sessions) note_known(w.step, draw.client);
            workload_send(target, workload_line(draw, sc_.epoch + Duration{now().ns}, step.prefix),
                          process);
        }
    }
    // The next IAMAT of this workload, at its own instant.
    const std::uint64_t next = w.index + 1;
    const Duration offset = workload_offset(next, step.rate_per_s);
    if (offset < step.length)
        driver_.queue().push(sc_.steps[w.step].at + offset, EvWorkload{w.step, next});
}

// A WHATSAT of a known client (one an IAMAT of this workload was sent for) at a random live
// server; with sessions, by a known client's session, of itself or of another, at random. Drawn
// from a stream of its own: a workload without reads draws as it always did.
void Simulator::Impl::workload_read(EvWorkload& w) {
    const WorkloadStep& step = std::get<WorkloadStep>(sc_.steps[w.step].action);
    const std::vector<std::uint64_t>& known = known_[w.step].order;
    const std::vector<int> live = live_servers();
    if (known.empty() || live.empty()) {
        result_.stats.workload_skipped += 1;
    } else {
        const std::uint64_t reader = known[reads_prng_.below(known.size())];
        const std::uint64_t subject = step.sessions && reads_prng_.below(2) == 0
                                          ? reader
                                          : known[reads_prng_.below(known.size())];
        const int drawn = live[reads_prng_.below(live.size())];
        const int target = step.sticky ? home_of(reader) : drawn;
        const std::uint64_t process = step.sessions ? session_of(w.step, reader) : 0;
        if ((process != 0 && busy_.count(process)) || !driver_.up(target)) {
            result_.stats.workload_skipped += 1;
        } else {
            result_.stats.workload_reads += 1;
            std::string line = "WHATSAT " + step.prefix;
            append_decimal(line, subject);
            line += " 10 1\n";
            workload_send(target, line, process);
        }
    }
    const std::uint64_t next = w.index + 1;
    const Duration offset = workload_offset(next, step.reads_per_s);
    if (offset < step.length)
        driver_.queue().push(sc_.steps[w.step].at + offset, EvWorkload{w.step, next, true});
}

std::vector<int> Simulator::Impl::live_servers() const {
    std::vector<int> live;
    for (int s = 0; s < driver_.servers(); ++s) {
        if (driver_.up(s)) live.push_back(s);
    }
    return live;
}

// A workload's request on a connection of its own; numbered (and its session marked busy until
// the reply is whole) only when a session or a history needs it.
void Simulator::Impl::workload_send(int target, const std::string& line, std::uint64_t process) {
    const bool numbered = history_ != nullptr || process != 0;
    const int id = numbered ? history_only + workload_connections_++ : -1;
    if (process != 0) {
        busy_.insert(process);
        session_of_connection_[id] = process;
    }
    if (history_) history_->invoked(id, server_name(target), line, now(), process);
    driver_.client_send(target, line, id);
}

// The session of workload client `client` of the workload at `step` (never 0, never a `send`'s).
std::uint64_t Simulator::Impl::session_of(std::size_t step, std::uint64_t client) const {
    return (static_cast<std::uint64_t>(step) + 1) * 1'000'000'000ULL + client + 1;
}

void Simulator::Impl::note_known(std::size_t step, std::uint64_t client) {
    Known& k = known_[step];
    if (k.seen.empty()) {
        k.seen.assign(std::get<WorkloadStep>(sc_.steps[step].action).clients, false);
    }
    if (k.seen[client]) return;
    k.seen[client] = true;
    k.order.push_back(client);
}

// ---------------------------------------------------------------- scenario steps

void Simulator::Impl::run_step(const Step& step) {
    if (trace_.enabled())
        trace_.begin(now(), "step").field("line", step.line).field("text", step.text).end();
    const StepAction& a = step.action;
    if (is_expectation(a)) {
        expect(step);
    } else if (const auto* send = std::get_if<SendStep>(&a)) {
        run_send(*send);
    } else if (const auto* w = std::get_if<WorkloadStep>(&a)) {
        const auto index = static_cast<std::size_t>(&step - sc_.steps.data());
        driver_.queue().push(now(), EvWorkload{index, 0});
        if (w->reads_per_s > 0) driver_.queue().push(now(), EvWorkload{index, 0, true});
    } else {
        run_fault(a);
    }
}

void Simulator::Impl::expect(const Step& step) {
    std::vector<const RecordStore*> stores;
    for (int s = 0; s < driver_.servers(); ++s) {
        const Node* node = driver_.node_or_null(s);
        stores.push_back(node != nullptr ? &node->store() : nullptr);
    }
    ExpectationResult r = checker_.check(
        now(), step,
        Observed{stores, clients_, latest_send_, sessions_ ? &sessions_->so_far() : nullptr});
    if (trace_.enabled())
        trace_.begin(now(), r.pass ? "pass" : "fail")
            .field("line", step.line)
            .field("found", r.found)
            .end();
    result_.expectations.push_back(std::move(r));
}

void Simulator::Impl::run_send(const SendStep& send) {
    result_.stats.sends += 1;
    const int client = static_cast<int>(clients_.size());
    clients_.push_back(SimClient{send.server, {}, false, false});
    latest_send_[static_cast<std::size_t>(send.server)] = client;
    const std::string line = send_line(send.line, sc_.epoch + Duration{now().ns});
    if (history_) history_->invoked(client, server_name(send.server), line, now());
    if (!driver_.up(send.server)) {
        result_.stats.sends_refused += 1;
        clients_.back().refused = true;
        if (history_) history_->completed(client, now());  // refused: no reply
        return;
    }
    driver_.client_send(send.server, line, client);
}

void Simulator::Impl::run_fault(const StepAction& a) {
    if (const auto* p = std::get_if<PauseStep>(&a)) {
        driver_.pause(p->server, p->length);
    } else if (const auto* crash = std::get_if<CrashStep>(&a)) {
        driver_.crash(crash->server);
    } else if (const auto* jump = std::get_if<ClockJumpStep>(&a)) {
        driver_.jump_clock(jump->server, jump->by);
    } else if (const auto* restart = std::get_if<RestartStep>(&a)) {
        driver_.crash(restart->server);  // a restart of a live server is a crash and a start
        start_server(restart->server);
    } else {
        driver_.apply_fault(a);
    }
}

// ---------------------------------------------------------------- the run

SimResult Simulator::Impl::run() {
    const int n = static_cast<int>(sc_.herd.servers.size());
    driver_.add_servers(n);
    latest_send_.assign(static_cast<std::size_t>(n), -1);
    for (int s = 0; s < n; ++s) {
        const auto offset = sc_.clock_offset.find(s);
        const auto drift = sc_.clock_drift_ppm.find(s);
        driver_.set_clock(s, offset != sc_.clock_offset.end() ? offset->second : Duration{0},
                          drift != sc_.clock_drift_ppm.end() ? drift->second : 0);
    }
    for (int s = 0; s < n; ++s)
        start_server(s);
    for (std::size_t i = 0; i < sc_.steps.size(); ++i)
        driver_.queue().push(sc_.steps[i].at, EvStep{i});
    const Instant end = sc_.end();
    driver_.run_until(end, options_.progress);
    if (history_) history_->finish(end);
    if (sessions_) result_.anomalies = sessions_->so_far().anomalies;
    checker_.finish(end);
    result_.end = end;
    driver_.count_live_traffic();  // crashed servers' traffic was counted at their crash
    result_.traced = trace_.enabled();
    result_.trace_hash = trace_.hash();
    return std::move(result_);
}

Simulator::Simulator(const Scenario& scenario, SimOptions options)
    : impl_(std::make_unique<Impl>(scenario, std::move(options))) {}
Simulator::~Simulator() = default;
SimResult Simulator::run() {
    return impl_->run();
}

}  // namespace herd::sim
