// Wire: Nodes joined in memory for tests, in virtual time. Every message and connection set-up
// takes `latency`; links are FIFO; a cut link refuses dials and drops what is in flight. Places
// queries are answered by the synthetic generator. Far smaller than the simulator: no scenario
// files, no randomness but the Nodes' own.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "core/node.hpp"
#include "core/synthetic_places.hpp"

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

    NodeConfig config(const std::string& name) {
        NodeConfig c;
        c.self = *ServerName::parse(name);
        for (const auto& [a, b] : links_) {
            if (a == name) c.neighbours.push_back(*ServerName::parse(b));
            if (b == name) c.neighbours.push_back(*ServerName::parse(a));
        }
        c.incarnation = 1000 + next_incarnation_++;
        c.seed = std::hash<std::string>{}(name) ^ c.incarnation;
        return c;
    }

    void link(const std::string& a, const std::string& b) { links_.insert({a, b}); }

    // Starts (or restarts, empty) a server; `tweak` may change its config first.
    Node& start(const std::string& name, const std::function<void(NodeConfig&)>& tweak = {}) {
        NodeConfig c = config(name);
        if (tweak) tweak(c);
        for (auto& [id, conn] : conns_) {
            if (conn.open && (conn.end[0].server == name || conn.end[1].server == name)) drop(id);
        }
        nodes_[name] = std::make_unique<Node>(std::move(c), stamp());
        pump(name);
        return *nodes_[name];
    }

    void crash(const std::string& name) {
        for (auto& [id, conn] : conns_) {
            if (conn.open && (conn.end[0].server == name || conn.end[1].server == name)) drop(id);
        }
        nodes_.erase(name);
    }

    void cut(const std::string& a, const std::string& b) {
        cuts_.insert({std::min(a, b), std::max(a, b)});
        for (auto& [id, conn] : conns_) {
            const auto& x = conn.end[0].server;
            const auto& y = conn.end[1].server;
            if (conn.open && ((x == a && y == b) || (x == b && y == a))) drop(id);
        }
    }
    void restore(const std::string& a, const std::string& b) {
        cuts_.erase({std::min(a, b), std::max(a, b)});
    }

    // Messages between a and b vanish without either end being told (a half-open link).
    void blackhole(const std::string& a, const std::string& b) {
        blackholes_.insert({std::min(a, b), std::max(a, b)});
    }

    // Replaces a server by a fresh, empty one with a new incarnation, without its old
    // connections being closed at the other ends (their FINs were lost).
    Node& restart_silently(const std::string& name) {
        NodeConfig c = config(name);
        for (auto& [id, conn] : conns_) {
            if (conn.end[0].server == name || conn.end[1].server == name) conn.silent_at = name;
        }
        nodes_[name] = std::make_unique<Node>(std::move(c), stamp());
        pump(name);
        return *nodes_[name];
    }

    Node& node(const std::string& name) { return *nodes_.at(name); }

    // A client connection to `server` that sends `bytes` then EOF; returns its id for reply().
    int client(const std::string& server, const std::string& bytes) {
        const ConnectionId id = next_conn_++;
        const int cid = static_cast<int>(replies_.size());
        replies_.emplace_back();
        client_of_[{server, id}] = cid;
        at(now + latency, [this, server, id, bytes] {
            if (!nodes_.count(server)) return;
            node(server).handle_accepted(id, stamp());
            node(server).handle_bytes(id, bytes, stamp());
            node(server).handle_eof(id, stamp());
            pump(server);
        });
        return cid;
    }
    const std::string& reply(int cid) const { return replies_.at(static_cast<std::size_t>(cid)); }

    // A raw connection to `server` (not via Dial): what a stranger on the network could do.
    ConnectionId raw(const std::string& server, const std::string& bytes) {
        const ConnectionId id = next_conn_++;
        client_of_[{server, id}] = static_cast<int>(replies_.size());
        replies_.emplace_back();
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
        while (true) {
            std::optional<Instant> next;
            if (!events_.empty()) next = events_.top().at;
            for (auto& [name, n] : nodes_) {
                if (auto t = n->poll_timeout(); t && (!next || *t < *next)) next = *t;
            }
            if (!next || *next > until) break;
            now = std::max(now, *next);
            if (!events_.empty() && events_.top().at <= now) {
                auto f = events_.top().f;
                events_.pop();
                f();
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
            if (const auto* s = std::get_if<SendToPeer>(&l.action)) {
                const std::string& bytes = *s->bytes;
                for (std::size_t p = 0; p < bytes.size();) {
                    const std::size_t e = bytes.find('\n', p);
                    if (bytes.compare(p, verb.size() + 1, verb + " ") == 0 ||
                        bytes.compare(p, e - p, verb) == 0) {
                        ++n;
                    }
                    p = e + 1;
                }
            }
        }
        return n;
    }

  private:
    struct End {
        std::string server;
        ConnectionId id;
    };
    struct Conn {
        End end[2];
        bool open = true;
        std::string silent_at;  // this end was restarted and knows nothing of the connection
    };
    struct Event {
        Instant at;
        std::uint64_t seq;
        std::function<void()> f;
        bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
    };

    Now stamp() const { return Now{now, epoch + Duration{now.ns}}; }
    void at(Instant t, std::function<void()> f) { events_.push(Event{t, seq_++, std::move(f)}); }
    bool is_cut(const std::string& a, const std::string& b) const {
        return cuts_.count({std::min(a, b), std::max(a, b)}) > 0;
    }

    // Closes both ends at once; what is in flight is dropped (its delivery finds it closed).
    void drop(std::uint64_t id) {
        Conn& c = conns_.at(id);
        c.open = false;
        for (const End& e : c.end) {
            if (nodes_.count(e.server)) {
                node(e.server).handle_closed(e.id, stamp());
                pump(e.server);
            }
        }
    }

    void pump(const std::string& name) {
        auto it = nodes_.find(name);
        if (it == nodes_.end()) return;
        drain(*it->second, [&](auto&& a) { act(name, a); });
    }

    void act(const std::string& name, const Reply& r) {
        log.push_back({now, name, r});
        replies_.at(static_cast<std::size_t>(client_of_.at({name, r.conn}))) += r.bytes;
        node(name).handle_sent(r.conn, r.bytes.size(), stamp());
    }
    void act(const std::string& name, const SendToPeer& s) {
        log.push_back({now, name, s});
        auto link = by_end_.find({name, s.conn});
        if (link == by_end_.end()) {  // a raw connection: the test reads it
            replies_.at(static_cast<std::size_t>(client_of_.at({name, s.conn}))) += *s.bytes;
            node(name).handle_sent(s.conn, s.bytes->size(), stamp());
            return;
        }
        const std::uint64_t id = link->second;
        at(now + latency, [this, id, name, s] {
            Conn& c = conns_.at(id);
            if (!c.open) return;
            const End& to = c.end[0].server == name ? c.end[1] : c.end[0];
            const End& from = c.end[0].server == name ? c.end[0] : c.end[1];
            if (blackholes_.count(
                    {std::min(to.server, from.server), std::max(to.server, from.server)}))
                return;
            if (c.silent_at == to.server) return;
            node(to.server).handle_bytes(to.id, *s.bytes, stamp());
            pump(to.server);
            if (conns_.at(id).open && nodes_.count(from.server)) {
                node(from.server).handle_sent(from.id, s.bytes->size(), stamp());
                pump(from.server);
            }
        });
    }
    void act(const std::string& name, const Dial& d) {
        log.push_back({now, name, d});
        const std::string peer = d.peer.str();
        at(now + latency, [this, name, peer] {
            if (!nodes_.count(name)) return;
            if (!nodes_.count(peer) || is_cut(name, peer)) {
                node(name).handle_dial_failed(*ServerName::parse(peer), stamp());
                pump(name);
                return;
            }
            const std::uint64_t id = next_link_++;
            Conn c{{End{name, next_conn_++}, End{peer, next_conn_++}}, true, {}};
            conns_[id] = c;
            by_end_[{name, c.end[0].id}] = id;
            by_end_[{peer, c.end[1].id}] = id;
            node(peer).handle_accepted(c.end[1].id, stamp());
            node(name).handle_dialed(c.end[0].id, *ServerName::parse(peer), stamp());
            pump(peer);
            pump(name);
        });
    }
    void act(const std::string& name, const QueryPlaces& q) {
        log.push_back({now, name, q});
        const QueryId id = q.id;
        const std::string body = synthetic_places_json(q.query.lat_nanodeg, q.query.lon_nanodeg,
                                                       q.query.radius, synthetic_places_count_max);
        at(now + places_latency, [this, name, id, body] {
            if (!nodes_.count(name)) return;
            node(name).handle_places_reply(id, PlacesResult{true, body, {}}, stamp());
            pump(name);
        });
    }
    void act(const std::string& name, const Close& c) {
        log.push_back({now, name, c});
        closed_.insert({name, c.conn});
        auto link = by_end_.find({name, c.conn});
        if (link == by_end_.end()) return;
        const std::uint64_t id = link->second;
        // The other end learns one latency later, after whatever was sent before (FIFO).
        at(now + latency, [this, id, name] {
            Conn& conn = conns_.at(id);
            if (!conn.open) return;
            conn.open = false;
            const End& other = conn.end[0].server == name ? conn.end[1] : conn.end[0];
            if (blackholes_.count({std::min(name, other.server), std::max(name, other.server)}))
                return;
            if (nodes_.count(other.server)) {
                node(other.server).handle_closed(other.id, stamp());
                pump(other.server);
            }
        });
    }
    template <typename Notice>
    void act(const std::string& name, const Notice& n) {
        log.push_back({now, name, n});
    }

    std::set<std::pair<std::string, std::string>> links_;
    std::set<std::pair<std::string, std::string>> cuts_;
    std::set<std::pair<std::string, std::string>> blackholes_;
    std::map<std::string, std::unique_ptr<Node>> nodes_;
    std::map<std::uint64_t, Conn> conns_;
    std::map<std::pair<std::string, ConnectionId>, std::uint64_t> by_end_;
    std::map<std::pair<std::string, ConnectionId>, int> client_of_;
    std::set<std::pair<std::string, ConnectionId>> closed_;
    std::vector<std::string> replies_;
    std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
    std::uint64_t seq_ = 0;
    std::uint64_t next_link_ = 1;
    ConnectionId next_conn_ = 1;
    std::uint64_t next_incarnation_ = 0;
};

// The Fall 2017 herd.
inline void fall2017(Wire& w) {
    w.link("Alford", "Hamilton");
    w.link("Alford", "Welsh");
    w.link("Ball", "Holiday");
    w.link("Ball", "Welsh");
    w.link("Hamilton", "Holiday");
    for (const char* s : {"Alford", "Ball", "Hamilton", "Holiday", "Welsh"})
        w.start(s);
}

}  // namespace herd::test
