// Network: the simulated network between servers and simulated clients.
//
// A connection joins two ends (a server index, or client_end). Each direction is reliable and
// FIFO: a message arrives after a one-way latency drawn from the scenario, never before an
// earlier one in the same direction. Cuts and partitions say which servers cannot reach each
// other. Each end has a socket buffer of `socket_bytes_max` bytes in flight; what a Node hands
// over beyond it waits in that end's queue until earlier bytes arrive, and a Close{now} drops
// that queue while a Close{after_flush} closes once it is sent (the two modes of a real socket).
//
// The network schedules deliveries and close notices on the event queue and traces what it
// sends; handing bytes to Nodes is the simulator's job.
#pragma once

#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "core/fifo.hpp"
#include "core/id_map.hpp"
#include "core/prng.hpp"
#include "sim/event_queue.hpp"
#include "sim/events.hpp"
#include "sim/link_faults.hpp"
#include "sim/scenario.hpp"
#include "sim/trace.hpp"

namespace herd::sim {

class Network {
  public:
    static constexpr std::size_t socket_bytes_max = 4u << 20;

    struct End {
        int server = client_end;
        bool open = true;
        Fifo<SharedBytes> queued;  // handed over, waiting for room in the socket buffer
        std::size_t in_flight_bytes = 0;
        bool close_when_sent = false;
    };
    struct Conn {
        End end[2];
        Instant last_arrival[2];
        int client = -1;  // the simulated client's number, for `send` connections
    };

    Network(const Scenario& scenario, EventQueue<Event>& queue, Trace& trace, Prng& prng)
        : sc_(scenario),
          queue_(queue),
          trace_(trace),
          prng_(prng),
          faults_(scenario.herd.servers.size()) {}

    // ---- connections
    std::uint64_t open(int a, int b, Instant now, int client = -1);
    Conn* find(std::uint64_t id);
    void erase(std::uint64_t id) { conns_.erase(id); }
    // Which end of `c` belongs to `server`.
    static int end_of(const Conn& c, int server) { return c.end[0].server == server ? 0 : 1; }
    void transmit(Instant now, std::uint64_t id, int from, SharedBytes bytes);
    // `bytes` sent by end `from` have arrived: room for what waits.
    void delivered(Instant now, std::uint64_t id, int from, std::size_t bytes);
    void close(Instant now, std::uint64_t id, int from, CloseMode mode);
    // Connections to close: across a cut, or touching `server`; sorted by id.
    std::vector<std::uint64_t> cut_connections() const;
    std::vector<std::uint64_t> connections_of(int server) const;

    // ---- faults and latency
    Duration latency(int a, int b);
    bool is_cut(int a, int b) const { return faults_.is_cut(a, b); }
    bool is_silenced(int from, int to) const { return faults_.is_silenced(from, to); }
    bool any_silenced() const { return faults_.any_silenced(); }
    // A partition, cut, silence, restore or heal statement.
    void apply_fault(const StepAction& a) { faults_.apply(a); }

    std::uint64_t bytes_dropped() const { return bytes_dropped_; }

  private:
    std::string end_name(int s) const;
    void schedule(Instant now, std::uint64_t id, Conn& c, int from, SharedBytes bytes);
    void schedule_close_notice(Instant now, std::uint64_t id, Conn& c, int from);

    const Scenario& sc_;
    EventQueue<Event>& queue_;
    Trace& trace_;
    Prng& prng_;  // latencies
    // Never iterated in hash order: code that walks it sorts the ids first.
    IdMap<Conn> conns_;  // iterated only to lists sorted by id
    std::uint64_t next_conn_ = 1;
    LinkFaults faults_;
    std::uint64_t bytes_dropped_ = 0;
};

}  // namespace herd::sim
