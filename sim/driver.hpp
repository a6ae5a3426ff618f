// Driver: core Nodes on the simulated network, in virtual time. The one place where a Node's
// actions become network operations (network.hpp) and the network's events become Node calls:
// the simulator (scenario steps, workloads, the checker) and the tests' in-memory wire
// (tests/core/wire.hpp) both run their Nodes through it, so the two cannot drift apart.
//
// A server is a slot by index: its Node (none while down), its life (bumped at every start and
// crash, so events of an older life are dropped), its armed timer, its clock (offset, jumps,
// drift) and, with a processing cost or a pause, when it is next free. What only one user needs
// comes through Owner: its own events (scenario steps, workload IAMATs), the records applied,
// what clients read, and (for tests) bytes that vanish on a half-open link.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/node.hpp"
#include "core/prng.hpp"
#include "sim/event_queue.hpp"
#include "sim/events.hpp"
#include "sim/network.hpp"
#include "sim/scenario.hpp"
#include "sim/simulator.hpp"
#include "sim/trace.hpp"

namespace herd::sim {

class Driver {
  public:
    // What the driver's user adds. Every hook has a default that does nothing (or loses
    // nothing).
    class Owner {
      public:
        virtual ~Owner() = default;
        // A scenario statement, and a workload's next IAMAT, are due (the owner queued them).
        virtual void step(EvStep& /*e*/) {}
        virtual void workload(EvWorkload& /*e*/) {}
        // Server `s` applied a record (its Node's RecordApplied).
        virtual void applied(int /*s*/, const RecordApplied& /*a*/) {}
        // Simulated client `client` (Network::Conn::client, >= 0) read bytes, or its
        // connection was closed by the server.
        virtual void client_received(int /*client*/, const std::string& /*bytes*/) {}
        virtual void client_closed(int /*client*/) {}
        // Bytes from end `from` of connection `id` leave the network but reach nobody, and the
        // sender is not told they left (a half-open link); and likewise a close notice on `c`.
        virtual bool lost(std::uint64_t /*id*/, const Network::Conn& /*c*/, int /*from*/) {
            return false;
        }
        virtual bool close_lost(const Network::Conn& /*c*/) { return false; }
        // Every action of every Node, before the driver carries it out (with observe_actions).
        virtual void acted(int /*s*/, const Action& /*a*/) {}
    };

    struct Seeds {
        std::uint64_t net;   // latencies and injected Places failures
        std::uint64_t cost;  // processing costs (drawn only when the scenario sets one)
    };

    // `sc` is read on every event (latencies, faults, Places chances): it must outlive the
    // driver. With `observe_actions`, Owner::acted sees every action.
    Driver(const Scenario& sc, Owner& owner, Trace& trace, SimStats& stats, Seeds seeds,
           bool observe_actions = false);

    // ---- servers
    // Makes room for servers 0..n-1 (down until started).
    void add_servers(int n);
    int servers() const { return static_cast<int>(servers_.size()); }
    // Starts server `s` with a fresh Node (a new life): whatever Node it had is dropped, and
    // its connections are left as they are (crash() first closes them).
    void start(int s, NodeConfig config);
    // Drops server `s`'s Node and closes its connections at both ends at once.
    void crash(int s);
    bool up(int s) const { return slot(s).node != nullptr; }
    Node& node(int s) { return *slot(s).node; }
    const Node* node_or_null(int s) const { return slot(s).node.get(); }
    std::uint64_t life(int s) const { return slot(s).life; }
    // Server `s`'s clock now: the simulated wall clock plus its offset, jumps and drift.
    Now now_of(int s) const;
    void set_clock(int s, Duration offset, std::int32_t drift_ppm);
    void jump_clock(int s, Duration by);
    // Server `s` handles nothing until `length` from now (`pause`).
    void pause(int s, Duration length);
    // Hands what `s`'s Node wants done to the network and the queue, and re-arms its timer.
    void pump(int s);

    // ---- network
    // A partition, cut, silence, restore or heal: cut connections close at both ends.
    void apply_fault(const StepAction& a);
    // A simulated client (number `client`, or -1) opens a connection to `s` and sends `bytes`.
    void client_send(int s, const std::string& bytes, int client);
    Network& network() { return network_; }
    // The scenario's herd, indexed (built again when its servers or links change in number, as
    // the tests' wire adds them).
    const HerdIndex& herd_index();
    EventQueue<Event>& queue() { return queue_; }

    // Adds the peer traffic of every live server's Node to the stats (a crashed one's was
    // added at its crash): once, at the end of a run.
    void count_live_traffic();

    // ---- time
    Instant now() const { return now_; }
    // Runs every event due by `end`, in time order, then stands at `end`. `progress` (if set)
    // is called every 65 536 events.
    void run_until(Instant end,
                   const std::function<void(Instant, const SimStats&)>& progress = nullptr);

    // Node actions, one handler each (called through drain()).
    void act(int s, Reply& a);
    void act(int s, SendToPeer& a);
    void act(int s, Dial& a);
    void act(int s, QueryPlaces& a);
    void act(int s, Close& a);
    void act(int s, RecordApplied& a) { owner_.applied(s, a); }
    void act(int s, PeerUp& a);
    void act(int s, PeerDown& a);
    void act(int, PeerLineRejected&) {}
    void act(int, PauseReading&) {}  // simulated clients read at once: never paused for long
    void act(int, ResumeReading&) {}

    // Events, one handler each (called through std::visit).
    void on(EvStep& e) { owner_.step(e); }
    void on(EvWorkload& e) { owner_.workload(e); }
    void on(EvDeliver& e);
    void on(EvCloseNotice& e);
    void on(EvDialDone& e);
    void on(EvClientOpen& e);
    void on(EvPlaces& e);
    void on(EvTimer& e);
    void on(EvHandle& e);

  private:
    struct Slot {
        std::unique_ptr<Node> node;
        std::uint64_t life = 0;  // bumped at every crash and start: stale events are dropped
        std::uint64_t timer_generation = 0;
        std::optional<Instant> armed;
        Duration offset;             // `clock S offset`, plus every `clock S jump` so far
        std::int32_t drift_ppm = 0;  // `clock S drift`: the clock gains this much per second
        Instant busy_until{0};       // with a processing cost: when the last message is handled
    };
    Slot& slot(int s) { return servers_[static_cast<std::size_t>(s)]; }
    const Slot& slot(int s) const { return servers_[static_cast<std::size_t>(s)]; }
    bool current(int s, std::uint64_t life) const { return slot(s).life == life && up(s); }
    const std::string& name(int s) const {
        return sc_.herd.servers[static_cast<std::size_t>(s)].name.str();
    }
    void arm(int s);
    // With a processing cost: when server `s` is done with a message that arrives now (it
    // handles one at a time).
    Instant occupy(int s);
    // On a silent link, what arrives waits (TCP retransmits it) until the link is restored; if
    // either end closes the connection meanwhile, it is dropped then. True when `e` was held.
    bool hold_if_silenced(int from, int to, Event e);
    void release_held();
    void close_at_both_ends(std::uint64_t conn_id);
    void count_peer_traffic(const NodeStats& node);

    const Scenario& sc_;
    Owner& owner_;
    Trace& trace_;
    SimStats& stats_;
    bool observe_actions_;
    Prng net_prng_;
    Prng cost_prng_;
    bool processing_;
    // Messages to a server wait while it is busy (a processing cost) or paused; off otherwise,
    // so that scenarios with neither run exactly as before.
    bool queueing_;
    EventQueue<Event> queue_;
    Instant now_{0};
    Timestamp wall_;  // epoch + now_, kept in step with now_
    std::vector<Slot> servers_;
    Network network_;
    std::optional<HerdIndex> herd_index_;
    std::size_t indexed_servers_ = 0;
    std::size_t indexed_links_ = 0;
    // Events held on silent links, per direction (from, to), in arrival order.
    std::map<std::pair<int, int>, std::vector<Event>> held_;
};

}  // namespace herd::sim
