// The scenario grammar of design §6: what parses, and the exact `file:line:` error otherwise.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/herd_file.hpp"
#include "sim/scenario.hpp"

namespace herd::sim {
namespace {

Scenario parse_ok(const std::string& text) {
    auto r = parse_scenario(text, "t.scn");
    if (auto* e = std::get_if<Error>(&r)) ADD_FAILURE() << e->message;
    return std::holds_alternative<Scenario>(r) ? std::get<Scenario>(r) : Scenario{};
}

std::string error_of(const std::string& text) {
    auto r = parse_scenario(text, "t.scn");
    if (auto* e = std::get_if<Error>(&r)) return e->message;
    return "(parsed)";
}

TEST(ScenarioParse, Fall2017PresetAndSettings) {
    Scenario s = parse_ok(
        "herd fall2017   # the five servers\n"
        "seed 42\n"
        "epoch 1500000000.25\n"
        "latency uniform(1ms,5ms)\n"
        "latency Alford Hamilton 20ms\n"
        "client latency 2ms\n"
        "places latency 50ms\n"
        "places fail 0.1\n"
        "clock Welsh offset -2s\n"
        "tiebreak convergent\n"
        "processing normal(40us,10us)\n");
    EXPECT_EQ(s.processing.describe(), "normal(40us,10us)");
    EXPECT_EQ(s.herd.servers.size(), 5u);
    EXPECT_EQ(s.herd.links.size(), 5u);
    EXPECT_EQ(s.seed, 42u);
    EXPECT_EQ(s.epoch, (Timestamp{1500000000, 250000000}));
    EXPECT_EQ(s.latency.describe(), "uniform(1ms,5ms)");
    EXPECT_EQ(s.latency_of(0, 2).describe(), "20ms");  // Alford-Hamilton
    EXPECT_EQ(s.latency_of(2, 0).describe(), "20ms");
    EXPECT_EQ(s.client_latency.describe(), "2ms");
    EXPECT_EQ(s.places_fail_ppm, 100000u);
    EXPECT_EQ(s.clock_offset.at(4), Duration::seconds(-2));
    EXPECT_EQ(s.tie_break, TieBreak::convergent);
}

TEST(ScenarioParse, DefaultsAreTheDesignsDefaults) {
    Scenario s = parse_ok("herd fall2017\n");
    EXPECT_EQ(s.seed, 1u);
    EXPECT_EQ(s.epoch, (Timestamp{1479413884, 0}));
    EXPECT_EQ(s.latency.describe(), "1ms");
    EXPECT_EQ(s.client_latency.describe(), "0ns");
    EXPECT_EQ(s.tie_break, TieBreak::first);
}

TEST(ScenarioParse, GeneratedPresets) {
    EXPECT_EQ(parse_ok("herd line 4\n").herd.links,
              (std::vector<std::pair<int, int>>{{0, 1}, {1, 2}, {2, 3}}));
    EXPECT_EQ(parse_ok("herd ring 4\n").herd.links,
              (std::vector<std::pair<int, int>>{{0, 1}, {0, 3}, {1, 2}, {2, 3}}));
    // 2x3 grid, row-major: s1 s2 s3 / s4 s5 s6, links right and down.
    EXPECT_EQ(
        parse_ok("herd grid 2x3\n").herd.links,
        (std::vector<std::pair<int, int>>{{0, 1}, {0, 3}, {1, 2}, {1, 4}, {2, 5}, {3, 4}, {4, 5}}));
    Scenario r = parse_ok("herd random 50 4\nseed 9\n");
    EXPECT_EQ(r.herd.servers.size(), 50u);
    EXPECT_EQ(r.herd.servers[49].name.str(), "s50");
    EXPECT_EQ(r.herd.links.size(), 100u);
}

TEST(ScenarioParse, RandomHerdFollowsTheSeedAndTheOverride) {
    auto a = std::get<Scenario>(parse_scenario("herd random 30 3\nseed 1\n", "t"));
    auto b = std::get<Scenario>(parse_scenario("seed 2\nherd random 30 3\n", "t"));
    auto c = std::get<Scenario>(parse_scenario("herd random 30 3\nseed 2\n", "t", 1));
    EXPECT_NE(a.herd.links, b.herd.links);
    EXPECT_EQ(a.herd.links, c.herd.links);
    EXPECT_EQ(c.seed, 1u);
}

TEST(ScenarioParse, RandomHerdIsConnected) {
    auto s = std::get<Scenario>(parse_scenario("herd random 200 2\n", "t"));
    std::vector<int> group(200);
    for (int i = 0; i < 200; ++i)
        group[static_cast<std::size_t>(i)] = i;
    auto find = [&](int x) {
        while (group[static_cast<std::size_t>(x)] != x)
            x = group[static_cast<std::size_t>(x)];
        return x;
    };
    for (auto [a, b] : s.herd.links)
        group[static_cast<std::size_t>(find(a))] = find(b);
    for (int i = 0; i < 200; ++i)
        EXPECT_EQ(find(i), find(0));
}

TEST(ScenarioParse, InlineHerdWithAndWithoutAddresses) {
    Scenario s = parse_ok("server a 127.0.0.1:9000\nserver b\nlink a b\n");
    EXPECT_EQ(s.herd.servers[0].port, 9000);
    EXPECT_EQ(s.herd.servers[1].port, 0);
    EXPECT_TRUE(s.herd.linked(0, 1));
}

TEST(ScenarioParse, TimelineIsOrderedByTimeThenFileOrder) {
    Scenario s = parse_ok(
        "herd fall2017\n"
        "at 2s heal\n"
        "at 1s crash Welsh\n"
        "at 2s restart Welsh\n"
        "at 0ms cut Ball Welsh\n");
    ASSERT_EQ(s.steps.size(), 4u);
    EXPECT_EQ(s.steps[0].line, 5);
    EXPECT_EQ(s.steps[1].line, 3);
    EXPECT_EQ(s.steps[2].line, 2);
    EXPECT_EQ(s.steps[3].line, 4);
}

TEST(ScenarioParse, SendKeepsTheRestOfTheLineVerbatimHashesIncluded) {
    Scenario s =
        parse_ok("herd fall2017\nat 0ms send Alford IAMAT #kiwi +1.0+1.0 {now}  # not a comment\n");
    const auto& send = std::get<SendStep>(s.steps[0].action);
    EXPECT_EQ(send.server, 0);
    EXPECT_EQ(send.line, "IAMAT #kiwi +1.0+1.0 {now}  # not a comment");
}

TEST(ScenarioParse, PartitionGroupsAndTheRestGroup) {
    Scenario s = parse_ok(
        "herd fall2017\nat 1s partition Alford Hamilton | Ball\nat 2s partition Welsh | *\n");
    const auto& p = std::get<PartitionStep>(s.steps[0].action);
    EXPECT_EQ(p.groups, (std::vector<std::vector<int>>{{0, 2}, {1}}));
    const auto& q = std::get<PartitionStep>(s.steps[1].action);
    EXPECT_EQ(q.groups, (std::vector<std::vector<int>>{{4}, {0, 1, 2, 3}}));
}

TEST(ScenarioParse, ExpectationsOfEveryKind) {
    Scenario s = parse_ok(
        "herd fall2017\n"
        "at 2s expect converged\n"
        "at 2s expect Welsh has kiwi at +34.068930-118.445127\n"
        "at 2s expect Welsh has kiwi time 1479413884.000000000\n"
        "at 2s expect Ball lacks ghost.example\n"
        "at 2s expect reply Alford \"AT Alford +0.000000000 kiwi # *\\n\"  # a comment after the "
        "glob\n");
    ASSERT_EQ(s.steps.size(), 5u);
    EXPECT_TRUE(std::holds_alternative<ExpectConverged>(s.steps[0].action));
    EXPECT_EQ(std::get<ExpectHasAt>(s.steps[1].action).latlon, "+34.068930-118.445127");
    EXPECT_EQ(std::get<ExpectHasTime>(s.steps[2].action).time, (Timestamp{1479413884, 0}));
    EXPECT_EQ(std::get<ExpectLacks>(s.steps[3].action).client, "ghost.example");
    const auto& reply = std::get<ExpectReply>(s.steps[4].action);
    EXPECT_TRUE(reply.glob.matches("AT Alford +0.000000000 kiwi # x y\n"));
    EXPECT_EQ(s.steps[4].text, "expect reply Alford \"AT Alford +0.000000000 kiwi # *\\n\"");
}

TEST(ScenarioParse, Workload) {
    Scenario s = parse_ok("herd fall2017\nat 500ms workload clients=1000 rate=2000/s for=1s\n");
    const auto& w = std::get<WorkloadStep>(s.steps[0].action);
    EXPECT_EQ(w.clients, 1000u);
    EXPECT_EQ(w.rate_per_s, 2000u);
    EXPECT_EQ(w.length, Duration::seconds(1));
}

TEST(ScenarioErrors, UnknownStatement) {
    EXPECT_EQ(error_of("herd fall2017\nfrobnicate 3\n"), "t.scn:2: unknown statement 'frobnicate'");
    EXPECT_EQ(error_of("herd fall2017\nat 1s dance Alford\n"),
              "t.scn:2: unknown statement 'dance'");
}

TEST(ScenarioErrors, UnknownServer) {
    EXPECT_EQ(error_of("herd fall2017\nat 1s crash Nobody\n"), "t.scn:2: unknown server 'Nobody'");
    EXPECT_EQ(error_of("herd fall2017\n\nat 1s send Nobody IAMAT x\n"),
              "t.scn:3: unknown server 'Nobody'");
    EXPECT_EQ(error_of("herd fall2017\nat 1s expect Nobody lacks x\n"),
              "t.scn:2: unknown server 'Nobody'");
    EXPECT_EQ(error_of("herd fall2017\nclock Nobody offset 1s\n"),
              "t.scn:2: unknown server 'Nobody'");
}

TEST(ScenarioErrors, LinkThatDoesNotExist) {
    EXPECT_EQ(error_of("herd fall2017\nat 1s cut Alford Ball\n"),
              "t.scn:2: no link Alford Ball in this herd");
    EXPECT_EQ(error_of("herd fall2017\nlatency Alford Ball 5ms\n"),
              "t.scn:2: no link Alford Ball in this herd");
    EXPECT_EQ(error_of("herd fall2017\nat 1s restore Ball Hamilton\n"),
              "t.scn:2: no link Ball Hamilton in this herd");
}

TEST(ScenarioErrors, BadDurationAndDistribution) {
    // White space inside a distribution is ignored: `uniform(1ms, 5ms)` and `5 ms` are fine.
    EXPECT_EQ(error_of("herd fall2017\nlatency 5 ms\nclient latency uniform(1ms, 2ms)\n"),
              "(parsed)");
    EXPECT_EQ(error_of("herd fall2017\nlatency 5\n"),
              "t.scn:2: expected a duration or a distribution (5ms, uniform(1ms,5ms), "
              "normal(5ms,1ms), exp(5ms)), got '5'");
    EXPECT_EQ(error_of("herd fall2017\nlatency uniform(5ms,1ms)\n"),
              "t.scn:2: uniform(LOW,HIGH) needs LOW <= HIGH, got 'uniform(5ms,1ms)'");
    EXPECT_EQ(error_of("herd fall2017\nclient latency gauss(1ms)\n"),
              "t.scn:2: expected a duration or a distribution (5ms, uniform(1ms,5ms), "
              "normal(5ms,1ms), exp(5ms)), got 'gauss(1ms)'");
    EXPECT_EQ(error_of("herd fall2017\nclock Welsh offset 2 s\n"),
              "t.scn:2: expected `clock SERVER offset DURATION` or `clock SERVER drift PPM`");
    EXPECT_EQ(error_of("herd fall2017\nclock Welsh offset 2h\n"),
              "t.scn:2: expected a signed duration within 365 days (e.g. -2s, +30ms), got '2h'");
    EXPECT_EQ(error_of("herd fall2017\nat 1s workload clients=5 rate=5/s for=soon\n"),
              "t.scn:2: expected for=DURATION (e.g. for=1s), got 'soon'");
}

TEST(ScenarioErrors, TimeThatIsNotADuration) {
    EXPECT_EQ(
        error_of("herd fall2017\nat 100 heal\n"),
        "t.scn:2: expected a time from 0 to 86400s (a duration such as 150ms or 2s), got '100'");
    EXPECT_EQ(
        error_of("herd fall2017\nat -1s heal\n"),
        "t.scn:2: expected a time from 0 to 86400s (a duration such as 150ms or 2s), got '-1s'");
    EXPECT_EQ(error_of("herd fall2017\nat\n"), "t.scn:2: expected `at TIME STATEMENT`");
}

TEST(ScenarioErrors, BadGlob) {
    EXPECT_EQ(error_of("herd fall2017\nat 1s expect reply Alford \"a\\tb\"\n"),
              "t.scn:2: bad glob: only \\n \\\" \\\\ \\* \\? are escapes, and a quote inside must "
              "be escaped");
    EXPECT_EQ(error_of("herd fall2017\nat 1s expect reply Alford \"open\n"),
              "t.scn:2: expected a closing \" after the glob");
    EXPECT_EQ(error_of("herd fall2017\nat 1s expect reply Alford unquoted\n"),
              "t.scn:2: expected `expect reply SERVER \"GLOB\"`");
}

TEST(ScenarioErrors, HerdProblems) {
    EXPECT_EQ(
        error_of("seed 4\n"),
        "t.scn:1: expected a herd: `herd fall2017`, a generated preset, or server/link lines");
    EXPECT_EQ(error_of("herd fall2016\n"),
              "t.scn:1: expected `herd fall2017`, `herd line N`, `herd ring N`, `herd grid RxC` or "
              "`herd random N DEGREE [seed S]`");
    EXPECT_EQ(error_of("herd fall2017\nherd line 3\n"),
              "t.scn:2: the herd is already given (one `herd` preset, or server/link lines)");
    EXPECT_EQ(error_of("server a\nlink a b\n"),
              "t.scn:2: unknown server 'b' (declare it with `server` first)");
    EXPECT_EQ(error_of("herd grid 3by4\n"),
              "t.scn:1: expected grid dimensions RxC (e.g. 3x4), got '3by4'");
    EXPECT_EQ(error_of("server a 127.0.0.1:99999\n"),
              "t.scn:1: expected an address host:port, got '127.0.0.1:99999'");
}

TEST(ScenarioErrors, OtherMalformedSettings) {
    EXPECT_EQ(error_of("herd fall2017\nseed forty\n"),
              "t.scn:2: expected a seed (a whole number), got 'forty'");
    EXPECT_EQ(error_of("herd fall2017\ntiebreak last\n"),
              "t.scn:2: expected `tiebreak first` or `tiebreak convergent`");
    EXPECT_EQ(error_of("herd fall2017\nplaces fail 1.5\n"),
              "t.scn:2: expected a probability from 0 to 1 in steps of 0.000001, got '1.5'");
    EXPECT_EQ(error_of("herd fall2017\nepoch -5\n"),
              "t.scn:2: expected POSIX seconds (digits[.digits]) up to 9999913599, got '-5'");
    EXPECT_EQ(error_of("herd fall2017\nat 1s partition Alford | Alford\n"),
              "t.scn:2: server 'Alford' is in two groups");
    EXPECT_EQ(error_of("herd fall2017\nat 1s expect Alford has x near +1.0+1.0\n").substr(0, 16),
              "t.scn:2: expecte");
    EXPECT_EQ(error_of("herd fall2017\nat 1s workload clients=0 rate=5/s for=1s\n"),
              "t.scn:2: expected clients=N with N from 1 to 100000000");
}

TEST(ScenarioParse, ClockDriftAndJumps) {
    const Scenario s = parse_ok(
        "herd line 2\nclock s1 drift -250ppm\nclock s1 offset +1s\nat 1s clock s2 jump -3s\n");
    EXPECT_EQ(s.clock_drift_ppm.at(0), -250);
    ASSERT_EQ(s.steps.size(), 1u);
    const auto* jump = std::get_if<ClockJumpStep>(&s.steps[0].action);
    ASSERT_NE(jump, nullptr);
    EXPECT_EQ(jump->server, 1);
    EXPECT_EQ(jump->by.ns, -3'000'000'000);
    EXPECT_EQ(error_of("herd line 2\nclock s1 drift 1001ppm\n"),
              "t.scn:2: expected a signed rate within 1000 ppm (e.g. +50ppm, -200ppm), got "
              "'1001ppm'");
    EXPECT_EQ(error_of("herd line 2\nclock s1 drift 50\n").substr(0, 37),
              "t.scn:2: expected a signed rate withi");
    EXPECT_EQ(error_of("herd line 2\nat 1s clock s1 jump soon\n").substr(0, 35),
              "t.scn:2: expected a signed duration");
    EXPECT_EQ(error_of("herd line 2\nat 1s clock s1 offset 1s\n"),
              "t.scn:2: expected `clock SERVER jump DURATION` (e.g. -1s, +250ms)");
    EXPECT_EQ(
        error_of("herd line 2\nat 1s clock s1 jump -20000000s\nat 2s clock s1 jump -20000000s\n"),
        "t.scn:3: the jumps of s1 add up to more than 365 days");
}

TEST(ScenarioParse, UntilAndWarnings) {
    const Scenario s = parse_ok("herd line 2\nuntil 30s\nat 2s crash s1\nat 1s restart s2\n");
    EXPECT_EQ(s.end().ns, 30'000'000'000);
    EXPECT_EQ(s.warnings, (std::vector<std::string>{
                              "t.scn:4: warning: `at 1s` comes after a statement at 2s (line 3); "
                              "statements run in time order, so this one runs first",
                              "t.scn:4: warning: restart of s2, which is up: it crashes and starts "
                              "again, empty"}));
    EXPECT_EQ(parse_ok("herd line 2\nat 2s heal\n").end().ns, 2'000'000'000);
    EXPECT_TRUE(parse_ok("herd line 2\nat 1s crash s1\nat 2s restart s1\n").warnings.empty());
    EXPECT_EQ(error_of("herd line 2\nuntil 1s\nat 2s heal\n"),
              "t.scn:2: expected `until` no earlier than the last statement, at 2s (line 3)");
    EXPECT_EQ(error_of("herd line 2\nuntil soon\n"),
              "t.scn:2: expected `until TIME`, a time from 0 to 86400s (e.g. 30s)");
}

TEST(ScenarioParse, AWorkloadNamesItsClients) {
    const Scenario s = parse_ok(
        "herd line 2\nat 0s workload clients=2 rate=10/s for=1s\n"
        "at 0s workload clients=2 rate=10/s for=1s prefix=burst-\n");
    EXPECT_EQ(std::get<WorkloadStep>(s.steps[0].action).prefix, "w");
    EXPECT_EQ(std::get<WorkloadStep>(s.steps[1].action).prefix, "burst-");
    EXPECT_EQ(error_of("herd line 2\nat 0s workload clients=2 rate=10/s for=1s prefix=a/b\n"),
              "t.scn:2: expected prefix=NAME, 1 to 32 letters, digits, '-', '_' or '.', got 'a/b'");
}

TEST(ScenarioErrors, FoundByAttackingTheNewGrammar) {
    EXPECT_EQ(error_of("herd line 2\nat 0s workload clients=2 rate=1/s for=1s for=3s\n"),
              "t.scn:2: `for=` is given twice");
    EXPECT_EQ(error_of("herd line 2\nepoch 9999999999.5\n"),
              "t.scn:2: expected POSIX seconds (digits[.digits]) up to 9999913599, got "
              "'9999999999.5'");
    EXPECT_EQ(error_of("herd line 2\nepoch 9999913599\n"), "(parsed)");
    EXPECT_EQ(parse_ok("herd line 2\nat 1s crash s1\nat 2s pause s1 for 1s\n").warnings,
              (std::vector<std::string>{
                  "t.scn:3: warning: pause of s1, which is down since line 2: nothing happens"}));
}

TEST(ScenarioParse, PlacesHangAndTimeout) {
    const Scenario s = parse_ok("herd line 2\nplaces hang 0.25\nplaces timeout 1500ms\n");
    EXPECT_EQ(s.places_hang_ppm, 250'000u);
    EXPECT_EQ(s.places_timeout.ns, 1'500'000'000);
    EXPECT_EQ(parse_ok("herd line 2\n").places_timeout.ns, 4'000'000'000);  // herd serve's
    EXPECT_EQ(error_of("herd line 2\nplaces hang 2\n"),
              "t.scn:2: expected a probability from 0 to 1 in steps of 0.000001, got '2'");
    EXPECT_EQ(error_of("herd line 2\nplaces timeout 50ms\n"),
              "t.scn:2: expected whole milliseconds from 100ms to 60s, got '50ms'");
    EXPECT_EQ(error_of("herd line 2\nplaces hang 0.1\nplaces hang 0.2\n"),
              "t.scn:3: `places hang` is already set at line 2");
}

TEST(ScenarioParse, ProcessingTakesADistribution) {
    EXPECT_TRUE(parse_ok("herd line 2\n").processing.is_zero());
    EXPECT_EQ(error_of("herd line 2\nprocessing\n"), "t.scn:2: expected `processing DIST`");
    EXPECT_EQ(error_of("herd line 2\nprocessing fast\n").substr(0, 44),
              "t.scn:2: expected a duration or a distributi");
}

TEST(ScenarioErrors, EveryTimeDurationAndOffsetHasOneRange) {
    // Found by a generated-scenario sweep: huge times aborted the simulator or ran for ever,
    // 1000000000000ns was refused while the same time in seconds was taken, and out-of-range
    // settings were accepted.
    EXPECT_EQ(error_of("herd line 1\nat 10000000000s heal\n"),
              "t.scn:2: expected a time from 0 to 86400s (a duration such as 150ms or 2s), got "
              "'10000000000s'");
    EXPECT_EQ(error_of("herd line 1\nat 86401s heal\n").substr(0, 30),
              "t.scn:2: expected a time from ");
    EXPECT_EQ(error_of("herd line 1\nat 1000000000000ns heal\n"), "(parsed)");
    EXPECT_EQ(error_of("herd line 1\nat 86400s heal\n"), "(parsed)");
    EXPECT_EQ(error_of("herd line 1\nlatency 10000000000s\n").substr(0, 44),
              "t.scn:2: expected a duration or a distributi");
    EXPECT_EQ(error_of("herd line 1\nlatency 3601s\n").substr(0, 20), "t.scn:2: expected a ");
    EXPECT_EQ(error_of("herd line 1\nlatency 3600s\n"), "(parsed)");
    EXPECT_EQ(error_of("herd line 1\nplaces fail 1.0000001\n"),
              "t.scn:2: expected a probability from 0 to 1 in steps of 0.000001, got '1.0000001'");
    EXPECT_EQ(error_of("herd line 1\nclock s1 offset -999999999999s\n"),
              "t.scn:2: expected a signed duration within 365 days (e.g. -2s, +30ms), got "
              "'-999999999999s'");
    EXPECT_EQ(error_of("herd line 1\nat 1s workload clients=1 rate=1/s for=86401s\n").substr(0, 30),
              "t.scn:2: expected for=DURATION");
    // 63 bits of nanoseconds whatever the unit: no overflow (UBSan found one at 12 digits).
    EXPECT_EQ(error_of("herd line 1\nat 999999999999s heal\n").substr(0, 30),
              "t.scn:2: expected a time from ");
}

TEST(ScenarioErrors, ASettingIsGivenOnceAndLongTokensAreShortenedInErrors) {
    EXPECT_EQ(error_of("herd line 2\nseed 1\nseed 2\n"),
              "t.scn:3: `seed` is already set at line 2");
    EXPECT_EQ(error_of("herd line 2\nplaces fail 0.1\nplaces fail 0.2\n"),
              "t.scn:3: `places fail` is already set at line 2");
    EXPECT_EQ(error_of("herd line 2\nclock s1 offset 1s\nclock s2 offset 1s\nclock s1 offset 2s\n"),
              "t.scn:4: `clock s1` is already set at line 2");
    EXPECT_EQ(error_of("herd line 2\nlatency s1 s2 1ms\nlatency s2 s1 2ms\n"),
              "t.scn:3: `latency s1 s2` is already set at line 2");
    EXPECT_EQ(error_of("herd line 2\ntiebreak first\ntiebreak convergent\n"),
              "t.scn:3: `tiebreak` is already set at line 2");
    const std::string huge(5'000'000, '9');
    const std::string e = error_of("herd line 2\nat " + huge + "x heal\n");
    EXPECT_LT(e.size(), 200u);
    EXPECT_NE(e.find("(5000001 bytes)"), std::string::npos) << e;
}

TEST(ScenarioErrors, SizesAreBounded) {
    // Found by a generated-scenario sweep: a 32 KB glob took seconds to match, 100 000 inline
    // servers took minutes and gigabytes (a linear name lookup per server; now an index, and
    // 100 000 is the bound), megabytes of blank lines hundreds of MB.
    const std::string glob(1025, 'a');
    EXPECT_EQ(error_of("herd line 2\nat 1s expect reply s1 \"" + glob + "\"\n").substr(0, 37),
              "t.scn:2: expected a glob of at most 1");
    std::string many;
    for (int i = 0; i <= 100'000; ++i)
        many += "server s" + std::to_string(i) + "\n";
    EXPECT_EQ(error_of(many), "t.scn:100001: a herd of at most 100000 servers was expected");
    EXPECT_EQ(error_of(std::string(17u << 20, '\n')).substr(0, 48),
              "t.scn:1: a scenario file of at most 16 MiB was e");
    EXPECT_EQ(error_of(std::string(1'000'001, '\n')).substr(0, 50),
              "t.scn:1: a scenario file of at most 1000000 lines ");
}

TEST(ScenarioParse, ARandomHerdCanKeepItsTopologyWhateverTheRunSeed) {
    // Without `seed S` on the herd line, --seed redraws the topology (a file naming one of its
    // links may then not parse); with it, every run seed has the same herd.
    auto links = [](const std::string& text, std::uint64_t run_seed) {
        auto r = parse_scenario(text, "t.scn", run_seed);
        return std::holds_alternative<Scenario>(r) ? std::get<Scenario>(r).herd.links
                                                   : std::vector<std::pair<int, int>>{};
    };
    const std::string fixed = "herd random 30 4 seed 7\n";
    EXPECT_FALSE(links(fixed, 1).empty());
    EXPECT_EQ(links(fixed, 1), links(fixed, 2));
    EXPECT_EQ(links(fixed, 1), links("herd random 30 4\n", 7));
    EXPECT_NE(links("herd random 30 4\n", 1), links("herd random 30 4\n", 2));
    EXPECT_EQ(parse_ok("herd random 30 4 seed 7\n").herd_description, "random 30 4 seed 7");
    EXPECT_EQ(error_of("herd random 30 4 seed x\n"), "t.scn:1: expected a topology seed, got 'x'");
}

TEST(ScenarioParse, PeerDeadlinesHaveRangesAndTheHeartbeatStaysBelowTheSilenceTimeout) {
    const Scenario sc = parse_ok("herd line 2\npeer heartbeat 2s\npeer silence-timeout 10s\n");
    EXPECT_EQ(sc.heartbeat, Duration::seconds(2));
    EXPECT_EQ(sc.silence_timeout, Duration::seconds(10));
    EXPECT_FALSE(parse_ok("herd line 2\n").heartbeat.has_value());
    EXPECT_EQ(error_of("herd line 2\npeer heartbeat 5s\n"),
              "t.scn:2: expected a heartbeat shorter than the silence timeout");
    EXPECT_EQ(error_of("herd line 2\npeer silence-timeout 1.5ms\n"),
              "t.scn:2: expected whole milliseconds from 100ms to 600s, got '1.5ms'");
    EXPECT_EQ(error_of("herd line 2\npeer nap 1s\n"),
              "t.scn:2: expected `peer heartbeat DURATION`, `peer silence-timeout DURATION` or "
              "`peer flood-batch DURATION`");
}

TEST(ScenarioParse, FloodBatchIsFromZeroToTenSecondsAndGivenOnce) {
    EXPECT_EQ(parse_ok("herd line 2\npeer flood-batch 40ms\n").flood_batch,
              Duration::milliseconds(40));
    EXPECT_EQ(parse_ok("herd line 2\n").flood_batch, Duration{});
    EXPECT_EQ(error_of("herd line 2\npeer flood-batch 11s\n"),
              "t.scn:2: expected `peer flood-batch DURATION`, whole microseconds from 0 to 10s "
              "(e.g. 40ms)");
    EXPECT_EQ(error_of("herd line 2\npeer flood-batch\n"),
              "t.scn:2: expected `peer flood-batch DURATION`, whole microseconds from 0 to 10s "
              "(e.g. 40ms)");
    EXPECT_NE(error_of("herd line 2\npeer flood-batch 500ns\n"), "");  // herd serve takes µs
    EXPECT_NE(error_of("herd line 2\npeer flood-batch 1ms\npeer flood-batch 2ms\n"), "");
}

// herds/glomers25.herd (for herd up) and scenarios/glomers_batch.scn (for the simulator) are
// one herd: the same servers, addresses and links.
TEST(ScenarioParse, TheGlomersScenarioRunsTheGlomersHerdFile) {
    auto read = [](const std::string& path) {
        std::ifstream in(std::string(HERD_SOURCE_DIR) + "/" + path);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    };
    const auto file = parse_herd_file(read("herds/glomers25.herd"), "glomers25.herd");
    ASSERT_TRUE(std::holds_alternative<HerdSpec>(file));
    const HerdSpec& want = std::get<HerdSpec>(file);
    const Scenario sc = parse_ok(read("scenarios/glomers_batch.scn"));
    EXPECT_EQ(format_herd_file(sc.herd), format_herd_file(want));
    EXPECT_EQ(want.servers.size(), 25u);
    EXPECT_EQ(sc.flood_batch, Duration::milliseconds(40));
}

}  // namespace
}  // namespace herd::sim
