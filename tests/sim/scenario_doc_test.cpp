// A scenario as a typed document (sim/scenario_doc.hpp): parse ∘ format is the identity, on
// every shipped scenario and on 10 000 generated documents written with random spacing; the
// formatted text runs to the same trace as the original.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/prng.hpp"
#include "sim/scenario.hpp"
#include "sim/scenario_doc.hpp"
#include "sim/simulator.hpp"

namespace herd::sim {
namespace {

std::string read(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

ScenarioDoc doc_of(const std::string& text) {
    auto d = parse_document(text, "t.scn");
    if (const Error* e = error_of(d)) ADD_FAILURE() << e->message << "\n" << text;
    return std::holds_alternative<ScenarioDoc>(d) ? std::get<ScenarioDoc>(d) : ScenarioDoc{};
}

std::uint64_t trace_hash(const std::string& text) {
    const auto sc = parse_scenario(text, "t.scn");
    if (const Error* e = error_of(sc)) {
        ADD_FAILURE() << e->message;
        return 0;
    }
    SimOptions options;
    options.hash_trace = true;
    return Simulator(std::get<Scenario>(sc), options).run().trace_hash;
}

TEST(ScenarioDoc, EveryShippedScenarioIsCanonicalAndRoundTrips) {
    int files = 0;
    for (const char* dir : {"scenarios", "tests/report", "tests/net"}) {
        for (const auto& entry :
             std::filesystem::directory_iterator(std::filesystem::path(HERD_SOURCE_DIR) / dir)) {
            if (entry.path().extension() != ".scn") continue;
            files += 1;
            const std::string text = read(entry.path());
            const ScenarioDoc doc = doc_of(text);
            EXPECT_EQ(format_document(doc), text) << entry.path() << " is not in canonical form";
            EXPECT_EQ(doc_of(format_document(doc)), doc) << entry.path();
        }
    }
    EXPECT_GE(files, 29);
}

TEST(ScenarioDoc, TheFormatterKeepsLinesCommentsAndSpellings) {
    const std::string messy =
        "# a herd\n"
        "\n"
        "  herd   fall2017    # the five\n"
        "latency  uniform(1ms, 5ms)\n"
        "   # indented comment   \n"
        "at 1.5s\tsend Alford IAMAT  k  +1.0+1.0 {now} # part of the line\n"
        "at   1500ms  expect reply   Alford \"AT * # not a comment\"   # a comment\n"
        "at 2s partition Alford  Ball |  *\n"
        "at 10000ms workload rate=5/s  for=2s clients=3\n";
    const std::string canonical =
        "# a herd\n"
        "\n"
        "herd fall2017  # the five\n"
        "latency uniform(1ms,5ms)\n"
        "# indented comment\n"
        "at 1.5s   send Alford IAMAT  k  +1.0+1.0 {now} # part of the line\n"
        "at 1500ms expect reply Alford \"AT * # not a comment\"  # a comment\n"
        "at 2s     partition Alford Ball | *\n"
        "at 10000ms workload clients=3 rate=5/s for=2s\n";
    const ScenarioDoc doc = doc_of(messy);
    EXPECT_EQ(format_document(doc), canonical);
    EXPECT_EQ(format_document(doc_of(canonical)), canonical);  // idempotent
    EXPECT_EQ(doc_of(canonical), doc);
    // Every line keeps its number; a send's line is sent as written.
    ASSERT_EQ(doc.lines.size(), 9u);
    EXPECT_EQ(doc.lines[5].number, 6);
    const auto* send = std::get_if<SendLine>(&timeline_of(doc.lines[5])->what);
    ASSERT_NE(send, nullptr);
    EXPECT_EQ(send->line, "IAMAT  k  +1.0+1.0 {now} # part of the line");
}

TEST(ScenarioDoc, AddressesOfConsecutiveServersLineUp) {
    const std::string text =
        "server a 127.0.0.1:1\nserver bbbb 127.0.0.1:2\nserver c\nserver dd 127.0.0.1:3\n"
        "link a bbbb\nlink a c\nlink c dd\n";
    EXPECT_EQ(format_document(doc_of(text)),
              "server a    127.0.0.1:1\nserver bbbb 127.0.0.1:2\nserver c\nserver dd 127.0.0.1:3\n"
              "link a bbbb\nlink a c\nlink c dd\n");
}

TEST(ScenarioDoc, AFormattedFileRunsToTheSameTrace) {
    const std::string messy =
        "herd   ring 6\n seed 5\nlatency   exp(2ms)\nclient latency uniform( 0ms , 2ms )\n"
        "at 0ms   workload   clients=5  rate=200/s for=1s\n"
        "at 100ms   partition s1   s2 |  *   # split\n"
        "at 200ms\tsilence s3 s4   oneway\n"
        "at 300ms  crash   s5\n"
        "at 600ms heal\nat 700ms restore s3  s4\nat 800ms   restart s5\n"
        "at 5s expect   converged\n"
        "at 5s  expect s1   lacks nobody\n";
    const std::string formatted = format_document(doc_of(messy));
    ASSERT_NE(formatted, messy);
    const std::uint64_t hash = trace_hash(messy);
    EXPECT_NE(hash, 0u);
    EXPECT_EQ(trace_hash(formatted), hash);
}

TEST(ScenarioDoc, SyntaxErrorsNameTheLineAndTheRestIsTheBuildersJob) {
    auto e = parse_document("herd fall2017\nat 1s partition a | | b\n", "x.scn");
    ASSERT_TRUE(std::holds_alternative<Error>(e));
    EXPECT_EQ(std::get<Error>(e).message,
              "x.scn:2: expected `partition GROUP | GROUP ...` with servers in every group");
    // An unknown server is no syntax error: the document reads, the scenario does not build.
    const ScenarioDoc doc = doc_of("herd fall2017\nat 1s crash Nobody\n");
    auto sc = build_scenario(doc);
    ASSERT_TRUE(std::holds_alternative<Error>(sc));
    EXPECT_EQ(std::get<Error>(sc).message, "t.scn:2: unknown server 'Nobody'");
}

// ---------------------------------------------------------------- generated documents

class RandomDoc {
  public:
    explicit RandomDoc(std::uint64_t seed) : prng_(seed) {}

    ScenarioDoc make() {
        ScenarioDoc doc;
        const std::uint64_t n = 1 + prng_.below(30);
        for (std::uint64_t i = 0; i < n; ++i) {
            DocLine l;
            l.statement = statement();
            const bool send =
                timeline_of(l) != nullptr && std::holds_alternative<SendLine>(timeline_of(l)->what);
            if (!send && prng_.below(4) == 0) l.comment = "#" + word(true);
            doc.lines.push_back(std::move(l));
        }
        return doc;
    }

  private:
    std::string word(bool spaces = false) {
        static const std::string letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789._-";
        std::string w;
        const std::uint64_t len = 1 + prng_.below(8);
        for (std::uint64_t i = 0; i < len; ++i)
            w += spaces && prng_.below(5) == 0 ? ' ' : letters[prng_.below(letters.size())];
        if (spaces) w = "x" + w + "y";  // no white space at either end
        return w;
    }
    std::string name() { return "s" + word(); }
    Spelled<Duration> duration(std::int64_t lo_ms, std::int64_t hi_ms) {
        const std::int64_t ms = prng_.between(lo_ms, hi_ms);
        const Duration d = Duration::milliseconds(ms);
        switch (prng_.below(3)) {
            case 0:
                return spell(d);
            case 1:
                return {d, std::to_string(ms) + "ms"};
            default:
                return {d, std::to_string(ms / 1000) + "." +
                               std::to_string(1000 + ms % 1000).substr(1) + "s"};
        }
    }
    Spelled<Distribution> dist() {
        const auto a = duration(0, 50), b = duration(50, 100);
        const std::string texts[] = {a.text, "uniform(" + a.text + "," + b.text + ")",
                                     "normal(" + b.text + "," + a.text + ")",
                                     "exp(" + b.text + ")"};
        const std::string& text = texts[prng_.below(4)];
        return {*parse_distribution(text), text};
    }
    Statement statement();
    TimelineStatement timeline();
    ExpectLine expectation();

    Prng prng_;
};

Statement RandomDoc::statement() {
    using Shape = HerdPresetLine::Shape;
    switch (prng_.below(16)) {
        case 0:
            return std::monostate{};
        case 1:
            return SeedLine{prng_.next()};
        case 2:
            return HerdPresetLine{
                Shape::random,
                1 + static_cast<int>(prng_.below(50)),
                0,
                0,
                1 + static_cast<int>(prng_.below(5)),
                prng_.below(2) == 0 ? std::optional<std::uint64_t>{} : prng_.next()};
        case 3:
            return HerdPresetLine{Shape::grid,
                                  0,
                                  1 + static_cast<int>(prng_.below(9)),
                                  1 + static_cast<int>(prng_.below(9)),
                                  0,
                                  {}};
        case 4:
            return prng_.below(2) == 0 ? HerdFileLine{{"server", name(), "127.0.0.1:1200"}}
                                       : HerdFileLine{{"link", name(), name()}};
        case 5:
            return EpochLine{{{}, std::to_string(prng_.below(2'000'000'000)) + ".5"}};
        case 6:
            return prng_.below(2) == 0 ? LatencyLine{{}, {}, dist()}
                                       : LatencyLine{name(), name(), dist()};
        case 7:
            return DistributionLine{static_cast<DistributionLine::Which>(prng_.below(3)), dist()};
        case 8:
            return PlacesChanceLine{prng_.below(2) == 0,
                                    {{}, "0." + std::to_string(prng_.below(1000))}};
        case 9:
            return DurationSetting{DurationSetting::Which::places_timeout, duration(100, 60'000)};
        case 10:
            return DurationSetting{static_cast<DurationSetting::Which>(1 + prng_.below(2)),
                                   duration(100, 60'000)};
        case 11:
            return DurationSetting{prng_.below(2) == 0 ? DurationSetting::Which::flood_batch
                                                       : DurationSetting::Which::until,
                                   duration(0, 10'000)};
        case 12:
            return prng_.below(2) == 0
                       ? ClockLine{name(),
                                   false,
                                   spell_signed(Duration::milliseconds(prng_.between(-5000, 5000))),
                                   {}}
                       : ClockLine{name(),
                                   true,
                                   {},
                                   {0, (prng_.below(2) ? "+" : "-") +
                                           std::to_string(prng_.below(1001)) + "ppm"}};
        case 13:
            return TieBreakLine{prng_.below(2) == 0 ? TieBreak::first : TieBreak::convergent};
        default:
            return AtLine{duration(0, 86'400'000), timeline()};
    }
}

TimelineStatement RandomDoc::timeline() {
    switch (prng_.below(8)) {
        case 0: {
            // A client line as written: inner runs of spaces, a `#`, even trailing spaces.
            std::string line = "IAMAT " + word() + "  +1.0+1.0 {now}";
            if (prng_.below(3) == 0) line += " # " + word(true);
            if (prng_.below(4) == 0) line += "  ";
            return SendLine{name(), line};
        }
        case 1: {
            PartitionLine p;
            for (std::uint64_t g = 0, groups = 2 + prng_.below(3); g < groups; ++g) {
                p.groups.emplace_back();
                for (std::uint64_t k = 0, n = 1 + prng_.below(3); k < n; ++k)
                    p.groups.back().push_back(name());
            }
            if (prng_.below(2) == 0) p.groups.back() = {"*"};
            return p;
        }
        case 2:
            return HealLine{};
        case 3:
            return LinkLine{static_cast<LinkLine::Kind>(prng_.below(4)), name(), name()};
        case 4: {
            const auto kind = static_cast<ServerLine::Kind>(prng_.below(4));
            if (kind == ServerLine::Kind::pause) return ServerLine{kind, name(), duration(1, 9000)};
            if (kind == ServerLine::Kind::clock_jump)
                return ServerLine{kind, name(),
                                  spell_signed(Duration::milliseconds(prng_.between(-9000, 9000)))};
            return ServerLine{kind, name(), {}};
        }
        case 5:
            return WorkloadLine{1 + prng_.below(1000), 1 + prng_.below(5000), duration(1, 60'000),
                                prng_.below(2) == 0 ? std::optional<std::string>{} : word()};
        default:
            return expectation();
    }
}

ExpectLine RandomDoc::expectation() {
    using Kind = ExpectLine::Kind;
    switch (prng_.below(5)) {
        case 0:
            return ExpectLine{Kind::converged, {}, {}, {}};
        case 1:
            return ExpectLine{Kind::has_at, name(), word(), "+34.068930-118.445127"};
        case 2:
            return ExpectLine{Kind::has_time, name(), word(),
                              std::to_string(prng_.below(1'000'000)) + ".25"};
        case 3:
            return ExpectLine{Kind::lacks, name(), word(), {}};
        default:
            // A glob with spaces, a `#` and escapes inside its quotes.
            return ExpectLine{Kind::reply, name(), {}, "AT " + word(true) + " # \\\"*\\n"};
    }
}

// The canonical text of `doc` with each separator replaced by a random run of spaces and tabs,
// lines indented, trailing space added: a send's line and a glob's inside stay as they are.
std::string respaced(const ScenarioDoc& doc, Prng& prng) {
    std::string out;
    auto gap = [&prng] {
        std::string g;
        for (std::uint64_t i = 0, n = 1 + prng.below(3); i < n; ++i)
            g += prng.below(3) == 0 ? '\t' : ' ';
        return g;
    };
    for (const DocLine& l : doc.lines) {
        const std::string line = format_statement(l.statement);
        const AtLine* at = timeline_of(l);
        std::size_t verbatim = line.size();  // from where the line is kept as it is
        if (at != nullptr && std::holds_alternative<SendLine>(at->what))
            verbatim = line.find(' ', line.find("send ") + 5) + 1;
        else if (const std::size_t quote = line.find('"'); quote != std::string::npos)
            verbatim = quote;
        std::string messy = prng.below(2) == 0 ? gap() : "";
        bool in_gap = false;
        for (std::size_t i = 0; i < line.size(); ++i) {
            if (i < verbatim && line[i] == ' ') {
                if (!in_gap) messy += gap();
                in_gap = true;
                continue;
            }
            in_gap = false;
            messy += line[i];
        }
        if (!l.comment.empty()) messy += (line.empty() ? "" : gap()) + l.comment;
        const bool keeps_end = at != nullptr && std::holds_alternative<SendLine>(at->what);
        if (!keeps_end && prng.below(3) == 0) messy += gap();
        out += messy + "\n";
    }
    return out;
}

TEST(ScenarioDoc, TenThousandGeneratedDocumentsRoundTrip) {
    Prng spacing(7);
    for (std::uint64_t seed = 1; seed <= 10'000; ++seed) {
        const ScenarioDoc doc = RandomDoc(seed).make();
        const std::string text = format_document(doc);
        const auto back = parse_document(text, "g.scn");
        ASSERT_TRUE(std::holds_alternative<ScenarioDoc>(back))
            << "seed " << seed << ": " << std::get<Error>(back).message << "\n"
            << text;
        ASSERT_EQ(std::get<ScenarioDoc>(back), doc) << "seed " << seed << "\n" << text;
        ASSERT_EQ(format_document(std::get<ScenarioDoc>(back)), text) << "seed " << seed;
        const std::string messy = respaced(doc, spacing);
        const auto read_messy = parse_document(messy, "g.scn");
        ASSERT_TRUE(std::holds_alternative<ScenarioDoc>(read_messy))
            << "seed " << seed << ": " << std::get<Error>(read_messy).message << "\n"
            << messy;
        ASSERT_EQ(format_document(std::get<ScenarioDoc>(read_messy)), text)
            << "seed " << seed << "\n"
            << messy;
    }
}

}  // namespace
}  // namespace herd::sim
