// Wire: Nodes joined in memory for tests, in virtual time, run by the simulator's own driver
// (sim/driver: every Node action and network event handled by the code `herd sim` runs) on its
// network model (sim/network: latency, FIFO per direction, cuts, socket buffers, close modes).
// What only tests need is added here: servers named, started and linked one call at a time,
// raw connections a stranger could open, half-open links (blackhole) and restarts whose
// goodbyes are lost. Places queries are answered by the synthetic generator after
// `places_latency`. Every action of every node is logged for counting.
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
#include "sim/driver.hpp"

namespace herd::test {

class Wire final : public sim::Driver::Owner {
  public:
    Duration latency = Duration::milliseconds(1);  // every link's and every client's
    Duration places_latency = Duration::milliseconds(1);
    Instant now{0};
    struct Logged {
        Instant at;
        std::string node;
        Action action;
    };
    std::vector<Logged> log;  // every action of every node, for counting

    Wire() { sync(); }

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
        sync();
        driver_.crash(index(name));  // a restart of a live server is a crash and a start
        driver_.start(index(name), std::move(c));
        return node(name);
    }

    void crash(const std::string& name) {
        sync();
        driver_.crash(index(name));
    }

    void cut(const std::string& a, const std::string& b) {
        sync();
        driver_.apply_fault(sim::CutStep{index(a), index(b)});
    }
    void restore(const std::string& a, const std::string& b) {
        sync();
        driver_.apply_fault(sim::RestoreStep{index(a), index(b)});
    }

    // Messages between a and b vanish without either end being told (a half-open link).
    void blackhole(const std::string& a, const std::string& b) {
        blackholes_.insert({std::min(index(a), index(b)), std::max(index(a), index(b))});
    }

    // Replaces a server by a fresh, empty one with a new incarnation, without its old
    // connections being closed at the other ends (their FINs were lost): what arrives on them
    // for the new server vanishes.
    Node& restart_silently(const std::string& name) {
        sync();
        for (std::uint64_t id : driver_.network().connections_of(index(name)))
            silent_.insert({id, index(name)});
        driver_.start(index(name), config(name));
        return node(name);
    }

    Node& node(const std::string& name) {
        HERD_ASSERT(driver_.up(index(name)));
        return driver_.node(index(name));
    }

    // A client connection to `server` that sends `bytes` then EOF; returns its id for reply().
    int client(const std::string& server, const std::string& bytes) {
        sync();
        const int cid = static_cast<int>(replies_.size());
        replies_.emplace_back();
        driver_.client_send(index(server), bytes, cid);
        return cid;
    }
    const std::string& reply(int cid) const { return replies_.at(static_cast<std::size_t>(cid)); }

    // A raw connection to `server` (not via Dial): what a stranger on the network could do.
    ConnectionId raw(const std::string& server, const std::string& bytes) {
        sync();
        const int cid = static_cast<int>(replies_.size());
        replies_.emplace_back();
        const int s = index(server);
        const std::uint64_t id = driver_.network().open(sim::client_end, s, now, cid);
        driver_.node(s).handle_accepted(id, driver_.now_of(s));
        driver_.node(s).handle_bytes(id, bytes, driver_.now_of(s));
        driver_.pump(s);
        return id;
    }
    // Bytes that arrive at `to` on its link from `from` now, though `from`'s Node never wrote
    // them (a forged or broken peer).
    void inject(const std::string& from, const std::string& to, const std::string& bytes) {
        sync();
        const int a = index(from), b = index(to);
        for (std::uint64_t id : driver_.network().connections_of(a)) {
            const sim::Network::Conn& c = *driver_.network().find(id);
            const int end = sim::Network::end_of(c, a);
            if (c.end[1 - end].server != b || !c.end[end].open) continue;
            driver_.node(b).handle_bytes(id, bytes, driver_.now_of(b));
            driver_.pump(b);
            return;
        }
        HERD_ASSERT(false && "inject: no open connection between the two");
    }

    // The actions one server took, from the log.
    template <typename T>
    std::vector<T> actions_of(const std::string& name) const {
        std::vector<T> out;
        for (const Logged& l : log) {
            if (const T* t = std::get_if<T>(&l.action); t != nullptr && l.node == name)
                out.push_back(*t);
        }
        return out;
    }

    bool raw_closed(const std::string& server, ConnectionId id) const {
        return closed_.count({server, id}) > 0;
    }

    // Runs every event and timer due by `until`, in time order (the driver's loop).
    void run_until(Instant until) {
        sync();
        driver_.run_until(until);
        now = driver_.now();
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

    // ---- what the driver leaves to the wire
    void client_received(int client, const std::string& bytes) override {
        replies_.at(static_cast<std::size_t>(client)) += bytes;
    }
    bool lost(std::uint64_t id, const sim::Network::Conn& c, int from) override {
        return blackholed(c) || silent_.count({id, c.end[1 - from].server}) > 0;
    }
    bool close_lost(const sim::Network::Conn& c) override { return blackholed(c); }
    void acted(int s, const Action& a) override {
        log.push_back({driver_.now(), name_of(s), a});
        if (const auto* c = std::get_if<Close>(&a)) closed_.insert({name_of(s), c->conn});
    }

  private:
    // The latencies the tests set are the network's.
    void sync() {
        sc_.latency = sim::Distribution::constant(latency);
        sc_.client_latency = sim::Distribution::constant(latency);
        sc_.places_latency = sim::Distribution::constant(places_latency);
    }

    int index(const std::string& name) {
        const int i = sc_.herd.index_of(name);
        if (i >= 0) return i;
        sc_.herd.servers.push_back(ServerSpec{*ServerName::parse(name), {}, 0, 0});
        const int s = static_cast<int>(sc_.herd.servers.size()) - 1;
        driver_.add_servers(s + 1);
        return s;
    }
    const std::string& name_of(int s) const {
        return sc_.herd.servers[static_cast<std::size_t>(s)].name.str();
    }
    bool blackholed(const sim::Network::Conn& c) const {
        const int a = c.end[0].server, b = c.end[1].server;
        return blackholes_.count({std::min(a, b), std::max(a, b)}) > 0;
    }

    sim::Scenario sc_;
    sim::Trace trace_{nullptr, false};
    sim::SimStats stats_;
    sim::Driver driver_{sc_, *this, trace_, stats_, sim::Driver::Seeds{1, 2}, true};
    std::set<std::pair<int, int>> blackholes_;
    // (connection, server) pairs whose server end was restarted silently: bytes for it vanish.
    std::set<std::pair<std::uint64_t, int>> silent_;
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
