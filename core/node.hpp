// Node: one herd server's whole logic, as a state machine with no I/O and no clock.
//
// Call order (the same for the simulator and the network driver):
//   1. Construct with the config and the current time; it immediately asks to dial every
//      neighbour.
//   2. Report every event with a handle_* call and the time it happened (time never goes back).
//   3. After each call, drain poll_action() until empty and carry the actions out in order.
//   4. Call handle_timeout() when the time given by poll_timeout() is reached (it may be called
//      early or late; it does what is due and nothing else).
//
// Connections are identified by ids the driver chooses. A connection's first line decides its
// role: HELLO makes it a peer handshake, anything else makes it a client connection.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/action.hpp"
#include "core/client_service.hpp"
#include "core/line_buffer.hpp"
#include "core/node_config.hpp"
#include "core/peer_protocol.hpp"
#include "core/prng.hpp"
#include "core/record_store.hpp"

namespace herd {

// A Places provider's answer: a body to format, or a failure status (Google's, or
// UNKNOWN_ERROR for a transport error).
struct PlacesResult {
    bool ok = false;
    std::string body;    // ok: the provider's JSON body
    std::string status;  // !ok: the status to report
};

// Counters a driver may show or a test may assert on.
struct NodeStats {
    std::uint64_t records_applied = 0;      // store changes, from clients and peers
    std::uint64_t peer_lines_received = 0;  // after the handshake
    std::uint64_t peer_lines_sent = 0;
    std::uint64_t peer_bytes_sent = 0;
    std::uint64_t peer_records_sent = 0;    // AT lines among them (floods and anti-entropy)
    std::uint64_t peer_lines_rejected = 0;  // malformed or out of place, from an established peer
    std::uint64_t sync_records_sent = 0;    // records sent by anti-entropy
    std::uint64_t digests_sent = 0;
    std::uint64_t handshakes_refused = 0;
    std::uint64_t links_closed_silent = 0;
    std::uint64_t links_closed_overflow = 0;
};

class Node {
  public:
    Node(NodeConfig config, Now now);

    void handle_accepted(ConnectionId conn, Now now);
    void handle_dialed(ConnectionId conn, const ServerName& peer, Now now);
    void handle_dial_failed(const ServerName& peer, Now now);
    void handle_bytes(ConnectionId conn, std::string_view bytes, Now now);
    // The remote end finished sending (a client's EOF): pending replies are still sent.
    void handle_eof(ConnectionId conn, Now now);
    // The connection is gone (reset, error, or closed by the remote after its EOF).
    void handle_closed(ConnectionId conn, Now now);
    // `bytes` of what was handed over for `conn` have left the driver's queue.
    void handle_sent(ConnectionId conn, std::size_t bytes, Now now);
    void handle_places_reply(QueryId id, PlacesResult result, Now now);
    void handle_timeout(Now now);

    std::optional<Action> poll_action();
    std::optional<Instant> poll_timeout();

    const RecordStore& store() const { return store_; }
    const NodeConfig& config() const { return config_; }
    const NodeStats& stats() const { return stats_; }
    // The neighbours with an established link right now, in configuration order.
    std::vector<ServerName> linked_peers() const;
    std::size_t connections() const { return conns_.size(); }

  private:
    enum class Role { undecided, client, hello_sent, welcome_sent, peer };

    struct Slot {
        std::string bytes;
        bool ready = false;
        QueryId query = 0;
    };

    struct Connection {
        Role role = Role::undecided;
        LineBuffer lines;
        bool dialed_by_us = false;
        int neighbour = -1;
        std::uint64_t local_nonce = 0;
        std::uint64_t remote_nonce = 0;
        std::uint64_t remote_incarnation = 0;
        Instant opened;
        Instant last_received;
        Instant last_sent;
        std::size_t unsent_bytes = 0;
        bool check_scheduled = false;
        Instant check_at;  // the one live connection timer; others are stale
        // client
        std::deque<Slot> slots;
        bool eof = false;
        // peer: anti-entropy state for this link
        std::set<BucketId> digests_sent;
        std::deque<BucketId> sync_buckets;
        RecordStore::Cursor sync_cursor;

        explicit Connection(std::size_t line_bytes_max) : lines(line_bytes_max) {}
    };

    struct Neighbour {
        ServerName name;
        std::optional<ConnectionId> link;
        int handshakes = 0;  // connections to or from it still in the handshake
        bool dialing = false;
        bool dial_scheduled = false;
        Instant next_dial;
        Duration backoff;
    };

    struct PendingQuery {
        ConnectionId conn;
        std::string at_line;
        unsigned bound;
    };

    enum class TimerKind { dial, connection, places };
    struct Timer {
        Instant at;
        std::uint64_t sequence;
        TimerKind kind;
        std::uint64_t id;
        friend bool operator>(const Timer& a, const Timer& b) {
            return a.at != b.at ? a.at > b.at : a.sequence > b.sequence;
        }
    };

    void observe(Now now);
    void arm(Instant at, TimerKind kind, std::uint64_t id);
    int neighbour_index(std::string_view name) const;

    // connections
    Connection* find(ConnectionId conn);
    void drain_lines(ConnectionId conn, Connection& c, Now now);
    void close_connection(ConnectionId conn, CloseMode mode, std::string_view reason, Now now);
    void forget(ConnectionId conn, std::string_view reason, Now now);
    void check_connection(ConnectionId conn, Instant timer_at, Now now);
    void schedule_check(ConnectionId conn, Connection& c);

    // clients
    void handle_client_line(ConnectionId conn, Connection& c, std::string_view line, Now now);
    void push_reply(Connection& c, std::string bytes);
    void flush_replies(ConnectionId conn, Connection& c, Now now);

    // peers
    void handle_first_line(ConnectionId conn, Connection& c, std::string_view line, Now now);
    void handle_hello(ConnectionId conn, Connection& c, const Hello& hello, Now now);
    void handle_welcome(ConnectionId conn, Connection& c, std::string_view line, Now now);
    void handle_auth(ConnectionId conn, Connection& c, std::string_view line, Now now);
    void handle_peer_line(ConnectionId conn, Connection& c, std::string_view line, Now now);
    void refuse(ConnectionId conn, std::string_view reason, Now now);
    void establish(ConnectionId conn, Connection& c, Now now);
    // `lines` protocol lines, `records` of them AT lines.
    void send_peer(ConnectionId conn, Connection& c, SharedBytes bytes, std::size_t lines, Now now,
                   std::size_t records = 0);
    void send_peer(ConnectionId conn, Connection& c, std::string bytes, std::size_t lines,
                   Now now) {
        send_peer(conn, c, std::make_shared<const std::string>(std::move(bytes)), lines, now);
    }
    void flood(const Record& record, std::optional<ConnectionId> except, Now now);
    // Counts a store change and, when wanted, reports it (`via`: the peer, or empty).
    void applied(const Record& record, std::string_view via);
    void apply_from_peer(ConnectionId conn, Connection& c, std::string_view line, Now now);
    void handle_digest(ConnectionId conn, Connection& c, std::string_view line, Now now);
    void send_digest(ConnectionId conn, Connection& c, BucketId bucket, Now now);
    void pump_sync(ConnectionId conn, Connection& c, Now now);
    HandshakeTranscript transcript(const Connection& c) const;

    // dialing
    void schedule_dial(int n, Now now);
    void dial(int n);

    NodeConfig config_;
    RecordStore store_;
    ClientService clients_;
    Prng prng_;
    Now last_now_;
    std::vector<Neighbour> neighbours_;
    // Looked up by id, never iterated (so hash order cannot reach any output).
    std::unordered_map<ConnectionId, Connection> conns_;
    std::map<QueryId, PendingQuery> queries_;
    QueryId next_query_ = 1;
    std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
    std::uint64_t timer_sequence_ = 0;
    // Pending actions: a vector read from next_action_ on (cleared when all are read), so
    // actions are written once and moved out once.
    std::vector<Action> actions_;
    std::size_t next_action_ = 0;
    NodeStats stats_;
};

// Drains every pending action of `node` into `visitor` (a callable taking each Action
// alternative). The one drain loop both drivers use.
template <typename Visitor>
void drain(Node& node, Visitor&& visitor) {
    while (auto action = node.poll_action())
        std::visit(visitor, std::move(*action));
}

}  // namespace herd
