#include "sim/network.hpp"

#include <algorithm>

#include "core/assert.hpp"

namespace herd::sim {

std::string Network::end_name(int s) const {
    return s == client_end ? std::string("client")
                           : sc_.herd.servers[static_cast<std::size_t>(s)].name.str();
}

std::uint64_t Network::open(int a, int b, Instant now, int client) {
    const std::uint64_t id = next_conn_++;
    Conn c;
    c.end[0].server = a;
    c.end[1].server = b;
    c.last_arrival[0] = c.last_arrival[1] = now;
    c.client = client;
    conns_.emplace(id, std::move(c));
    return id;
}

Network::Conn* Network::find(std::uint64_t id) {
    return conns_.find(id);
}

Duration Network::latency(int a, int b) {
    if (a == client_end || b == client_end) return sc_.client_latency.sample(prng_);
    return sc_.latency_of(a, b).sample(prng_);
}

void Network::schedule(Instant now, std::uint64_t id, Conn& c, int from, SharedBytes bytes) {
    const Instant at =
        std::max(now + latency(c.end[0].server, c.end[1].server), c.last_arrival[from]);
    c.last_arrival[from] = at;  // FIFO: nothing overtakes what was sent before it
    if (trace_.enabled()) {
        trace_.begin(now, "send")
            .field("from", end_name(c.end[from].server))
            .field("to", end_name(c.end[1 - from].server))
            .field("conn", static_cast<std::int64_t>(id))
            .field("arrive", at.ns)
            .field("bytes", *bytes)
            .end();
    }
    c.end[from].in_flight_bytes += bytes->size();
    HERD_ASSERT(c.last_arrival[from] >= now);
    queue_.push(at, EvDeliver{id, from, std::move(bytes)});
}

void Network::transmit(Instant now, std::uint64_t id, int from, SharedBytes bytes) {
    Conn* c = find(id);
    HERD_ASSERT(c != nullptr);
    End& e = c->end[from];
    const bool room =
        e.in_flight_bytes == 0 || e.in_flight_bytes + bytes->size() <= socket_bytes_max;
    if (!e.queued.empty() || !room) {
        e.queued.push_back(std::move(bytes));
        return;
    }
    schedule(now, id, *c, from, std::move(bytes));
}

void Network::delivered(Instant now, std::uint64_t id, int from, std::size_t bytes) {
    Conn* c = find(id);
    if (c == nullptr) return;
    End& e = c->end[from];
    HERD_ASSERT(e.in_flight_bytes >= bytes);
    e.in_flight_bytes -= bytes;
    while (!e.queued.empty() &&
           (e.in_flight_bytes == 0 ||
            e.in_flight_bytes + e.queued.front()->size() <= socket_bytes_max)) {
        SharedBytes next = std::move(e.queued.front());
        e.queued.pop_front();
        schedule(now, id, *c, from, std::move(next));
    }
    if (e.queued.empty() && e.close_when_sent) {
        e.close_when_sent = false;
        schedule_close_notice(now, id, *c, from);
    }
}

void Network::schedule_close_notice(Instant now, std::uint64_t id, Conn& c, int from) {
    if (!c.end[1 - from].open) {
        conns_.erase(id);
        return;
    }
    const Instant at =
        std::max(now + latency(c.end[0].server, c.end[1].server), c.last_arrival[from]);
    c.last_arrival[from] = at;
    queue_.push(at, EvCloseNotice{id, 1 - from});
}

void Network::close(Instant now, std::uint64_t id, int from, CloseMode mode) {
    Conn* c = find(id);
    HERD_ASSERT(c != nullptr && (from == 0 || from == 1));
    End& e = c->end[from];
    HERD_ASSERT(e.open);  // a Node closes a connection once
    e.open = false;
    if (trace_.enabled())
        trace_.begin(now, "close")
            .field("server", end_name(e.server))
            .field("conn", static_cast<std::int64_t>(id))
            .end();
    if (!e.queued.empty()) {
        if (mode == CloseMode::after_flush) {
            e.close_when_sent = true;  // the notice follows the last queued bytes
            return;
        }
        for (const SharedBytes& b : e.queued)
            bytes_dropped_ += b->size();
        e.queued.clear();
    }
    schedule_close_notice(now, id, *c, from);
}

std::vector<std::uint64_t> Network::cut_connections() const {
    std::vector<std::uint64_t> out;
    conns_.for_each([&](std::uint64_t id, const Conn& c) {
        if (c.end[0].server != client_end && is_cut(c.end[0].server, c.end[1].server))
            out.push_back(id);
    });
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::uint64_t> Network::connections_of(int server) const {
    std::vector<std::uint64_t> out;
    conns_.for_each([&](std::uint64_t id, const Conn& c) {
        if (c.end[0].server == server || c.end[1].server == server) out.push_back(id);
    });
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace herd::sim
