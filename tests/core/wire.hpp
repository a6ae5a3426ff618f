// Wire: Nodes joined in memory for tests, in virtual time, on the simulator's own network model
// (sim/network: latency, FIFO per direction, cuts, socket buffers, close modes), so the tests
// and the simulator share one model of links. What only tests need is added here: servers
// started and linked one call at a time, raw connections a stranger could open, half-open
// links (blackhole) and restarts whose goodbyes are lost. Places queries are answered by the
// synthetic generator after `places_latency`. Every action of every node is logged for counting.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/hash.hpp"
#include "core/node.hpp"
#include "core/synthetic_places.hpp"
#include "sim/network.hpp"

namespace herd::test {

class Wire {
  public:
    Duration latency = Duration::milliseconds(1);
    Instant now{0};
    Timestamp epoch{1479413884, 0};
    Duration places_latency = Duration::milliseconds(1);
    struct Logged {
        Instant at;
        std::string node;
        Action action;
    };
    std::vector<Logged> log;  // every action of every node, for counting

    Wire() { sc_.client_latency = sim::Distribution::constant(Duration{0}); }

    NodeConfig config(const std::string& name) {
        NodeConfig c;
        c.self = *ServerName::parse(name);
        c.neighbours = sc_.herd.neighbours_of(index(name));
        c.incarnation = 1000 + next_incarnation_++;
        c.seed = fnv1a64(name) ^ c.incarnation;
        return c;
    }

    void link(const std::string& a, const std::string& b) {
        const int x = index(a), y = index(b);
        sc_.herd.links.emplace_back(std::min(x, y), std::max(x, y));
        std::sort(sc_.herd.links.begin(), sc_.herd.links.end());
    }

    // Starts (or restarts, empty) a server; `tweak` may change its config first.
    Node& start(const std::string& name, const std::function<void(NodeConfig&)>& tweak = {}) {
        NodeConfig c = config(name);
        if (tweak) tweak(c);
        close_all_of(name);
        new_life(name);
        nodes_[name] = std::make_unique<Node>(std::move(c), stamp());
        pump(name);
        return *nodes_[name];
    }

    void crash(const std::string& name) {
        close_all_of(name);
        new_life(name);
        nodes_.erase(name);
    }

    void cut(const std::string& a, const std::string& b) {
        net_.apply_fault(sim::CutStep{index(a), index(b)});
        for (std::uint64_t id : net_.cut_connections())
            close_at_both_ends(id);
    }
    void restore(const std::string& a, const std::string& b) {
        net_.apply_fault(sim::RestoreStep{index(a), index(b)});
    }

    // Messages between a and b vanish without either end being told (a half-open link).
    void blackhole(const std::string& a, const std::string& b) {
        blackholes_.insert({std::min(index(a), index(b)), std::max(index(a), index(b))});
    }

    // Replaces a server by a fresh, empty one with a new incarnation, without its old
    // connections being closed at the other ends (their FINs were lost): what arrives on them
    // for the new server vanishes.
    Node& restart_silently(const std::string& name) {
        for (std::uint64_t id : net_.connections_of(index(name)))
            silent_.insert({id, index(name)});
        new_life(name);
        nodes_[name] = std::make_unique<Node>(config(name), stamp());
        pump(name);
        return *nodes_[name];
    }

    Node& node(const std::string& name) { return *nodes_.at(name); }

    // A client connection to `server` that sends `bytes` then EOF; returns its id for reply().
    int client(const std::string& server, const std::string& bytes) {
        sync();
        const int cid = static_cast<int>(replies_.size());
        replies_.emplace_back();
        const std::uint64_t id = net_.open(sim::client_end, index(server), now, cid);
        net_.find(id)->last_arrival[0] = now + latency;
        queue_.push(now + latency,
                    sim::EvClientOpen{id, std::make_shared<const std::string>(bytes)});
        return cid;
    }
    const std::string& reply(int cid) const { return replies_.at(static_cast<std::size_t>(cid)); }

    // A raw connection to `server` (not via Dial): what a stranger on the network could do.
    ConnectionId raw(const std::string& server, const std::string& bytes) {
        sync();
        const int cid = static_cast<int>(replies_.size());
        replies_.emplace_back();
        const std::uint64_t id = net_.open(sim::client_end, index(server), now, cid);
        node(server).handle_accepted(id, stamp());
        node(server).handle_bytes(id, bytes, stamp());
        pump(server);
        return id;
    }
    bool raw_closed(const std::string& server, ConnectionId id) const {
        return closed_.count({server, id}) > 0;
    }

    // Runs events and timers until `until`, in time order (events before timers at one instant).
    void run_until(Instant until) {
        sync();
        while (true) {
            std::optional<Instant> next;
            if (!queue_.empty()) next = queue_.next_time();
            for (auto& [name, n] : nodes_) {
                if (auto t = n->poll_timeout(); t && (!next || *t < *next)) next = *t;
            }
            if (!next || *next > until) break;
            now = std::max(now, *next);
            if (!queue_.empty() && queue_.next_time() <= now) {
                auto [at, event] = queue_.pop();
                std::visit([this](auto& e) { on(e); }, event);
                continue;
            }
            for (auto& [name, n] : nodes_) {
                if (auto t = n->poll_timeout(); t && *t <= now) {
                    n->handle_timeout(stamp());
                    pump(name);
                    break;
                }
            }
        }
        now = until;
    }
    void run_for(Duration d) { run_until(now + d); }

    std::size_t count_peer_lines(const std::string& verb) const {
        std::size_t n = 0;
        for (const Logged& l : log) {
            const auto* s = std::get_if<SendToPeer>(&l.action);
            if (s == nullptr) continue;
            const std::string& bytes = *s->bytes;
            for (std::size_t p = 0; p < bytes.size();) {
                const std::size_t e = bytes.find('\n', p);
                if (bytes.compare(p, verb.size() + 1, verb + " ") == 0 ||
                    bytes.compare(p, e - p, verb) == 0)
                    ++n;
                p = e + 1;
            }
        }
        return n;
    }

  private:
    Now stamp() const { return Now{now, epoch + Duration{now.ns}}; }
    // The latency the tests set is the network's.
    void sync() { sc_.latency = sim::Distribution::constant(latency); }

    int index(const std::string& name) {
        const int i = sc_.herd.index_of(name);
        if (i >= 0) return i;
        sc_.herd.servers.push_back(ServerSpec{*ServerName::parse(name), {}, 0, 0});
        return static_cast<int>(sc_.herd.servers.size()) - 1;
    }
    const std::string& name_of(int s) const {
        return sc_.herd.servers[static_cast<std::size_t>(s)].name.str();
    }
    Node* live(int s) {
        if (s == sim::client_end) return nullptr;
        auto it = nodes_.find(name_of(s));
        return it == nodes_.end() ? nullptr : it->second.get();
    }
    // Each start, crash or restart of a server begins a new life: events of an older one are
    // dropped.
    void new_life(const std::string& name) { lives_[index(name)] += 1; }
    std::uint64_t life(int s) { return lives_[s]; }

    bool blackholed(const sim::Network::Conn& c) const {
        const int a = c.end[0].server, b = c.end[1].server;
        return blackholes_.count({std::min(a, b), std::max(a, b)}) > 0;
    }

    // Closes both ends at once; what is in flight is dropped (its delivery finds it gone).
    void close_at_both_ends(std::uint64_t id) {
        sim::Network::Conn* found = net_.find(id);
        if (found == nullptr) return;
        const sim::Network::Conn c = *found;
        net_.erase(id);
        for (const sim::Network::End& e : c.end) {
            Node* n = e.open ? live(e.server) : nullptr;
            if (n == nullptr) continue;
            n->handle_closed(id, stamp());
            pump(name_of(e.server));
        }
    }
    void close_all_of(const std::string& name) {
        for (std::uint64_t id : net_.connections_of(index(name)))
            close_at_both_ends(id);
    }

    void pump(const std::string& name) {
        auto it = nodes_.find(name);
        if (it == nodes_.end()) return;
        sync();
        drain(*it->second, [&](auto&& a) { act(name, a); });
    }

    // ---- events
    void on(sim::EvHandle&) {}  // only with a processing cost, which the wire never has
    void on(sim::EvDeliver& d) {
        sim::Network::Conn* c = net_.find(d.conn);
        if (c == nullptr) return;
        // What is read of the connection before delivered() may erase it (as the simulator
        // does): its ends' servers and states, its client, whether it is blackholed.
        const int to_server = c->end[1 - d.from].server;
        const int from_server = c->end[d.from].server;
        const bool to_open = c->end[1 - d.from].open;
        const int client = c->client;
        const bool dropped = blackholed(*c) || silent_.count({d.conn, to_server}) > 0;
        net_.delivered(now, d.conn, d.from, d.bytes->size());  // may erase the connection
        if (!to_open || dropped) return;
        if (to_server == sim::client_end) {
            replies_.at(static_cast<std::size_t>(client)) += *d.bytes;
        } else if (Node* n = live(to_server)) {
            n->handle_bytes(d.conn, *d.bytes, stamp());
            pump(name_of(to_server));
        }
        c = net_.find(d.conn);
        Node* sender = c != nullptr && c->end[d.from].open ? live(from_server) : nullptr;
        if (sender == nullptr) return;
        sender->handle_sent(d.conn, d.bytes->size(), stamp());
        pump(name_of(from_server));
    }
    void on(sim::EvCloseNotice& n) {
        sim::Network::Conn* c = net_.find(n.conn);
        if (c == nullptr || blackholed(*c)) return;
        sim::Network::End& to = c->end[n.to];
        if (!to.open) return;
        to.open = false;
        const int server = to.server;
        if (!c->end[0].open && !c->end[1].open) net_.erase(n.conn);
        if (Node* node = live(server)) {
            node->handle_closed(n.conn, stamp());
            pump(name_of(server));
        }
    }
    void on(sim::EvDialDone& d) {
        Node* dialer = d.life == life(d.server) ? live(d.server) : nullptr;
        if (dialer == nullptr) return;  // the dialer crashed or restarted meanwhile
        Node* peer = live(d.peer);
        // As in the simulator: a cut, or a silent link either way (its handshake is lost).
        if (peer == nullptr || net_.is_cut(d.server, d.peer) ||
            net_.is_silenced(d.server, d.peer) || net_.is_silenced(d.peer, d.server)) {
            dialer->handle_dial_failed(sc_.herd.servers[static_cast<std::size_t>(d.peer)].name,
                                       stamp());
            pump(name_of(d.server));
            return;
        }
        // As in the simulator: the peer accepts and acts, then the dialer learns it is connected.
        const std::uint64_t id = net_.open(d.server, d.peer, now);
        peer->handle_accepted(id, stamp());
        pump(name_of(d.peer));
        dialer->handle_dialed(id, sc_.herd.servers[static_cast<std::size_t>(d.peer)].name, stamp());
        pump(name_of(d.server));
    }
    void on(sim::EvClientOpen& o) {
        sim::Network::Conn* c = net_.find(o.conn);
        Node* n = c != nullptr ? live(c->end[1].server) : nullptr;
        if (n == nullptr) return;
        n->handle_accepted(o.conn, stamp());
        n->handle_bytes(o.conn, *o.bytes, stamp());
        n->handle_eof(o.conn, stamp());
        pump(name_of(c->end[1].server));
    }
    void on(sim::EvPlaces& p) {
        Node* n = p.life == life(p.server) ? live(p.server) : nullptr;
        if (n == nullptr) return;
        n->handle_places_reply(p.id, std::move(*p.result), stamp());
        pump(name_of(p.server));
    }
    void on(sim::EvStep&) {}
    void on(sim::EvTimer&) {}
    void on(sim::EvWorkload&) {}

    // ---- actions
    void act(const std::string& name, const Reply& r) {
        log.push_back({now, name, r});
        net_.transmit(now, r.conn, 1, std::make_shared<const std::string>(r.bytes));
    }
    void act(const std::string& name, const SendToPeer& s) {
        log.push_back({now, name, s});
        const sim::Network::Conn* c = net_.find(s.conn);
        net_.transmit(now, s.conn, sim::Network::end_of(*c, index(name)), s.bytes);
    }
    void act(const std::string& name, const Dial& d) {
        log.push_back({now, name, d});
        const int self = index(name);
        queue_.push(now + latency, sim::EvDialDone{self, life(self), index(d.peer.str())});
    }
    void act(const std::string& name, const QueryPlaces& q) {
        log.push_back({now, name, q});
        auto body = std::make_unique<PlacesResult>(
            PlacesResult{true,
                         synthetic_places_json(q.query.lat_nanodeg, q.query.lon_nanodeg,
                                               q.query.radius, synthetic_places_count_max),
                         {}});
        queue_.push(now + places_latency,
                    sim::EvPlaces{index(name), life(index(name)), q.id, std::move(body)});
    }
    void act(const std::string& name, const Close& c) {
        log.push_back({now, name, c});
        closed_.insert({name, c.conn});
        const sim::Network::Conn* conn = net_.find(c.conn);
        if (conn == nullptr) return;
        net_.close(now, c.conn, sim::Network::end_of(*conn, index(name)), c.mode);
    }
    template <typename Notice>
    void act(const std::string& name, const Notice& n) {
        log.push_back({now, name, n});
    }

    sim::Scenario sc_;
    sim::EventQueue<sim::Event> queue_;
    sim::Trace trace_{nullptr, false};
    Prng prng_{1};
    sim::Network net_{sc_, queue_, trace_, prng_};
    std::set<std::pair<int, int>> blackholes_;
    // (connection, server) pairs whose server end was restarted silently: bytes for it vanish.
    std::set<std::pair<std::uint64_t, int>> silent_;
    std::map<int, std::uint64_t> lives_;
    std::map<std::string, std::unique_ptr<Node>> nodes_;
    std::set<std::pair<std::string, ConnectionId>> closed_;
    std::vector<std::string> replies_;
    std::uint64_t next_incarnation_ = 0;
};

// The Fall 2017 herd, linked as fall2017_herd() says.
inline void fall2017(Wire& w) {
    const HerdSpec herd = fall2017_herd();
    for (const auto& [a, b] : herd.links)
        w.link(herd.servers[static_cast<std::size_t>(a)].name.str(),
               herd.servers[static_cast<std::size_t>(b)].name.str());
    for (const ServerSpec& s : herd.servers)
        w.start(s.name.str());
}

}  // namespace herd::test
