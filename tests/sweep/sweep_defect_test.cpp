// Sweeps find bugs: each deliberate defect of core/defects.hpp is switched on in turn, a bounded
// sweep over a base scenario must find a failing seed, and the failure must shrink to a scenario
// of a handful of timeline statements that still fails the same way with the defect, and passes
// without it.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <utility>
#include <vector>

#include "core/defects.hpp"
#include "sim/sweep.hpp"

namespace herd::sim {
namespace {

std::string base_text() {
    std::ifstream in(std::string(HERD_SOURCE_DIR) + "/scenarios/sweep_fall2017.scn");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

struct Found {
    std::uint64_t seed = 0;
    std::string text;
    RunOutcome outcome;
    std::vector<std::vector<int>> units;  // the generator's
};

std::optional<Found> first_failure(std::uint64_t seeds, const SweepConfig& config,
                                   const std::string& text = base_text()) {
    auto parsed = parse_scenario(text, "sweep_fall2017.scn");
    if (const Error* e = error_of(parsed)) {
        // A base that does not parse is a failure of the test, never "no seed failed".
        ADD_FAILURE() << e->message;
        return Found{0, text, run_scenario_text(text, "sweep_fall2017.scn")};
    }
    for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
        GeneratedRun run = generate(text, std::get<Scenario>(parsed), seed, config);
        RunOutcome o = run_scenario_text(run.text, "run.scn");
        if (o.failed) return Found{seed, std::move(run.text), o, std::move(run.units)};
    }
    return std::nullopt;
}

class DefectOn {
  public:
    explicit DefectOn(Defect d) { active_defect() = d; }
    ~DefectOn() { active_defect() = Defect::none; }
};

void expect_found_and_shrunk(Defect defect, const SweepConfig& config,
                             const std::string& base = base_text(),
                             std::size_t shrunk_statements_max = 6) {
    std::string shrunk;
    RunOutcome found_outcome;
    {
        DefectOn on(defect);
        const auto found = first_failure(300, config, base);
        ASSERT_TRUE(found.has_value()) << "no seed of 300 found the defect";
        std::size_t runs = 0;
        shrunk = shrink_failure(found->text, "min.scn", found->outcome, &runs, base, found->units);
        const RunOutcome small = run_scenario_text(shrunk, "min.scn");
        EXPECT_TRUE(small.failed);
        EXPECT_EQ(small.key, found->outcome.key);
        EXPECT_LE(small.timeline, shrunk_statements_max) << shrunk;
        EXPECT_LT(small.timeline, found->outcome.timeline);
        // Deterministic: the same failure shrinks to the same file.
        EXPECT_EQ(
            shrink_failure(found->text, "min.scn", found->outcome, nullptr, base, found->units),
            shrunk);
        found_outcome = found->outcome;
        std::cout << "seed " << found->seed << " of 300 fails: " << found->outcome.what << "\n"
                  << "shrunk from " << found->outcome.timeline << " to " << small.timeline
                  << " timeline statements in " << runs << " runs:\n"
                  << shrunk;
    }
    // The shrunk scenario shows the defect, not a flaw of the herd: without it, it passes.
    const RunOutcome fixed = run_scenario_text(shrunk, "min.scn");
    EXPECT_FALSE(fixed.failed) << fixed.what << "\n" << shrunk;
}

TEST(SweepFindsDefects, AntiEntropySkippedAfterARestart) {
    expect_found_and_shrunk(Defect::sync_skipped_when_empty, SweepConfig{});
}

TEST(SweepFindsDefects, AFloodNotRelayedOnOneLink) {
    expect_found_and_shrunk(Defect::relay_skips_first_neighbour, SweepConfig{});
}

TEST(SweepFindsDefects, ASkewCountedTwiceWhenTheServerIsBehind) {
    // Only the clock faults can show it: a server behind the clients' time.
    SweepConfig config;
    config.faults = {FaultKind::clock};
    expect_found_and_shrunk(Defect::skew_doubled_when_behind, config);
}

TEST(SweepFindsDefects, TwoServersResolvingATieDifferently) {
    // Only hostile clients make ties, and only under the convergent rule.
    SweepConfig config;
    config.faults = {FaultKind::clients};
    expect_found_and_shrunk(Defect::tie_rule_ignored_on_some_servers, config,
                            base_text() + "tiebreak convergent\n");
}

TEST(SweepFindsDefects, ABrokenInvariantIsAFailureToShrinkNotTheEndOfTheSweep) {
    // The defect makes a Node stop on a failed assertion (a bug a hostile tester found, which
    // aborted whole sweeps): the sweep reports it with its seed and shrinks it like any other.
    // It takes two neighbours relinking while their redials wait, so more statements stay.
    expect_found_and_shrunk(Defect::timer_bound_forgets_flushes, SweepConfig{},
                            base_text() + "peer flood-batch 30ms\n", 12);
    DefectOn on(Defect::timer_bound_forgets_flushes);
    const auto found = first_failure(300, SweepConfig{}, base_text() + "peer flood-batch 30ms\n");
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->outcome.signature.rfind("assertion failed: timers_.size() <=", 0), 0u)
        << found->outcome.signature;
}

TEST(SweepFindsDefects, TimesComparedAsTextWhereTheirLengthsAreEqual) {
    // Only time clients show it. The shrunk file keeps times the defect misorders (ranks 1, 2
    // and 3 compare right as text), and passes without it: no simpler spelling turned the older
    // time into the newer.
    SweepConfig config;
    config.faults = {FaultKind::clients};
    expect_found_and_shrunk(Defect::time_text_fast_path, config);
}

TEST(SweepFindsDefects, AClientTimeWithALeadingZeroRefused) {
    SweepConfig config;
    config.faults = {FaultKind::clients};
    expect_found_and_shrunk(Defect::leading_zero_refused, config);
}

TEST(SweepFindsDefects, AReadAnsweredWithAnotherClientsRecord) {
    // Only a client's history shows it: the stores are right, and so is every invariant. The
    // generated readers' sessions find it through `expect sessions impossible-read at most 0`.
    SweepConfig config;
    config.faults = {FaultKind::clients};
    expect_found_and_shrunk(Defect::whatsat_lookup_lower_bound, config);
}

TEST(SweepFindsDefects, ReadsThatGoBackInTimeAtOneServer) {
    // A reply cache refreshed before the conflict rule: a peer's older record, refused by the
    // store, still answers the next WHATSAT. Generated readers whose sessions stay at one
    // server (no fault restarts one) find it through `expect sessions monotonic-reads at most 0`.
    SweepConfig config;
    config.faults = {FaultKind::clients, FaultKind::silence, FaultKind::cut};
    // An older record must arrive after a newer one, which takes links dropping in an order.
    expect_found_and_shrunk(Defect::whatsat_cache_refreshed_before_conflict_rule, config,
                            base_text(), 10);
}

TEST(SweepFindsDefects, TheCheckerReportsADoubledSkew) {
    // The invariant checker at work: a server whose clock is behind the client's doubles the
    // skew it stamps; the checker names the broken invariant (a run without the defect passes).
    const std::string text =
        "herd line 2\nclock s1 offset -2s\nat 0s send s1 IAMAT k +1.0+1.0 {now}\n"
        "at 1s expect converged\n";
    EXPECT_FALSE(run_scenario_text(text, "skew.scn").failed);
    DefectOn on(Defect::skew_doubled_when_behind);
    const RunOutcome o = run_scenario_text(text, "skew.scn");
    ASSERT_TRUE(o.failed);
    EXPECT_EQ(o.key.kind, FailureKey::Kind::invariant) << o.what;
    EXPECT_EQ(o.key.broken, Broken::skew_not_clock) << o.what;
}

TEST(SweepFindsDefects, WithoutADefectTheSameSeedsPass) {
    EXPECT_FALSE(first_failure(300, SweepConfig{}).has_value());
    EXPECT_FALSE(first_failure(100, SweepConfig{}, base_text() + "tiebreak convergent\n"));
    EXPECT_FALSE(first_failure(100, SweepConfig{}, base_text() + "peer flood-batch 30ms\n"));
}

}  // namespace
}  // namespace herd::sim
