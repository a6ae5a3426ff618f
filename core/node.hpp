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
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/action.hpp"
#include "core/client_service.hpp"
#include "core/fifo.hpp"
#include "core/handshake_origins.hpp"
#include "core/id_map.hpp"
#include "core/line_buffer.hpp"
#include "core/node_config.hpp"
#include "core/peer_protocol.hpp"
#include "core/prng.hpp"
#include "core/record_store.hpp"
#include "core/sync_session.hpp"

namespace herd {

// A Places provider's answer: a body to format, or a failure status (Google's, or
// UNKNOWN_ERROR for a transport error).
struct PlacesResult {
    bool ok = false;
    std::string body;    // ok: the provider's JSON body
    std::string status;  // !ok: the status to report
};

// Counters a driver may show or a test may assert on.
// (The eight counters of every peer message come first: one cache line.)
struct NodeStats {
    std::uint64_t records_applied = 0;  // store changes, from clients and peers
    // AT lines from peers, and those of them that changed nothing (already known, or older).
    std::uint64_t peer_records_received = 0;
    std::uint64_t peer_records_duplicate = 0;
    std::uint64_t peer_lines_received = 0;  // after the handshake
    std::uint64_t peer_lines_sent = 0;
    std::uint64_t peer_bytes_sent = 0;
    std::uint64_t peer_records_sent = 0;  // AT lines among them (floods and anti-entropy)
    // Peer messages handed to the driver, each one write: a line, a flood batch, a digest, a
    // handshake line (before the link is up too).
    std::uint64_t peer_writes = 0;
    // Client lines by what they were: a valid IAMAT or WHATSAT, or anything answered `?`.
    std::uint64_t client_iamats = 0;
    std::uint64_t client_whatsats = 0;
    std::uint64_t client_lines_invalid = 0;
    std::uint64_t links_established = 0;    // peer links that came up
    std::uint64_t links_lost = 0;           // and went down
    std::uint64_t sync_bytes_sent = 0;      // anti-entropy: digests and records
    std::uint64_t peer_lines_rejected = 0;  // malformed or out of place, from an established peer
    std::uint64_t sync_records_sent = 0;    // records sent by anti-entropy
    std::uint64_t digests_sent = 0;
    std::uint64_t handshakes_refused = 0;  // REFUSED answers to a HELLO, for any reason
    // Handshakes (peer or transport) refused by the per-origin limits, by reason.
    std::uint64_t origin_refused_pending = 0;  // too-many-handshakes
    std::uint64_t origin_refused_blocked = 0;  // too-many-failures
    std::uint64_t origin_refused_full = 0;     // too-many-origins (every one tracked is pending)
    std::uint64_t transport_refused_busy = 0;  // transport_handshakes_max in progress already
    // Transport (TLS) handshakes of accepted connections that failed (a wrong key or
    // certificate, garbage, or a remote end that hung up) or did not end in time.
    std::uint64_t transport_handshakes_failed = 0;
    std::uint64_t transport_handshakes_timed_out = 0;
    std::uint64_t links_closed_silent = 0;
    std::uint64_t links_closed_overflow = 0;
    // Client connections closed by a limit, and reading paused by flow control.
    std::uint64_t clients_closed_line_timeout = 0;
    std::uint64_t clients_closed_idle = 0;
    std::uint64_t clients_closed_write_timeout = 0;
    std::uint64_t clients_closed_output_cap = 0;
    std::uint64_t clients_refused_peers_only = 0;  // over a cap and not a peer
    std::uint64_t client_reads_paused = 0;
    std::uint64_t iamats_refused_too_long = 0;    // AT line past the record size limit
    std::uint64_t iamats_refused_store_full = 0;  // it would grow a full store
    std::uint64_t iamats_refused_storage = 0;     // the driver's storage is behind
    std::uint64_t places_refused_over_share = 0;  // an origin past its share of Places slots
    std::uint64_t clients_shed_buffers = 0;       // closed: the most buffered past the budget
    std::uint64_t clients_shed_output = 0;        // closed: the most output past the budget
    // Places answers that were no JSON object within places_json_depth_max (UNKNOWN_ERROR sent).
    std::uint64_t places_answers_malformed = 0;
    std::uint64_t places_refused_over_limit = 0;
};

// How a driver admits a connection it accepted.
enum class Admission {
    anyone,      // a client or a peer
    peers_only,  // over a connection cap: kept only if it opens with a peer handshake
};

class Node {
  public:
    Node(NodeConfig config, Now now);

    // `origin`: where the connection comes from (e.g. a hash of its source address, never 0),
    // for the per-origin handshake limits; 0 when the driver does not say.
    void handle_accepted(ConnectionId conn, Now now, Admission admission = Admission::anyone,
                         std::uint64_t origin = 0);
    // `identity`: the server the connection's transport proved it is (a certificate's name), or
    // empty; a dialed connection to another server than `peer` is closed and redialed later.
    void handle_dialed(ConnectionId conn, const ServerName& peer, Now now,
                       std::string_view identity = {});
    void handle_dial_failed(const ServerName& peer, Now now);
    void handle_bytes(ConnectionId conn, std::string_view bytes, Now now);
    // A secure transport (TLS) on an accepted connection, reported by a driver that has one:
    // started when its first bytes show a TLS handshake, which the driver runs without telling
    // the Node any bytes until it ends. It counts as a pending handshake of the connection's
    // origin (closed at once when the origin is over its limits) and must end within the
    // handshake deadline (silence_timeout). Secured: the remote end proved it belongs to the herd
    // (the herd key, or a certificate of the herd's CA), and a peer handshake may follow; with
    // an `identity` (the name its certificate gives) only as that server. Failed:
    // counted against its origin like a failed authentication, and closed.
    void handle_transport_started(ConnectionId conn, Now now);
    void handle_transport_secured(ConnectionId conn, Now now, std::string_view identity = {});
    void handle_transport_failed(ConnectionId conn, std::string_view reason, Now now);
    // The remote end finished sending (a client's EOF): pending replies are still sent.
    void handle_eof(ConnectionId conn, Now now);
    // The connection is gone (reset, error, or closed by the remote after its EOF).
    void handle_closed(ConnectionId conn, Now now);
    // `bytes` of what was handed over for `conn` have left the driver's queue.
    void handle_sent(ConnectionId conn, std::size_t bytes, Now now);
    void handle_places_reply(QueryId id, PlacesResult result, Now now);
    void handle_timeout(Now now);

    // Before anything else happens (right after construction): a record this server stored in
    // an earlier life, read back from its data folder by the driver. It goes into the store under
    // the conflict rule, is not flooded (anti-entropy reconciles at each link-up) and is not
    // reported as applied. False for a line that is not a valid record.
    bool restore_record(std::string_view at_line);
    // The driver's storage can keep more records, or cannot (a data folder whose backlog passed
    // its bound): while it cannot, every IAMAT is answered `?` (counted as
    // iamats_refused_storage).
    void handle_storage(bool writable);

    std::optional<Action> poll_action();
    // Every pending action, in order and in place: `visit` gets each by reference (and may move
    // from it). It must not call this Node (a new action could move the ones being visited:
    // asserted); a driver that never does saves a move of every action (the simulator's).
    template <typename Visitor>
    void visit_actions(Visitor&& visit) {
        HERD_ASSERT(!visiting_);
        visiting_ = true;
        for (std::size_t i = next_action_; i < actions_.size(); ++i)
            std::visit(visit, actions_[i]);
        actions_.clear();  // keeps the capacity
        next_action_ = 0;
        visiting_ = false;
    }
    std::optional<Instant> poll_timeout();

    const RecordStore& store() const { return store_; }
    const NodeConfig& config() const { return config_; }
    const NodeStats& stats() const { return stats_; }
    // The neighbours with an established link right now, in configuration order.
    std::vector<ServerName> linked_peers() const;
    std::size_t connections() const { return conns_.size(); }
    // Bytes read and not yet taken as lines, over every connection (client_buffered_bytes_max).
    std::size_t buffered_bytes() const { return buffered_bytes_; }
    // Output waiting for clients, over every connection (client_output_total_bytes_max).
    std::size_t output_bytes() const { return output_bytes_; }
    // Timers armed: at most one per connection and neighbour, one per Places query, and with
    // flood batching one more per peer link with a batch waiting.
    std::size_t timers() const { return timers_.size(); }
    std::size_t places_pending() const { return queries_.size(); }

  private:
    // securing: an accepted connection in its secure-transport handshake (the driver's).
    enum class Role { undecided, securing, client, hello_sent, welcome_sent, peer };
    enum class TimerKind { dial, connection, places, flush };

    // One armed timer; also its key in timers_, so its owner can disarm it.
    struct Timer {
        Instant at;
        std::uint64_t sequence;
        TimerKind kind;
        std::uint64_t id;
        friend bool operator<(const Timer& a, const Timer& b) {
            return a.at != b.at ? a.at < b.at : a.sequence < b.sequence;
        }
    };

    struct Slot {
        std::string bytes;
        bool ready = false;
        bool acknowledges = false;  // an IAMAT's AT line
        QueryId query = 0;
    };

    // The fields every line read and every write touch come first, so that a peer message
    // costs the first three cache lines of its connection, not all ten.
    struct alignas(64) Connection {
        Role role = Role::undecided;
        bool eof = false;
        bool paused = false;   // output past high water: lines are not taken
        bool in_line = false;  // a line has started and not ended
        int neighbour = -1;
        std::size_t counted_bytes = 0;   // its line buffer's bytes, as counted in buffered_bytes_
        std::size_t counted_output = 0;  // its output, as counted in output_bytes_
        std::size_t unsent_bytes = 0;
        Instant last_received;
        Instant last_sent;
        LineBuffer lines;
        // peer: this link's anti-entropy exchange (whether one is pending: every write)
        SyncSession sync;
        bool dialed_by_us = false;
        bool peers_only = false;
        bool secured = false;           // its transport authenticated the remote end
        bool neighbour_origin = false;  // securing from a neighbour's address (its own slots)
        std::string identity;           // as which server, when the transport says
        std::uint64_t origin = 0;       // as the driver named it; 0: unknown
        bool origin_pending = false;    // counted in its origin's pending handshakes
        std::uint64_t local_nonce = 0;
        std::uint64_t remote_nonce = 0;
        std::uint64_t remote_incarnation = 0;
        Instant opened;
        std::optional<Timer> timer;  // the connection's one timer
        // client
        Fifo<Slot> slots;
        std::size_t held_bytes = 0;  // ready replies held behind an unanswered WHATSAT
        std::size_t queries = 0;     // WHATSATs waiting for Places
        Instant line_started;        // when it started
        Instant last_active;         // last complete line, or output fully taken
        Instant write_progress;      // output pending since, or last taken
        // peer
        std::uint64_t lines_rejected = 0;
        // peer: records flooded and not yet written (flood batching), and when they will be
        std::string batch;
        std::size_t batch_records = 0;
        std::optional<Timer> flush_timer;

        explicit Connection(std::size_t line_bytes_max) : lines(line_bytes_max) {}
    };

    struct Neighbour {
        ServerName name;
        std::optional<ConnectionId> link;
        // Our own dials to it still in the handshake. Handshakes it (or anyone claiming to be it)
        // opened towards us are not counted: a pending, unauthenticated one must never stop us
        // from dialing the real neighbour.
        int dials_in_handshake = 0;
        bool dialing = false;
        std::optional<Timer> dial_timer;  // a redial is scheduled
        Duration backoff;
    };

    struct PendingQuery {
        ConnectionId conn;
        std::string at_line;
        unsigned bound;
        Timer timer;
        std::uint64_t origin = 0;  // its connection's origin (0: not named)
    };

    // A client connection's next deadline and what happens then.
    struct Deadline {
        Instant at;
        const char* reason;  // nullptr: only a re-check (the peer heartbeat)
        std::uint64_t NodeStats::*counter = nullptr;  // counts closes for this reason
        CloseMode mode = CloseMode::now;
    };

    void observe(Now now);
    Timer arm(Instant at, TimerKind kind, std::uint64_t id);
    void disarm(std::optional<Timer>& timer);
    void timers_changed();
    int neighbour_index(std::string_view name) const;

    // connections
    Connection* find(ConnectionId conn);
    // A connection that must exist (a neighbour's link).
    Connection& connection(ConnectionId conn) {
        Connection* c = find(conn);
        HERD_ASSERT(c != nullptr);
        return *c;
    }
    Connection& open_connection(ConnectionId conn, Now now);
    void drain_lines(ConnectionId conn, Connection& c, Now now);
    void take_line(ConnectionId conn, Connection& c, const FramedLine& line, Now now);
    void close_connection(ConnectionId conn, CloseMode mode, std::string_view reason, Now now);
    void forget(ConnectionId conn, std::string_view reason, Now now);
    void check_connection(ConnectionId conn, Now now);
    Deadline deadline(const Connection& c) const;
    std::optional<Deadline> client_deadline(const Connection& c) const;
    // Arms the connection's timer for its next deadline, unless one at or before it is armed.
    void schedule_check(ConnectionId conn, Connection& c);

    // clients
    void handle_client_line(ConnectionId conn, Connection& c, std::string_view line, Now now);
    void start_query(ConnectionId conn, Connection& c, PlacesQuery query, Now now);
    void push_reply(Connection& c, std::string bytes, bool acknowledges = false);
    // The Places queries an origin may have in flight now (its fair share).
    std::size_t places_share(std::uint64_t origin) const;
    // The last slots (a sixteenth), kept for addresses holding fewer than an even split of them
    // among the addresses waiting and one more.
    std::size_t places_reserve() const;
    std::size_t places_reserve_share() const;
    void places_done(std::uint64_t origin);
    void end_securing(const Connection& c);
    void recount(Connection& c);
    void recount_output(Connection& c);
    void enforce_budgets(Now now);
    void shed_largest_buffers(Now now);
    void shed_largest_outputs(Now now);
    void flush_replies(ConnectionId conn, Connection& c, Now now);
    std::size_t client_output_bytes(const Connection& c) const {
        return c.unsent_bytes + c.held_bytes;
    }
    bool over_high_water(const Connection& c) const;
    // Pauses or resumes reading as the output crosses its marks; false if it closed `conn`.
    bool update_flow(ConnectionId conn, Connection& c, Now now);

    // peers
    void handle_first_line(ConnectionId conn, Connection& c, std::string_view line, Now now);
    void handle_hello(ConnectionId conn, Connection& c, const Hello& hello, Now now);
    void handle_welcome(ConnectionId conn, Connection& c, std::string_view line, Now now);
    void handle_auth(ConnectionId conn, Connection& c, std::string_view line, Now now);
    void handle_peer_line(ConnectionId conn, Connection& c, std::string_view line, Now now);
    void reject_peer_line(ConnectionId conn, Connection& c, std::string_view reason);
    void refuse(ConnectionId conn, std::string_view reason, Now now);
    // Why a HELLO from this origin is refused now (counted), or null when it may go on.
    const char* origin_refusal(std::uint64_t origin, Now now);
    void origin_begin(Connection& c);
    void origin_done(Connection& c);
    void establish(ConnectionId conn, Connection& c, Now now);
    // `lines` protocol lines, `records` of them AT lines.
    void send_peer(ConnectionId conn, Connection& c, SharedBytes bytes, std::size_t lines, Now now,
                   std::size_t records = 0);
    void send_peer(ConnectionId conn, Connection& c, std::string bytes, std::size_t lines,
                   Now now) {
        send_peer(conn, c, std::make_shared<const std::string>(std::move(bytes)), lines, now);
    }
    void flood(const Record& record, std::optional<ConnectionId> except, Now now);
    const Neighbour* relay_skipped(std::optional<ConnectionId> except) const;
    // Adds a flooded line to the link's batch (flood batching).
    void batch_line(ConnectionId conn, Connection& c, std::string_view line, Now now);
    void flush_batch(ConnectionId conn, Connection& c, Now now);
    // Counts a store change and, when wanted, reports it (`via`: the peer, or empty; `origin`:
    // the record's origin field, which the caller has at hand).
    void applied(const Record& record, std::string_view via, std::string_view origin);
    void apply_from_peer(ConnectionId conn, Connection& c, std::string_view line, Now now);
    void handle_digest(ConnectionId conn, Connection& c, std::string_view line, Now now);
    void send_digest(ConnectionId conn, Connection& c, BucketId bucket, Now now);
    void pump_sync(ConnectionId conn, Connection& c, Now now);
    HandshakeTranscript transcript(const Connection& c) const;

    // dialing
    void schedule_dial(int n, Now now);
    void dial(int n);

    NodeConfig config_;
    // What every message touches, together: the clock, the connection table, the pending
    // actions, the buffer counts, the timers, the neighbours and the store.
    Now last_now_;
    // Looked up by id, never iterated (so table order cannot reach any output).
    IdMap<Connection> conns_;
    // Pending actions: a vector read from next_action_ on (cleared when all are read), so
    // actions are written once and moved out once.
    std::vector<Action> actions_;
    std::size_t next_action_ = 0;
    bool visiting_ = false;           // inside visit_actions: no action may be added
    std::size_t buffered_bytes_ = 0;  // read and not yet taken as lines, every connection
    std::size_t output_bytes_ = 0;    // output waiting for clients, every connection
    // Every armed timer, earliest first; each is disarmed by its owner when no longer wanted, so
    // the set never holds more than one per connection and neighbour and one per query.
    std::set<Timer> timers_;
    // The first of them, kept beside the set (poll_timeout() after every message).
    std::optional<Instant> earliest_timer_;
    std::vector<Neighbour> neighbours_;
    RecordStore store_;
    NodeStats stats_;
    ClientService clients_;
    Prng prng_;
    std::map<QueryId, PendingQuery> queries_;
    HandshakeOrigins origins_;  // the per-origin handshake limits
    // Places queries in flight per named origin (entries leave at zero): bounded by the
    // queries themselves.
    std::map<std::uint64_t, std::size_t> places_by_origin_;
    std::size_t securing_ = 0;             // accepted connections in their transport handshake
    std::size_t securing_neighbours_ = 0;  // of those, from a neighbour's address
    QueryId next_query_ = 1;
    std::uint64_t timer_sequence_ = 0;
    template <typename A>
    void emit(A&& action) {
        HERD_ASSERT(!visiting_);
        actions_.emplace_back(std::forward<A>(action));
    }
};

// Drains every pending action of `node` into `visitor` (a callable taking each Action
// alternative). The one drain loop both drivers use.
template <typename Visitor>
void drain(Node& node, Visitor&& visitor) {
    while (auto action = node.poll_action())
        std::visit(visitor, std::move(*action));
}

}  // namespace herd
