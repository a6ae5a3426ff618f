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

// The fourth space-separated field, found with memchr; empty when the line has fewer spaces.
std::string_view fourth_field_fast(std::string_view line) {
    std::size_t start = 0;
    for (int i = 0; i < 3; ++i) {
        const std::size_t space = line.find(' ', start);
        if (space == std::string_view::npos) return {};
        start = space + 1;
    }
    const std::size_t end = line.find(' ', start);
    if (end == std::string_view::npos) return {};
    return line.substr(start, end - start);
}

// What a peer link's line buffer keeps between reads (an idle client's frees all of it): room
// for a whole flood batch and a partial line.
constexpr std::size_t peer_line_buffer_kept_bytes = 128 << 10;

// A line with its newline, made once and shared by every link it goes out on.
SharedBytes line_bytes(std::string_view line) {
    std::string bytes;
    bytes.reserve(line.size() + 1);
    bytes.append(line);
    bytes.push_back('\n');
    return std::make_shared<const std::string>(std::move(bytes));
}

}  // namespace

Node::Node(NodeConfig config, Now now)
    : config_(std::move(config)),
      store_(defect(Defect::tie_rule_ignored_on_some_servers) && fnv1a64(config_.self.str()) % 2
                 ? TieBreak::first
                 : config_.tie_break,
             config_.client_hash_key),
      clients_(config_.self, store_, config_.limits.line_bytes_max, config_.limits.store_bytes_max),
      prng_(config_.seed),
      last_now_(now) {
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
    timer.reset();
}

std::optional<Instant> Node::poll_timeout() {
    if (timers_.empty()) return std::nullopt;
    return timers_.begin()->at;
}

void Node::handle_timeout(Now now) {
    observe(now);
    while (!timers_.empty() && timers_.begin()->at <= now.mono) {
        const Timer t = *timers_.begin();
        timers_.erase(timers_.begin());
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
    origin_failed(c->origin, now);
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
        if (c->role == Role::peer) pump_sync(conn, *c, now);
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

// Reports a line taken, appending to the previous report when nothing came in between, so the
// log keeps the exact order of what was read and what it caused.
void Node::note_line(ConnectionId conn, std::string_view text) {
    if (!actions_.empty() && next_action_ < actions_.size()) {
        if (auto* last = std::get_if<LinesRead>(&actions_.back()); last && last->conn == conn) {
            last->lines.append(text).push_back('\n');
            return;
        }
    }
    std::string lines(text);
    lines.push_back('\n');
    actions_.push_back(LinesRead{conn, std::move(lines)});
}

void Node::take_line(ConnectionId conn, Connection& c, const FramedLine& line, Now now) {
    if (config_.notify_lines) note_line(conn, line.text);
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
    actions_.push_back(Close{conn, mode, std::string(reason)});
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
        actions_.push_back(PeerDown{conn, nb.name, std::string(reason)});
    }
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
        case Role::peer:
            if (c.last_received + l.silence_timeout <= c.last_sent + l.heartbeat_interval)
                return Deadline{c.last_received + l.silence_timeout, "silent"};
            return Deadline{c.last_sent + l.heartbeat_interval, nullptr};
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
        if (now.mono >= c->last_sent + l.heartbeat_interval) {
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

// ---------------------------------------------------------------- clients

void Node::handle_client_line(ConnectionId conn, Connection& c, std::string_view line, Now now) {
    ClientOutcome outcome = clients_.handle_line(line, now.wall);
    // What the service made of the line says which it was (no second look at the verb): a valid
    // WHATSAT asks Places, a valid IAMAT is answered at once, anything else gets `?`.
    if (outcome.kind == ClientOutcome::Kind::places_query) {
        stats_.client_whatsats += 1;
    } else if (outcome.kind == ClientOutcome::Kind::reply) {
        (outcome.reply.starts_with("? ") ? stats_.client_lines_invalid : stats_.client_iamats) += 1;
    }
    if (outcome.too_long) stats_.iamats_refused_too_long += 1;
    if (outcome.store_full) stats_.iamats_refused_store_full += 1;
    if (outcome.storage_refused) stats_.iamats_refused_storage += 1;
    if (outcome.changed != nullptr) {
        applied(*outcome.changed, {}, config_.self.str());
        flood(*outcome.changed, std::nullopt, now);
    }
    switch (outcome.kind) {
        case ClientOutcome::Kind::none:
            return;
        case ClientOutcome::Kind::reply:
            push_reply(c, std::move(outcome.reply), outcome.acknowledges);
            return;
        case ClientOutcome::Kind::places_query:
            start_query(conn, c, std::move(*outcome.query), now);
            return;
    }
}

std::size_t Node::places_share(std::uint64_t origin) const {
    const auto it = places_by_origin_.find(origin);
    const std::size_t waiting = places_by_origin_.size() + (it == places_by_origin_.end() ? 1 : 0);
    return std::max<std::size_t>(1, std::min(config_.limits.places_per_origin_max,
                                             config_.limits.places_pending_max / (waiting + 1)));
}

std::size_t Node::places_reserve() const {
    return config_.limits.places_pending_max / 16;
}

std::size_t Node::places_reserve_share() const {
    return std::max<std::size_t>(1, places_reserve() / (places_by_origin_.size() + 2));
}

void Node::places_done(std::uint64_t origin) {
    if (origin == 0) return;
    auto it = places_by_origin_.find(origin);
    HERD_ASSERT(it != places_by_origin_.end() && it->second > 0);
    if (--it->second == 0) places_by_origin_.erase(it);
}

void Node::start_query(ConnectionId conn, Connection& c, PlacesQuery query, Now now) {
    const bool full = queries_.size() >= config_.limits.places_pending_max;
    const auto mine = places_by_origin_.find(c.origin);
    const std::size_t held = mine == places_by_origin_.end() ? 0 : mine->second;
    // Shares shrink as addresses come, but queries in flight stay: the last places_reserve slots
    // go only to addresses holding fewer than places_reserve_share, so a newcomer finds room
    // however many came before it.
    const std::size_t free = config_.limits.places_pending_max - queries_.size();
    const bool over_share =
        c.origin != 0 && (held >= places_share(c.origin) ||
                          (free <= places_reserve() && held >= places_reserve_share()));
    if (full || over_share) {
        // The provider is far behind, or this address has its share waiting: answer at once
        // rather than queue without end or take other clients' room.
        (full ? stats_.places_refused_over_limit : stats_.places_refused_over_share) += 1;
        push_reply(c, format_whatsat_failure(query.at_line, "OVER_QUERY_LIMIT"));
        return;
    }
    if (c.origin != 0) places_by_origin_[c.origin] += 1;
    const QueryId id = next_query_++;
    Slot slot;
    slot.query = id;
    c.slots.push_back(std::move(slot));
    c.queries += 1;
    const Timer timer = arm(now.mono + config_.limits.places_timeout, TimerKind::places, id);
    queries_.emplace(id, PendingQuery{conn, query.at_line, query.bound, timer, c.origin});
    HERD_ASSERT(queries_.size() <= config_.limits.places_pending_max);
    HERD_ASSERT(c.slots.size() <= config_.limits.client_pending_replies_max);
    actions_.push_back(QueryPlaces{id, std::move(query)});
}

void Node::push_reply(Connection& c, std::string bytes, bool acknowledges) {
    HERD_ASSERT(!bytes.empty() && bytes.back() == '\n');  // whole replies only
    c.held_bytes += bytes.size();
    Slot slot;
    slot.bytes = std::move(bytes);
    slot.ready = true;
    slot.acknowledges = acknowledges;
    c.slots.push_back(std::move(slot));
    HERD_ASSERT(c.slots.size() <= config_.limits.client_pending_replies_max);
}

bool Node::over_high_water(const Connection& c) const {
    const NodeLimits& l = config_.limits;
    return client_output_bytes(c) >= l.client_output_high_water_bytes ||
           c.slots.size() >= l.client_pending_replies_max || c.queries >= l.client_queries_max;
}

bool Node::update_flow(ConnectionId conn, Connection& c, Now now) {
    const NodeLimits& l = config_.limits;
    if (client_output_bytes(c) > l.client_output_bytes_max) {
        stats_.clients_closed_output_cap += 1;
        close_connection(conn, CloseMode::now, "output cap", now);
        return false;
    }
    HERD_ASSERT(c.role == Role::client || c.role == Role::undecided);
    if (!c.paused && over_high_water(c)) {
        c.paused = true;
        stats_.client_reads_paused += 1;
        actions_.push_back(PauseReading{conn});
    } else if (c.paused && client_output_bytes(c) <= l.client_output_low_water_bytes &&
               c.slots.size() < l.client_pending_replies_max && c.queries < l.client_queries_max) {
        c.paused = false;
        actions_.push_back(ResumeReading{conn});
    }
    return true;
}

void Node::flush_replies(ConnectionId conn, Connection& c, Now now) {
    while (!c.slots.empty() && c.slots.front().ready) {
        if (c.unsent_bytes + c.slots.front().bytes.size() >
            config_.limits.client_output_bytes_max) {
            // Never hand the driver more than the cap: it holds a connection's output in memory.
            stats_.clients_closed_output_cap += 1;
            close_connection(conn, CloseMode::now, "output cap", now);
            return;
        }
        std::string bytes = std::move(c.slots.front().bytes);
        const bool acknowledges = c.slots.front().acknowledges;
        c.slots.pop_front();
        HERD_ASSERT(c.held_bytes >= bytes.size());
        c.held_bytes -= bytes.size();
        if (c.unsent_bytes == 0) c.write_progress = now.mono;
        c.unsent_bytes += bytes.size();
        c.last_sent = now.mono;
        actions_.push_back(Reply{conn, std::move(bytes), acknowledges});
    }
    recount_output(c);
    if (!update_flow(conn, c, now)) return;
    // Done when the client has finished sending, every line was taken and every reply handed
    // over.
    if (c.eof && !c.paused && c.lines.buffered_bytes() == 0 && c.slots.empty()) {
        close_connection(conn, CloseMode::after_flush, "client done", now);
        return;
    }
    schedule_check(conn, c);
}

void Node::handle_places_reply(QueryId id, PlacesResult result, Now now) {
    observe(now);
    auto it = queries_.find(id);
    if (it == queries_.end()) return;  // answered already (timeout), or its client left
    PendingQuery q = std::move(it->second);
    queries_.erase(it);
    places_done(q.origin);
    timers_.erase(q.timer);  // gone already when this is the timeout itself
    Connection* c = find(q.conn);
    if (c == nullptr) return;
    HERD_ASSERT(c->queries > 0);
    c->queries -= 1;
    for (Slot& slot : c->slots) {
        if (slot.ready || slot.query != id) continue;
        bool malformed = false;
        slot.bytes = result.ok ? format_whatsat_reply(q.at_line, result.body, q.bound, &malformed)
                               : format_whatsat_failure(q.at_line, result.status);
        if (malformed) stats_.places_answers_malformed += 1;
        slot.ready = true;
        c->held_bytes += slot.bytes.size();
        break;
    }
    const bool was_paused = c->paused;
    flush_replies(q.conn, *c, now);
    c = find(q.conn);
    if (c != nullptr && was_paused && !c->paused) drain_lines(q.conn, *c, now);
    enforce_budgets(now);
}

// ---------------------------------------------------------------- peers: handshake

HandshakeTranscript Node::transcript(const Connection& c) const {
    const Neighbour& nb = neighbours_[static_cast<std::size_t>(c.neighbour)];
    HandshakeTranscript t;
    if (c.dialed_by_us) {
        t.dialer = config_.self.str();
        t.acceptor = nb.name.str();
        t.dialer_incarnation = config_.incarnation;
        t.dialer_nonce = c.local_nonce;
        t.acceptor_incarnation = c.remote_incarnation;
        t.acceptor_nonce = c.remote_nonce;
    } else {
        t.dialer = nb.name.str();
        t.acceptor = config_.self.str();
        t.dialer_incarnation = c.remote_incarnation;
        t.dialer_nonce = c.remote_nonce;
        t.acceptor_incarnation = config_.incarnation;
        t.acceptor_nonce = c.local_nonce;
    }
    return t;
}

void Node::handle_first_line(ConnectionId conn, Connection& c, std::string_view line, Now now) {
    if (first_field(line) == "HELLO") {
        if (config_.peers_need_secure_transport && !c.secured) {
            refuse(conn, "secure-transport-required", now);
            return;
        }
        if (auto hello = parse_hello(line)) {
            handle_hello(conn, c, *hello, now);
            return;
        }
    }
    if (c.peers_only) {
        // Admitted over a connection cap only in case it was a peer; it is not.
        stats_.clients_refused_peers_only += 1;
        close_connection(conn, CloseMode::now, "connection cap (not a peer)", now);
        return;
    }
    c.role = Role::client;
    handle_client_line(conn, c, line, now);
}

void Node::refuse(ConnectionId conn, std::string_view reason, Now now) {
    stats_.handshakes_refused += 1;
    Connection* c = find(conn);
    if (c != nullptr) {
        auto bytes = std::make_shared<const std::string>(format_refused(reason));
        c->unsent_bytes += bytes->size();
        stats_.peer_writes += 1;
        actions_.push_back(SendToPeer{conn, std::move(bytes)});
    }
    close_connection(conn, CloseMode::after_flush, reason, now);
}

void Node::handle_hello(ConnectionId conn, Connection& c, const Hello& hello, Now now) {
    if (hello.acceptor != config_.self.str()) {
        refuse(conn, "wrong-server", now);
        return;
    }
    const int n = neighbour_index(hello.dialer);
    if (n < 0) {
        refuse(conn, "not-a-neighbour", now);
        return;
    }
    if (!c.identity.empty() && c.identity != hello.dialer) {
        refuse(conn, "identity-mismatch", now);  // its certificate names another server
        return;
    }
    if (const char* why = origin_refusal(c.origin, now)) {
        refuse(conn, why, now);
        return;
    }
    origin_begin(c);
    c.role = Role::welcome_sent;
    c.neighbour = n;
    c.remote_incarnation = hello.incarnation;
    c.remote_nonce = hello.nonce;
    c.local_nonce = prng_.next();
    const std::string mac = welcome_mac(config_.secret, transcript(c));
    send_peer(conn, c,
              format_welcome(Welcome{config_.self.str(), config_.incarnation, c.local_nonce, mac}),
              1, now);
    // Now a handshake: its deadline (silence_timeout), not the client idle one armed before.
    if (find(conn) == &c) schedule_check(conn, c);
}

void Node::handle_welcome(ConnectionId conn, Connection& c, std::string_view line, Now now) {
    const auto welcome = parse_welcome(line);
    if (!welcome) {
        // REFUSED, or anything else: the peer did not accept us.
        close_connection(conn, CloseMode::now,
                         first_field(line) == "REFUSED" ? line : "bad handshake", now);
        return;
    }
    if (welcome->acceptor != neighbours_[static_cast<std::size_t>(c.neighbour)].name.str()) {
        refuse(conn, "wrong-server", now);
        return;
    }
    c.remote_incarnation = welcome->incarnation;
    c.remote_nonce = welcome->nonce;
    const HandshakeTranscript t = transcript(c);
    if (!mac_equal(welcome->mac, welcome_mac(config_.secret, t))) {
        refuse(conn, "authentication-failed", now);
        return;
    }
    send_peer(conn, c, format_auth(auth_mac(config_.secret, t)), 1, now);
    establish(conn, c, now);
}

void Node::handle_auth(ConnectionId conn, Connection& c, std::string_view line, Now now) {
    const auto mac = parse_auth(line);
    if (!mac || !mac_equal(*mac, auth_mac(config_.secret, transcript(c)))) {
        origin_failed(c.origin, now);
        refuse(conn, "authentication-failed", now);
        return;
    }
    establish(conn, c, now);
}

const char* Node::origin_refusal(std::uint64_t origin, Now now) {
    if (origin == 0) return nullptr;
    auto it = origins_.find(origin);
    if (it == origins_.end()) {
        if (origins_.size() < config_.limits.origins_max || evict_origin()) return nullptr;
        stats_.origin_refused_full += 1;
        return "too-many-origins";
    }
    if (now.mono < it->second.blocked_until) {
        stats_.origin_refused_blocked += 1;
        return "too-many-failures";
    }
    if (it->second.pending >= config_.limits.handshakes_per_origin_max) {
        stats_.origin_refused_pending += 1;
        return "too-many-handshakes";
    }
    return nullptr;
}

bool Node::evict_origin() {
    if (idle_origins_.empty()) return false;
    const std::uint64_t origin = idle_origins_.begin()->second;
    idle_origins_.erase(idle_origins_.begin());
    HERD_ASSERT(origins_.at(origin).pending == 0);
    origins_.erase(origin);
    return true;
}

void Node::origin_failed(std::uint64_t origin, Now now) {
    if (origin == 0) return;
    Origin& o = origins_.at(origin);
    HERD_ASSERT(o.pending > 0);  // a failure ends a pending handshake
    while (!o.failures.empty() &&
           o.failures.front() + config_.limits.auth_failure_window <= now.mono)
        o.failures.pop_front();
    o.failures.push_back(now.mono);
    if (o.failures.size() >= config_.limits.auth_failures_per_origin_max) {
        o.blocked_until = now.mono + config_.limits.auth_failure_window;
        o.failures.clear();
    }
    HERD_ASSERT(o.failures.size() < config_.limits.auth_failures_per_origin_max);
}

// A handshake from this connection's origin has begun.
void Node::origin_begin(Connection& c) {
    HERD_ASSERT(!c.origin_pending);
    if (c.origin == 0) return;
    Origin& o = origins_[c.origin];
    if (o.pending == 0) idle_origins_.erase({o.idle_since, c.origin});
    o.pending += 1;
    c.origin_pending = true;
    HERD_ASSERT(origins_.size() <= config_.limits.origins_max);
}

// A handshake from this connection's origin is over (established, refused or closed).
void Node::origin_done(Connection& c) {
    if (!c.origin_pending) return;
    c.origin_pending = false;
    auto it = origins_.find(c.origin);
    HERD_ASSERT(it != origins_.end() && it->second.pending > 0);
    Origin& o = it->second;
    o.pending -= 1;
    if (o.pending > 0) return;
    // Kept while blocked or with failures to remember; else forgotten (the map stays small).
    if (o.failures.empty() && o.blocked_until <= last_now_.mono) {
        origins_.erase(it);
    } else {
        o.idle_since = last_now_.mono;
        idle_origins_.insert({o.idle_since, c.origin});
    }
    HERD_ASSERT(idle_origins_.size() <= origins_.size());
}

void Node::establish(ConnectionId conn, Connection& c, Now now) {
    HERD_ASSERT(c.neighbour >= 0 && (c.role == Role::hello_sent || c.role == Role::welcome_sent));
    Neighbour& nb = neighbours_[static_cast<std::size_t>(c.neighbour)];
    if (c.role == Role::hello_sent) nb.dials_in_handshake -= 1;
    HERD_ASSERT(nb.dials_in_handshake >= 0);
    origin_done(c);
    c.role = Role::peer;
    if (nb.link) {
        const ConnectionId old_id = *nb.link;
        Connection& old = connection(old_id);
        if (old.remote_incarnation != c.remote_incarnation) {
            close_connection(old_id, CloseMode::now, "replaced by a newer incarnation", now);
        } else {
            // Both ends dialed at once (or the peer redialed): keep the connection dialed by the
            // smaller name, so both ends keep the same one; between two from the same dialer,
            // the newer, since the dialer gave up on the older.
            const bool old_by_smaller = old.dialed_by_us == (config_.self < nb.name);
            const bool new_by_smaller = c.dialed_by_us == (config_.self < nb.name);
            if (old_by_smaller && !new_by_smaller) {
                close_connection(conn, CloseMode::now, "duplicate link", now);
                return;
            }
            close_connection(old_id, CloseMode::now, "duplicate link", now);
        }
    }
    nb.link = conn;
    nb.backoff = config_.limits.backoff_initial;
    stats_.links_established += 1;
    actions_.push_back(PeerUp{conn, nb.name});
    disarm(c.timer);  // re-armed with the peer deadlines
    schedule_check(conn, c);
    // Anti-entropy: one exchange per link-up, starting from the root digest.
    if (defect(Defect::sync_skipped_when_empty) && store_.size() == 0) return;
    send_digest(conn, c, BucketId{0, 0}, now);
}

// ---------------------------------------------------------------- peers: established

void Node::send_peer(ConnectionId conn, Connection& c, SharedBytes bytes, std::size_t lines,
                     Now now, std::size_t records) {
    HERD_ASSERT(!bytes->empty() && bytes->back() == '\n' && lines > 0);
    if (c.unsent_bytes + bytes->size() > config_.limits.peer_output_bytes_max) {
        stats_.links_closed_overflow += 1;
        close_connection(conn, CloseMode::now, "output queue overflow", now);
        return;
    }
    c.unsent_bytes += bytes->size();
    HERD_ASSERT(c.unsent_bytes <= config_.limits.peer_output_bytes_max);
    c.last_sent = now.mono;
    if (c.role == Role::peer) {
        stats_.peer_lines_sent += lines;
        stats_.peer_bytes_sent += bytes->size();
        stats_.peer_records_sent += records;
    }
    stats_.peer_writes += 1;
    actions_.push_back(SendToPeer{conn, std::move(bytes)});
}

void Node::flood(const Record& record, std::optional<ConnectionId> except, Now now) {
    // The record size limit: whatever this server stored, every peer can take.
    HERD_ASSERT(record.at_line().size() <= config_.limits.line_bytes_max);
    SharedBytes line;
    for (Neighbour& nb : neighbours_) {
        if (!nb.link || nb.link == except) continue;
        if (defect(Defect::relay_skips_first_neighbour) && except && &nb == &neighbours_.front())
            continue;
        const ConnectionId id = *nb.link;
        if (config_.limits.flood_batch > Duration{}) {
            batch_line(id, connection(id), record.at_line(), now);
            continue;
        }
        if (!line) line = line_bytes(record.at_line());
        send_peer(id, connection(id), line, 1, now, 1);
    }
}

void Node::batch_line(ConnectionId conn, Connection& c, std::string_view line, Now now) {
    c.batch.append(line);
    c.batch.push_back('\n');
    c.batch_records += 1;
    if (c.batch.size() >= config_.limits.flood_batch_bytes_max) {
        flush_batch(conn, c, now);
        return;
    }
    if (!c.flush_timer)
        c.flush_timer = arm(now.mono + config_.limits.flood_batch, TimerKind::flush, conn);
}

void Node::flush_batch(ConnectionId conn, Connection& c, Now now) {
    disarm(c.flush_timer);
    if (c.batch_records == 0) return;
    const std::size_t records = c.batch_records;
    c.batch_records = 0;
    send_peer(conn, c, std::make_shared<const std::string>(std::exchange(c.batch, {})), records,
              now, records);
}

void Node::handle_peer_line(ConnectionId conn, Connection& c, std::string_view line, Now now) {
    stats_.peer_lines_received += 1;
    const std::string_view verb = first_field(line);
    if (verb == "AT") {
        apply_from_peer(conn, c, line, now);
    } else if (verb == "DIGEST") {
        handle_digest(conn, c, line, now);
    } else if (verb == "PING" || verb.empty()) {
        // Only keeps the link alive (last_received was updated).
    } else {
        reject_peer_line(conn, c, "unknown verb");
    }
}

void Node::reject_peer_line(ConnectionId conn, Connection& c, std::string_view reason) {
    stats_.peer_lines_rejected += 1;
    c.lines_rejected += 1;
    // Reported at 1, 2, 4, 8, ... so that a peer sending garbage cannot flood the log.
    if ((c.lines_rejected & (c.lines_rejected - 1)) != 0) return;
    actions_.push_back(PeerLineRejected{conn,
                                        neighbours_[static_cast<std::size_t>(c.neighbour)].name,
                                        std::string(reason), c.lines_rejected});
}

void Node::apply_from_peer(ConnectionId conn, Connection& c, std::string_view line, Now now) {
    // Most floods bring a record this server already has, byte for byte: recognise those before
    // validating every field. Stored lines have single spaces, so the client ID of a line equal
    // to a stored one lies between its third and fourth space.
    stats_.peer_records_received += 1;
    const std::string_view fast_client = fourth_field_fast(line);
    const Record* current = nullptr;
    if (!fast_client.empty()) {
        current = store_.find(fast_client);
        if (current != nullptr && current->at_line() == line) {
            stats_.peer_records_duplicate += 1;
            return;
        }
    }
    const auto view = AtLineView::parse(line);
    if (!view) {
        reject_peer_line(conn, c, "malformed AT line");
        return;
    }
    const Record* stored = nullptr;
    // The lookup above is reused when it was for the same client (it is, for canonical lines).
    const ApplyOutcome outcome = view->client == fast_client
                                     ? store_.apply_found(*view, current, &stored)
                                     : store_.apply(*view, &stored);
    if (!changed_store(outcome)) {
        stats_.peer_records_duplicate += 1;
        return;
    }
    applied(*stored, neighbours_[static_cast<std::size_t>(c.neighbour)].name.str(), view->origin);
    flood(*stored, conn, now);
}

void Node::applied(const Record& record, std::string_view via, std::string_view origin) {
    stats_.records_applied += 1;
    if (!config_.notify_applied) return;
    actions_.push_back(RecordApplied{std::string(record.at_line()), std::string(via),
                                     std::string(origin), std::string(record.client()),
                                     record.time()});
}

void Node::send_digest(ConnectionId conn, Connection& c, BucketId bucket, Now now) {
    if (!c.digests_sent.insert(bucket).second) return;
    stats_.digests_sent += 1;
    std::string digest = format_digest(bucket, store_.child_digests(bucket));
    stats_.sync_bytes_sent += digest.size();
    send_peer(conn, c, std::move(digest), 1, now);
}

void Node::handle_digest(ConnectionId conn, Connection& c, std::string_view line, Now now) {
    auto message = parse_digest(line);
    if (!message) {
        reject_peer_line(conn, c, "malformed DIGEST line");
        return;
    }
    if (defect(Defect::sync_skipped_when_empty) && store_.size() == 0) return;
    const BucketId bucket = message->bucket;
    // Answer with our own digest of this bucket if we have not sent it: the peer compares
    // too, and sends its side of every differing bucket.
    send_digest(conn, c, bucket, now);
    if (find(conn) != &c) return;
    const auto mine = store_.child_digests(bucket);
    std::array<BucketDigest, bucket_fanout> theirs{};
    for (const DigestEntry& e : message->entries)
        theirs[static_cast<std::size_t>(e.child)] = e.digest;
    for (int child = 0; child < bucket_fanout; ++child) {
        const BucketDigest& m = mine[static_cast<std::size_t>(child)];
        const BucketDigest& t = theirs[static_cast<std::size_t>(child)];
        if (m == t) continue;
        const BucketId sub{bucket.depth + 1, (bucket.prefix << bucket_fanout_bits) |
                                                 static_cast<std::uint64_t>(child)};
        // Both ends take the same decision from the same pair of counts. A bucket one side lacks
        // entirely is sent whole (a restarted, empty server is refilled without digests).
        if (std::min(m.count, t.count) == 0 ||
            std::max(m.count, t.count) <= config_.limits.leaf_records_max ||
            sub.depth == bucket_depth_max) {
            if (m.count > 0) c.sync_buckets.push_back(sub);
        } else {
            send_digest(conn, c, sub, now);
            if (find(conn) != &c) return;
        }
    }
    pump_sync(conn, c, now);
}

void Node::pump_sync(ConnectionId conn, Connection& c, Now now) {
    // Never fill the peer's queue past half its bound, so floods still fit beside a transfer.
    const std::size_t low_water =
        std::min(config_.limits.sync_low_water_bytes, config_.limits.peer_output_bytes_max / 2);
    constexpr std::size_t line_bytes_guess = 128;
    while (!c.sync_buckets.empty() && c.unsent_bytes < low_water) {
        const std::size_t room = (low_water - c.unsent_bytes) / line_bytes_guess;
        const std::size_t records_max =
            std::clamp<std::size_t>(room, 1, config_.limits.sync_records_per_step);
        bool done = false;
        const auto records =
            store_.bucket_records(c.sync_buckets.front(), c.sync_cursor, records_max, &done);
        if (done) {
            c.sync_buckets.pop_front();
            c.sync_cursor = RecordStore::Cursor{};
        }
        if (records.empty()) continue;
        std::string bytes;
        for (const Record* r : records) {
            bytes += r->at_line();
            bytes += '\n';
        }
        stats_.sync_records_sent += records.size();
        stats_.sync_bytes_sent += bytes.size();
        send_peer(conn, c, std::make_shared<const std::string>(std::move(bytes)), records.size(),
                  now, records.size());
        if (find(conn) != &c) return;
    }
}

// ---------------------------------------------------------------- dialing

void Node::dial(int n) {
    Neighbour& nb = neighbours_[static_cast<std::size_t>(n)];
    nb.dialing = true;
    actions_.push_back(Dial{nb.name});
}

void Node::schedule_dial(int n, Now now) {
    Neighbour& nb = neighbours_[static_cast<std::size_t>(n)];
    if (nb.link || nb.dialing || nb.dials_in_handshake > 0 || nb.dial_timer) return;
    // Exponential backoff with jitter: uniform in [backoff/2, backoff], then doubled, capped.
    const std::int64_t half = nb.backoff.ns / 2;
    const Duration delay{half + prng_.between(0, nb.backoff.ns - half)};
    nb.backoff = std::min(nb.backoff * 2, config_.limits.backoff_max);
    HERD_ASSERT(delay.ns >= 0 && delay <= config_.limits.backoff_max);
    nb.dial_timer = arm(now.mono + delay, TimerKind::dial, static_cast<std::uint64_t>(n));
}

}  // namespace herd
