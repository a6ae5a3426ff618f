// FaultTimeline: the faults a scenario's timeline puts in force, as windows in scenario time:
// each server's down (crash to restart) and paused windows, each link's cut (a cut or a
// partition across it) and silent windows. The one home of these rules for everything that
// looks at a scenario's faults from outside the run: the checker (propagation across faults),
// the HTML report (bands and the heatmap), the sweep generator (the base's own faults).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sim/scenario.hpp"
#include "sim/scenario_doc.hpp"

namespace herd::sim {

struct FaultWindow {
    std::int64_t from, to;  // [from, to) in ns; to is INT64_MAX while still in force at the end
    std::string kind;       // "down", "paused", "cut", "silent"
};

struct FaultTimeline {
    std::vector<std::vector<FaultWindow>> servers;                  // by server
    std::map<std::pair<int, int>, std::vector<FaultWindow>> links;  // only links with a fault

    // Whether `s` is down at `t`, or at some time in [from, to].
    bool down(int s, std::int64_t t) const { return down_during(s, t, t); }
    bool down_during(int s, std::int64_t from, std::int64_t to) const;
    // When the last window ends (0: none); INT64_MAX when one is still in force at the end.
    std::int64_t last_end() const;
    // The windows of every server and link together, merged: disjoint, in time order.
    std::vector<std::pair<Instant, Instant>> merged() const;
};

FaultTimeline fault_timeline(const Scenario& sc);

// The statement that ends a fault's window above: `heal` for a partition, `restore A B` for a
// cut or a silence of A B, `restart S` for a crash; nothing for what ends by itself (a pause)
// or is not undone (a clock jump), or is no fault. The sweep's generator writes it after each
// fault it draws; its shrinker keeps the two together.
std::optional<TimelineStatement> undo_of(const TimelineStatement& fault);

}  // namespace herd::sim
