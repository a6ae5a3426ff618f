// The per-origin handshake limits (handshake_origins.hpp).
#include "core/handshake_origins.hpp"

#include "core/assert.hpp"

namespace herd {

HandshakeOrigins::Refusal HandshakeOrigins::refusal(std::uint64_t origin, Instant now) {
    if (origin == 0) return Refusal::none;
    auto it = origins_.find(origin);
    if (it == origins_.end())
        return origins_.size() < limits_.origins_max || evict() ? Refusal::none : Refusal::full;
    if (now < it->second.blocked_until) return Refusal::blocked;
    if (it->second.pending >= limits_.handshakes_per_origin_max) return Refusal::pending;
    return Refusal::none;
}

bool HandshakeOrigins::evict() {
    if (idle_.empty()) return false;
    const std::uint64_t origin = idle_.begin()->second;
    idle_.erase(idle_.begin());
    HERD_ASSERT(origins_.at(origin).pending == 0);
    origins_.erase(origin);
    return true;
}

void HandshakeOrigins::begin(std::uint64_t origin) {
    HERD_ASSERT(origin != 0);
    Origin& o = origins_[origin];
    if (o.pending == 0) idle_.erase({o.idle_since, origin});
    o.pending += 1;
    HERD_ASSERT(origins_.size() <= limits_.origins_max);
}

void HandshakeOrigins::failed(std::uint64_t origin, Instant now) {
    if (origin == 0) return;
    Origin& o = origins_.at(origin);
    HERD_ASSERT(o.pending > 0);  // a failure ends a pending handshake
    while (!o.failures.empty() && o.failures.front() + limits_.auth_failure_window <= now)
        o.failures.pop_front();
    o.failures.push_back(now);
    if (o.failures.size() >= limits_.auth_failures_per_origin_max) {
        o.blocked_until = now + limits_.auth_failure_window;
        o.failures.clear();
    }
    HERD_ASSERT(o.failures.size() < limits_.auth_failures_per_origin_max);
}

void HandshakeOrigins::done(std::uint64_t origin, Instant now) {
    auto it = origins_.find(origin);
    HERD_ASSERT(it != origins_.end() && it->second.pending > 0);
    Origin& o = it->second;
    o.pending -= 1;
    if (o.pending > 0) return;
    // Kept while blocked or with failures to remember; else forgotten (the map stays small).
    if (o.failures.empty() && o.blocked_until <= now) {
        origins_.erase(it);
    } else {
        o.idle_since = now;
        idle_.insert({o.idle_since, origin});
    }
    HERD_ASSERT(idle_.size() <= origins_.size());
}

const char* refusal_reason(HandshakeOrigins::Refusal r) {
    switch (r) {
        case HandshakeOrigins::Refusal::none:
            return nullptr;
        case HandshakeOrigins::Refusal::full:
            return "too-many-origins";
        case HandshakeOrigins::Refusal::blocked:
            return "too-many-failures";
        case HandshakeOrigins::Refusal::pending:
            return "too-many-handshakes";
    }
    return nullptr;
}

}  // namespace herd
