// The Node (core/node.hpp), its clients: IAMAT and WHATSAT lines, Places queries and their
// fair share, replies in order and flow control.
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
    emit(QueryPlaces{id, std::move(query)});
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
        emit(PauseReading{conn});
    } else if (c.paused && client_output_bytes(c) <= l.client_output_low_water_bytes &&
               c.slots.size() < l.client_pending_replies_max && c.queries < l.client_queries_max) {
        c.paused = false;
        emit(ResumeReading{conn});
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
        emit(Reply{conn, std::move(bytes), acknowledges});
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
    timers_changed();
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

}  // namespace herd
