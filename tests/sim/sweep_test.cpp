// Sweep generation and shrinking (sim/sweep.hpp), on the plain build: runs are ordinary
// scenarios, drawn from the seed alone, and a failure shrinks to what makes it fail.
#include "sim/sweep.hpp"

#include <gtest/gtest.h>

#include <map>

#include "sim/fault_timeline.hpp"
#include "sim/scenario_doc.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace herd::sim {
namespace {

const std::string base =
    "herd fall2017\nlatency uniform(1ms,5ms)\nat 100ms workload clients=20 rate=20/s for=3s\n";

Scenario parsed(const std::string& text) {
    auto r = parse_scenario(text, "t.scn");
    if (const Error* e = error_of(r)) {
        ADD_FAILURE() << e->message;
        return Scenario{};
    }
    return std::get<Scenario>(r);
}

// The statements of a scenario text (not its comments or blank lines), in file order.
std::vector<Statement> statements(const std::string& text) {
    std::vector<Statement> out;
    auto doc = parse_document(text, "t.scn");
    if (const Error* e = error_of(doc)) ADD_FAILURE() << e->message;
    if (!std::holds_alternative<ScenarioDoc>(doc)) return out;
    for (const DocLine& l : std::get<ScenarioDoc>(doc).lines) {
        if (!std::holds_alternative<std::monostate>(l.statement)) out.push_back(l.statement);
    }
    return out;
}

// The statements of `run` that are not the base's (each base statement taken once), in order,
// one canonical line each.
std::string generated_part(const std::string& run, const std::string& own) {
    std::vector<Statement> left = statements(own);
    std::string out;
    for (const Statement& s : statements(run)) {
        const auto it = std::find(left.begin(), left.end(), s);
        if (it != left.end())
            left.erase(it);
        else
            out += format_statement(s) + "\n";
    }
    return out;
}

TEST(Sweep, ARunIsTheBaseThenFaultsDrawnFromTheSeedAlone) {
    const Scenario sc = parsed(base);
    const std::string a = generate_run(base, sc, 7, SweepConfig{});
    // The base's statements stay, unchanged and in their order.
    const std::vector<Statement> run_statements = statements(a);
    auto at = run_statements.begin();
    for (const Statement& s : statements(base)) {
        at = std::find(at, run_statements.end(), s);
        ASSERT_NE(at, run_statements.end()) << format_statement(s) << "\n" << a;
    }
    EXPECT_EQ(format_document(std::get<ScenarioDoc>(parse_document(a, "a.scn"))), a);  // canonical
    EXPECT_EQ(generate_run(base, sc, 7, SweepConfig{}), a);
    EXPECT_NE(generate_run(base, sc, 8, SweepConfig{}), a);
    const Scenario run = parsed(a);  // an ordinary scenario
    EXPECT_GT(run.steps.size(), sc.steps.size() + 2);
    // The final check, then what the conflict rule says the herd must hold (time clients).
    const std::size_t check = a.find("at 20200ms expect converged\n");
    ASSERT_NE(check, std::string::npos) << a;
    for (std::size_t at_line = check; at_line < a.size(); at_line = a.find('\n', at_line) + 1)
        EXPECT_EQ(a.compare(at_line, 18, "at 20200ms expect "), 0) << a.substr(at_line);
}

TEST(Sweep, OnlyTheFaultsAskedFor) {
    const Scenario sc = parsed(base);
    SweepConfig config;
    config.faults = *parse_fault_kinds("cut");
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        const std::string run = generate_run(base, sc, seed, config);
        EXPECT_NE(run.find(" cut "), std::string::npos);
        for (const char* other : {"partition", "crash", "clock ", "places fail", "latency Alford"})
            EXPECT_EQ(run.find(other), std::string::npos) << other << "\n" << run;
    }
    EXPECT_FALSE(parse_fault_kinds("cut,bogus").has_value());
    EXPECT_EQ(parse_fault_kinds("all")->size(), 9u);
    // The faults only deadlines can detect: silent links and paused servers.
    config.faults = *parse_fault_kinds("silence,pause");
    bool silence = false, pause = false;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        const std::string run = generate_run(base, sc, seed, config);
        silence = silence || run.find(" silence ") != std::string::npos;
        pause = pause || run.find(" pause ") != std::string::npos;
        EXPECT_EQ(run.find(" cut "), std::string::npos);
        const Scenario parsed_run = parsed(run);
        EXPECT_GT(parsed_run.steps.size(), sc.steps.size());
    }
    EXPECT_TRUE(silence);
    EXPECT_TRUE(pause);
    // Clocks that move and hostile clients: every run parses, and each kind shows up.
    config.faults = *parse_fault_kinds("clock,clients");
    bool jump = false, drift = false, long_id = false, burst = false, times = false;
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        const std::string run = generate_run(base, sc, seed, config);
        jump = jump || run.find(" jump ") != std::string::npos;
        drift = drift || run.find(" drift ") != std::string::npos;
        const std::size_t id = run.find("IAMAT sweep-h");
        long_id = long_id || (id != std::string::npos && run.find(' ', id + 6) > id + 60'000);
        burst = burst || run.find(" prefix=sweep-h") != std::string::npos;
        // A time client: its own times (not {now}) and the position the final check expects.
        times = times || run.find(" expect Alford has sweep-h") != std::string::npos ||
                run.find(" expect Ball has sweep-h") != std::string::npos;
        EXPECT_GT(parsed(run).steps.size(), sc.steps.size());
    }
    EXPECT_TRUE(jump && drift && long_id && burst && times);
}

TEST(Sweep, AVariedTopologyKeepsTheBasesServersAndLinksAndStillConverges) {
    const Scenario sc = parsed(base);
    SweepConfig config;
    config.vary_topology = true;
    int varied = 0;
    for (std::uint64_t seed = 1; seed <= 60; ++seed) {
        const std::string text = generate_run(base, sc, seed, config);
        const Scenario run = parsed(text);
        if (run.herd.links.size() == sc.herd.links.size()) continue;
        varied += 1;
        EXPECT_GE(run.herd.servers.size(), sc.herd.servers.size());
        for (const auto& [a, b] : sc.herd.links) {
            const int x =
                run.herd.index_of(sc.herd.servers[static_cast<std::size_t>(a)].name.str());
            const int y =
                run.herd.index_of(sc.herd.servers[static_cast<std::size_t>(b)].name.str());
            EXPECT_TRUE(run.herd.linked(x, y)) << text;
        }
        const RunOutcome o = run_scenario_text(text, "varied.scn");
        EXPECT_FALSE(o.failed) << o.what << "\n" << text;
    }
    EXPECT_GT(varied, 15);
    EXPECT_LT(varied, 45);
}

TEST(Sweep, EachSeedTurnsOnItsOwnMixOfFaultKindsAndSettings) {
    // Swarm testing: over 40 seeds with every kind allowed, a kind is on in some runs and off
    // in others, and the herd's own settings (the conflict rule, flood batching) vary too.
    const Scenario sc = parsed(base);
    std::map<std::string, int> runs_with;
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        const std::string run = generate_run(base, sc, seed, SweepConfig{});
        for (const char* what : {" partition ", " crash ", " silence ", "tiebreak convergent",
                                 "peer flood-batch", " jump "})
            runs_with[what] += run.find(what) != std::string::npos;
    }
    for (const auto& [what, n] : runs_with) {
        EXPECT_GT(n, 0) << what;
        EXPECT_LT(n, 40) << what;
    }
}

TEST(Sweep, GeneratedFaultsLeaveTheBasesOwnAlone) {
    // The base partitions (so no generated partition, whose heal would end it), cuts s3-s4 (so
    // no generated cut or silence there), and heals at 30 s: the check comes 15 s after that.
    const std::string own =
        "herd line 4\nuntil 40s\n"
        "at 0s partition s1 s2 | s3 s4\n"
        "at 1s cut s3 s4\n"
        "at 100ms workload clients=5 rate=20/s for=2s\n"
        "at 30s heal\n";
    const Scenario sc = parsed(own);
    SweepConfig config;
    config.faults = *parse_fault_kinds("partition,cut,crash,silence,pause,clock,latency,places");
    for (std::uint64_t seed = 1; seed <= 30; ++seed) {
        const std::string run = generate_run(own, sc, seed, config);
        const std::string generated = generated_part(run, own);
        EXPECT_EQ(generated.find(" partition "), std::string::npos) << run;
        for (const char* mine : {"cut s3 s4", "silence s3 s4", "silence s4 s3", "restore s3 s4"})
            EXPECT_EQ(generated.find(mine), std::string::npos) << run;
        EXPECT_EQ(run.find("until 40s"), std::string::npos);  // replaced, later
        EXPECT_TRUE(run.ends_with("at 45s    expect converged\nuntil 45s\n")) << run;
        EXPECT_FALSE(run_scenario_text(run, "run.scn").failed) << run;
    }
    // A base that leaves its partition in force gets no final check.
    const std::string split = "herd line 4\nat 0s partition s1 s2 | s3 s4\n";
    const std::string run = generate_run(split, parsed(split), 1, SweepConfig{});
    EXPECT_EQ(run.find("expect converged"), std::string::npos) << run;
    EXPECT_NE(run.find("# no final check"), std::string::npos);
}

TEST(Sweep, ShrinkingKeepsTheBasesStatementsUnlessTheBaseAloneFails) {
    // The base passes; a generated heal ends its partition early. Dropping the base's partition
    // would fail the same way, but that would be a failure of a base cut short: it stays.
    const std::string base =
        "herd line 3\n"
        "at 0s partition s1 | s2 s3\n"
        "at 100ms send s1 IAMAT k +1.0+1.0 {now}\n"
        "at 10s expect s3 lacks k\n"
        "at 30s heal\n";
    const std::string run =
        base + "\n# generated\nat 2s cut s2 s3\nat 3s restore s2 s3\nat 5s heal\n";
    const RunOutcome o = run_scenario_text(run, "r.scn");
    ASSERT_TRUE(o.failed);
    EXPECT_FALSE(run_scenario_text(base, "b.scn").failed);
    // In time order, as a replay with --strict asks.
    EXPECT_EQ(shrink_failure(run, "r.scn", o, nullptr, base),
              "herd line 3\n"
              "at 0s     partition s1 | s2 s3\n"
              "at 100ms  send s1 IAMAT k +1.0+1.0 {now}\n"
              "at 5s     heal\n"
              "at 10s    expect s3 lacks k\n"
              "at 30s    heal\n");
}

TEST(Sweep, WhatASweepWritesReplaysWithoutAWarning) {
    // A base whose timeline runs past the generated phase, and a base that fails: its runs and
    // their shrunk forms are in time order, and parse without a warning (--strict's test).
    const std::string late =
        "herd line 4\nlatency uniform(1ms,5ms)\n"
        "at 100ms workload clients=5 rate=20/s for=2s\n"
        "# a comment that stays with the base's next statement\n"
        "at 1500ms send s1 IAMAT k +1.0+1.0 {now}\n"
        "at 3s expect s1 has k at +1.0+1.0\n"
        "at 4s expect s4 has k time 1\n"  // fails: the time is not 1
        "at 60s expect converged\n";
    const Scenario sc = parsed(late);
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
        const std::string run = generate_run(late, sc, seed, SweepConfig{});
        const Scenario r = parsed(run);
        EXPECT_TRUE(r.warnings.empty()) << run;
        EXPECT_NE(run.find("# a comment that stays with the base's next statement\nat 1500ms send"),
                  std::string::npos)
            << run;
        const RunOutcome o = run_scenario_text(run, "run.scn");
        ASSERT_TRUE(o.failed);
        const std::string small = shrink_failure(run, "run.scn", o, nullptr, late);
        EXPECT_TRUE(parsed(small).warnings.empty()) << small;
        EXPECT_EQ(run_scenario_text(small, "run.scn").key, o.key) << small;
    }
}

TEST(Sweep, EveryGeneratedRunIsCanonicalAndInTimeOrder) {
    // The shipped sweep bases, every fault kind, 500 seeds each: each run is its own canonical
    // text (a document formatted), reads back to the same document, and parses without a warning.
    for (const char* name : {"sweep_fall2017.scn", "sweep_random30.scn"}) {
        std::ifstream in(std::string(HERD_SOURCE_DIR) + "/scenarios/" + name, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        const Scenario sc = parsed(text.str());
        for (std::uint64_t seed = 1; seed <= 500; ++seed) {
            const std::string run = generate_run(text.str(), sc, seed, SweepConfig{});
            const auto doc = parse_document(run, "run.scn");
            ASSERT_TRUE(std::holds_alternative<ScenarioDoc>(doc)) << name << " seed " << seed;
            ASSERT_EQ(format_document(std::get<ScenarioDoc>(doc)), run) << name << " seed " << seed;
            ASSERT_TRUE(parsed(run).warnings.empty()) << name << " seed " << seed;
        }
    }
}

TEST(Sweep, AFailureShrinksToWhatMakesItFail) {
    const std::string failing =
        "# noise\nherd line 3\nclock s2 offset +1s\n"
        "at 100ms send s1 IAMAT a +1.0+1.0 {now}\n"
        "at 150ms cut s2 s3\nat 160ms restore s2 s3\n"
        "at 200ms workload clients=40 rate=400/s for=1s\n"
        "at 300ms expect s3 lacks a\n"  // fails: s3 has a by then
        "at 2s expect converged\n";
    const RunOutcome o = run_scenario_text(failing, "f.scn");
    ASSERT_TRUE(o.failed);
    EXPECT_EQ(o.signature, "expect s3 lacks a (found: a record)");
    std::size_t runs = 0;
    const std::string small = shrink_failure(failing, "f.scn", o, &runs);
    // Times rounded down as far as the failure allows: the send to 0 s, the expectation not.
    EXPECT_EQ(small,
              "herd line 3\n"
              "at 0s     send s1 IAMAT a +1.0+1.0 {now}\n"
              "at 300ms  expect s3 lacks a\n");
    EXPECT_GT(runs, 0u);
}

TEST(Sweep, AClientTimeShrinksToItsRank) {
    // The expectation is wrong on purpose (it names an older position): the run fails with
    // the newest send alone, however its time is spelled.
    const std::string failing =
        "herd line 3\n"
        "at 300ms  send s1 IAMAT c +10.0+20.0 0007.2500\n"
        "at 400ms  send s2 IAMAT c +11.0+21.0 000000012.5\n"
        "at 5s     expect s3 has c at +10.0+20.0\n";
    const RunOutcome o = run_scenario_text(failing, "t.scn");
    ASSERT_TRUE(o.failed);
    EXPECT_EQ(shrink_failure(failing, "t.scn", o, nullptr),
              "herd line 3\n"
              "at 400ms  send s2 IAMAT c +11.0+21.0 1\n"
              "at 5s     expect s3 has c at +10.0+20.0\n");
}

TEST(Sweep, ClientTimesShrinkOneByOneWhenTheirRanksWouldChangeTheOutcome) {
    // The base's expectations hold only while the times are 7.5 and then 12: ranks would break
    // them, so each time is written more simply on its own where that changes no outcome.
    const std::string base =
        "herd line 2\n"
        "at 350ms  expect s2 has c time 7.5\n"
        "at 5s     expect s2 has c time 12\n";
    const std::string failing = base +
                                "at 300ms  send s2 IAMAT c +11.0+21.0 007.50\n"
                                "at 400ms  send s1 IAMAT c +10.0+20.0 0012.000\n"
                                "at 6s     expect s2 lacks c\n";
    const RunOutcome o = run_scenario_text(failing, "t.scn");
    ASSERT_TRUE(o.failed);
    EXPECT_EQ(o.signature, "expect s2 lacks c (found: a record)");
    const std::string small = shrink_failure(failing, "t.scn", o, nullptr, base);
    EXPECT_NE(small.find("IAMAT c +11.0+21.0 7.5\n"), std::string::npos) << small;
    EXPECT_NE(small.find("IAMAT c +10.0+20.0 12\n"), std::string::npos) << small;
    EXPECT_EQ(run_scenario_text(small, "t.scn").key, o.key);
}

// The statement on file line `number` (1-based) of a run's document.
const AtLine* line_at(const std::vector<DocLine>& lines, int number) {
    if (number < 1 || static_cast<std::size_t>(number) > lines.size()) return nullptr;
    return std::get_if<AtLine>(&lines[static_cast<std::size_t>(number - 1)].statement);
}

TEST(Sweep, TheGeneratorNamesTheLinesThatGoTogether) {
    // Each fault with its own undo (even where another undo of the same kind comes between),
    // each time client's sends with the expectation of its newest position.
    std::ifstream in(std::string(HERD_SOURCE_DIR) + "/scenarios/sweep_fall2017.scn",
                     std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    const Scenario sc = parsed(text.str());
    std::size_t windows = 0, clients = 0;
    std::size_t nested = 0;  // windows that file order would have paired wrong
    for (std::uint64_t seed = 1; seed <= 300; ++seed) {
        const GeneratedRun run = generate(text.str(), sc, seed, SweepConfig{});
        EXPECT_EQ(run.text, generate_run(text.str(), sc, seed, SweepConfig{}));
        const auto doc = parse_document(run.text, "run.scn");
        ASSERT_TRUE(std::holds_alternative<ScenarioDoc>(doc));
        const auto& lines = std::get<ScenarioDoc>(doc).lines;
        std::set<int> seen;
        for (const std::vector<int>& unit : run.units) {
            for (int number : unit) {
                ASSERT_NE(line_at(lines, number), nullptr) << run.text;
                EXPECT_TRUE(seen.insert(number).second) << "seed " << seed;
            }
            const AtLine* first = line_at(lines, unit.front());
            const AtLine* last = line_at(lines, unit.back());
            if (const auto undo = undo_of(first->what)) {
                ASSERT_EQ(unit.size(), 2u);
                EXPECT_EQ(*undo, last->what) << "seed " << seed << " line " << unit.front();
                EXPECT_LT(first->at.value.ns, last->at.value.ns);
                for (int k = unit.front() + 1; k < unit.back(); ++k)
                    nested += line_at(lines, k) != nullptr && line_at(lines, k)->what == *undo;
                windows += 1;
                continue;
            }
            // A time client: its sends, then the expectation the final check makes of it.
            ASSERT_GE(unit.size(), 2u);
            const auto* expect = std::get_if<ExpectLine>(&last->what);
            ASSERT_NE(expect, nullptr) << "seed " << seed;
            for (std::size_t k = 0; k + 1 < unit.size(); ++k) {
                const auto* send = std::get_if<SendLine>(&line_at(lines, unit[k])->what);
                ASSERT_NE(send, nullptr) << "seed " << seed;
                EXPECT_EQ(send->line.rfind("IAMAT " + expect->client + " ", 0), 0u);
            }
            clients += 1;
        }
    }
    EXPECT_GT(windows, 300u);
    EXPECT_GT(clients, 10u);
    EXPECT_GT(nested, 0u);  // the case the identities are for does come up
}

TEST(Sweep, ReadersComeOnlyWhereTheBaseDoesNotJudgeSessionsItself) {
    // Readers' sessions would count against a base's own `expect sessions`.
    const Scenario plain = parsed(base);
    const std::string judging = base + "at 20s expect sessions monotonic-reads at most 0\n";
    const Scenario judged = parsed(judging);
    std::size_t with_readers = 0;
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        with_readers += generate_run(base, plain, seed, SweepConfig{}).find(" reads=100/s ") !=
                        std::string::npos;
        EXPECT_EQ(generate_run(judging, judged, seed, SweepConfig{}).find(" reads="),
                  std::string::npos)
            << "seed " << seed;
    }
    EXPECT_GT(with_readers, 0u);
}

TEST(Sweep, TheShrinkerEditsTheParsersStatements) {
    // Tabs between fields, a trailing comment, and a `peer` setting (which has a default, so it
    // may go): the shrinker edits the statements the parser read, and writes them canonical.
    const std::string failing =
        "herd line 3\npeer flood-batch 30ms\n"
        "at\t150ms\tcut s2 s3  # a fault and its undo, which go together\n"
        "at 160ms\trestore s2 s3\n"
        "at\t100ms send s1 IAMAT a +1.0+1.0 {now}\n"
        "at 300ms expect s3 lacks a\n";
    const RunOutcome o = run_scenario_text(failing, "tabs.scn");
    ASSERT_TRUE(o.failed);
    EXPECT_EQ(shrink_failure(failing, "tabs.scn", o, nullptr),
              "herd line 3\n"
              "at 0s     send s1 IAMAT a +1.0+1.0 {now}\n"
              "at 300ms  expect s3 lacks a\n");
}

TEST(Sweep, AFailureIsKeyedByItsKindNotByItsWords) {
    // Each way an expectation can fail, and the kind the checker gives it: what shrinking
    // compares (the words of `found`, with names and values, are for people only).
    const std::string send = "at 0s send s1 IAMAT k +1.0+1.0 {now}\n";
    const std::pair<std::string, Found> cases[] = {
        {"at 0s expect s2 has k at +1.0+1.0\n", Found::no_record},
        {send + "at 1s crash s2\nat 2s expect s2 has k at +1.0+1.0\n", Found::server_down},
        {"at 0s expect reply s1 \"*\"\n", Found::no_send_yet},
        {send + "at 1s expect s2 has k at +2.0+2.0\n", Found::other_position},
        {send + "at 1s expect s2 has k time 5\n", Found::other_time},
        {send + "at 1s expect s2 lacks k\n", Found::a_record},
        {send + "at 1s expect reply s1 \"nothing like it\"\n", Found::other_reply},
        {"at 0s cut s1 s2\n" + send + "at 1s expect converged\n", Found::server_lacks},
    };
    for (const auto& [timeline, kind] : cases) {
        const RunOutcome o = run_scenario_text("herd line 2\n" + timeline, "k.scn");
        ASSERT_TRUE(o.failed) << timeline;
        EXPECT_EQ(o.key.kind, FailureKey::Kind::expectation) << timeline;
        EXPECT_EQ(o.key.found, kind) << timeline << o.what;
        EXPECT_EQ(o.signature, describe(o.key));
    }
    // Same statement, same kind, other words (another client's record found): the same key.
    const RunOutcome a = run_scenario_text(
        "herd line 2\nat 0s send s1 IAMAT k +1.0+1.0 {now}\nat 1s expect s2 has k at +2.0+2.0\n",
        "a.scn");
    const RunOutcome b = run_scenario_text(
        "herd line 2\nat 0s send s1 IAMAT k +3.0+3.0 {now}\nat 1s expect s2 has k at +2.0+2.0\n",
        "b.scn");
    EXPECT_NE(a.what, b.what);
    EXPECT_EQ(a.key, b.key);
}

}  // namespace
}  // namespace herd::sim
