// The driver's handlers: Node actions to the network, network events to Nodes (driver.hpp).
#include "sim/driver.hpp"

#include <algorithm>
#include <variant>

#include "core/synthetic_places.hpp"

namespace herd::sim {

namespace {

bool has_pause(const Scenario& sc) {
    return std::any_of(sc.steps.begin(), sc.steps.end(),
                       [](const Step& s) { return std::holds_alternative<PauseStep>(s.action); });
}

}  // namespace

Driver::Driver(const Scenario& sc, Owner& owner, Trace& trace, SimStats& stats, Seeds seeds,
               bool observe_actions)
    : sc_(sc),
      owner_(owner),
      trace_(trace),
      stats_(stats),
      observe_actions_(observe_actions),
      net_prng_(seeds.net),
      cost_prng_(seeds.cost),
      processing_(!sc.processing.is_zero()),
      queueing_(processing_ || has_pause(sc)),
      wall_(sc.epoch),
      network_(sc, queue_, trace, net_prng_) {}

// ---------------------------------------------------------------- servers

const HerdIndex& Driver::herd_index() {
    if (!herd_index_ || indexed_servers_ != sc_.herd.servers.size() ||
        indexed_links_ != sc_.herd.links.size()) {
        herd_index_.emplace(sc_.herd);
        indexed_servers_ = sc_.herd.servers.size();
        indexed_links_ = sc_.herd.links.size();
    }
    return *herd_index_;
}

void Driver::add_servers(int n) {
    if (n > servers()) servers_.resize(static_cast<std::size_t>(n));
}

Now Driver::now_of(int s) const {
    const Slot& sv = slot(s);
    if (sv.offset.ns == 0 && sv.drift_ppm == 0) return Now{now_, wall_};
    // |now| <= 86400 s and |ppm| <= 1000: the product stays far inside 63 bits.
    const Duration drift{now_.ns / 1'000'000 * sv.drift_ppm +
                         now_.ns % 1'000'000 * sv.drift_ppm / 1'000'000};
    return Now{now_, wall_ + (sv.offset + drift)};
}

void Driver::set_clock(int s, Duration offset, std::int32_t drift_ppm) {
    slot(s).offset = offset;
    slot(s).drift_ppm = drift_ppm;
}

void Driver::jump_clock(int s, Duration by) {
    slot(s).offset = slot(s).offset + by;  // a restart keeps it: the machine's clock moved
}

void Driver::pause(int s, Duration length) {
    slot(s).busy_until = std::max(slot(s).busy_until, now_ + length);
}

void Driver::start(int s, NodeConfig config) {
    Slot& sv = slot(s);
    sv.life += 1;
    sv.armed.reset();
    sv.busy_until = now_;  // what the last incarnation was handling is gone with it
    sv.node = std::make_unique<Node>(std::move(config), now_of(s));
    pump(s);
}

void Driver::crash(int s) {
    Slot& sv = slot(s);
    if (!sv.node) return;
    count_peer_traffic(sv.node->stats());
    sv.node.reset();
    sv.life += 1;
    for (std::uint64_t id : network_.connections_of(s))
        close_at_both_ends(id);
}

void Driver::pump(int s) {
    Slot& sv = slot(s);
    // No action handler destroys the Node (crashes come from outside) or calls it: its actions
    // are carried out where they lie.
    sv.node->visit_actions([this, s](auto& action) {
        if (observe_actions_) owner_.acted(s, Action{action});
        act(s, action);
    });
    arm(s);
}

void Driver::arm(int s) {
    Slot& sv = slot(s);
    HERD_ASSERT(sv.node != nullptr);
    const auto t = sv.node->poll_timeout();
    if (!t || (sv.armed && *sv.armed <= *t)) return;
    sv.armed = *t;
    sv.timer_generation += 1;
    queue_.push(std::max(*t, now_), EvTimer{s, sv.life, sv.timer_generation});
}

Instant Driver::occupy(int s) {
    Slot& sv = slot(s);
    const Instant start = std::max(now_, sv.busy_until);
    sv.busy_until = processing_ ? start + sc_.processing.sample(cost_prng_) : start;
    return sv.busy_until;
}

void Driver::count_peer_traffic(const NodeStats& node) {
    stats_.peer_messages += node.peer_writes;
    stats_.peer_lines += node.peer_lines_sent;
    stats_.peer_at_lines += node.peer_records_sent;
    stats_.peer_bytes += node.peer_bytes_sent;
}

void Driver::count_live_traffic() {
    for (const Slot& sv : servers_) {
        if (sv.node) count_peer_traffic(sv.node->stats());
    }
}

// ---------------------------------------------------------------- Node actions

void Driver::act(int s, SendToPeer& a) {
    Network::Conn* c = network_.find(a.conn);
    HERD_ASSERT(c != nullptr);
    // Messages, lines, records and bytes are counted from the Nodes' counters.
    network_.transmit(now_, a.conn, Network::end_of(*c, s), std::move(a.bytes));
}

void Driver::act(int, Reply& a) {
    // The server is end 1 of a client connection.
    network_.transmit(now_, a.conn, 1, std::make_shared<const std::string>(std::move(a.bytes)));
}

void Driver::act(int s, Dial& a) {
    const int peer = herd_index().index_of(a.peer.str());
    stats_.dials += 1;
    if (trace_.enabled())
        trace_.begin(now_, "dial").field("from", name(s)).field("to", name(peer)).end();
    queue_.push(now_ + network_.latency(s, peer), EvDialDone{s, slot(s).life, peer});
}

void Driver::act(int s, QueryPlaces& a) {
    stats_.places_queries += 1;
    if (sc_.places_hang_ppm > 0 && net_prng_.below(1'000'000) < sc_.places_hang_ppm) {
        stats_.places_hung += 1;  // never answered: the Node's Places timeout answers
        return;
    }
    PlacesResult r;
    if (sc_.places_fail_ppm > 0 && net_prng_.below(1'000'000) < sc_.places_fail_ppm) {
        stats_.places_failures += 1;
        r = PlacesResult{false, {}, "UNKNOWN_ERROR"};
    } else {
        r = PlacesResult{true,
                         synthetic_places_json(a.query.lat_nanodeg, a.query.lon_nanodeg,
                                               a.query.radius, synthetic_places_count_max),
                         {}};
    }
    queue_.push(now_ + sc_.places_latency.sample(net_prng_),
                EvPlaces{s, slot(s).life, a.id, std::make_unique<PlacesResult>(std::move(r))});
}

void Driver::act(int s, Close& a) {
    Network::Conn* c = network_.find(a.conn);
    HERD_ASSERT(c != nullptr);
    network_.close(now_, a.conn, Network::end_of(*c, s), a.mode);
}

void Driver::act(int s, PeerUp& a) {
    stats_.links_up += 1;
    if (trace_.enabled())
        trace_.begin(now_, "link-up").field("server", name(s)).field("peer", a.peer.str()).end();
}

void Driver::act(int s, PeerDown& a) {
    stats_.links_down += 1;
    if (trace_.enabled()) {
        trace_.begin(now_, "link-down")
            .field("server", name(s))
            .field("peer", a.peer.str())
            .field("reason", a.reason)
            .end();
    }
}

// ---------------------------------------------------------------- connections and faults

bool Driver::hold_if_silenced(int from, int to, Event e) {
    if (from == client_end || to == client_end || !network_.is_silenced(from, to)) return false;
    stats_.silenced_messages += 1;
    held_[{from, to}].push_back(std::move(e));
    return true;
}

void Driver::release_held() {
    for (auto it = held_.begin(); it != held_.end();) {
        if (network_.is_silenced(it->first.first, it->first.second)) {
            ++it;
            continue;
        }
        for (Event& e : it->second)
            queue_.push(now_, std::move(e));  // in the order they arrived
        it = held_.erase(it);
    }
}

void Driver::close_at_both_ends(std::uint64_t conn_id) {
    Network::Conn* found = network_.find(conn_id);
    if (found == nullptr) return;
    const Network::Conn c = *found;
    network_.erase(conn_id);  // what is in flight finds it gone and is dropped
    for (const Network::End& e : c.end) {
        if (e.open && e.server != client_end && up(e.server)) {
            node(e.server).handle_closed(conn_id, now_of(e.server));
            pump(e.server);
        }
    }
}

void Driver::apply_fault(const StepAction& a) {
    network_.apply_fault(a);
    if (!held_.empty()) release_held();
    if (std::holds_alternative<RestoreStep>(a) || std::holds_alternative<HealStep>(a) ||
        std::holds_alternative<SilenceStep>(a))
        return;
    // A partition or a cut closes what crosses it, at both ends at once.
    for (std::uint64_t id : network_.cut_connections())
        close_at_both_ends(id);
}

void Driver::client_send(int s, const std::string& bytes, int client) {
    const std::uint64_t id = network_.open(client_end, s, now_, client);
    const Instant at = now_ + network_.latency(client_end, s);
    network_.find(id)->last_arrival[0] = at;
    if (trace_.enabled())
        trace_.begin(now_, "client-send").field("to", name(s)).field("bytes", bytes).end();
    queue_.push(at, EvClientOpen{id, std::make_shared<const std::string>(bytes)});
}

// ---------------------------------------------------------------- events

void Driver::on(EvDeliver& d) {
    Network::Conn* c = network_.find(d.conn);
    if (c == nullptr) return;
    // (Checked before the event is copied: most deliveries cross no silent link.)
    if (network_.any_silenced() &&
        hold_if_silenced(c->end[d.from].server, c->end[1 - d.from].server, d))
        return;
    // What is read of the connection before it may go (not the Ends: each holds its queue,
    // and copying them allocated).
    const int to = c->end[1 - d.from].server;
    const int from = c->end[d.from].server;
    const int client = c->client;
    const bool to_open = c->end[1 - d.from].open;
    const bool lost = owner_.lost(d.conn, *c, d.from);
    network_.delivered(now_, d.conn, d.from, d.bytes->size());  // may erase the connection
    if (!to_open || lost) return;
    if (to == client_end) {
        if (client >= 0) owner_.client_received(client, *d.bytes);
    } else if (queueing_) {
        queue_.push(occupy(to), EvHandle{d.conn, 1 - d.from, slot(to).life, d.bytes});
    } else {
        stats_.deliveries += 1;
        node(to).handle_bytes(d.conn, *d.bytes, now_of(to));
        pump(to);
    }
    // The sender learns its bytes left (its queue drains as they arrive).
    c = network_.find(d.conn);
    if (c != nullptr && c->end[d.from].open && from != client_end && up(from)) {
        node(from).handle_sent(d.conn, d.bytes->size(), now_of(from));
        pump(from);
    }
}

void Driver::on(EvCloseNotice& n) {
    Network::Conn* c = network_.find(n.conn);
    if (c == nullptr || owner_.close_lost(*c)) return;
    Network::End& to = c->end[n.to];
    if (!to.open) return;
    if (hold_if_silenced(c->end[1 - n.to].server, to.server, n)) return;
    if (queueing_ && to.server != client_end && slot(to.server).busy_until > now_) {
        // Learnt after the bytes that came before it are handled.
        queue_.push(slot(to.server).busy_until, n);
        return;
    }
    to.open = false;
    const int server = to.server;
    if (server == client_end && c->client >= 0) owner_.client_closed(c->client);
    if (!c->end[0].open && !c->end[1].open) network_.erase(n.conn);
    if (server != client_end && up(server)) {
        node(server).handle_closed(n.conn, now_of(server));
        pump(server);
    }
}

void Driver::on(EvDialDone& dial) {
    if (!current(dial.server, dial.life)) return;
    const Instant busy = slot(dial.server).busy_until;
    if (queueing_ && busy > now_) return queue_.push(busy, dial);
    HERD_ASSERT(dial.peer != dial.server && sc_.herd.linked(dial.server, dial.peer));
    const ServerName& peer_name = sc_.herd.servers[static_cast<std::size_t>(dial.peer)].name;
    // A dial across a silent link connects, as through `herd proxy`, whose silence holds bytes
    // and not connections: the handshake's bytes wait on the link (hold_if_silenced) until the
    // silence ends or the dialer's handshake deadline gives up.
    if (!up(dial.peer) || network_.is_cut(dial.server, dial.peer)) {
        stats_.dials_failed += 1;
        node(dial.server).handle_dial_failed(peer_name, now_of(dial.server));
        pump(dial.server);
        return;
    }
    // The peer accepts and acts, then the dialer learns it is connected.
    const std::uint64_t id = network_.open(dial.server, dial.peer, now_);
    node(dial.peer).handle_accepted(id, now_of(dial.peer));
    pump(dial.peer);
    node(dial.server).handle_dialed(id, peer_name, now_of(dial.server));
    pump(dial.server);
}

void Driver::on(EvClientOpen& open) {
    Network::Conn* c = network_.find(open.conn);
    if (c == nullptr) return;
    const int s = c->end[1].server;
    if (!up(s)) {
        network_.erase(open.conn);
        return;
    }
    if (queueing_ && !open.processed) {
        open.processed = true;
        queue_.push(occupy(s), std::move(open));
        return;
    }
    node(s).handle_accepted(open.conn, now_of(s));
    node(s).handle_bytes(open.conn, *open.bytes, now_of(s));
    node(s).handle_eof(open.conn, now_of(s));
    pump(s);
}

void Driver::on(EvHandle& h) {
    Network::Conn* c = network_.find(h.conn);
    if (c == nullptr || !c->end[h.end].open) return;
    const int s = c->end[h.end].server;
    if (!current(s, h.life)) return;
    stats_.deliveries += 1;
    node(s).handle_bytes(h.conn, *h.bytes, now_of(s));
    pump(s);
}

void Driver::on(EvPlaces& places) {
    if (!current(places.server, places.life)) return;
    const Instant busy = slot(places.server).busy_until;
    if (queueing_ && busy > now_) return queue_.push(busy, std::move(places));
    node(places.server)
        .handle_places_reply(places.id, std::move(*places.result), now_of(places.server));
    pump(places.server);
}

void Driver::on(EvTimer& timer) {
    Slot& sv = slot(timer.server);
    if (sv.life != timer.life || !sv.node || sv.timer_generation != timer.generation) return;
    if (queueing_ && sv.busy_until > now_) return queue_.push(sv.busy_until, timer);
    sv.armed.reset();
    sv.node->handle_timeout(now_of(timer.server));
    pump(timer.server);
}

// ---------------------------------------------------------------- the run

void Driver::run_until(Instant end, const std::function<void(Instant, const SimStats&)>& progress) {
    while (!queue_.empty() && queue_.next_time() <= end) {
        auto [at, event] = queue_.pop();
        HERD_ASSERT(at >= now_);  // time never goes back
        if (at != now_) wall_ = sc_.epoch + Duration{at.ns};
        now_ = at;
        std::visit([this](auto& e) { on(e); }, event);
        stats_.events += 1;
        if (progress && (stats_.events & 0xffff) == 0) progress(now_, stats_);
    }
    HERD_ASSERT(end >= now_);
    if (end != now_) wall_ = sc_.epoch + Duration{end.ns};
    now_ = end;
}

}  // namespace herd::sim
