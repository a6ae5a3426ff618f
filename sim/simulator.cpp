#include "sim/simulator.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <variant>

#include "core/hash.hpp"
#include "core/node.hpp"
#include "core/peer_protocol.hpp"
#include "core/prng.hpp"
#include "core/synthetic_places.hpp"
#include "core/text.hpp"
#include "sim/event_queue.hpp"
#include "sim/trace.hpp"

namespace herd::sim {

bool SimResult::passed() const {
    if (!violations.empty()) return false;
    return std::all_of(expectations.begin(), expectations.end(),
                       [](const ExpectationResult& e) { return e.pass; });
}

namespace {

struct EvStep {
    std::size_t index;
};
struct EvDeliver {
    std::uint64_t conn;
    int from;  // the end that sent (0 or 1)
    SharedBytes bytes;
};
struct EvCloseNotice {
    std::uint64_t conn;
    int to;  // the end being told
};
struct EvDialDone {
    int server;
    std::uint64_t life;
    int peer;
};
struct EvClientOpen {
    std::uint64_t conn;
    SharedBytes bytes;  // boxed, like every big payload: events stay small in the queue
};
struct EvPlaces {
    int server;
    std::uint64_t life;
    QueryId id;
    std::unique_ptr<PlacesResult> result;
};
struct EvTimer {
    int server;
    std::uint64_t life;
    std::uint64_t generation;
};
struct EvWorkload {
    std::size_t step;
    std::uint64_t index;
};
using Event = std::variant<EvStep, EvDeliver, EvCloseNotice, EvDialDone, EvClientOpen, EvPlaces,
                           EvTimer, EvWorkload>;

constexpr int client_end = -1;  // End::server of a simulated client

struct End {
    int server;
    bool open = true;
};

struct Conn {
    End end[2];
    Instant last_arrival[2];
    int client = -1;  // index into clients_, for `send` connections; -1 otherwise
};

struct Client {
    int server;
    std::string received;
    bool complete = false;
    bool refused = false;
};

struct Server {
    std::unique_ptr<Node> node;
    std::uint64_t life = 0;  // bumped at every crash and restart: stale events are dropped
    std::uint64_t timer_generation = 0;
    std::optional<Instant> armed;
    Duration offset;
    std::vector<std::optional<Timestamp>> last_applied;  // by client number (see client_numbers_)
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
          workload_prng_(scenario.seed * 4 + 3) {}

    SimResult run();

  private:
    // -------------------------------------------------------------- plumbing
    Now now_of(int s) const {
        const Duration offset = servers_[static_cast<std::size_t>(s)].offset;
        return Now{now_, offset.ns == 0 ? wall_ : wall_ + offset};
    }
    Node& node(int s) { return *servers_[static_cast<std::size_t>(s)].node; }
    bool up(int s) const { return servers_[static_cast<std::size_t>(s)].node != nullptr; }
    const std::string& name(int s) const {
        return sc_.herd.servers[static_cast<std::size_t>(s)].name.str();
    }
    std::string end_name(int s) const { return s == client_end ? std::string("client") : name(s); }

    bool is_cut(int a, int b) const {
        if (cuts_.count({std::min(a, b), std::max(a, b)}) > 0) return true;
        return !group_of_.empty() &&
               group_of_[static_cast<std::size_t>(a)] != group_of_[static_cast<std::size_t>(b)];
    }

    Duration latency_between(int a, int b) {
        if (a == client_end || b == client_end) return sc_.client_latency.sample(net_prng_);
        return sc_.latency_of(a, b).sample(net_prng_);
    }

    void start_server(int s);
    void pump(int s);
    void arm(int s);
    void on_action(int s, Action& a);
    void transmit(std::uint64_t conn_id, int from_end, SharedBytes bytes);
    void close_at_both_ends(std::uint64_t conn_id);
    void close_cut_links();
    void crash(int s);
    void client_send(int s, const std::string& line, int client);
    void applied(int s, const RecordApplied& r);
    void count_peer_traffic(const NodeStats& node);
    int hops(int from, int to);

    void dispatch(Event& e);
    void run_step(const Step& step);
    void run_workload(const WorkloadStep& w, std::size_t step, std::uint64_t index);
    ExpectationResult check(const Step& step);
    std::string check_converged();

    const Scenario& sc_;
    SimOptions options_;
    Trace trace_;
    Prng net_prng_;       // latencies and injected Places failures
    Prng node_prng_;      // incarnations and Node seeds
    Prng workload_prng_;  // workload clients, positions and targets
    EventQueue<Event> queue_;
    Instant now_{0};
    Timestamp wall_;  // epoch + now_, kept in step with now_
    std::vector<Server> servers_;
    // Never iterated in hash order: code that walks it sorts the ids first.
    std::unordered_map<std::uint64_t, Conn> conns_;
    std::uint64_t next_conn_ = 1;
    std::vector<Client> clients_;
    std::vector<int> latest_send_;  // per server: index into clients_, or -1
    std::set<std::pair<int, int>> cuts_;
    std::vector<int> group_of_;  // empty: no partition
    // Looked up, never iterated, so the standard hash is fine here (it is faster on long lines).
    std::unordered_map<std::string, Instant> origin_time_;
    // Every client ID seen, numbered, so per-server checks are a vector index, not a hash lookup.
    std::unordered_map<std::string, std::size_t> client_numbers_;
    std::vector<std::vector<int>>
        distances_;  // hop distances from each origin, filled when first needed
    std::unordered_map<std::string_view, int> server_numbers_;  // name -> index
    SimResult result_;
};

// ---------------------------------------------------------------- servers

void Simulator::Impl::start_server(int s) {
    Server& sv = servers_[static_cast<std::size_t>(s)];
    NodeConfig config;
    config.self = sc_.herd.servers[static_cast<std::size_t>(s)].name;
    config.neighbours = sc_.herd.neighbours_of(s);
    config.tie_break = sc_.tie_break;
    config.incarnation = node_prng_.next();
    config.seed = node_prng_.next();
    sv.life += 1;
    sv.armed.reset();
    sv.last_applied.clear();
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
    while (sv.node) {
        auto a = sv.node->poll_action();
        if (!a) break;
        on_action(s, *a);
    }
    if (sv.node) arm(s);
}

void Simulator::Impl::arm(int s) {
    Server& sv = servers_[static_cast<std::size_t>(s)];
    const auto t = sv.node->poll_timeout();
    if (!t || (sv.armed && *sv.armed <= *t)) return;
    sv.armed = *t;
    sv.timer_generation += 1;
    queue_.push(std::max(*t, now_), EvTimer{s, sv.life, sv.timer_generation});
}

void Simulator::Impl::on_action(int s, Action& action) {
    if (auto* send = std::get_if<SendToPeer>(&action)) {
        auto it = conns_.find(send->conn);
        HERD_ASSERT(it != conns_.end());
        const int from = it->second.end[0].server == s ? 0 : 1;
        result_.stats.peer_messages += 1;  // lines, records and bytes: from the Nodes' counters
        transmit(send->conn, from, std::move(send->bytes));
    } else if (auto* reply = std::get_if<Reply>(&action)) {
        transmit(reply->conn, 1,
                 std::make_shared<const std::string>(std::move(reply->bytes)));  // server: end 1
    } else if (auto* dial = std::get_if<Dial>(&action)) {
        const int peer = sc_.herd.index_of(dial->peer.str());
        result_.stats.dials += 1;
        if (trace_.enabled())
            trace_.begin(now_, "dial").field("from", name(s)).field("to", name(peer)).end();
        queue_.push(now_ + latency_between(s, peer),
                    EvDialDone{s, servers_[static_cast<std::size_t>(s)].life, peer});
    } else if (auto* query = std::get_if<QueryPlaces>(&action)) {
        result_.stats.places_queries += 1;
        PlacesResult r;
        if (sc_.places_fail_ppm > 0 && net_prng_.below(1'000'000) < sc_.places_fail_ppm) {
            result_.stats.places_failures += 1;
            r = PlacesResult{false, {}, "UNKNOWN_ERROR"};
        } else {
            r = PlacesResult{
                true,
                synthetic_places_json(query->query.lat_nanodeg, query->query.lon_nanodeg,
                                      query->query.radius, synthetic_places_count_max),
                {}};
        }
        queue_.push(now_ + sc_.places_latency.sample(net_prng_),
                    EvPlaces{s, servers_[static_cast<std::size_t>(s)].life, query->id,
                             std::make_unique<PlacesResult>(std::move(r))});
    } else if (auto* close = std::get_if<Close>(&action)) {
        auto it = conns_.find(close->conn);
        HERD_ASSERT(it != conns_.end());
        Conn& c = it->second;
        const int from = c.end[0].server == s ? 0 : 1;
        c.end[from].open = false;
        if (trace_.enabled())
            trace_.begin(now_, "close")
                .field("server", name(s))
                .field("conn", static_cast<std::int64_t>(close->conn))
                .end();
        if (c.end[1 - from].open) {
            const Instant at = std::max(now_ + latency_between(c.end[0].server, c.end[1].server),
                                        c.last_arrival[from]);
            c.last_arrival[from] = at;
            queue_.push(at, EvCloseNotice{close->conn, 1 - from});
        } else {
            conns_.erase(it);
        }
    } else if (auto* applied_record = std::get_if<RecordApplied>(&action)) {
        applied(s, *applied_record);
    } else if (auto* peer_up = std::get_if<PeerUp>(&action)) {
        result_.stats.links_up += 1;
        if (trace_.enabled())
            trace_.begin(now_, "link-up")
                .field("server", name(s))
                .field("peer", peer_up->peer.str())
                .end();
    } else if (auto* peer_down = std::get_if<PeerDown>(&action)) {
        result_.stats.links_down += 1;
        if (trace_.enabled()) {
            trace_.begin(now_, "link-down")
                .field("server", name(s))
                .field("peer", peer_down->peer.str())
                .field("reason", peer_down->reason)
                .end();
        }
    }
}

void Simulator::Impl::transmit(std::uint64_t conn_id, int from_end, SharedBytes bytes) {
    Conn& c = conns_.at(conn_id);
    const Instant at = std::max(now_ + latency_between(c.end[0].server, c.end[1].server),
                                c.last_arrival[from_end]);
    c.last_arrival[from_end] = at;
    if (trace_.enabled()) {
        trace_.begin(now_, "send")
            .field("from", end_name(c.end[from_end].server))
            .field("to", end_name(c.end[1 - from_end].server))
            .field("conn", static_cast<std::int64_t>(conn_id))
            .field("arrive", at.ns)
            .field("bytes", *bytes)
            .end();
    }
    queue_.push(at, EvDeliver{conn_id, from_end, std::move(bytes)});
}

void Simulator::Impl::applied(int s, const RecordApplied& r) {
    SimStats& st = result_.stats;
    st.applies += 1;
    if (trace_.enabled())
        trace_.begin(now_, "apply")
            .field("server", name(s))
            .field("record", r.at_line)
            .field("via", r.via)
            .end();
    // Invariant: a store never takes an older record.
    const std::size_t number =
        client_numbers_.try_emplace(r.client, client_numbers_.size()).first->second;
    auto& last = servers_[static_cast<std::size_t>(s)].last_applied;
    if (number >= last.size()) last.resize(number + 1);
    if (last[number] && r.time < *last[number]) {
        result_.violations.push_back(
            {now_, name(s) + " replaced a record of " + r.client + " by an older one"});
    }
    last[number] = r.time;
    if (r.via.empty()) {
        st.updates += 1;
        origin_time_.emplace(r.at_line, now_);
        return;
    }
    // Invariant: no server holds a record no client sent.
    auto origin = origin_time_.find(r.at_line);
    if (origin == origin_time_.end()) {
        result_.violations.push_back(
            {now_, name(s) + " holds a record no client sent: " + r.at_line});
        return;
    }
    result_.propagation_ns.push_back((now_ - origin->second).ns);
    auto from = server_numbers_.find(r.origin);
    if (from != server_numbers_.end())
        result_.propagation_by_hops[hops(from->second, s)].push_back((now_ - origin->second).ns);
}

void Simulator::Impl::count_peer_traffic(const NodeStats& node) {
    result_.stats.peer_lines += node.peer_lines_sent;
    result_.stats.peer_at_lines += node.peer_records_sent;
    result_.stats.peer_bytes += node.peer_bytes_sent;
}

int Simulator::Impl::hops(int from, int to) {
    auto& d = distances_[static_cast<std::size_t>(from)];
    if (d.empty()) d = hop_distances(sc_.herd, from);
    return d[static_cast<std::size_t>(to)];
}

// ---------------------------------------------------------------- connections and faults

void Simulator::Impl::close_at_both_ends(std::uint64_t conn_id) {
    auto it = conns_.find(conn_id);
    if (it == conns_.end()) return;
    Conn c = it->second;
    conns_.erase(it);  // what is in flight finds it gone and is dropped
    for (const End& e : c.end) {
        if (e.open && e.server != client_end && up(e.server)) {
            node(e.server).handle_closed(conn_id, now_of(e.server));
            pump(e.server);
        }
    }
}

void Simulator::Impl::close_cut_links() {
    std::vector<std::uint64_t> doomed;
    for (const auto& [id, c] : conns_) {
        if (c.end[0].server != client_end && is_cut(c.end[0].server, c.end[1].server))
            doomed.push_back(id);
    }
    std::sort(doomed.begin(), doomed.end());
    for (std::uint64_t id : doomed)
        close_at_both_ends(id);
}

void Simulator::Impl::crash(int s) {
    Server& sv = servers_[static_cast<std::size_t>(s)];
    if (!sv.node) return;
    count_peer_traffic(sv.node->stats());
    sv.node.reset();
    sv.life += 1;
    std::vector<std::uint64_t> doomed;
    for (const auto& [id, c] : conns_) {
        if (c.end[0].server == s || c.end[1].server == s) doomed.push_back(id);
    }
    std::sort(doomed.begin(), doomed.end());
    for (std::uint64_t id : doomed)
        close_at_both_ends(id);
}

void Simulator::Impl::client_send(int s, const std::string& line, int client) {
    const std::uint64_t id = next_conn_++;
    Conn c{{End{client_end}, End{s}}, {now_, now_}, client};
    const Instant at = now_ + sc_.client_latency.sample(net_prng_);
    c.last_arrival[0] = at;
    conns_.emplace(id, c);
    if (trace_.enabled())
        trace_.begin(now_, "client-send").field("to", name(s)).field("bytes", line).end();
    queue_.push(at, EvClientOpen{id, std::make_shared<const std::string>(line)});
}

// ---------------------------------------------------------------- events

void Simulator::Impl::dispatch(Event& event) {
    if (auto* step = std::get_if<EvStep>(&event)) {
        run_step(sc_.steps[step->index]);
    } else if (auto* d = std::get_if<EvDeliver>(&event)) {
        auto it = conns_.find(d->conn);
        if (it == conns_.end()) return;
        Conn& c = it->second;
        const End to = c.end[1 - d->from];
        const End from = c.end[d->from];
        if (!to.open) return;
        if (to.server == client_end) {
            if (c.client >= 0) clients_[static_cast<std::size_t>(c.client)].received += *d->bytes;
        } else {
            result_.stats.deliveries += 1;
            node(to.server).handle_bytes(d->conn, *d->bytes, now_of(to.server));
            pump(to.server);
        }
        // The sender learns its bytes left (its queue drains as they arrive).
        it = conns_.find(d->conn);
        if (it != conns_.end() && it->second.end[d->from].open && from.server != client_end) {
            node(from.server).handle_sent(d->conn, d->bytes->size(), now_of(from.server));
            pump(from.server);
        }
    } else if (auto* n = std::get_if<EvCloseNotice>(&event)) {
        auto it = conns_.find(n->conn);
        if (it == conns_.end()) return;
        Conn& c = it->second;
        End& to = c.end[n->to];
        if (!to.open) return;
        to.open = false;
        const int server = to.server;
        if (server == client_end) {
            if (c.client >= 0) clients_[static_cast<std::size_t>(c.client)].complete = true;
        }
        if (!c.end[0].open && !c.end[1].open) conns_.erase(it);
        if (server != client_end) {
            node(server).handle_closed(n->conn, now_of(server));
            pump(server);
        }
    } else if (auto* dial = std::get_if<EvDialDone>(&event)) {
        if (servers_[static_cast<std::size_t>(dial->server)].life != dial->life ||
            !up(dial->server))
            return;
        if (!up(dial->peer) || is_cut(dial->server, dial->peer)) {
            result_.stats.dials_failed += 1;
            node(dial->server)
                .handle_dial_failed(sc_.herd.servers[static_cast<std::size_t>(dial->peer)].name,
                                    now_of(dial->server));
            pump(dial->server);
            return;
        }
        const std::uint64_t id = next_conn_++;
        conns_.emplace(id, Conn{{End{dial->server}, End{dial->peer}}, {now_, now_}, -1});
        node(dial->peer).handle_accepted(id, now_of(dial->peer));
        pump(dial->peer);
        node(dial->server)
            .handle_dialed(id, sc_.herd.servers[static_cast<std::size_t>(dial->peer)].name,
                           now_of(dial->server));
        pump(dial->server);
    } else if (auto* open = std::get_if<EvClientOpen>(&event)) {
        auto it = conns_.find(open->conn);
        if (it == conns_.end()) return;
        const int s = it->second.end[1].server;
        if (!up(s)) {
            conns_.erase(it);
            return;
        }
        node(s).handle_accepted(open->conn, now_of(s));
        node(s).handle_bytes(open->conn, *open->bytes, now_of(s));
        node(s).handle_eof(open->conn, now_of(s));
        pump(s);
    } else if (auto* places = std::get_if<EvPlaces>(&event)) {
        if (servers_[static_cast<std::size_t>(places->server)].life != places->life ||
            !up(places->server))
            return;
        node(places->server)
            .handle_places_reply(places->id, std::move(*places->result), now_of(places->server));
        pump(places->server);
    } else if (auto* timer = std::get_if<EvTimer>(&event)) {
        Server& sv = servers_[static_cast<std::size_t>(timer->server)];
        if (sv.life != timer->life || !sv.node || sv.timer_generation != timer->generation) return;
        sv.armed.reset();
        sv.node->handle_timeout(now_of(timer->server));
        pump(timer->server);
    } else if (auto* w = std::get_if<EvWorkload>(&event)) {
        run_workload(std::get<WorkloadStep>(sc_.steps[w->step].action), w->step, w->index);
    }
}

void Simulator::Impl::run_workload(const WorkloadStep& w, std::size_t step, std::uint64_t index) {
    std::vector<int> live;
    for (int s = 0; s < static_cast<int>(servers_.size()); ++s) {
        if (up(s)) live.push_back(s);
    }
    const std::uint64_t client = workload_prng_.below(w.clients);
    const std::int64_t lat = workload_prng_.between(-90'000'000, 90'000'000);  // micro-degrees
    const std::int64_t lon = workload_prng_.between(-180'000'000, 180'000'000);
    if (live.empty()) {
        result_.stats.workload_refused += 1;
    } else {
        const int target = live[workload_prng_.below(live.size())];
        std::string line = "IAMAT w";
        append_decimal(line, client);
        line += ' ';
        for (std::int64_t v : {lat, lon}) {
            line += v < 0 ? '-' : '+';
            const std::uint64_t m = static_cast<std::uint64_t>(v < 0 ? -v : v);
            append_decimal(line, m / 1'000'000);
            line += '.';
            append_padded(line, m % 1'000'000, 6);
        }
        line += ' ';
        line += format_timestamp(sc_.epoch + Duration{now_.ns});
        line += '\n';
        result_.stats.workload_iamats += 1;
        client_send(target, line, -1);
    }
    // The next IAMAT of this workload, at its own instant.
    const Instant start = sc_.steps[step].at;
    const std::uint64_t next = index + 1;
    const auto offset =
        static_cast<std::int64_t>(static_cast<uint128>(next) * 1'000'000'000u / w.rate_per_s);
    if (offset < w.length.ns) queue_.push(start + Duration{offset}, EvWorkload{step, next});
}

void Simulator::Impl::run_step(const Step& step) {
    if (trace_.enabled())
        trace_.begin(now_, "step").field("line", step.line).field("text", step.text).end();
    const StepAction& a = step.action;
    if (is_expectation(a)) {
        ExpectationResult r = check(step);
        if (trace_.enabled())
            trace_.begin(now_, r.pass ? "pass" : "fail")
                .field("line", step.line)
                .field("found", r.found)
                .end();
        result_.expectations.push_back(std::move(r));
    } else if (const auto* send = std::get_if<SendStep>(&a)) {
        result_.stats.sends += 1;
        const int client = static_cast<int>(clients_.size());
        clients_.push_back(Client{send->server, {}, false, false});
        latest_send_[static_cast<std::size_t>(send->server)] = client;
        if (!up(send->server)) {
            result_.stats.sends_refused += 1;
            clients_.back().refused = true;
            return;
        }
        std::string line = send->line;
        const std::string now_text = format_timestamp(sc_.epoch + Duration{now_.ns});
        for (std::size_t p = line.find("{now}"); p != std::string::npos;
             p = line.find("{now}", p + now_text.size())) {
            line.replace(p, 5, now_text);
        }
        line += '\n';
        client_send(send->server, line, client);
    } else if (const auto* p = std::get_if<PartitionStep>(&a)) {
        // A partition replaces the previous one; cuts stay until restored or healed.
        group_of_.assign(servers_.size(), 0);
        int next_group = static_cast<int>(p->groups.size()) + 1;
        for (int& g : group_of_)
            g = next_group++;  // a server named in no group is its own group
        for (std::size_t g = 0; g < p->groups.size(); ++g) {
            for (int s : p->groups[g])
                group_of_[static_cast<std::size_t>(s)] = static_cast<int>(g);
        }
        close_cut_links();
    } else if (const auto* c = std::get_if<CutStep>(&a)) {
        cuts_.insert({c->a, c->b});
        close_cut_links();
    } else if (const auto* r = std::get_if<RestoreStep>(&a)) {
        cuts_.erase({r->a, r->b});
    } else if (std::holds_alternative<HealStep>(a)) {
        cuts_.clear();
        group_of_.clear();
    } else if (const auto* crash_step = std::get_if<CrashStep>(&a)) {
        crash(crash_step->server);
    } else if (const auto* restart = std::get_if<RestartStep>(&a)) {
        crash(restart->server);  // a restart of a live server is a crash and a start
        start_server(restart->server);
    } else if (std::holds_alternative<WorkloadStep>(a)) {
        const auto index = static_cast<std::size_t>(&step - sc_.steps.data());
        queue_.push(now_, EvWorkload{index, 0});
    }
}

// ---------------------------------------------------------------- expectations

namespace {

std::string shown(std::string_view bytes) {
    std::string out;
    append_json_escaped(out, bytes.substr(0, 300));
    if (bytes.size() > 300) out += "...";
    return out;
}

}  // namespace

std::string Simulator::Impl::check_converged() {
    int reference = -1;
    std::vector<const Record*> ref;
    for (int s = 0; s < static_cast<int>(servers_.size()); ++s) {
        if (!up(s)) continue;
        std::vector<const Record*> mine = node(s).store().sorted();
        if (reference < 0) {
            reference = s;
            ref = std::move(mine);
            continue;
        }
        std::size_t i = 0, j = 0;
        while (i < ref.size() || j < mine.size()) {
            if (j == mine.size() || (i < ref.size() && ref[i]->client() < mine[j]->client())) {
                return name(s) + " lacks " + std::string(ref[i]->client()) + ", which " +
                       name(reference) + " has";
            }
            if (i == ref.size() || mine[j]->client() < ref[i]->client()) {
                return name(reference) + " lacks " + std::string(mine[j]->client()) + ", which " +
                       name(s) + " has";
            }
            if (ref[i]->at_line() != mine[j]->at_line()) {
                return name(reference) + " has \"" + std::string(ref[i]->at_line()) + "\" but " +
                       name(s) + " has \"" + std::string(mine[j]->at_line()) + "\"";
            }
            ++i;
            ++j;
        }
    }
    return {};
}

ExpectationResult Simulator::Impl::check(const Step& step) {
    ExpectationResult r{step.line, now_, step.text, false, {}};
    auto down = [&](int s) {
        if (up(s)) return false;
        r.found = name(s) + " is down (crashed)";
        return true;
    };
    if (std::holds_alternative<ExpectConverged>(step.action)) {
        r.found = check_converged();
        r.pass = r.found.empty();
    } else if (const auto* e = std::get_if<ExpectHasAt>(&step.action)) {
        if (down(e->server)) return r;
        const Record* rec = node(e->server).store().find(e->client);
        if (!rec)
            r.found = "no record of " + e->client;
        else if (rec->latlon_text() != e->latlon)
            r.found = "at " + std::string(rec->latlon_text());
        else
            r.pass = true;
    } else if (const auto* e = std::get_if<ExpectHasTime>(&step.action)) {
        if (down(e->server)) return r;
        const Record* rec = node(e->server).store().find(e->client);
        if (!rec)
            r.found = "no record of " + e->client;
        else if (rec->time() != e->time)
            r.found = "time " + std::string(rec->time_text());
        else
            r.pass = true;
    } else if (const auto* e = std::get_if<ExpectLacks>(&step.action)) {
        if (down(e->server)) return r;
        const Record* rec = node(e->server).store().find(e->client);
        if (rec)
            r.found = "has \"" + std::string(rec->at_line()) + "\"";
        else
            r.pass = true;
    } else if (const auto* e = std::get_if<ExpectReply>(&step.action)) {
        const int c = latest_send_[static_cast<std::size_t>(e->server)];
        if (c < 0) {
            r.found = "no send to " + name(e->server) + " yet";
        } else {
            const Client& client = clients_[static_cast<std::size_t>(c)];
            if (client.refused)
                r.found = "the latest send to " + name(e->server) + " was refused (it was down)";
            else if (!client.complete)
                r.found = "no reply yet (so far: \"" + shown(client.received) + "\")";
            else if (!e->glob.matches(client.received))
                r.found = "\"" + shown(client.received) + "\"";
            else
                r.pass = true;
        }
    }
    return r;
}

// ---------------------------------------------------------------- the run

SimResult Simulator::Impl::run() {
    const int n = static_cast<int>(sc_.herd.servers.size());
    servers_.resize(static_cast<std::size_t>(n));
    distances_.resize(static_cast<std::size_t>(n));
    for (int s = 0; s < n; ++s)
        server_numbers_.emplace(name(s), s);
    latest_send_.assign(static_cast<std::size_t>(n), -1);
    for (const auto& [s, offset] : sc_.clock_offset)
        servers_[static_cast<std::size_t>(s)].offset = offset;
    wall_ = sc_.epoch;
    for (int s = 0; s < n; ++s)
        start_server(s);
    for (std::size_t i = 0; i < sc_.steps.size(); ++i)
        queue_.push(sc_.steps[i].at, EvStep{i});
    const Instant end = sc_.steps.empty() ? Instant{0} : sc_.steps.back().at;
    while (!queue_.empty() && queue_.next_time() <= end) {
        auto [at, event] = queue_.pop();
        HERD_ASSERT(at >= now_);
        if (at != now_) wall_ = sc_.epoch + Duration{at.ns};
        now_ = at;
        dispatch(event);
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
