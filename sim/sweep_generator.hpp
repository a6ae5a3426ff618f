// herd sweep's generator, shared by its two files (sweep_generate.cpp: settings, faults, the
// timeline and the run's document; sweep_clients.cpp: the unusual clients). Internal to sim.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/prng.hpp"
#include "sim/fault_timeline.hpp"
#include "sim/scenario_doc.hpp"
#include "sim/sweep.hpp"

namespace herd::sim::sweep_detail {

inline constexpr std::int64_t ms = 1'000'000;

inline Spelled<Duration> ms_of(std::int64_t ms_count) {
    return spell(Duration::milliseconds(ms_count));
}

struct Timed {
    std::int64_t ns;
    TimelineStatement statement;
    int unit = 0;  // lines that go together share one (DocLine::unit)
};

// What the base does that generated faults must leave alone.
struct BaseFaults {
    FaultTimeline timeline;               // its own faults' windows
    bool links = false;                   // it partitions, cuts, silences, restores or heals
    std::set<std::pair<int, int>> named;  // links its cuts, silences and restores name
    std::int64_t last_fault_ns = 0;       // when its last fault window ends
    bool in_force_at_end = false;         // a fault of its own is still in force at its end
    std::map<int, std::int64_t> jumps;    // each server's clock jumps, added up
};

BaseFaults find_base_faults(const Scenario& sc);

class Generator {
  public:
    Generator(const Scenario& base, std::uint64_t seed, const SweepConfig& config)
        : base_(base),
          config_(config),
          prng_(seed * 0x9E3779B97F4A7C15ull + 0x5eed),
          readers_prng_(seed * 0x9E3779B97F4A7C15ull + 0x7ead),
          convergent_(base.tie_break == TieBreak::convergent),
          base_faults_(find_base_faults(base)) {
        draw_kinds();
    }
    const BaseFaults& base_faults() const { return base_faults_; }
    std::string hostile_prefix = "sweep-h";  // client IDs no base line uses

    bool enabled(FaultKind k) const { return on_.count(k) > 0; }
    std::vector<Statement> settings();
    std::vector<Timed> timeline();
    // The herd as server and link lines with extra links and servers, or nothing (this seed
    // keeps the base's herd).
    std::vector<Statement> topology();
    // What the herd must hold at the end by the conflict rule (each time client's newest
    // position), as expectations for the final check, each in its client's unit.
    const std::vector<Timed>& model_expectations() const { return model_; }

  private:
    const std::string& name(int s) const {
        return base_.herd.servers[static_cast<std::size_t>(s)].name.str();
    }
    std::int64_t between_ms(std::int64_t lo, std::int64_t hi) { return prng_.between(lo, hi) * ms; }
    PartitionLine partition();
    void drifts(std::vector<Statement>& out);
    // `fault` at t, its undo at `undo`.
    void add_pair(std::int64_t t, std::int64_t undo, TimelineStatement fault,
                  std::vector<Timed>& out) {
        TimelineStatement end = *undo_of(fault);
        units_ += 1;
        out.push_back({t, std::move(fault), units_});
        out.push_back({undo, std::move(end), units_});
    }
    void hostile_client(std::int64_t t, std::vector<Timed>& out);
    void readers(std::vector<Timed>& out);
    void add_fault(FaultKind kind, std::int64_t t, std::int64_t end, std::vector<Timed>& out);
    // Whether the base has `s` down at some time in [from, to]: a generated crash there would
    // be undone by a generated restart that revives what the base crashed.
    bool base_down(int s, std::int64_t from, std::int64_t to) const;
    std::vector<int> servers_up(std::int64_t from, std::int64_t to) const;

    // A link for a cut or a silence: one the base names in none of its own, and not faulted by
    // this generator at `t`; nothing when there is none.
    std::optional<std::pair<int, int>> free_link(std::int64_t t, std::int64_t until);

    // Swarm testing: each seed turns on a random half of the configured fault kinds (at least
    // one), so a run is not always the same mix; the kinds a bug needs alone come up often.
    void draw_kinds();
    void varied_settings(std::vector<Statement>& out);
    std::string client_time();
    std::string client_id(std::size_t length);
    void time_client(std::int64_t t, std::vector<Timed>& out);
    void tie_client(std::int64_t t, std::vector<Timed>& out);

    const Scenario& base_;
    const SweepConfig& config_;
    Prng prng_;
    Prng readers_prng_;  // readers (a stream of their own: see readers())
    std::set<FaultKind> on_;
    std::set<int> keep_up_;     // servers this generator must not crash (time clients' targets)
    bool convergent_;           // the conflict rule of the run (the base's, or drawn)
    std::vector<Timed> model_;  // times set by the run
    std::vector<std::int64_t> down_until_;
    std::map<std::pair<int, int>, std::int64_t> link_busy_until_;
    int hostile_ = 0;  // hostile clients so far
    int units_ = 0;    // units so far: faults with their undo, time clients
    BaseFaults base_faults_;
};

}  // namespace herd::sim::sweep_detail
