// Checker: what the simulator verifies. Safety invariants at every store change (a store never
// takes an older record; no server holds a record no client sent), the propagation statistics
// drawn from the same notices, and the scenario's expectations against the servers' stores and
// the replies simulated clients read.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/node.hpp"
#include "sim/scenario.hpp"
#include "sim/simulator.hpp"
#include "sim/trace.hpp"
#include "sim/visibility.hpp"

namespace herd::sim {

// How long after every server has held an update or newer, and none holds it, the checker keeps
// its origin time: a record that arrives later (at a server restarted meanwhile) is counted in
// SimStats::stale_unchecked, not checked. Memory: the updates of this much time.
inline constexpr Duration origin_forget_grace{10'000'000'000};

// A simulated client connection of a `send` statement, and what it read.
struct SimClient {
    int server;
    std::string received;
    bool complete = false;  // the server closed the connection: the reply is whole
    bool refused = false;   // the server was down
};

// What expectations look at: each server's store (null while crashed), the clients, and per
// server the latest `send` (an index into clients, or -1). The simulator shows its Nodes' stores;
// `herd replay` the stores it read from real servers.
struct Observed {
    const std::vector<const RecordStore*>& stores;
    const std::vector<SimClient>& clients;
    const std::vector<int>& latest_send;
    // The clients' history checked so far (`expect sessions`); null where none is recorded.
    const history::CheckResult* sessions = nullptr;
};

// Whether a client's reply matches an `expect reply` glob; with a tolerance, an AT reply whose
// skew is within it of the skew the glob spells out (its third field, no wildcards) matches when
// the rest does.
bool reply_matches(const Glob& glob, std::string_view received, Duration tolerance);

class Checker {
  public:
    // `skew_tolerance`: how far the skew of an AT reply may be from the one an `expect reply`
    // glob spells out (0 in the simulator, where time is exact).
    Checker(const Scenario& scenario, SimResult& result, Trace& trace,
            Duration skew_tolerance = Duration{0});

    // A store changed at `server` (a RecordApplied notice). `clock`: the server's clock then,
    // when known exactly (the simulator), to check the skew of a record a client sent there.
    void applied(Instant now, int server, const RecordApplied& r,
                 std::optional<Timestamp> clock = std::nullopt);
    // `server` starts empty: its per-client history starts again.
    void restarted(Instant now, int server);
    // The run ended at `end`: every t-visibility pair still open is one that never closed.
    // Seals the propagation and t-visibility samples.
    void finish(Instant end);
    ExpectationResult check(Instant now, const Step& step, const Observed& world) const;

  private:
    const std::string& name(int s) const;
    int hops(int from, int to);
    bool fault_between(Instant from, Instant to) const;
    void check_skew(Instant now, int s, const RecordApplied& r, Timestamp clock);
    // Whether every live server holds the same records: into r (found, found_kind, pass).
    void converged(const Observed& world, ExpectationResult& r) const;
    std::optional<ExpectationResult> check_store(ExpectationResult r, const StepAction& a,
                                                 const Observed& world) const;
    ExpectationResult check_reply(ExpectationResult r, const ExpectReply& e,
                                  const Observed& world) const;
    ExpectationResult check_sessions(ExpectationResult r, const ExpectSessions& e,
                                     const Observed& world) const;
    ExpectationResult check_visibility(ExpectationResult r, const ExpectVisibility& e) const;
    void visible(int origin, int server, Instant written, Instant at);
    // Every server has held an update or newer and none holds it: its origin time is forgotten
    // origin_forget_grace later (a message sent just before may still bring it to a restarted
    // server).
    void forget(std::size_t client, Timestamp time, std::uint64_t record);
    void forget_due(Instant now);

    const Scenario& sc_;
    Duration skew_tolerance_;
    SimResult& result_;
    Trace& trace_;
    // Per server, the last client time applied, by client number (see client_numbers_).
    std::vector<std::vector<std::optional<Timestamp>>> last_applied_;
    // Every client ID seen, numbered, so per-server checks are a vector index, not a hash lookup.
    std::unordered_map<std::string, std::size_t> client_numbers_;
    // Keyed by the record's 64-bit hash, while some server has not held it or newer (the
    // t-visibility tracker says when every one has); looked up, never iterated.
    std::unordered_map<std::uint64_t, Instant> origin_time_;
    // Per client number, the newest client time of a record forgotten so (none: nothing yet).
    std::vector<std::optional<Timestamp>> forgotten_below_;
    struct Forgetting {
        Instant due;
        std::size_t client;
        Timestamp time;
        std::uint64_t record;
    };
    std::deque<Forgetting> forgetting_;        // in order of `due`
    Instant now_{0};                           // of the latest store change
    std::vector<std::vector<int>> distances_;  // hop distances from each origin, when needed
    std::unordered_map<std::string_view, int> server_numbers_;  // name -> index
    // When some partition, cut, silence, crash or pause is in force: [from, to), in time order,
    // disjoint (from the scenario's statements; `to` is INT64_MAX when never undone).
    std::vector<std::pair<Instant, Instant>> fault_windows_;
    // The `within` of every `expect visibility` (ascending, once each), and how many no-fault
    // pairs have closed within each so far: counted exactly as windows close.
    std::vector<std::int64_t> visibility_bounds_;
    std::vector<std::uint64_t> visibility_within_;
    VisibilityTracker visibility_;
};

}  // namespace herd::sim
