// t-visibility (issue 29): for each update (a record a client sent, from the instant its origin
// accepted it and answered AT) and each other server, the window during which a read at that
// server would have returned an older value: from the write until the server first holds the
// update or a newer record of its client. Computed exactly from the stores' changes (the
// simulator's, or the real servers' record traces in a replay), not by sampling reads.
//
// VisibilityTracker keeps, per client, its updates in order of client time, and per server and
// client the newest client time seen there so far; a store change makes visible at once every
// update of that client between the two. So each (update, server) pair is counted once, at the
// first instant the server had it or newer; a server that lost its records in a restart since
// it held a newer one counts as having it (a read there is a matter of the lost-write check).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "core/time.hpp"

namespace herd::sim {

class VisibilityTracker {
  public:
    // A pair's window ended: `server` first held the update of `origin` written at `written`
    // (or a newer record of its client) at `visible`.
    using Visible = std::function<void(int origin, int server, Instant written, Instant visible)>;

    VisibilityTracker(std::size_t servers, Visible on_visible);

    // An update: `origin` accepted client `client`'s record of client time `time` at `now`.
    void written(Instant now, int origin, std::size_t client, Timestamp time);
    // `server`'s store took a record of `client` with client time `time` at `now` (the origin's
    // own acceptance included: call written() first).
    void seen(Instant now, int server, std::size_t client, Timestamp time);

    // Every pair still open: its origin, its server and when its update was written.
    void for_each_open(const std::function<void(int origin, int server, Instant written)>& f) const;

  private:
    struct Update {
        Timestamp time;
        Instant written;
        int origin;
    };
    std::size_t servers_;
    Visible on_visible_;
    std::vector<std::vector<Update>> updates_;  // by client, in order of client time
    // By server, by client: the newest client time counted visible there.
    std::vector<std::vector<std::optional<Timestamp>>> counted_;
};

// A distribution of windows, with the pairs that never closed as INT64_MAX: sorted.
// The share of pairs closed within `t` (parts of 100 000, rounded down).
std::uint64_t share_within(const std::vector<std::int64_t>& sorted, std::int64_t t);
// The window that `per_100k` of the pairs closed within (nearest rank); INT64_MAX: never.
std::int64_t window_for(const std::vector<std::int64_t>& sorted, std::uint64_t per_100k);

// The largest vertical gap between two distributions' curves P(window <= t), over every t (the
// Kolmogorov-Smirnov distance): in parts of 100 000 (rounded down), and a t where it is.
struct CurveGap {
    std::uint64_t per_100k = 0;
    std::int64_t at_ns = 0;
};
CurveGap largest_gap(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b);

}  // namespace herd::sim
