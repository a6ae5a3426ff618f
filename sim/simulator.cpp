// The simulator's driver: the servers (a core Node each, with its clock offset and lives), the
// event loop, and the glue between Nodes, the simulated network (network.hpp), the workload
// (workload.hpp) and the checker (checker.hpp). Node actions arrive through core's drain() and
// events through std::visit, one handler each.
#include "sim/simulator.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <variant>

#include "core/hash.hpp"
#include "core/node.hpp"
#include "core/peer_protocol.hpp"
#include "core/prng.hpp"
#include "core/synthetic_places.hpp"
#include "sim/checker.hpp"
#include "sim/event_queue.hpp"
#include "sim/events.hpp"
#include "sim/network.hpp"
#include "sim/trace.hpp"
#include "sim/workload.hpp"

namespace herd::sim {

bool SimResult::passed() const {
    if (!violations.empty()) return false;
    return std::all_of(expectations.begin(), expectations.end(),
                       [](const ExpectationResult& e) { return e.pass; });
}

namespace {

bool has_pause(const Scenario& sc) {
    return std::any_of(sc.steps.begin(), sc.steps.end(),
                       [](const Step& s) { return std::holds_alternative<PauseStep>(s.action); });
}

struct Server {
    std::unique_ptr<Node> node;
    std::uint64_t life = 0;  // bumped at every crash and restart: stale events are dropped
    std::uint64_t timer_generation = 0;
    std::optional<Instant> armed;
    Duration offset;             // `clock S offset`, plus every `clock S jump` so far
    std::int32_t drift_ppm = 0;  // `clock S drift`: the clock gains this much per second of time
    Instant busy_until{0};       // with a processing cost: when the last message is handled
};

}  // namespace

class Simulator::Impl {
  public:
    Impl(const Scenario& scenario, SimOptions options)
        : sc_(scenario),
          options_(std::move(options)),
          trace_(options_.trace, options_.hash_trace),
          net_prng_(scenario.seed * 4 + 1),
          node_prng_(scenario.seed * 4 + 2),
          workload_prng_(scenario.seed * 4 + 3),
          cost_prng_(scenario.seed * 4 + 4),
          processing_(!scenario.processing.is_zero()),
          queueing_(processing_ || has_pause(scenario)),
          network_(scenario, queue_, trace_, net_prng_),
          checker_(scenario, result_, trace_) {}

    SimResult run();

    // Node actions, one handler each (called through drain()).
    void act(int s, Reply& a);
    void act(int s, SendToPeer& a);
    void act(int s, Dial& a);
    void act(int s, QueryPlaces& a);
    void act(int s, Close& a);
    void act(int s, RecordApplied& a);
    void act(int s, PeerUp& a);
    void act(int s, PeerDown& a);
    void act(int, PeerLineRejected&) {}
    void act(int, PauseReading&) {}  // simulated clients read at once: never paused for long
    void act(int, ResumeReading&) {}
    void act(int, LinesRead&) {}

    // Events, one handler each (called through std::visit).
    void on(EvStep& e) { run_step(sc_.steps[e.index]); }
    void on(EvDeliver& e);
    void on(EvCloseNotice& e);
    void on(EvDialDone& e);
    void on(EvClientOpen& e);
    void on(EvPlaces& e);
    void on(EvTimer& e);
    void on(EvWorkload& e);
    void on(EvHandle& e);

  private:
    // A server's clock: the simulated wall clock, its offset and jumps, and its drift since t=0.
    Now now_of(int s) const {
        const Server& sv = servers_[static_cast<std::size_t>(s)];
        if (sv.offset.ns == 0 && sv.drift_ppm == 0) return Now{now_, wall_};
        // |now| <= 86400 s and |ppm| <= 1000: the product stays far inside 63 bits.
        const Duration drift{now_.ns / 1'000'000 * sv.drift_ppm +
                             now_.ns % 1'000'000 * sv.drift_ppm / 1'000'000};
        return Now{now_, wall_ + (sv.offset + drift)};
    }
    Node& node(int s) { return *servers_[static_cast<std::size_t>(s)].node; }
    bool up(int s) const { return servers_[static_cast<std::size_t>(s)].node != nullptr; }
    bool current(int s, std::uint64_t life) const {
        return servers_[static_cast<std::size_t>(s)].life == life && up(s);
    }
    const std::string& name(int s) const {
        return sc_.herd.servers[static_cast<std::size_t>(s)].name.str();
    }

    // With a processing cost: when server `s` is done with a message that arrives now (it
    // handles one at a time).
    Instant occupy(int s);
    // On a silent link, what arrives waits (TCP retransmits it) until the link is restored; if
    // either end closes the connection meanwhile, it is dropped then. True when `e` was held.
    bool hold_if_silenced(int from, int to, Event e);
    void release_held();
    void start_server(int s);
    void pump(int s);
    void arm(int s);
    void close_at_both_ends(std::uint64_t conn_id);
    void crash(int s);
    void client_send(int s, const std::string& line, int client);
    void count_peer_traffic(const NodeStats& node);
    void run_step(const Step& step);
    void run_send(const SendStep& send);
    void run_fault(const StepAction& a);
    void expect(const Step& step);

    const Scenario& sc_;
    SimOptions options_;
    Trace trace_;
    Prng net_prng_;       // latencies and injected Places failures
    Prng node_prng_;      // incarnations and Node seeds
    Prng workload_prng_;  // workload clients, positions and targets
    Prng cost_prng_;      // processing costs (drawn only when the scenario sets one)
    bool processing_;
    // Messages to a server wait while it is busy (a processing cost) or paused; off otherwise,
    // so that scenarios with neither run exactly as before.
    bool queueing_;
    EventQueue<Event> queue_;
    Instant now_{0};
    Timestamp wall_;  // epoch + now_, kept in step with now_
    std::vector<Server> servers_;
    Network network_;
    SimResult result_;
    Checker checker_;
    std::vector<SimClient> clients_;
    std::vector<int> latest_send_;  // per server: index into clients_, or -1
    // Events held on silent links, per direction (from, to), in arrival order.
    std::map<std::pair<int, int>, std::vector<Event>> held_;
};

// ---------------------------------------------------------------- servers

bool Simulator::Impl::hold_if_silenced(int from, int to, Event e) {
    if (from == client_end || to == client_end || !network_.is_silenced(from, to)) return false;
    result_.stats.silenced_messages += 1;
    held_[{from, to}].push_back(std::move(e));
    return true;
}

void Simulator::Impl::release_held() {
    for (auto it = held_.begin(); it != held_.end();) {
        if (network_.is_silenced(it->first.first, it->first.second)) {
            ++it;
            continue;
        }
        for (Event& e : it->second)
            queue_.push(now_, std::move(e));  // in the order they arrived
        it = held_.erase(it);
    }
}

Instant Simulator::Impl::occupy(int s) {
    Server& sv = servers_[static_cast<std::size_t>(s)];
    const Instant start = std::max(now_, sv.busy_until);
    sv.busy_until = processing_ ? start + sc_.processing.sample(cost_prng_) : start;
    return sv.busy_until;
}

void Simulator::Impl::start_server(int s) {
    Server& sv = servers_[static_cast<std::size_t>(s)];
    NodeConfig config;
    config.self = sc_.herd.servers[static_cast<std::size_t>(s)].name;
    config.neighbours = sc_.herd.neighbours_of(s);
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
    sv.life += 1;
    sv.armed.reset();
    sv.busy_until = now_;  // what the last incarnation was handling is gone with it
    checker_.restarted(s);
    if (trace_.enabled()) {
        trace_.begin(now_, "start")
            .field("server", name(s))
            .field("incarnation", hex64(config.incarnation))
            .end();
    }
    sv.node = std::make_unique<Node>(std::move(config), now_of(s));
    pump(s);
}

void Simulator::Impl::pump(int s) {
    Server& sv = servers_[static_cast<std::size_t>(s)];
    // No action handler destroys the Node (crashes are scenario steps): drain it whole.
    drain(*sv.node, [this, s](auto&& action) { act(s, action); });
    arm(s);
}

void Simulator::Impl::arm(int s) {
    Server& sv = servers_[static_cast<std::size_t>(s)];
    HERD_ASSERT(sv.node != nullptr);
    const auto t = sv.node->poll_timeout();
    if (!t || (sv.armed && *sv.armed <= *t)) return;
    sv.armed = *t;
    sv.timer_generation += 1;
    queue_.push(std::max(*t, now_), EvTimer{s, sv.life, sv.timer_generation});
}

// ---------------------------------------------------------------- Node actions

void Simulator::Impl::act(int s, SendToPeer& a) {
    Network::Conn* c = network_.find(a.conn);
    HERD_ASSERT(c != nullptr);
    // Messages, lines, records and bytes are counted from the Nodes' counters.
    network_.transmit(now_, a.conn, Network::end_of(*c, s), std::move(a.bytes));
}

void Simulator::Impl::act(int, Reply& a) {
    // The server is end 1 of a client connection.
    network_.transmit(now_, a.conn, 1, std::make_shared<const std::string>(std::move(a.bytes)));
}

void Simulator::Impl::act(int s, Dial& a) {
    const int peer = sc_.herd.index_of(a.peer.str());
    result_.stats.dials += 1;
    if (trace_.enabled())
        trace_.begin(now_, "dial").field("from", name(s)).field("to", name(peer)).end();
    queue_.push(now_ + network_.latency(s, peer),
                EvDialDone{s, servers_[static_cast<std::size_t>(s)].life, peer});
}

void Simulator::Impl::act(int s, QueryPlaces& a) {
    result_.stats.places_queries += 1;
    if (sc_.places_hang_ppm > 0 && net_prng_.below(1'000'000) < sc_.places_hang_ppm) {
        result_.stats.places_hung += 1;  // never answered: the Node's Places timeout answers
        return;
    }
    PlacesResult r;
    if (sc_.places_fail_ppm > 0 && net_prng_.below(1'000'000) < sc_.places_fail_ppm) {
        result_.stats.places_failures += 1;
        r = PlacesResult{false, {}, "UNKNOWN_ERROR"};
    } else {
        r = PlacesResult{true,
                         synthetic_places_json(a.query.lat_nanodeg, a.query.lon_nanodeg,
                                               a.query.radius, synthetic_places_count_max),
                         {}};
    }
    queue_.push(now_ + sc_.places_latency.sample(net_prng_),
                EvPlaces{s, servers_[static_cast<std::size_t>(s)].life, a.id,
                         std::make_unique<PlacesResult>(std::move(r))});
}

void Simulator::Impl::act(int s, Close& a) {
    Network::Conn* c = network_.find(a.conn);
    HERD_ASSERT(c != nullptr);
    network_.close(now_, a.conn, Network::end_of(*c, s), a.mode);
}

void Simulator::Impl::act(int s, RecordApplied& a) {
    checker_.applied(now_, s, a,
                     a.via.empty() ? std::optional<Timestamp>(now_of(s).wall) : std::nullopt);
}

void Simulator::Impl::act(int s, PeerUp& a) {
    result_.stats.links_up += 1;
    if (trace_.enabled())
        trace_.begin(now_, "link-up").field("server", name(s)).field("peer", a.peer.str()).end();
}

void Simulator::Impl::act(int s, PeerDown& a) {
    result_.stats.links_down += 1;
    if (trace_.enabled()) {
        trace_.begin(now_, "link-down")
            .field("server", name(s))
            .field("peer", a.peer.str())
            .field("reason", a.reason)
            .end();
    }
}

void Simulator::Impl::count_peer_traffic(const NodeStats& node) {
    result_.stats.peer_messages += node.peer_writes;
    result_.stats.peer_lines += node.peer_lines_sent;
    result_.stats.peer_at_lines += node.peer_records_sent;
    result_.stats.peer_bytes += node.peer_bytes_sent;
}

// ---------------------------------------------------------------- connections and faults

void Simulator::Impl::close_at_both_ends(std::uint64_t conn_id) {
    Network::Conn* found = network_.find(conn_id);
    if (found == nullptr) return;
    const Network::Conn c = *found;
    network_.erase(conn_id);  // what is in flight finds it gone and is dropped
    for (const Network::End& e : c.end) {
        if (e.open && e.server != client_end && up(e.server)) {
            node(e.server).handle_closed(conn_id, now_of(e.server));
            pump(e.server);
        }
    }
}

void Simulator::Impl::crash(int s) {
    Server& sv = servers_[static_cast<std::size_t>(s)];
    if (!sv.node) return;
    count_peer_traffic(sv.node->stats());
    sv.node.reset();
    sv.life += 1;
    for (std::uint64_t id : network_.connections_of(s))
        close_at_both_ends(id);
}

void Simulator::Impl::client_send(int s, const std::string& line, int client) {
    const std::uint64_t id = network_.open(client_end, s, now_, client);
    const Instant at = now_ + network_.latency(client_end, s);
    network_.find(id)->last_arrival[0] = at;
    if (trace_.enabled())
        trace_.begin(now_, "client-send").field("to", name(s)).field("bytes", line).end();
    queue_.push(at, EvClientOpen{id, std::make_shared<const std::string>(line)});
}

// ---------------------------------------------------------------- events

void Simulator::Impl::on(EvDeliver& d) {
    Network::Conn* c = network_.find(d.conn);
    if (c == nullptr) return;
    if (hold_if_silenced(c->end[d.from].server, c->end[1 - d.from].server, d)) return;
    // What is read of the connection before it may go (not the Ends: each holds its queue,
    // and copying them allocated).
    const int to = c->end[1 - d.from].server;
    const int from = c->end[d.from].server;
    const int client = c->client;
    const bool to_open = c->end[1 - d.from].open;
    network_.delivered(now_, d.conn, d.from, d.bytes->size());  // may erase the connection
    if (!to_open) return;
    if (to == client_end) {
        if (client >= 0) clients_[static_cast<std::size_t>(client)].received += *d.bytes;
    } else if (queueing_) {
        queue_.push(occupy(to), EvHandle{d.conn, 1 - d.from,
                                         servers_[static_cast<std::size_t>(to)].life, d.bytes});
    } else {
        result_.stats.deliveries += 1;
        node(to).handle_bytes(d.conn, *d.bytes, now_of(to));
        pump(to);
    }
    // The sender learns its bytes left (its queue drains as they arrive).
    c = network_.find(d.conn);
    if (c != nullptr && c->end[d.from].open && from != client_end) {
        node(from).handle_sent(d.conn, d.bytes->size(), now_of(from));
        pump(from);
    }
}

void Simulator::Impl::on(EvCloseNotice& n) {
    Network::Conn* c = network_.find(n.conn);
    if (c == nullptr) return;
    Network::End& to = c->end[n.to];
    if (!to.open) return;
    if (hold_if_silenced(c->end[1 - n.to].server, to.server, n)) return;
    if (queueing_ && to.server != client_end &&
        servers_[static_cast<std::size_t>(to.server)].busy_until > now_) {
        // Learnt after the bytes that came before it are handled.
        queue_.push(servers_[static_cast<std::size_t>(to.server)].busy_until, n);
        return;
    }
    to.open = false;
    const int server = to.server;
    if (server == client_end && c->client >= 0)
        clients_[static_cast<std::size_t>(c->client)].complete = true;
    if (!c->end[0].open && !c->end[1].open) network_.erase(n.conn);
    if (server != client_end) {
        node(server).handle_closed(n.conn, now_of(server));
        pump(server);
    }
}

void Simulator::Impl::on(EvDialDone& dial) {
    if (!current(dial.server, dial.life)) return;
    const Instant busy = servers_[static_cast<std::size_t>(dial.server)].busy_until;
    if (queueing_ && busy > now_) return queue_.push(busy, dial);
    HERD_ASSERT(dial.peer != dial.server && sc_.herd.linked(dial.server, dial.peer));
    const ServerName& peer_name = sc_.herd.servers[static_cast<std::size_t>(dial.peer)].name;
    // A silent link in either direction loses the connection's handshake: the dial fails.
    if (!up(dial.peer) || network_.is_cut(dial.server, dial.peer) ||
        network_.is_silenced(dial.server, dial.peer) ||
        network_.is_silenced(dial.peer, dial.server)) {
        result_.stats.dials_failed += 1;
        node(dial.server).handle_dial_failed(peer_name, now_of(dial.server));
        pump(dial.server);
        return;
    }
    const std::uint64_t id = network_.open(dial.server, dial.peer, now_);
    node(dial.peer).handle_accepted(id, now_of(dial.peer));
    pump(dial.peer);
    node(dial.server).handle_dialed(id, peer_name, now_of(dial.server));
    pump(dial.server);
}

void Simulator::Impl::on(EvClientOpen& open) {
    Network::Conn* c = network_.find(open.conn);
    if (c == nullptr) return;
    const int s = c->end[1].server;
    if (!up(s)) {
        network_.erase(open.conn);
        return;
    }
    if (queueing_ && !open.processed) {
        open.processed = true;
        queue_.push(occupy(s), std::move(open));
        return;
    }
    node(s).handle_accepted(open.conn, now_of(s));
    node(s).handle_bytes(open.conn, *open.bytes, now_of(s));
    node(s).handle_eof(open.conn, now_of(s));
    pump(s);
}

void Simulator::Impl::on(EvHandle& h) {
    Network::Conn* c = network_.find(h.conn);
    if (c == nullptr || !c->end[h.end].open) return;
    const int s = c->end[h.end].server;
    if (!current(s, h.life)) return;
    result_.stats.deliveries += 1;
    node(s).handle_bytes(h.conn, *h.bytes, now_of(s));
    pump(s);
}

void Simulator::Impl::on(EvPlaces& places) {
    if (!current(places.server, places.life)) return;
    const Instant busy = servers_[static_cast<std::size_t>(places.server)].busy_until;
    if (queueing_ && busy > now_) return queue_.push(busy, std::move(places));
    node(places.server)
        .handle_places_reply(places.id, std::move(*places.result), now_of(places.server));
    pump(places.server);
}

void Simulator::Impl::on(EvTimer& timer) {
    Server& sv = servers_[static_cast<std::size_t>(timer.server)];
    if (sv.life != timer.life || !sv.node || sv.timer_generation != timer.generation) return;
    if (queueing_ && sv.busy_until > now_) return queue_.push(sv.busy_until, timer);
    sv.armed.reset();
    sv.node->handle_timeout(now_of(timer.server));
    pump(timer.server);
}

void Simulator::Impl::on(EvWorkload& w) {
    const WorkloadStep& step = std::get<WorkloadStep>(sc_.steps[w.step].action);
    std::vector<int> live;
    for (int s = 0; s < static_cast<int>(servers_.size()); ++s) {
        if (up(s)) live.push_back(s);
    }
    const WorkloadDraw draw = draw_workload(workload_prng_, step.clients);
    if (live.empty()) {
        result_.stats.workload_refused += 1;
    } else {
        const int target = live[workload_prng_.below(live.size())];
        result_.stats.workload_iamats += 1;
        client_send(target, workload_line(draw, sc_.epoch + Duration{now_.ns}, step.prefix), -1);
    }
    // The next IAMAT of this workload, at its own instant.
    const std::uint64_t next = w.index + 1;
    const Duration offset = workload_offset(next, step.rate_per_s);
    if (offset < step.length) queue_.push(sc_.steps[w.step].at + offset, EvWorkload{w.step, next});
}

// ---------------------------------------------------------------- scenario steps

void Simulator::Impl::run_step(const Step& step) {
    if (trace_.enabled())
        trace_.begin(now_, "step").field("line", step.line).field("text", step.text).end();
    const StepAction& a = step.action;
    if (is_expectation(a)) {
        expect(step);
    } else if (const auto* send = std::get_if<SendStep>(&a)) {
        run_send(*send);
    } else if (std::holds_alternative<WorkloadStep>(a)) {
        const auto index = static_cast<std::size_t>(&step - sc_.steps.data());
        queue_.push(now_, EvWorkload{index, 0});
    } else {
        run_fault(a);
    }
}

void Simulator::Impl::expect(const Step& step) {
    std::vector<const RecordStore*> stores;
    for (const Server& sv : servers_)
        stores.push_back(sv.node ? &sv.node->store() : nullptr);
    ExpectationResult r = checker_.check(now_, step, Observed{stores, clients_, latest_send_});
    if (trace_.enabled())
        trace_.begin(now_, r.pass ? "pass" : "fail")
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
    if (!up(send.server)) {
        result_.stats.sends_refused += 1;
        clients_.back().refused = true;
        return;
    }
    client_send(send.server, send_line(send.line, sc_.epoch + Duration{now_.ns}), client);
}

void Simulator::Impl::run_fault(const StepAction& a) {
    if (const auto* p = std::get_if<PauseStep>(&a)) {
        Server& sv = servers_[static_cast<std::size_t>(p->server)];
        sv.busy_until = std::max(sv.busy_until, now_ + p->length);
        return;
    }
    if (const auto* crash_step = std::get_if<CrashStep>(&a)) {
        crash(crash_step->server);
        return;
    }
    if (const auto* jump = std::get_if<ClockJumpStep>(&a)) {
        Server& sv = servers_[static_cast<std::size_t>(jump->server)];
        sv.offset = sv.offset + jump->by;  // a restart keeps it: the machine's clock moved
        return;
    }
    if (const auto* restart = std::get_if<RestartStep>(&a)) {
        crash(restart->server);  // a restart of a live server is a crash and a start
        start_server(restart->server);
        return;
    }
    network_.apply_fault(a);
    if (!held_.empty()) release_held();
    if (std::holds_alternative<RestoreStep>(a) || std::holds_alternative<HealStep>(a) ||
        std::holds_alternative<SilenceStep>(a))
        return;
    // A partition or a cut closes what crosses it, at both ends at once.
    for (std::uint64_t id : network_.cut_connections())
        close_at_both_ends(id);
}

// ---------------------------------------------------------------- the run

SimResult Simulator::Impl::run() {
    const int n = static_cast<int>(sc_.herd.servers.size());
    servers_.resize(static_cast<std::size_t>(n));
    latest_send_.assign(static_cast<std::size_t>(n), -1);
    for (const auto& [s, offset] : sc_.clock_offset)
        servers_[static_cast<std::size_t>(s)].offset = offset;
    for (const auto& [s, ppm] : sc_.clock_drift_ppm)
        servers_[static_cast<std::size_t>(s)].drift_ppm = ppm;
    wall_ = sc_.epoch;
    for (int s = 0; s < n; ++s)
        start_server(s);
    for (std::size_t i = 0; i < sc_.steps.size(); ++i)
        queue_.push(sc_.steps[i].at, EvStep{i});
    const Instant end = sc_.end();
    while (!queue_.empty() && queue_.next_time() <= end) {
        auto [at, event] = queue_.pop();
        HERD_ASSERT(at >= now_);  // time never goes back
        if (at != now_) wall_ = sc_.epoch + Duration{at.ns};
        now_ = at;
        std::visit([this](auto& e) { on(e); }, event);
        result_.stats.events += 1;
        if (options_.progress && (result_.stats.events & 0xffff) == 0)
            options_.progress(now_, result_.stats);
    }
    now_ = end;
    result_.end = end;
    for (const Server& sv : servers_) {
        if (sv.node) count_peer_traffic(sv.node->stats());  // crashed ones were counted then
    }
    result_.traced = trace_.enabled();
    result_.trace_hash = trace_.hash();
    std::sort(result_.propagation_ns.begin(), result_.propagation_ns.end());
    std::sort(result_.propagation_fault_ns.begin(), result_.propagation_fault_ns.end());
    for (auto& [h, samples] : result_.propagation_by_hops)
        std::sort(samples.begin(), samples.end());
    return std::move(result_);
}

Simulator::Simulator(const Scenario& scenario, SimOptions options)
    : impl_(std::make_unique<Impl>(scenario, std::move(options))) {}
Simulator::~Simulator() = default;
SimResult Simulator::run() {
    return impl_->run();
}

}  // namespace herd::sim
