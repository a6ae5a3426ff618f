// The scenario grammar of design §6. Two passes: the first finds the herd and the seed (a
// `herd random` preset needs the seed, which may come later in the file); the second parses
// settings and the timeline against that herd. Every error names `file:line:` and what was
// expected.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <set>

#include "core/client_protocol.hpp"
#include "core/text.hpp"
#include "sim/scenario.hpp"

namespace herd::sim {

namespace {

std::string join(const std::vector<std::string_view>& t, std::size_t from) {
    std::string out;
    for (std::size_t i = from; i < t.size(); ++i)
        out += t[i];
    return out;
}

std::optional<std::uint64_t> parse_count(std::string_view s, std::uint64_t max) {
    return parse_whole(s, max);
}

// A probability as a decimal in [0, 1], exactly, in parts per million (digits past the sixth
// are ignored).
// A token as an error message shows it: quoted, and at most 60 bytes of it.
std::string quoted(std::string_view token) {
    if (token.size() <= 60) return "'" + std::string(token) + "'";
    return "'" + std::string(token.substr(0, 60)) + "...' (" + std::to_string(token.size()) +
           " bytes)";
}

std::optional<std::uint32_t> parse_probability_ppm(std::string_view s) {
    const auto d = split_decimal(s);
    if (!d || !fraction_exact(d->fraction, 6)) return std::nullopt;  // no 1.0000001
    const auto whole = parse_whole(d->whole, 1);
    if (!whole) return std::nullopt;
    const std::uint64_t ppm = *whole * 1'000'000 + fraction_scaled(d->fraction, 6);
    if (ppm > 1'000'000) return std::nullopt;
    return static_cast<std::uint32_t>(ppm);
}

class Parser {
  public:
    Parser(std::string_view text, std::string_view file, std::optional<std::uint64_t> seed_override)
        : lines_(source_lines(text)), seed_override_(seed_override) {
        scenario_.file = std::string(file);
    }

    Result<Scenario> run() {
        if (!first_pass() || !build_herd() || !second_pass()) return Error{error_};
        warn_out_of_order();
        std::stable_sort(scenario_.steps.begin(), scenario_.steps.end(),
                         [](const Step& a, const Step& b) { return a.at < b.at; });
        if (scenario_.until && !scenario_.steps.empty() &&
            scenario_.until->ns < scenario_.steps.back().at.ns) {
            fail(until_line_, "expected `until` no earlier than the last statement, at " +
                                  format_duration(Duration{scenario_.steps.back().at.ns}) +
                                  " (line " + std::to_string(scenario_.steps.back().line) + ")");
            return Error{error_};
        }
        warn_crashes_and_restarts();
        std::stable_sort(warnings_.begin(), warnings_.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        for (const auto& [line, what] : warnings_)
            scenario_.warnings.push_back(scenario_.file + ":" + std::to_string(line) +
                                         ": warning: " + what);
        return std::move(scenario_);
    }

  private:
    bool fail(int line, const std::string& what) {
        error_ = scenario_.file + ":" + std::to_string(line) + ": " + what;
        return false;
    }

    const std::string& name_of(int s) const {
        return scenario_.herd.servers[static_cast<std::size_t>(s)].name.str();
    }

    // A setting may be given once: a second line would silently override the first.
    bool once(int line, const std::string& setting) {
        const auto [it, fresh] = set_at_.emplace(setting, line);
        if (fresh) {
            scenario_.settings.insert(setting);
            return true;
        }
        return fail(line, "`" + setting + "` is already set at line " + std::to_string(it->second));
    }

    // ------------------------------------------------------------ pass 1: herd and seed
    bool first_pass() {
        for (const SourceLine& l : lines_) {
            const auto t = fields_of(strip_comment(l.text));
            if (t.empty()) continue;
            if (t[0] == "seed") {
                if (t.size() != 2) return fail(l.number, "expected `seed N`");
                if (!once(l.number, "seed")) return false;
                auto v = parse_count(t[1], UINT64_MAX);
                if (!v)
                    return fail(l.number, "expected a seed (a whole number), got " + quoted(t[1]));
                scenario_.seed = *v;
            } else if (t[0] == "herd") {
                if (herd_line_ != 0 || !builder_.spec().servers.empty()) {
                    return fail(
                        l.number,
                        "the herd is already given (one `herd` preset, or server/link lines)");
                }
                herd_line_ = l.number;
                herd_tokens_ = t;
            } else if (HerdBuilder::is_statement(t[0])) {
                if (herd_line_ != 0)
                    return fail(l.number, "the herd is already given by the `herd` preset");
                if (!inline_herd(l.number, t)) return false;
            }
        }
        if (seed_override_) scenario_.seed = *seed_override_;
        return true;
    }

    bool inline_herd(int line, const std::vector<std::string_view>& t) {
        const std::optional<Error> e = builder_.add_statement(t, line);
        return e ? fail(line, e->message) : true;
    }

    bool build_herd() {
        if (herd_line_ == 0) {
            if (builder_.spec().servers.empty()) {
                return fail(
                    lines_.empty() ? 1 : lines_.back().number,
                    "expected a herd: `herd fall2017`, a generated preset, or server/link lines");
            }
            if (auto e = builder_.finish()) return fail(builder_.spec().tls.line, e->message);
            scenario_.herd = std::move(builder_.spec());
            scenario_.herd_description = "inline";
            return true;
        }
        const auto& t = herd_tokens_;
        const int line = herd_line_;
        const std::string usage =
            "expected `herd fall2017`, `herd line N`, `herd ring N`, `herd grid RxC` or "
            "`herd random N DEGREE [seed S]`";
        if (t.size() < 2) return fail(line, usage);
        constexpr std::uint64_t servers_max = 10'000;
        if (t[1] == "fall2017" && t.size() == 2) {
            scenario_.herd = fall2017_herd();
        } else if ((t[1] == "line" || t[1] == "ring") && t.size() == 3) {
            auto n = parse_count(t[2], servers_max);
            if (!n || *n < 1)
                return fail(line, "expected a server count from 1 to 10000, got " + quoted(t[2]));
            scenario_.herd =
                t[1] == "line" ? line_herd(static_cast<int>(*n)) : ring_herd(static_cast<int>(*n));
        } else if (t[1] == "grid" && t.size() == 3) {
            const std::size_t x = t[2].find('x');
            auto r = x == std::string_view::npos ? std::nullopt
                                                 : parse_count(t[2].substr(0, x), servers_max);
            auto c = x == std::string_view::npos ? std::nullopt
                                                 : parse_count(t[2].substr(x + 1), servers_max);
            if (!r || !c || *r < 1 || *c < 1 || *r * *c > servers_max) {
                return fail(line, "expected grid dimensions RxC (e.g. 3x4), got " + quoted(t[2]));
            }
            scenario_.herd = grid_herd(static_cast<int>(*r), static_cast<int>(*c));
        } else if (t[1] == "random" && (t.size() == 4 || (t.size() == 6 && t[4] == "seed"))) {
            auto n = parse_count(t[2], servers_max);
            auto d = parse_count(t[3], 1000);
            if (!n || *n < 1)
                return fail(line, "expected a server count from 1 to 10000, got " + quoted(t[2]));
            if (!d || *d < 1)
                return fail(line, "expected a mean degree of at least 1, got " + quoted(t[3]));
            // `herd random N D seed S`: the topology's own seed, so that `--seed` (or a sweep)
            // varies the run over one herd; without it the run's seed draws the topology too.
            std::optional<std::uint64_t> topology = scenario_.seed;
            if (t.size() == 6) topology = parse_count(t[5], UINT64_MAX);
            if (!topology) return fail(line, "expected a topology seed, got " + quoted(t[5]));
            scenario_.herd = random_herd(static_cast<int>(*n), static_cast<int>(*d), *topology);
        } else {
            return fail(line, usage);
        }
        scenario_.herd_description = join_spaced(t, 1);
        return true;
    }

    static std::string join_spaced(const std::vector<std::string_view>& t, std::size_t from) {
        std::string out;
        for (std::size_t i = from; i < t.size(); ++i) {
            if (i > from) out += ' ';
            out += t[i];
        }
        return out;
    }

    // ------------------------------------------------------------ pass 2: settings and timeline
    bool second_pass() {
        for (const SourceLine& l : lines_) {
            const auto t = fields_of(strip_comment(l.text));
            if (t.empty()) continue;
            const std::string_view verb = t[0];
            bool ok = true;
            if (verb == "seed" || verb == "herd" || HerdBuilder::is_statement(verb)) continue;
            if (verb == "epoch")
                ok = epoch(l.number, t);
            else if (verb == "latency")
                ok = latency(l.number, t);
            else if (verb == "client")
                ok = client_latency(l.number, t);
            else if (verb == "places")
                ok = places(l.number, t);
            else if (verb == "clock")
                ok = clock(l.number, t);
            else if (verb == "tiebreak")
                ok = tiebreak(l.number, t);
            else if (verb == "processing")
                ok = processing(l.number, t);
            else if (verb == "peer")
                ok = peer_deadline(l.number, t);
            else if (verb == "at")
                ok = at(l);
            else if (verb == "until")
                ok = until(l.number, t);
            else
                ok = fail(l.number, "unknown statement '" + std::string(verb) + "'");
            if (!ok) return false;
        }
        return true;
    }

    std::optional<int> server(int line, std::string_view name) {
        const int i = scenario_.herd.index_of(name);
        if (i < 0) {
            fail(line, "unknown server '" + std::string(name) + "'");
            return std::nullopt;
        }
        return i;
    }

    std::optional<std::pair<int, int>> link(int line, std::string_view a, std::string_view b) {
        auto x = server(line, a);
        if (!x) return std::nullopt;
        auto y = server(line, b);
        if (!y) return std::nullopt;
        if (!scenario_.herd.linked(*x, *y)) {
            fail(line, "no link " + std::string(a) + " " + std::string(b) + " in this herd");
            return std::nullopt;
        }
        return std::make_pair(std::min(*x, *y), std::max(*x, *y));
    }

    std::optional<Distribution> distribution(int line, const std::string& text) {
        auto d = parse_distribution(text);
        if (!d && uniform_reversed(text)) {
            fail(line, "uniform(LOW,HIGH) needs LOW <= HIGH, got " + quoted(text));
        } else if (!d) {
            fail(line,
                 "expected a duration or a distribution (5ms, uniform(1ms,5ms), normal(5ms,1ms), "
                 "exp(5ms)), got " +
                     quoted(text));
        }
        return d;
    }

    bool epoch(int line, const std::vector<std::string_view>& t) {
        if (t.size() != 2) return fail(line, "expected `epoch SECONDS`");
        // A day later `{now}` must still be a client time (at most 10 integer digits).
        auto e = parse_client_time(t[1]);
        if (!e || e->seconds > epoch_seconds_max)
            return fail(line, "expected POSIX seconds (digits[.digits]) up to " +
                                  std::to_string(epoch_seconds_max) + ", got " + quoted(t[1]));
        if (!once(line, "epoch")) return false;
        scenario_.epoch = *e;
        return true;
    }

    bool latency(int line, const std::vector<std::string_view>& t) {
        if (t.size() < 2)
            return fail(line, "expected `latency DIST` or `latency SERVER SERVER DIST`");
        if (auto d = parse_distribution(join(t, 1))) {
            scenario_.latency = *d;
            return once(line, "latency");
        }
        if (t.size() < 4) {
            if (t.size() == 3 && scenario_.herd.index_of(t[1]) >= 0)
                return fail(line, "expected `latency SERVER SERVER DIST`");
            distribution(line, join(t, 1));  // not a distribution: reports what was expected
            return false;
        }
        auto l = link(line, t[1], t[2]);
        if (!l) return false;
        auto d = distribution(line, join(t, 3));
        if (!d) return false;
        scenario_.link_latency.insert_or_assign(*l, *d);
        return once(line, "latency " + name_of(l->first) + " " + name_of(l->second));
    }

    bool client_latency(int line, const std::vector<std::string_view>& t) {
        if (t.size() < 3 || t[1] != "latency") return fail(line, "expected `client latency DIST`");
        auto d = distribution(line, join(t, 2));
        if (!d) return false;
        scenario_.client_latency = *d;
        return once(line, "client latency");
    }

    bool places(int line, const std::vector<std::string_view>& t) {
        if (t.size() >= 3 && t[1] == "latency") {
            auto d = distribution(line, join(t, 2));
            if (!d) return false;
            scenario_.places_latency = *d;
            return once(line, "places latency");
        }
        if (t.size() == 3 && (t[1] == "fail" || t[1] == "hang")) {
            auto p = parse_probability_ppm(t[2]);
            if (!p)
                return fail(line, "expected a probability from 0 to 1 in steps of 0.000001, got " +
                                      quoted(t[2]));
            (t[1] == "fail" ? scenario_.places_fail_ppm : scenario_.places_hang_ppm) = *p;
            return once(line, "places " + std::string(t[1]));
        }
        if (t.size() == 3 && t[1] == "timeout") {
            const auto d = parse_duration(t[2]);
            if (!d || d->ns % 1'000'000 != 0 || *d < places_timeout_min || *d > places_timeout_max)
                return fail(line,
                            "expected whole milliseconds from 100ms to 60s, got " + quoted(t[2]));
            scenario_.places_timeout = *d;
            return once(line, "places timeout");
        }
        return fail(line,
                    "expected `places latency DIST`, `places fail PROBABILITY`, `places hang "
                    "PROBABILITY` or `places timeout DURATION`");
    }

    bool clock(int line, const std::vector<std::string_view>& t) {
        if (t.size() != 4 || (t[2] != "offset" && t[2] != "drift"))
            return fail(line,
                        "expected `clock SERVER offset DURATION` or `clock SERVER drift PPM`");
        auto s = server(line, t[1]);
        if (!s) return false;
        if (t[2] == "drift") {
            const auto ppm = parse_ppm(t[3]);
            if (!ppm)
                return fail(line,
                            "expected a signed rate within 1000 ppm (e.g. +50ppm, -200ppm), got " +
                                quoted(t[3]));
            scenario_.clock_drift_ppm[*s] = *ppm;
            return once(line, "clock " + name_of(*s) + " drift");
        }
        auto d = parse_duration(t[3], true);
        if (!d || d->ns > clock_offset_max.ns || d->ns < -clock_offset_max.ns)
            return fail(line, "expected a signed duration within 365 days (e.g. -2s, +30ms), got " +
                                  quoted(t[3]));
        scenario_.clock_offset[*s] = *d;
        return once(line, "clock " + name_of(*s));
    }

    bool processing(int line, const std::vector<std::string_view>& t) {
        if (t.size() < 2) return fail(line, "expected `processing DIST`");
        auto d = distribution(line, join(t, 1));
        if (!d) return false;
        scenario_.processing = *d;
        return once(line, "processing");
    }

    // `peer heartbeat D` (10ms-60s) or `peer silence-timeout D` (100ms-600s), whole ms; the
    // heartbeat must stay below the silence timeout (checked once both are known).
    bool peer_deadline(int line, const std::vector<std::string_view>& t) {
        if (t.size() >= 2 && t[1] == "flood-batch") return flood_batch(line, t);
        const bool heartbeat = t.size() == 3 && t[1] == "heartbeat";
        if (!heartbeat && !(t.size() == 3 && t[1] == "silence-timeout"))
            return fail(line,
                        "expected `peer heartbeat DURATION`, `peer silence-timeout DURATION` or "
                        "`peer flood-batch DURATION`");
        const auto d = parse_duration(t[2]);
        const std::int64_t lo = heartbeat ? 10 : 100, hi = heartbeat ? 60'000 : 600'000;
        if (!d || d->ns % 1'000'000 != 0 || d->ns < lo * 1'000'000 || d->ns > hi * 1'000'000)
            return fail(line, std::string("expected whole milliseconds from ") +
                                  (heartbeat ? "10ms to 60s" : "100ms to 600s") + ", got " +
                                  quoted(t[2]));
        (heartbeat ? scenario_.heartbeat : scenario_.silence_timeout) = *d;
        deadline_line_ = line;
        if (!once(line, heartbeat ? "peer heartbeat" : "peer silence-timeout")) return false;
        const Duration beat = scenario_.heartbeat.value_or(Duration::seconds(1));
        const Duration silence = scenario_.silence_timeout.value_or(Duration::seconds(3));
        return beat < silence ||
               fail(line, "expected a heartbeat shorter than the silence timeout");
    }

    // `peer flood-batch D` (0 to flood_batch_max): how long a server holds floods to a peer to
    // write them together (NodeLimits::flood_batch).
    bool flood_batch(int line, const std::vector<std::string_view>& t) {
        const auto d = t.size() == 3 ? parse_duration(t[2]) : std::nullopt;
        if (!d || d->ns > flood_batch_max.ns || d->ns % 1000 != 0)
            return fail(line,
                        "expected `peer flood-batch DURATION`, whole microseconds from 0 to 10s "
                        "(e.g. 40ms)");
        scenario_.flood_batch = *d;
        return once(line, "peer flood-batch");
    }

    // `until T`: the run goes on to T (0 to 86400s) after its last statement.
    bool until(int line, const std::vector<std::string_view>& t) {
        const auto d = t.size() == 2 ? parse_duration(t[1]) : std::nullopt;
        if (!d || d->ns > scenario_time_max.ns)
            return fail(line, "expected `until TIME`, a time from 0 to 86400s (e.g. 30s)");
        scenario_.until = *d;
        until_line_ = line;
        return once(line, "until");
    }

    // Timeline lines run in time order whatever the file's order; a line earlier than the one
    // before it is usually a typo.
    void warn_out_of_order() {
        const Step* latest = nullptr;
        for (const Step& step : scenario_.steps) {
            if (latest != nullptr && step.at < latest->at)
                warnings_.emplace_back(
                    step.line, "`at " + format_duration(Duration{step.at.ns}) +
                                   "` comes after a statement at " +
                                   format_duration(Duration{latest->at.ns}) + " (line " +
                                   std::to_string(latest->line) +
                                   "); statements run in time order, so this one runs first");
            if (latest == nullptr || step.at > latest->at) latest = &step;
        }
    }

    // In time order: a crash of a server that is down does nothing; a restart of one that is up
    // is a crash and a start.
    void warn_crashes_and_restarts() {
        std::vector<int> down_since(scenario_.herd.servers.size(), 0);  // the crash's line
        for (const Step& step : scenario_.steps) {
            if (const auto* c = std::get_if<CrashStep>(&step.action)) {
                int& since = down_since[static_cast<std::size_t>(c->server)];
                if (since != 0)
                    warnings_.emplace_back(step.line, "crash of " + name_of(c->server) +
                                                          ", which is down since line " +
                                                          std::to_string(since) +
                                                          ": nothing happens");
                else
                    since = step.line;
            } else if (const auto* p = std::get_if<PauseStep>(&step.action)) {
                const int since = down_since[static_cast<std::size_t>(p->server)];
                if (since != 0)
                    warnings_.emplace_back(step.line, "pause of " + name_of(p->server) +
                                                          ", which is down since line " +
                                                          std::to_string(since) +
                                                          ": nothing happens");
            } else if (const auto* r = std::get_if<RestartStep>(&step.action)) {
                int& since = down_since[static_cast<std::size_t>(r->server)];
                if (since == 0)
                    warnings_.emplace_back(step.line, "restart of " + name_of(r->server) +
                                                          ", which is up: it crashes and starts "
                                                          "again, empty");
                since = 0;
            }
        }
    }

    bool tiebreak(int line, const std::vector<std::string_view>& t) {
        if (t.size() == 2 && t[1] == "first")
            scenario_.tie_break = TieBreak::first;
        else if (t.size() == 2 && t[1] == "convergent")
            scenario_.tie_break = TieBreak::convergent;
        else
            return fail(line, "expected `tiebreak first` or `tiebreak convergent`");
        return once(line, "tiebreak");
    }

    // `at T STATEMENT`
    bool at(const SourceLine& l) {
        std::string_view rest = l.text;
        auto next_token = [&rest]() { return take_field(rest); };
        next_token();  // "at"
        const std::string_view time_text = next_token();
        if (time_text.empty() || time_text[0] == '#')
            return fail(l.number, "expected `at TIME STATEMENT`");
        auto time = parse_duration(time_text);
        if (!time || time->ns > scenario_time_max.ns)
            return fail(l.number,
                        "expected a time from 0 to 86400s (a duration such as 150ms or 2s), got " +
                            quoted(time_text));
        Step step{Instant{time->ns}, l.number, {}, HealStep{}};
        const std::string_view body = trim_start(rest);
        const std::string_view verb = next_token();
        bool ok;
        if (verb == "send") {
            ok = send(l.number, rest, step);
            step.text = std::string(body);
        } else if (verb == "expect") {
            ok = expect(l.number, rest, step);
            step.text = std::string(trim_end(strip_comment_outside_quotes(body)));
        } else {
            step.text = std::string(trim_end(strip_comment(body)));
            ok = fault(l.number, verb, fields_of(strip_comment(body)), step);
        }
        if (!ok) return false;
        scenario_.steps.push_back(std::move(step));
        return true;
    }

    static std::string_view strip_comment_outside_quotes(std::string_view s) {
        bool quoted = false;
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (quoted && s[i] == '\\')
                ++i;
            else if (s[i] == '"')
                quoted = !quoted;
            else if (!quoted && s[i] == '#')
                return s.substr(0, i);
        }
        return s;
    }

    bool send(int line, std::string_view rest, Step& step) {
        const std::string_view name = take_field(rest);
        if (name.empty()) return fail(line, "expected `send SERVER LINE`");
        auto s = server(line, name);
        if (!s) return false;
        step.action = SendStep{*s, std::string(trim_start(rest))};
        return true;
    }

    bool fault(int line, std::string_view verb, const std::vector<std::string_view>& t,
               Step& step) {
        if (verb == "partition") return partition(line, t, step);
        if (verb == "cut" || verb == "restore") {
            if (t.size() != 3)
                return fail(line, "expected `" + std::string(verb) + " SERVER SERVER`");
            auto l = link(line, t[1], t[2]);
            if (!l) return false;
            if (verb == "cut")
                step.action = CutStep{l->first, l->second};
            else
                step.action = RestoreStep{l->first, l->second};
            return true;
        }
        if (verb == "heal") {
            if (t.size() != 1) return fail(line, "expected `heal` alone");
            step.action = HealStep{};
            return true;
        }
        if (verb == "crash" || verb == "restart") {
            if (t.size() != 2) return fail(line, "expected `" + std::string(verb) + " SERVER`");
            auto s = server(line, t[1]);
            if (!s) return false;
            if (verb == "crash")
                step.action = CrashStep{*s};
            else
                step.action = RestartStep{*s};
            return true;
        }
        if (verb == "workload") return workload(line, t, step);
        if (verb == "silence") return silence(line, t, step);
        if (verb == "pause") return pause(line, t, step);
        if (verb == "clock") return clock_jump(line, t, step);
        if (verb.empty()) return fail(line, "expected a statement after `at TIME`");
        return fail(line, "unknown statement '" + std::string(verb) + "'");
    }

    // `silence A B` (both ways) or `silence A B oneway` (from A to B only).
    bool silence(int line, const std::vector<std::string_view>& t, Step& step) {
        if (t.size() != 3 && !(t.size() == 4 && t[3] == "oneway"))
            return fail(line, "expected `silence SERVER SERVER` or `silence SERVER SERVER oneway`");
        if (!link(line, t[1], t[2])) return false;
        step.action = SilenceStep{scenario_.herd.index_of(t[1]), scenario_.herd.index_of(t[2]),
                                  t.size() == 4};
        return true;
    }

    // "+50ppm", "-200ppm", "0ppm": a signed whole number of parts per million, within the bound.
    static std::optional<std::int32_t> parse_ppm(std::string_view text) {
        if (text.size() < 4 || !text.ends_with("ppm")) return std::nullopt;
        text.remove_suffix(3);
        const bool negative = text.front() == '-';
        if (text.front() == '+' || text.front() == '-') text.remove_prefix(1);
        const auto n = parse_whole(text, static_cast<std::uint64_t>(clock_drift_ppm_max));
        if (!n) return std::nullopt;
        const auto v = static_cast<std::int32_t>(*n);
        return negative ? -v : v;
    }

    // `clock SERVER jump DURATION` (signed): the server's clock steps. A server's jumps add up
    // to at most clock_offset_max either way.
    bool clock_jump(int line, const std::vector<std::string_view>& t, Step& step) {
        if (t.size() != 4 || t[2] != "jump")
            return fail(line, "expected `clock SERVER jump DURATION` (e.g. -1s, +250ms)");
        auto s = server(line, t[1]);
        if (!s) return false;
        auto d = parse_duration(t[3], true);
        if (!d || d->ns > clock_offset_max.ns || d->ns < -clock_offset_max.ns)
            return fail(line, "expected a signed duration within 365 days (e.g. -2s, +30ms), got " +
                                  quoted(t[3]));
        Duration& total = jumps_[*s];
        total = total + *d;
        if (total.ns > clock_offset_max.ns || total.ns < -clock_offset_max.ns)
            return fail(line, "the jumps of " + name_of(*s) + " add up to more than 365 days");
        step.action = ClockJumpStep{*s, *d};
        return true;
    }

    // `pause SERVER for DURATION`.
    bool pause(int line, const std::vector<std::string_view>& t, Step& step) {
        if (t.size() != 4 || t[2] != "for")
            return fail(line, "expected `pause SERVER for DURATION`");
        auto s = server(line, t[1]);
        if (!s) return false;
        auto d = parse_duration(t[3]);
        if (!d || d->ns <= 0 || d->ns > scenario_time_max.ns)
            return fail(line, "expected a pause from 1ns to 86400s, got " + quoted(t[3]));
        step.action = PauseStep{*s, *d};
        return true;
    }

    // `partition G1 | G2 ...`; a group `*` stands for every server named in no other group
    // (an extension: without it, each unnamed server is a group of its own).
    bool partition(int line, const std::vector<std::string_view>& t, Step& step) {
        PartitionStep p;
        p.groups.emplace_back();
        std::vector<bool> seen(scenario_.herd.servers.size(), false);
        int rest_group = -1;
        for (std::size_t i = 1; i < t.size(); ++i) {
            if (t[i] == "|") {
                p.groups.emplace_back();
                continue;
            }
            if (t[i] == "*") {
                if (rest_group >= 0 || !p.groups.back().empty()) {
                    return fail(
                        line,
                        "expected `*` alone in one group (every server named in no other group)");
                }
                rest_group = static_cast<int>(p.groups.size() - 1);
                continue;
            }
            if (rest_group == static_cast<int>(p.groups.size() - 1)) {
                return fail(line, "expected `*` alone in its group");
            }
            auto s = server(line, t[i]);
            if (!s) return false;
            if (seen[static_cast<std::size_t>(*s)])
                return fail(line, "server '" + std::string(t[i]) + "' is in two groups");
            seen[static_cast<std::size_t>(*s)] = true;
            p.groups.back().push_back(*s);
        }
        if (rest_group >= 0) {
            for (std::size_t s = 0; s < seen.size(); ++s) {
                if (!seen[s])
                    p.groups[static_cast<std::size_t>(rest_group)].push_back(static_cast<int>(s));
            }
        }
        for (const auto& g : p.groups) {
            if (g.empty())
                return fail(line,
                            "expected `partition GROUP | GROUP ...` with servers in every group");
        }
        step.action = std::move(p);
        return true;
    }

    bool workload(int line, const std::vector<std::string_view>& t, Step& step) {
        const std::string usage =
            "expected `workload clients=N rate=R/s for=DURATION [prefix=NAME]`";
        std::optional<std::uint64_t> clients, rate;
        std::optional<Duration> length;
        std::string prefix = "w";
        std::set<std::string_view> given;
        for (std::size_t i = 1; i < t.size(); ++i) {
            const std::size_t eq = t[i].find('=');
            if (eq == std::string_view::npos) return fail(line, usage);
            const std::string_view key = t[i].substr(0, eq);
            const std::string_view value = t[i].substr(eq + 1);
            if (!given.insert(key).second)
                return fail(line, "`" + std::string(key) + "=` is given twice");
            if (key == "clients") {
                clients = parse_count(value, 100'000'000);
                if (!clients || *clients == 0)
                    return fail(line, "expected clients=N with N from 1 to 100000000");
            } else if (key == "rate") {
                if (!value.ends_with("/s")) return fail(line, "expected rate=R/s");
                rate = parse_count(value.substr(0, value.size() - 2), 1'000'000'000);
                if (!rate || *rate == 0)
                    return fail(line, "expected rate=R/s with R from 1 to 1000000000");
            } else if (key == "prefix") {
                if (value.empty() || value.size() > workload_prefix_bytes_max ||
                    !std::all_of(value.begin(), value.end(), [](char c) {
                        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                               c == '_' || c == '.';
                    }))
                    return fail(line,
                                "expected prefix=NAME, 1 to 32 letters, digits, '-', '_' "
                                "or '.', got " +
                                    quoted(value));
                prefix = std::string(value);
            } else if (key == "for") {
                length = parse_duration(value);
                if (length && length->ns > scenario_time_max.ns) length.reset();
                if (!length)
                    return fail(line, "expected for=DURATION (e.g. for=1s), got " + quoted(value));
            } else {
                return fail(line, usage);
            }
        }
        if (!clients || !rate || !length) return fail(line, usage);
        step.action = WorkloadStep{*clients, *rate, *length, std::move(prefix)};
        return true;
    }

    bool expect(int line, std::string_view rest, Step& step) {
        const auto t = fields_of(strip_comment_outside_quotes(rest));
        const std::string usage =
            "expected `expect converged`, `expect SERVER has CLIENT at LATLON`, `expect SERVER has "
            "CLIENT time T`, "
            "`expect SERVER lacks CLIENT` or `expect reply SERVER \"GLOB\"`";
        if (t.size() == 1 && t[0] == "converged") {
            step.action = ExpectConverged{};
            return true;
        }
        if (t.size() >= 2 && t[0] == "reply") return expect_reply(line, rest, step);
        if (t.size() == 5 && t[1] == "has" && (t[3] == "at" || t[3] == "time")) {
            auto s = server(line, t[0]);
            if (!s) return false;
            if (t[3] == "at") {
                if (!LatLon::parse(t[4]))
                    return fail(line, "expected a coordinate like +34.068930-118.445127, got " +
                                          quoted(t[4]));
                step.action = ExpectHasAt{*s, std::string(t[2]), std::string(t[4])};
            } else {
                auto time = parse_client_time(t[4]);
                if (!time)
                    return fail(line,
                                "expected a client time (digits[.digits]), got " + quoted(t[4]));
                step.action = ExpectHasTime{*s, std::string(t[2]), *time, std::string(t[4])};
            }
            return true;
        }
        if (t.size() == 3 && t[1] == "lacks") {
            auto s = server(line, t[0]);
            if (!s) return false;
            step.action = ExpectLacks{*s, std::string(t[2])};
            return true;
        }
        return fail(line, usage);
    }

    bool expect_reply(int line, std::string_view rest, Step& step) {
        // rest: ` reply SERVER "GLOB"` then optional white space and comment.
        take_field(rest);  // "reply"
        auto s = server(line, take_field(rest));
        if (!s) return false;
        rest = trim_start(rest);
        const std::size_t j = 0;
        if (rest.empty() || rest[j] != '"')
            return fail(line, "expected `expect reply SERVER \"GLOB\"`");
        std::size_t k = j + 1;
        while (k < rest.size() && rest[k] != '"')
            k += rest[k] == '\\' ? 2 : 1;
        if (k >= rest.size()) return fail(line, "expected a closing \" after the glob");
        const std::string_view after = trim_end(strip_comment(rest.substr(k + 1)));
        if (!after.empty()) return fail(line, "expected nothing after the closing \" of the glob");
        if (k - j - 1 > glob_bytes_max)
            return fail(line,
                        "expected a glob of at most 1024 bytes (matching costs its length "
                        "times the reply's)");
        auto glob = Glob::compile(rest.substr(j + 1, k - j - 1));
        if (!glob)
            return fail(line,
                        "bad glob: only \\n \\\" \\\\ \\* \\? are escapes, and a quote inside must "
                        "be escaped");
        step.action = ExpectReply{*s, std::move(*glob)};
        return true;
    }

    std::vector<SourceLine> lines_;
    std::optional<std::uint64_t> seed_override_;
    Scenario scenario_;
    HerdBuilder builder_;
    int herd_line_ = 0;
    std::vector<std::string_view> herd_tokens_;
    std::string error_;
    std::map<std::string, int> set_at_;  // setting -> the line that set it
    int deadline_line_ = 0;
    int until_line_ = 0;
    std::vector<std::pair<int, std::string>> warnings_;  // (line, what)
    std::map<int, Duration> jumps_;                      // each server's clock jumps so far
};

}  // namespace

Result<Scenario> parse_scenario(std::string_view text, std::string_view file_name,
                                std::optional<std::uint64_t> seed_override) {
    if (text.size() > scenario_bytes_max)
        return Error{std::string(file_name) +
                     ":1: a scenario file of at most 16 MiB was expected, " + "this one has " +
                     std::to_string(text.size()) + " bytes"};
    const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    if (lines > scenario_lines_max)
        return Error{std::string(file_name) + ":1: a scenario file of at most 1000000 lines was " +
                     "expected, this one has " + std::to_string(lines)};
    return Parser(text, file_name, seed_override).run();
}

}  // namespace herd::sim
