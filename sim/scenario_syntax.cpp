// The scenario grammar of design §6, line by line: scenario text to a ScenarioDoc
// (sim/scenario_doc.hpp). The one reader of scenario text. Every error names `file:line:` and
// what was expected; checks that need the herd are build_scenario's (scenario_parser.cpp).
#include <algorithm>

#include "core/herd_file.hpp"
#include "core/text.hpp"
#include "sim/scenario.hpp"
#include "sim/scenario_doc.hpp"
#include "sim/scenario_syntax.hpp"

namespace herd::sim {

namespace {

using detail::join;
using detail::quoted;

// A probability as a decimal in [0, 1], exactly, in parts per million.
std::optional<std::uint32_t> parse_probability_ppm(std::string_view s) {
    const auto d = split_decimal(s);
    if (!d || !fraction_exact(d->fraction, 6)) return std::nullopt;  // no 1.0000001
    const auto whole = parse_whole(d->whole, 1);
    if (!whole) return std::nullopt;
    const std::uint64_t ppm = *whole * 1'000'000 + fraction_scaled(d->fraction, 6);
    if (ppm > 1'000'000) return std::nullopt;
    return static_cast<std::uint32_t>(ppm);
}

// "+50ppm", "-200ppm", "0ppm": a signed whole number of parts per million, within the bound.
std::optional<std::int32_t> parse_ppm(std::string_view text) {
    if (text.size() < 4 || !text.ends_with("ppm")) return std::nullopt;
    text.remove_suffix(3);
    const bool negative = text.front() == '-';
    if (text.front() == '+' || text.front() == '-') text.remove_prefix(1);
    const auto n = parse_whole(text, static_cast<std::uint64_t>(clock_drift_ppm_max));
    if (!n) return std::nullopt;
    const auto v = static_cast<std::int32_t>(*n);
    return negative ? -v : v;
}

using Fields = std::vector<std::string_view>;

class LineReader {
  public:
    explicit LineReader(std::string_view file) : file_(file) {}
    const std::string& error() const { return error_; }

    // One source line: its statement and comment, or false with error() set.
    bool read(const SourceLine& l, DocLine& out);

  private:
    bool fail(const std::string& what) {
        error_ = std::string(file_) + ":" + std::to_string(line_) + ": " + what;
        return false;
    }
    bool setting(const Fields& t, Statement& out);
    bool seed(const Fields& t, Statement& out);
    bool herd(const Fields& t, Statement& out);
    bool epoch(const Fields& t, Statement& out);
    bool latency(const Fields& t, Statement& out);
    bool places(const Fields& t, Statement& out);
    bool clock(const Fields& t, Statement& out);
    bool peer(const Fields& t, Statement& out);
    bool until(const Fields& t, Statement& out);
    bool distribution(const std::string& text, Spelled<Distribution>& out);

    std::string_view file_;
    int line_ = 0;
    std::string error_;
};

bool LineReader::read(const SourceLine& l, DocLine& out) {
    line_ = l.number;
    out.number = l.number;
    const std::string_view body = trim_start(l.text);
    std::string_view probe = body;
    if (take_field(probe) == "at") return detail::read_timeline(file_, line_, body, out, error_);
    const std::size_t hash = body.find('#');
    if (hash != std::string_view::npos) out.comment = std::string(trim_end(body.substr(hash)));
    const Fields t = fields_of(strip_comment(body));
    if (t.empty()) return true;
    return setting(t, out.statement);
}

bool LineReader::setting(const Fields& t, Statement& out) {
    const std::string_view verb = t[0];
    if (verb == "seed") return seed(t, out);
    if (verb == "herd") return herd(t, out);
    if (HerdBuilder::is_statement(verb)) {
        out = HerdFileLine{std::vector<std::string>(t.begin(), t.end())};
        return true;
    }
    if (verb == "epoch") return epoch(t, out);
    if (verb == "latency") return latency(t, out);
    if (verb == "client") {
        DistributionLine d{DistributionLine::Which::client_latency, {}};
        if (t.size() < 3 || t[1] != "latency") return fail("expected `client latency DIST`");
        if (!distribution(join(t, 2), d.dist)) return false;
        out = d;
        return true;
    }
    if (verb == "places") return places(t, out);
    if (verb == "clock") return clock(t, out);
    if (verb == "tiebreak") {
        if (t.size() == 2 && (t[1] == "first" || t[1] == "convergent")) {
            out = TieBreakLine{t[1] == "first" ? TieBreak::first : TieBreak::convergent};
            return true;
        }
        return fail("expected `tiebreak first` or `tiebreak convergent`");
    }
    if (verb == "processing") {
        DistributionLine d{DistributionLine::Which::processing, {}};
        if (t.size() < 2) return fail("expected `processing DIST`");
        if (!distribution(join(t, 1), d.dist)) return false;
        out = d;
        return true;
    }
    if (verb == "peer") return peer(t, out);
    if (verb == "until") return until(t, out);
    return fail("unknown statement '" + std::string(verb) + "'");
}

bool LineReader::seed(const Fields& t, Statement& out) {
    if (t.size() != 2) return fail("expected `seed N`");
    const auto v = parse_whole(t[1], UINT64_MAX);
    if (!v) return fail("expected a seed (a whole number), got " + quoted(t[1]));
    out = SeedLine{*v};
    return true;
}

bool LineReader::herd(const Fields& t, Statement& out) {
    const std::string usage =
        "expected `herd fall2017`, `herd line N`, `herd ring N`, `herd grid RxC` or "
        "`herd random N DEGREE [seed S]`";
    constexpr std::uint64_t servers_max = herd_servers_max;
    const std::string count_error =
        "expected a server count from 1 to " + std::to_string(servers_max) + ", got ";
    using Shape = HerdPresetLine::Shape;
    HerdPresetLine h;
    if (t.size() < 2) return fail(usage);
    if (t[1] == "fall2017" && t.size() == 2) {
        h.shape = Shape::fall2017;
    } else if ((t[1] == "line" || t[1] == "ring") && t.size() == 3) {
        const auto n = parse_whole(t[2], servers_max);
        if (!n || *n < 1) return fail(count_error + quoted(t[2]));
        h.shape = t[1] == "line" ? Shape::line : Shape::ring;
        h.servers = static_cast<int>(*n);
    } else if (t[1] == "grid" && t.size() == 3) {
        const std::size_t x = t[2].find('x');
        const auto r = x == std::string_view::npos ? std::nullopt
                                                   : parse_whole(t[2].substr(0, x), servers_max);
        const auto c = x == std::string_view::npos ? std::nullopt
                                                   : parse_whole(t[2].substr(x + 1), servers_max);
        if (!r || !c || *r < 1 || *c < 1 || *r * *c > servers_max)
            return fail("expected grid dimensions RxC (e.g. 3x4), got " + quoted(t[2]));
        h = HerdPresetLine{Shape::grid, 0, static_cast<int>(*r), static_cast<int>(*c), 0, {}};
    } else if (t[1] == "random" && (t.size() == 4 || (t.size() == 6 && t[4] == "seed"))) {
        const auto n = parse_whole(t[2], servers_max);
        const auto d = parse_whole(t[3], 1000);
        if (!n || *n < 1) return fail(count_error + quoted(t[2]));
        if (!d || *d < 1) return fail("expected a mean degree of at least 1, got " + quoted(t[3]));
        // `herd random N D seed S`: the topology's own seed, so that `--seed` (or a sweep)
        // varies the run over one herd; without it the run's seed draws the topology too.
        if (t.size() == 6) {
            h.topology_seed = parse_whole(t[5], UINT64_MAX);
            if (!h.topology_seed) return fail("expected a topology seed, got " + quoted(t[5]));
        }
        h.shape = Shape::random;
        h.servers = static_cast<int>(*n);
        h.degree = static_cast<int>(*d);
    } else {
        return fail(usage);
    }
    out = h;
    return true;
}

bool LineReader::distribution(const std::string& text, Spelled<Distribution>& out) {
    const auto d = parse_distribution(text);
    if (!d && uniform_reversed(text))
        return fail("uniform(LOW,HIGH) needs LOW <= HIGH, got " + quoted(text));
    if (!d)
        return fail(
            "expected a duration or a distribution (5ms, uniform(1ms,5ms), normal(5ms,1ms), "
            "exp(5ms)), got " +
            quoted(text));
    out = Spelled<Distribution>{*d, text};
    return true;
}

bool LineReader::epoch(const Fields& t, Statement& out) {
    if (t.size() != 2) return fail("expected `epoch SECONDS`");
    // A day later `{now}` must still be a client time (at most 10 integer digits).
    const auto e = parse_client_time(t[1]);
    if (!e || e->seconds > epoch_seconds_max)
        return fail("expected POSIX seconds (digits[.digits]) up to " +
                    std::to_string(epoch_seconds_max) + ", got " + quoted(t[1]));
    out = EpochLine{{*e, std::string(t[1])}};
    return true;
}

// `latency DIST` or `latency A B DIST` (a distribution may hold white space: `uniform(1ms, 5ms)`).
bool LineReader::latency(const Fields& t, Statement& out) {
    if (t.size() < 2) return fail("expected `latency DIST` or `latency SERVER SERVER DIST`");
    LatencyLine l;
    if (const auto d = parse_distribution(join(t, 1))) {
        l.dist = Spelled<Distribution>{*d, join(t, 1)};
        out = l;
        return true;
    }
    if (t.size() == 3 && !is_digit(t[1].front()) && t[1].find('(') == std::string_view::npos)
        return fail("expected `latency SERVER SERVER DIST`");
    if (t.size() < 4) return distribution(join(t, 1), l.dist);  // reports what was expected
    l.a = std::string(t[1]);
    l.b = std::string(t[2]);
    if (!distribution(join(t, 3), l.dist)) return false;
    out = l;
    return true;
}

bool LineReader::places(const Fields& t, Statement& out) {
    if (t.size() >= 3 && t[1] == "latency") {
        DistributionLine d{DistributionLine::Which::places_latency, {}};
        if (!distribution(join(t, 2), d.dist)) return false;
        out = d;
        return true;
    }
    if (t.size() == 3 && (t[1] == "fail" || t[1] == "hang")) {
        const auto p = parse_probability_ppm(t[2]);
        if (!p)
            return fail("expected a probability from 0 to 1 in steps of 0.000001, got " +
                        quoted(t[2]));
        out = PlacesChanceLine{t[1] == "hang", {*p, std::string(t[2])}};
        return true;
    }
    if (t.size() == 3 && t[1] == "timeout") {
        const auto d = parse_duration(t[2]);
        if (!d || d->ns % 1'000'000 != 0 || *d < places_timeout_min || *d > places_timeout_max)
            return fail("expected whole milliseconds from 100ms to 60s, got " + quoted(t[2]));
        out = DurationSetting{DurationSetting::Which::places_timeout, {*d, std::string(t[2])}};
        return true;
    }
    return fail(
        "expected `places latency DIST`, `places fail PROBABILITY`, `places hang "
        "PROBABILITY` or `places timeout DURATION`");
}

bool LineReader::clock(const Fields& t, Statement& out) {
    if (t.size() != 4 || (t[2] != "offset" && t[2] != "drift"))
        return fail("expected `clock SERVER offset DURATION` or `clock SERVER drift PPM`");
    ClockLine c;
    c.server = std::string(t[1]);
    c.drift = t[2] == "drift";
    if (c.drift) {
        const auto ppm = parse_ppm(t[3]);
        if (!ppm)
            return fail("expected a signed rate within 1000 ppm (e.g. +50ppm, -200ppm), got " +
                        quoted(t[3]));
        c.drift_ppm = {*ppm, std::string(t[3])};
    } else {
        const auto d = parse_duration(t[3], true);
        if (!d || d->ns > clock_offset_max.ns || d->ns < -clock_offset_max.ns)
            return fail("expected a signed duration within 365 days (e.g. -2s, +30ms), got " +
                        quoted(t[3]));
        c.offset = {*d, std::string(t[3])};
    }
    out = c;
    return true;
}

// `peer heartbeat D` (10ms-60s), `peer silence-timeout D` (100ms-600s), whole ms; `peer
// flood-batch D` (0 to flood_batch_max, whole us).
bool LineReader::peer(const Fields& t, Statement& out) {
    using Which = DurationSetting::Which;
    if (t.size() >= 2 && t[1] == "flood-batch") {
        const auto d = t.size() == 3 ? parse_duration(t[2]) : std::nullopt;
        if (!d || d->ns > flood_batch_max.ns || d->ns % 1000 != 0)
            return fail(
                "expected `peer flood-batch DURATION`, whole microseconds from 0 to 10s "
                "(e.g. 40ms)");
        out = DurationSetting{Which::flood_batch, {*d, std::string(t[2])}};
        return true;
    }
    const bool heartbeat = t.size() == 3 && t[1] == "heartbeat";
    if (!heartbeat && !(t.size() == 3 && t[1] == "silence-timeout"))
        return fail(
            "expected `peer heartbeat DURATION`, `peer silence-timeout DURATION` or "
            "`peer flood-batch DURATION`");
    const auto d = parse_duration(t[2]);
    const std::int64_t lo = heartbeat ? 10 : 100, hi = heartbeat ? 60'000 : 600'000;
    if (!d || d->ns % 1'000'000 != 0 || d->ns < lo * 1'000'000 || d->ns > hi * 1'000'000)
        return fail(std::string("expected whole milliseconds from ") +
                    (heartbeat ? "10ms to 60s" : "100ms to 600s") + ", got " + quoted(t[2]));
    out = DurationSetting{heartbeat ? Which::heartbeat : Which::silence_timeout,
                          {*d, std::string(t[2])}};
    return true;
}

// `until T`: the run goes on to T (0 to 86400s) after its last statement.
bool LineReader::until(const Fields& t, Statement& out) {
    const auto d = t.size() == 2 ? parse_duration(t[1]) : std::nullopt;
    if (!d || d->ns > scenario_time_max.ns)
        return fail("expected `until TIME`, a time from 0 to 86400s (e.g. 30s)");
    out = DurationSetting{DurationSetting::Which::until, {*d, std::string(t[1])}};
    return true;
}

}  // namespace

Result<ScenarioDoc> parse_document(std::string_view text, std::string_view file_name) {
    // Readers stop one byte past the bound: how much more there was is not known.
    if (text.size() > scenario_bytes_max)
        return Error{std::string(file_name) +
                         ":1: a scenario file of at most 16 MiB was expected, this one has more "
                         "than 16777216 bytes",
                     1, true};
    const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    if (lines > scenario_lines_max)
        return Error{std::string(file_name) + ":1: a scenario file of at most 1000000 lines was " +
                         "expected, this one has " + std::to_string(lines),
                     1, true};
    ScenarioDoc doc;
    doc.file = std::string(file_name);
    LineReader reader(file_name);
    for (const SourceLine& l : source_lines(text)) {
        DocLine line;
        if (!reader.read(l, line)) return Error{reader.error(), 1, true};
        doc.lines.push_back(std::move(line));
    }
    return doc;
}

}  // namespace herd::sim
