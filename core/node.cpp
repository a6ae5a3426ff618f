// The Node (core/node.hpp), its frame: construction, time and timers, the storage gate, and its
// connections (reading, lines, budgets, deadlines, closing). Clients: node_clients.cpp; peers:
// node_peers.cpp.
#include "core/node.hpp"

#include <algorithm>
#include <utility>

#include "core/assert.hpp"
#include "core/client_protocol.hpp"
#include "core/defects.hpp"
#include "core/hash.hpp"
#include "core/text.hpp"
#include "core/whatsat_reply.hpp"

namespace herd {

namespace {

// What a peer link's line buffer keeps between reads (an idle client's frees all of it): room
// for a whole flood batch and a partial line.
constexpr std::size_t peer_line_buffer_kept_bytes = 128 << 10;

}  // namespace

Node::Node(NodeConfig config, Now now)
    : config_(std::move(config)),
      last_now_(now),
      store_(defect(Defect::tie_rule_ignored_on_some_servers) && fnv1a64(config_.self.str()) % 2
                 ? TieBreak::first
                 : config_.tie_break,
             config_.client_hash_key),
      clients_(config_.self, store_, config_.limits.line_bytes_max, config_.limits.store_bytes_max),
      prng_(config_.seed),
      origins_(config_.limits) {
    const NodeLimits& l = config_.limits;
    HERD_ASSERT(l.line_bytes_max > 0);
    HERD_ASSERT(l.client_output_low_water_bytes <= l.client_output_high_water_bytes);
    HERD_ASSERT(l.client_output_high_water_bytes <= l.client_output_bytes_max);
    HERD_ASSERT(l.client_pending_replies_max > 0 && l.client_queries_max > 0);
    HERD_ASSERT(l.flood_batch >= Duration{} && l.flood_batch <= flood_batch_max &&
                l.flood_batch_bytes_max > 0);
    neighbours_.reserve(config_.neighbours.size());
    for (const ServerName& name : config_.neighbours) {
        HERD_ASSERT(name != config_.self);
        neighbours_.push_back(
            Neighbour{name, std::nullopt, 0, false, std::nullopt, config_.limits.backoff_initial});
    }
    // Every link is dialed at start, without jitter (design §6).
    for (int n = 0; n < static_cast<int>(neighbours_.size()); ++n)
        dial(n);
}

// ---------------------------------------------------------------- time and timers

void Node::observe(Now now) {
    HERD_ASSERT(now.mono >= last_now_.mono);  // time never goes back
    last_now_ = now;
}

Node::Timer Node::arm(Instant at, TimerKind kind, std::uint64_t id) {
    const Timer t{at, timer_sequence_++, kind, id};
    timers_.insert(t);
    timers_changed();
    // One per connection, one per query, and per neighbour a dial and a flush of its link's
    // batch: the set cannot outgrow them. (A neighbour may have a dial timer and a link at once:
    // a restarted peer dialed in while our redial waited.)
    const std::size_t flushes =
        defect(Defect::timer_bound_forgets_flushes) ? 0 : neighbours_.size();
    HERD_ASSERT(timers_.size() <=
                conns_.size() + neighbours_.size() + flushes + queries_.size() + 1);
    return t;
}

void Node::disarm(std::optional<Timer>& timer) {
    if (!timer) return;
    const std::size_t erased = timers_.erase(*timer);
    HERD_ASSERT(erased == 1);
    timers_changed();
    timer.reset();
}

std::optional<Instant> Node::poll_timeout() {
    return earliest_timer_;
}

void Node::timers_changed() {
    earliest_timer_ = timers_.empty() ? std::nullopt : std::optional<Instant>(timers_.begin()->at);
}

void Node::handle_timeout(Now now) {
    observe(now);
    while (!timers_.empty() && timers_.begin()->at <= now.mono) {
        const Timer t = *timers_.begin();
        timers_.erase(timers_.begin());
        timers_changed();
        switch (t.kind) {
            case TimerKind::dial: {
                Neighbour& n = neighbours_[t.id];
                HERD_ASSERT(n.dial_timer && n.dial_timer->sequence == t.sequence);
                n.dial_timer.reset();
                if (!n.link && !n.dialing && n.dials_in_handshake == 0)
                    dial(static_cast<int>(t.id));
                break;
            }
            case TimerKind::connection: {
                Connection* c = find(t.id);
                HERD_ASSERT(c != nullptr && c->timer && c->timer->sequence == t.sequence);
                c->timer.reset();
                check_connection(t.id, now);
                break;
            }
            case TimerKind::flush: {
                Connection* c = find(t.id);
                HERD_ASSERT(c != nullptr && c->flush_timer &&
                            c->flush_timer->sequence == t.sequence);
                c->flush_timer.reset();
                flush_batch(t.id, *c, now);
                break;
            }
            case TimerKind::places:
                // The provider took too long: answer now; a late reply is ignored.
                HERD_ASSERT(queries_.count(t.id) == 1);
                handle_places_reply(t.id, PlacesResult{false, {}, "UNKNOWN_ERROR"}, now);
                break;
        }
    }
    HERD_ASSERT(timers_.empty() || timers_.begin()->at > now.mono);  // nothing due is left
}

bool Node::restore_record(std::string_view at_line) {
    HERD_ASSERT(conns_.empty());  // only before the first connection
    if (at_line.size() > config_.limits.line_bytes_max) return false;
    const auto view = AtLineView::parse(at_line);
    if (!view) return false;
    store_.apply(*view);
    return true;
}

void Node::handle_storage(bool writable) {
    clients_.set_refusing_records(!writable);
}

std::optional<Action> Node::poll_action() {
    HERD_ASSERT(next_action_ <= actions_.size());
    if (next_action_ == actions_.size()) {
        actions_.clear();  // keeps the capacity
        next_action_ = 0;
        return std::nullopt;
    }
    return std::move(actions_[next_action_++]);
}

// ---------------------------------------------------------------- connections

Node::Connection* Node::find(ConnectionId conn) {
    return conns_.find(conn);
}

int Node::neighbour_index(std::string_view name) const {
    for (std::size_t i = 0; i < neighbours_.size(); ++i) {
        if (neighbours_[i].name.str() == name) return static_cast<int>(i);
    }
    return -1;
}

std::vector<ServerName> Node::linked_peers() const {
    std::vector<ServerName> out;
    for (const Neighbour& n : neighbours_) {
        if (n.link) out.push_back(n.name);
    }
    return out;
}

Node::Connection& Node::open_connection(ConnectionId conn, Now now) {
    Connection& c = conns_.emplace(conn, config_.limits.line_bytes_max);  // ids are never reused
    c.opened = c.last_received = c.last_sent = c.last_active = now.mono;
    return c;
}

void Node::handle_accepted(ConnectionId conn, Now now, Admission admission, std::uint64_t origin) {
    observe(now);
    Connection& c = open_connection(conn, now);
    c.peers_only = admission == Admission::peers_only;
    c.origin = origin;
    schedule_check(conn, c);
}

void Node::handle_dialed(ConnectionId conn, const ServerName& peer, Now now,
                         std::string_view identity) {
    observe(now);
    const int n = neighbour_index(peer.str());
    HERD_ASSERT(n >= 0);
    Neighbour& nb = neighbours_[static_cast<std::size_t>(n)];
    HERD_ASSERT(nb.dialing);
    nb.dialing = false;
    Connection& c = open_connection(conn, now);
    c.dialed_by_us = true;
    c.neighbour = n;
    if (!identity.empty() && identity != peer.str()) {
        // Not the neighbour dialed (the same rule as identity-mismatch for accepted ones).
        close_connection(conn, CloseMode::now,
                         "its certificate names '" + std::string(identity) + "', not " + peer.str(),
                         now);
        return;
    }
    c.role = Role::hello_sent;
    c.local_nonce = prng_.next();
    nb.dials_in_handshake += 1;
    send_peer(
        conn, c,
        format_hello(Hello{config_.self.str(), nb.name.str(), config_.incarnation, c.local_nonce}),
        1, now);
    schedule_check(conn, c);
}

void Node::handle_dial_failed(const ServerName& peer, Now now) {
    observe(now);
    const int n = neighbour_index(peer.str());
    HERD_ASSERT(n >= 0);
    neighbours_[static_cast<std::size_t>(n)].dialing = false;
    if (defect(Defect::no_redial_after_dial_failed)) return;
    schedule_dial(n, now);
}

void Node::handle_transport_started(ConnectionId conn, Now now) {
    observe(now);
    Connection* c = find(conn);
    if (c == nullptr) return;
    HERD_ASSERT(c->role == Role::undecided && !c->secured && !c->lines.in_line());
    // Neighbours' addresses have slots of their own: strangers who stall handshakes cannot keep
    // a link down.
    const bool neighbour =
        c->origin != 0 &&
        std::find(config_.neighbour_origins.begin(), config_.neighbour_origins.end(), c->origin) !=
            config_.neighbour_origins.end();
    std::size_t& busy = neighbour ? securing_neighbours_ : securing_;
    const std::size_t max = neighbour ? config_.limits.neighbour_handshakes_max
                                      : config_.limits.transport_handshakes_max;
    if (busy >= max) {
        stats_.transport_refused_busy += 1;
        close_connection(conn, CloseMode::now, "too-many-tls-handshakes", now);
        return;
    }
    if (const char* why = origin_refusal(c->origin, now)) {
        close_connection(conn, CloseMode::now, why, now);
        return;
    }
    origin_begin(*c);
    c->role = Role::securing;
    c->neighbour_origin = neighbour;
    busy += 1;
    HERD_ASSERT(busy <= max);
    c->opened = now.mono;
    schedule_check(conn, *c);
}

void Node::handle_transport_secured(ConnectionId conn, Now now, std::string_view identity) {
    observe(now);
    Connection* c = find(conn);
    if (c == nullptr) return;
    HERD_ASSERT(c->role == Role::securing);
    origin_done(*c);
    end_securing(*c);
    c->role = Role::undecided;
    c->secured = true;
    c->identity = identity;
    c->opened = c->last_active = now.mono;  // a peer's HELLO is due within the deadline from here
    disarm(c->timer);
    schedule_check(conn, *c);
}

void Node::end_securing(const Connection& c) {
    std::size_t& busy = c.neighbour_origin ? securing_neighbours_ : securing_;
    HERD_ASSERT(busy > 0);
    busy -= 1;
}

void Node::handle_transport_failed(ConnectionId conn, std::string_view reason, Now now) {
    observe(now);
    Connection* c = find(conn);
    if (c == nullptr) return;
    HERD_ASSERT(c->role == Role::securing);
    stats_.transport_handshakes_failed += 1;
    origins_.failed(c->origin, now.mono);
    close_connection(conn, CloseMode::now, reason, now);
}

void Node::handle_bytes(ConnectionId conn, std::string_view bytes, Now now) {
    observe(now);
    Connection* c = find(conn);
    if (c == nullptr) return;  // closed by us; the driver may still have had bytes in hand
    HERD_ASSERT(c->role != Role::securing);  // the driver's handshake takes those bytes
    if (c->eof) return;
    c->last_received = now.mono;
    c->lines.append(bytes);
    drain_lines(conn, *c, now);
    enforce_budgets(now);
}

void Node::enforce_budgets(Now now) {
    if (buffered_bytes_ > config_.limits.client_buffered_bytes_max) shed_largest_buffers(now);
    if (output_bytes_ > config_.limits.client_output_total_bytes_max) shed_largest_outputs(now);
}

// Past the budget for output waiting for clients (replies handed over and not yet taken, and
// replies held in order), the connections holding the most are closed, largest first: a client
// that asks for much and reads nothing costs only itself.
void Node::shed_largest_outputs(Now now) {
    while (output_bytes_ > config_.limits.client_output_total_bytes_max) {
        ConnectionId victim = 0;
        std::size_t most = 0;
        conns_.for_each([&](ConnectionId id, const Connection& c) {
            if (c.counted_output < most) return;
            if (c.counted_output == most && victim != 0 && id > victim) return;
            victim = id;
            most = c.counted_output;
        });
        if (victim == 0 || most == 0) return;
        stats_.clients_shed_output += 1;
        close_connection(victim, CloseMode::now, "output budget", now);
    }
}

void Node::recount_output(Connection& c) {
    const bool client_side = c.role == Role::undecided || c.role == Role::client;
    const std::size_t now_bytes = client_side ? client_output_bytes(c) : 0;
    HERD_ASSERT(output_bytes_ >= c.counted_output);
    output_bytes_ = output_bytes_ - c.counted_output + now_bytes;
    c.counted_output = now_bytes;
}

// Past the budget for bytes read and not yet taken as lines (unfinished lines, mostly), the
// connections holding the most are closed, largest first, until the total is back under it.
void Node::shed_largest_buffers(Now now) {
    while (buffered_bytes_ > config_.limits.client_buffered_bytes_max) {
        ConnectionId victim = 0;
        std::size_t most = 0;
        conns_.for_each([&](ConnectionId id, const Connection& c) {
            const bool client_side = c.role == Role::undecided || c.role == Role::client;
            if (!client_side || c.counted_bytes < most) return;
            if (c.counted_bytes == most && victim != 0 && id > victim) return;
            victim = id;
            most = c.counted_bytes;
        });
        if (victim == 0 || most == 0) return;  // what is left is peers'
        stats_.clients_shed_buffers += 1;
        close_connection(victim, CloseMode::now, "buffer budget", now);
    }
}

void Node::recount(Connection& c) {
    const std::size_t now_bytes = c.lines.buffered_bytes();
    HERD_ASSERT(buffered_bytes_ >= c.counted_bytes);
    buffered_bytes_ = buffered_bytes_ - c.counted_bytes + now_bytes;
    c.counted_bytes = now_bytes;
}

void Node::handle_eof(ConnectionId conn, Now now) {
    observe(now);
    Connection* c = find(conn);
    if (c == nullptr || c->eof) return;
    if (c->role != Role::undecided && c->role != Role::client) {
        close_connection(conn, CloseMode::now, "closed by peer", now);
        return;
    }
    c->eof = true;
    c->lines.finish();
    drain_lines(conn, *c, now);
}

void Node::handle_closed(ConnectionId conn, Now now) {
    observe(now);
    if (find(conn) != nullptr) forget(conn, "connection lost", now);
}

void Node::handle_sent(ConnectionId conn, std::size_t bytes, Now now) {
    observe(now);
    Connection* c = find(conn);
    if (c == nullptr) return;
    HERD_ASSERT(bytes <= c->unsent_bytes);
    c->unsent_bytes -= bytes;
    recount_output(*c);
    if (c->role != Role::client && c->role != Role::undecided) {
        if (c->role == Role::peer && !defect(Defect::sync_not_resumed_on_drain))
            pump_sync(conn, *c, now);
        return;
    }
    if (bytes > 0) c->write_progress = now.mono;
    if (c->unsent_bytes == 0) c->last_active = now.mono;
    if (!update_flow(conn, *c, now)) return;
    // Reading may have resumed: take the lines held meanwhile.
    if (!c->paused) drain_lines(conn, *c, now);
}

void Node::drain_lines(ConnectionId conn, Connection& c, Now now) {
    const bool client_side = c.role == Role::undecided || c.role == Role::client;
    bool took_line = false;
    while (!(client_side && c.paused)) {
        const auto line = c.lines.next();
        if (!line) break;
        took_line = true;
        take_line(conn, c, *line, now);
        // A handler may have closed the connection; its buffer is gone with it.
        if (find(conn) != &c) return;
        if ((c.role == Role::client || c.role == Role::undecided) && !update_flow(conn, c, now))
            return;
    }
    if (c.role != Role::undecided && c.role != Role::client) {
        // A herd has few peer links, each busy: each keeps a small buffer between reads.
        c.lines.release_if_empty(peer_line_buffer_kept_bytes);
        recount(c);
        return;
    }
    recount(c);
    if (!c.paused) {
        // A line left unfinished started after the last whole line taken (or, with none taken
        // now, when it was first seen); time spent paused by us does not count against it.
        const bool partial = c.lines.in_line();
        if (partial && (!c.in_line || took_line)) c.line_started = now.mono;
        c.in_line = partial;
        c.lines.release_if_empty();
    } else {
        c.in_line = false;  // its clock starts again when reading resumes
    }
    flush_replies(conn, c, now);
}

void Node::take_line(ConnectionId conn, Connection& c, const FramedLine& line, Now now) {
    if (line.kind == FramedLine::Kind::overlong) {
        if (c.role == Role::undecided || c.role == Role::client) {
            if (c.peers_only) {
                stats_.clients_refused_peers_only += 1;
                close_connection(conn, CloseMode::now, "connection cap (not a peer)", now);
                return;
            }
            c.role = Role::client;
            c.last_active = now.mono;
            push_reply(c, format_invalid_reply(line.text));
        } else if (c.role == Role::peer) {
            // Skipped, never a reason to drop the link: the same line would come back by
            // anti-entropy after every reconnect and stop replication for good.
            reject_peer_line(conn, c, "line too long");
        } else {
            close_connection(conn, CloseMode::now, "handshake line too long", now);
        }
        return;
    }
    switch (c.role) {
        case Role::undecided:
            c.last_active = now.mono;
            handle_first_line(conn, c, line.text, now);
            return;
        case Role::client:
            c.last_active = now.mono;
            handle_client_line(conn, c, line.text, now);
            return;
        case Role::securing:
            HERD_ASSERT(false);  // no bytes reach the Node during a transport handshake
            return;
        case Role::hello_sent:
            handle_welcome(conn, c, line.text, now);
            return;
        case Role::welcome_sent:
            handle_auth(conn, c, line.text, now);
            return;
        case Role::peer:
            handle_peer_line(conn, c, line.text, now);
            return;
    }
}

void Node::close_connection(ConnectionId conn, CloseMode mode, std::string_view reason, Now now) {
    emit(Close{conn, mode, std::string(reason)});
    forget(conn, reason, now);
}

void Node::forget(ConnectionId conn, std::string_view reason, Now now) {
    Connection* found = conns_.find(conn);
    if (found == nullptr) return;
    Connection& c = *found;
    disarm(c.timer);
    disarm(c.flush_timer);  // a batch not yet written is lost with the link, as its queue is
    origin_done(c);
    const int n = c.neighbour;
    const Role role = c.role;
    if (role == Role::securing) end_securing(c);
    HERD_ASSERT(buffered_bytes_ >= c.counted_bytes && output_bytes_ >= c.counted_output);
    buffered_bytes_ -= c.counted_bytes;
    output_bytes_ -= c.counted_output;
    conns_.erase(conn);
    if (n < 0) return;
    Neighbour& nb = neighbours_[static_cast<std::size_t>(n)];
    if (role == Role::hello_sent) nb.dials_in_handshake -= 1;
    HERD_ASSERT(nb.dials_in_handshake >= 0);
    if (role == Role::peer && nb.link == conn) {
        nb.link.reset();
        stats_.links_lost += 1;
        emit(PeerDown{conn, nb.name, std::string(reason)});
    }
    if (defect(Defect::no_redial_after_refused_handshake) && role == Role::hello_sent) return;
    schedule_dial(n, now);
}

std::optional<Node::Deadline> Node::client_deadline(const Connection& c) const {
    const NodeLimits& l = config_.limits;
    std::optional<Deadline> d;
    auto consider = [&d](Duration timeout, Instant since, Deadline what) {
        if (timeout.ns == 0) return;
        what.at = since + timeout;
        if (!d || what.at < d->at) d = what;
    };
    if (c.peers_only && c.role == Role::undecided)
        consider(l.silence_timeout, c.opened, Deadline{{}, "handshake timed out"});
    if (c.unsent_bytes > 0)
        consider(l.client_write_timeout, c.write_progress,
                 Deadline{{}, "write timeout", &NodeStats::clients_closed_write_timeout});
    // What was answered may still be taken by a client closed for a line that never ended.
    if (c.in_line && !c.paused)
        consider(l.client_line_timeout, c.line_started,
                 Deadline{{},
                          "line timeout",
                          &NodeStats::clients_closed_line_timeout,
                          CloseMode::after_flush});
    if (!c.in_line && !c.paused && c.slots.empty() && c.unsent_bytes == 0)
        consider(l.client_idle_timeout, c.last_active,
                 Deadline{{}, "idle", &NodeStats::clients_closed_idle});
    return d;
}

Node::Deadline Node::deadline(const Connection& c) const {
    const NodeLimits& l = config_.limits;
    switch (c.role) {
        case Role::undecided:
        case Role::client:
            break;
        case Role::securing:
            return Deadline{c.opened + l.silence_timeout, "handshake timed out",
                            &NodeStats::transport_handshakes_timed_out};
        case Role::hello_sent:
        case Role::welcome_sent:
            return Deadline{c.opened + l.silence_timeout, "handshake timed out"};
        case Role::peer: {
            const Duration beat =
                defect(Defect::heartbeat_late) ? l.silence_timeout : l.heartbeat_interval;
            if (c.last_received + l.silence_timeout <= c.last_sent + beat)
                return Deadline{c.last_received + l.silence_timeout, "silent"};
            return Deadline{c.last_sent + beat, nullptr};
        }
    }
    const auto d = client_deadline(c);
    return d ? *d : Deadline{Instant::max(), nullptr};
}

void Node::schedule_check(ConnectionId conn, Connection& c) {
    const Deadline d = deadline(c);
    if (d.at == Instant::max()) return;  // nothing can expire: no timer at all
    // An armed timer at or before the deadline will re-check then; deadlines that moved later
    // need no re-arming (the timer fires early, finds nothing due and arms the real one).
    if (c.timer && c.timer->at <= d.at) return;
    disarm(c.timer);
    c.timer = arm(d.at, TimerKind::connection, conn);
}

void Node::check_connection(ConnectionId conn, Now now) {
    Connection* c = find(conn);
    HERD_ASSERT(c != nullptr && !c->timer);
    const NodeLimits& l = config_.limits;
    if (c->role == Role::peer) {
        if (now.mono >= c->last_received + l.silence_timeout) {
            stats_.links_closed_silent += 1;
            close_connection(conn, CloseMode::now, "silent", now);
            return;
        }
        if (now.mono >= c->last_sent + (defect(Defect::heartbeat_late) ? l.silence_timeout
                                                                       : l.heartbeat_interval)) {
            send_peer(conn, *c, "PING\n", 1, now);
            c = find(conn);
            if (c == nullptr) return;
        }
    } else {
        const Deadline d = deadline(*c);
        if (d.at <= now.mono) {
            HERD_ASSERT(d.reason != nullptr);
            if (d.counter != nullptr) stats_.*d.counter += 1;
            close_connection(conn, d.mode, d.reason, now);
            return;
        }
    }
    schedule_check(conn, *c);
}

}  // namespace herd
