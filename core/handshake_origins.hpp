// HandshakeOrigins: the per-origin limits on peer and transport handshakes. An origin is what
// the driver names a connection's source by (its address); 0, unnamed, is never limited. Each
// origin may have handshakes_per_origin_max pending at once; after auth_failures_per_origin_max
// failed authentications within auth_failure_window it is refused for the window; at most
// origins_max are tracked, and when full the one idle longest is forgotten, so a flood from many
// addresses cannot lock a real peer's address out. Pure bookkeeping: the Node asks and tells.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <utility>

#include "core/node_config.hpp"
#include "core/time.hpp"

namespace herd {

class HandshakeOrigins {
  public:
    // Why a handshake was refused (each counted apart by the Node).
    enum class Refusal { none, full, blocked, pending };

    explicit HandshakeOrigins(const NodeLimits& limits) : limits_(limits) {}

    // Whether a handshake from `origin` may begin now. Forgets the origin idle longest when a
    // new one needs its room.
    Refusal refusal(std::uint64_t origin, Instant now);
    // A handshake from `origin` (not 0, not refused) has begun.
    void begin(std::uint64_t origin);
    // A handshake from `origin` that began failed its authentication (it stays pending until
    // done()).
    void failed(std::uint64_t origin, Instant now);
    // A handshake from `origin` that began is over (established, refused or closed).
    void done(std::uint64_t origin, Instant now);

    std::size_t tracked() const { return origins_.size(); }

  private:
    // What one origin is doing with handshakes (kept while it has any, or is blocked).
    struct Origin {
        std::size_t pending = 0;
        std::deque<Instant> failures;  // within the failure window
        Instant blocked_until;
        Instant idle_since;  // nothing pending since (kept for its failures or block)
    };
    // Room for one more origin: the one idle longest is forgotten; false when all are pending.
    bool evict();

    NodeLimits limits_;
    std::map<std::uint64_t, Origin> origins_;  // bounded by origins_max
    // Origins with nothing pending, longest idle first: the first forgotten when origins_ is
    // full.
    std::set<std::pair<Instant, std::uint64_t>> idle_;
};

// The reason a refused HELLO carries (REFUSED <reason>).
const char* refusal_reason(HandshakeOrigins::Refusal r);

}  // namespace herd
