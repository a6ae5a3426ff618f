// t-visibility (issue 29): for each update (a record a client sent, from the instant its origin
// accepted it and answered AT) and each other server, the window during which a read at that
// server would have returned an older value: from the write until the server first holds the
// update or a record of its client with a later client time. Computed exactly from the stores'
// changes (the simulator's, or the real servers' record traces in a replay), not by sampling
// reads.
//
// A record of the same client time that is not this one (a tie, under either rule) is not "it or
// newer": under `tiebreak first` a server that kept the other record never shows this one, and
// under `tiebreak convergent` the losing record of a tie is never shown where the winner is
// held. A server emptied by a restart holds nothing until it gets the records again.
//
// VisibilityTracker keeps, per client, its updates in order of client time, and per server and
// client two marks: what the server holds now, and the newest it has been counted for (never
// lowered). A store change closes every pair between the counted mark and the new record at
// once, so each pair is counted once; a pair written while its server was empty after a restart,
// below its counted mark, waits apart until the server holds it again.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/time.hpp"
#include "sim/samples.hpp"

namespace herd::sim {

class VisibilityTracker {
  public:
    // A pair's window ended: `server` first held the update of `origin` written at `written`
    // (or a record of its client with a later time) at `visible`.
    using Visible = std::function<void(int origin, int server, Instant written, Instant visible)>;
    // Every pair of an update closed and no server holding it: the tracker forgets it (so its
    // memory is bounded by the updates still open and the stores, not by the run's length),
    // after telling this (once per record, when its last copy goes).
    using Closed = std::function<void(std::size_t client, Timestamp time, std::uint64_t record)>;

    VisibilityTracker(std::size_t servers, Visible on_visible, Closed on_closed = {});

    // An update: `origin` accepted client `client`'s record (client time `time`, content hash
    // `record`) at `now`.
    void written(Instant now, int origin, std::size_t client, Timestamp time, std::uint64_t record);
    // `server`'s store took that record of `client` at `now` (the origin's own acceptance
    // included: call written() first).
    void seen(Instant now, int server, std::size_t client, Timestamp time, std::uint64_t record);
    // `server` starts again with an empty store.
    void restarted(int server);

    // Every pair still open: its origin, its server and when its update was written.
    void for_each_open(const std::function<void(int origin, int server, Instant written)>& f) const;
    // How many updates it tracks: a pair still open, or held by some server.
    std::size_t updates_tracked() const { return updates_tracked_; }

  private:
    struct Update {
        Timestamp time;
        std::uint64_t record;
        Instant written;
        int origin;
        std::uint32_t open = 0;     // pairs not closed yet
        std::uint32_t holders = 0;  // servers whose store holds it now
    };
    // A record's place: its time, and the records of that time it stands for (a store holds
    // one; a counted mark may have met more than one record of one time, through a tie won).
    struct Mark {
        Timestamp time;
        std::uint64_t record;
    };
    bool covers(int server, std::size_t client, const std::optional<Mark>& mark,
                const Update& u) const;
    std::optional<Mark>& held(int server, std::size_t client);
    std::optional<Mark>& counted(int server, std::size_t client);
    // Closes the pair of `u` (an update of `client`, in updates_) and `server` at `now`.
    void close(Update& u, int server, Instant now);
    // Forgets the updates of `client` whose pairs are all closed and that no server holds.
    void forget_closed(std::size_t client);
    // `server`'s store no longer holds `mark` (of `client`); true when that may free it.
    bool let_go(std::size_t client, const Mark& mark);
    // The tracked update a waiting pair's copy stands for.
    Update& find(std::size_t client, const Update& copy);

    std::size_t servers_;
    Visible on_visible_;
    Closed on_closed_;
    std::size_t updates_tracked_ = 0;
    std::vector<std::vector<Update>> updates_;               // by client, in order of client time
    std::vector<std::vector<std::optional<Mark>>> held_;     // by server, by client
    std::vector<std::vector<std::optional<Mark>>> counted_;  // by server, by client
    // A counted mark's further records of its own time (ties), by (server, client): rare.
    std::map<std::pair<int, std::size_t>, std::vector<std::uint64_t>> counted_ties_;
    // Pairs written while their server held less than it had been counted for (after a
    // restart): each closes when the server holds the update or newer.
    struct Waiting {
        int server;
        std::size_t client;
        Update update;
    };
    std::vector<Waiting> waiting_;
};

// The largest vertical gap between two distributions' curves P(window <= t), over every t (the
// Kolmogorov-Smirnov distance): in parts of 100 000 (rounded down), and a t where it is.
struct CurveGap {
    std::uint64_t per_100k = 0;
    std::int64_t at_ns = 0;
};
CurveGap largest_gap(const Samples& a, const Samples& b);
// "97.500": parts of 100 000 as a percentage, three decimals.
std::string format_share(std::uint64_t per_100k);
// "1.234 pp": the same, as percentage points.
std::string format_points(std::uint64_t per_100k);

}  // namespace herd::sim
