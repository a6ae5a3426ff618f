// The scenario grammar's timeline (design §6): `at T STATEMENT` lines to typed AtLines. Part
// of the one reader of scenario text (scenario_syntax.cpp has the settings).
#include <algorithm>
#include <cctype>
#include <set>

#include "core/text.hpp"
#include "core/types.hpp"
#include "history/check.hpp"
#include "sim/glob.hpp"
#include "sim/scenario.hpp"
#include "sim/scenario_syntax.hpp"

namespace herd::sim {

namespace detail {

std::string join(const std::vector<std::string_view>& t, std::size_t from) {
    std::string out;
    for (std::size_t i = from; i < t.size(); ++i)
        out += t[i];
    return out;
}

std::string quoted(std::string_view token) {
    if (token.size() <= 60) return "'" + std::string(token) + "'";
    return "'" + std::string(token.substr(0, 60)) + "...' (" + std::to_string(token.size()) +
           " bytes)";
}

}  // namespace detail

namespace {

using detail::quoted;
using Fields = std::vector<std::string_view>;

// Where the comment of `s` starts: its first '#' outside a "quoted" glob (`expect reply`).
std::size_t comment_outside_quotes(std::string_view s) {
    bool inside = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (inside && s[i] == '\\')
            ++i;
        else if (s[i] == '"')
            inside = !inside;
        else if (!inside && s[i] == '#')
            return i;
    }
    return std::string_view::npos;
}

class TimelineReader {
  public:
    TimelineReader(std::string_view file, int line, std::string& error)
        : file_(file), line_(line), error_(error) {}
    bool read(std::string_view text, DocLine& out);

  private:
    bool fail(const std::string& what) {
        error_ = std::string(file_) + ":" + std::to_string(line_) + ": " + what;
        return false;
    }
    bool fault(std::string_view verb, const Fields& t, TimelineStatement& out);
    bool server_fault(std::string_view verb, const Fields& t, TimelineStatement& out);
    bool partition(const Fields& t, TimelineStatement& out);
    bool workload(const Fields& t, TimelineStatement& out);
    bool workload_field(std::string_view key, std::string_view value, WorkloadLine& w);
    bool expect(std::string_view rest, TimelineStatement& out);
    bool expect_reply(std::string_view rest, TimelineStatement& out);
    bool expect_sessions(const Fields& t, TimelineStatement& out);
    bool expect_visibility(const Fields& t, TimelineStatement& out);

    std::string_view file_;
    int line_;
    std::string& error_;
};

// `at T STATEMENT`; a `send`'s line runs to the end of the file's line (a `#` is part of it).
bool TimelineReader::read(std::string_view text, DocLine& out) {
    std::string_view rest = text;
    take_field(rest);  // "at"
    const std::string_view time_text = take_field(rest);
    if (time_text.empty() || time_text[0] == '#') return fail("expected `at TIME STATEMENT`");
    const auto time = parse_duration(time_text);
    if (!time || time->ns > scenario_time_max.ns)
        return fail("expected a time from 0 to 86400s (a duration such as 150ms or 2s), got " +
                    quoted(time_text));
    AtLine at{{*time, std::string(time_text)}, HealLine{}};
    const std::string_view body = trim_start(rest);
    const std::string_view verb = take_field(rest);
    std::size_t comment = std::string_view::npos;
    bool ok;
    if (verb == "send") {
        const std::string_view server = take_field(rest);
        if (server.empty()) return fail("expected `send SERVER LINE`");
        // A CR before the file's CR LF would be lost when the line is written back.
        if (rest.ends_with('\r'))
            return fail("expected a client line without a carriage return at its end");
        at.what = SendLine{std::string(server), std::string(trim_start(rest))};
        ok = true;
    } else if (verb == "expect") {
        comment = comment_outside_quotes(body);
        const std::string_view statement = body.substr(0, comment);
        std::string_view after_verb = statement;
        take_field(after_verb);
        ok = expect(after_verb, at.what);
    } else {
        comment = body.find('#');
        ok = fault(verb, fields_of(body.substr(0, comment)), at.what);
    }
    if (!ok) return false;
    if (comment != std::string_view::npos)
        out.comment = std::string(trim_end(body.substr(comment)));
    out.statement = std::move(at);
    return true;
}

bool TimelineReader::fault(std::string_view verb, const Fields& t, TimelineStatement& out) {
    using Kind = LinkLine::Kind;
    if (verb == "partition") return partition(t, out);
    if (verb == "cut" || verb == "restore") {
        if (t.size() != 3) return fail("expected `" + std::string(verb) + " SERVER SERVER`");
        out = LinkLine{verb == "cut" ? Kind::cut : Kind::restore, std::string(t[1]),
                       std::string(t[2])};
        return true;
    }
    if (verb == "silence") {
        if (t.size() != 3 && !(t.size() == 4 && t[3] == "oneway"))
            return fail("expected `silence SERVER SERVER` or `silence SERVER SERVER oneway`");
        out = LinkLine{t.size() == 4 ? Kind::silence_oneway : Kind::silence, std::string(t[1]),
                       std::string(t[2])};
        return true;
    }
    if (verb == "heal") {
        if (t.size() != 1) return fail("expected `heal` alone");
        out = HealLine{};
        return true;
    }
    if (verb == "workload") return workload(t, out);
    if (verb == "crash" || verb == "restart" || verb == "pause" || verb == "clock")
        return server_fault(verb, t, out);
    if (verb.empty()) return fail("expected a statement after `at TIME`");
    return fail("unknown statement '" + std::string(verb) + "'");
}

// `crash S`, `restart S`, `pause S for D`, `clock S jump ±D`.
bool TimelineReader::server_fault(std::string_view verb, const Fields& t, TimelineStatement& out) {
    using Kind = ServerLine::Kind;
    if (verb == "crash" || verb == "restart") {
        if (t.size() != 2) return fail("expected `" + std::string(verb) + " SERVER`");
        out = ServerLine{verb == "crash" ? Kind::crash : Kind::restart, std::string(t[1]), {}};
        return true;
    }
    if (verb == "pause") {
        if (t.size() != 4 || t[2] != "for") return fail("expected `pause SERVER for DURATION`");
        const auto d = parse_duration(t[3]);
        if (!d || d->ns <= 0 || d->ns > scenario_time_max.ns)
            return fail("expected a pause from 1ns to 86400s, got " + quoted(t[3]));
        out = ServerLine{Kind::pause, std::string(t[1]), {*d, std::string(t[3])}};
        return true;
    }
    // `clock SERVER jump DURATION` (signed): the server's clock steps.
    if (t.size() != 4 || t[2] != "jump")
        return fail("expected `clock SERVER jump DURATION` (e.g. -1s, +250ms)");
    const auto d = parse_duration(t[3], true);
    if (!d || d->ns > clock_offset_max.ns || d->ns < -clock_offset_max.ns)
        return fail("expected a signed duration within 365 days (e.g. -2s, +30ms), got " +
                    quoted(t[3]));
    out = ServerLine{Kind::clock_jump, std::string(t[1]), {*d, std::string(t[3])}};
    return true;
}

// `partition G1 | G2 ...`; a group `*` stands for every server named in no other group (an
// extension: without it, each unnamed server is a group of its own).
bool TimelineReader::partition(const Fields& t, TimelineStatement& out) {
    PartitionLine p;
    p.groups.emplace_back();
    bool star = false;
    for (std::size_t i = 1; i < t.size(); ++i) {
        std::vector<std::string>& group = p.groups.back();
        if (t[i] == "|") {
            p.groups.emplace_back();
        } else if (t[i] == "*" && (star || !group.empty())) {
            return fail("expected `*` alone in one group (every server named in no other group)");
        } else if (!group.empty() && group.front() == "*") {
            return fail("expected `*` alone in its group");
        } else {
            star = star || t[i] == "*";
            group.emplace_back(t[i]);
        }
    }
    for (const auto& g : p.groups) {
        if (g.empty())
            return fail("expected `partition GROUP | GROUP ...` with servers in every group");
    }
    out = std::move(p);
    return true;
}

constexpr const char* workload_usage =
    "`workload clients=N rate=R/s for=DURATION [prefix=NAME] [reads=R/s] [sessions=on|sticky]`";

bool TimelineReader::workload(const Fields& t, TimelineStatement& out) {
    const std::string usage = std::string("expected ") + workload_usage;
    WorkloadLine w;
    std::set<std::string_view> given;
    for (std::size_t i = 1; i < t.size(); ++i) {
        const std::size_t eq = t[i].find('=');
        if (eq == std::string_view::npos) return fail(usage);
        const std::string_view key = t[i].substr(0, eq);
        if (!given.insert(key).second) return fail("`" + std::string(key) + "=` is given twice");
        if (!workload_field(key, t[i].substr(eq + 1), w)) return false;
    }
    if (w.clients == 0 || w.rate_per_s == 0 || w.length.text.empty()) return fail(usage);
    out = std::move(w);
    return true;
}

bool TimelineReader::workload_field(std::string_view key, std::string_view value, WorkloadLine& w) {
    if (key == "clients") {
        const auto n = parse_whole(value, 100'000'000);
        if (!n || *n == 0) return fail("expected clients=N with N from 1 to 100000000");
        w.clients = *n;
    } else if (key == "rate") {
        if (!value.ends_with("/s")) return fail("expected rate=R/s");
        const auto r = parse_whole(value.substr(0, value.size() - 2), 1'000'000'000);
        if (!r || *r == 0) return fail("expected rate=R/s with R from 1 to 1000000000");
        w.rate_per_s = *r;
    } else if (key == "prefix") {
        const bool ok = !value.empty() && value.size() <= workload_prefix_bytes_max &&
                        std::all_of(value.begin(), value.end(), [](char c) {
                            return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                                   c == '_' || c == '.';
                        });
        if (!ok)
            return fail("expected prefix=NAME, 1 to 32 letters, digits, '-', '_' or '.', got " +
                        quoted(value));
        w.prefix = std::string(value);
    } else if (key == "for") {
        auto length = parse_duration(value);
        if (length && length->ns > scenario_time_max.ns) length.reset();
        if (!length) return fail("expected for=DURATION (e.g. for=1s), got " + quoted(value));
        w.length = {*length, std::string(value)};
    } else if (key == "reads") {
        if (!value.ends_with("/s")) return fail("expected reads=R/s");
        const auto r = parse_whole(value.substr(0, value.size() - 2), 1'000'000'000);
        if (!r || *r == 0) return fail("expected reads=R/s with R from 1 to 1000000000");
        w.reads_per_s = *r;
    } else if (key == "sessions") {
        if (value != "on" && value != "off" && value != "sticky")
            return fail("expected sessions=on, sessions=sticky or sessions=off, got " +
                        quoted(value));
        w.sessions = value != "off";
        w.sticky = value == "sticky";
    } else {
        return fail(std::string("expected ") + workload_usage);
    }
    return true;
}

bool TimelineReader::expect(std::string_view rest, TimelineStatement& out) {
    using Kind = ExpectLine::Kind;
    const Fields t = fields_of(rest);
    if (t.size() == 1 && t[0] == "converged") {
        out = ExpectLine{Kind::converged, {}, {}, {}};
        return true;
    }
    if (t.size() >= 2 && t[0] == "reply") return expect_reply(rest, out);
    if (t.size() == 5 && t[1] == "has" && t[3] == "at") {
        if (!LatLon::parse(t[4]))
            return fail("expected a coordinate like +34.068930-118.445127, got " + quoted(t[4]));
        out = ExpectLine{Kind::has_at, std::string(t[0]), std::string(t[2]), std::string(t[4])};
        return true;
    }
    if (t.size() == 5 && t[1] == "has" && t[3] == "time") {
        if (!parse_client_time(t[4]))
            return fail("expected a client time (digits[.digits]), got " + quoted(t[4]));
        out = ExpectLine{Kind::has_time, std::string(t[0]), std::string(t[2]), std::string(t[4])};
        return true;
    }
    if (t.size() == 3 && t[1] == "lacks") {
        out = ExpectLine{Kind::lacks, std::string(t[0]), std::string(t[2]), {}};
        return true;
    }
    if (t.size() >= 1 && t[0] == "sessions") return expect_sessions(t, out);
    if (t.size() >= 1 && t[0] == "visibility") return expect_visibility(t, out);
    return fail(
        "expected `expect converged`, `expect SERVER has CLIENT at LATLON`, `expect SERVER has "
        "CLIENT time T`, `expect SERVER lacks CLIENT`, `expect reply SERVER \"GLOB\"`, "
        "`expect sessions KIND at most N` or `expect visibility P% within D`");
}

namespace {

// "99", "99.9", "50.125" (0 to 100, up to three decimals) as thousandths of a percent.
std::optional<std::uint64_t> parse_percent(std::string_view text) {
    const std::size_t dot = std::min(text.find('.'), text.size());
    const std::string_view whole = text.substr(0, dot);
    const std::string_view fraction = dot < text.size() ? text.substr(dot + 1) : std::string_view{};
    if (whole.empty() || whole.size() > 3 || fraction.size() > 3 ||
        (dot < text.size() && fraction.empty()))
        return std::nullopt;
    std::uint64_t v = 0;
    for (char c : whole) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    for (std::size_t i = 0; i < 3; ++i) {
        const char c = i < fraction.size() ? fraction[i] : '0';
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (v == 0 || v > 100'000) return std::nullopt;
    return v;
}

}  // namespace

// `visibility P% within D`: of the (update, server) pairs so far, at least P % had the update
// (or a newer record) within D of the write.
bool TimelineReader::expect_visibility(const Fields& t, TimelineStatement& out) {
    const std::string usage =
        "expected `expect visibility P% within DURATION` (e.g. 99% within 20ms)";
    if (t.size() != 4 || t[2] != "within" || t[1].empty() || t[1].back() != '%') return fail(usage);
    const std::string_view percent = t[1].substr(0, t[1].size() - 1);
    const auto p = parse_percent(percent);
    if (!p)
        return fail("expected a percentage above 0 and at most 100, with up to 3 decimals, got " +
                    quoted(t[1]));
    const auto d = parse_duration(t[3]);
    if (!d || d->ns < 0 || d->ns > scenario_time_max.ns)
        return fail("expected a duration from 0s to 86400s, got " + quoted(t[3]));
    ExpectLine e{ExpectLine::Kind::visibility, {}, {}, std::string(percent)};
    e.count = *p;
    e.within = {*d, std::string(t[3])};
    out = std::move(e);
    return true;
}

// `sessions KIND at most N`: KIND one of the anomaly kinds of `herd check`.
bool TimelineReader::expect_sessions(const Fields& t, TimelineStatement& out) {
    const std::string usage =
        "expected `expect sessions KIND at most N` with KIND monotonic-reads, read-your-writes, "
        "lost-write or impossible-read";
    if (t.size() != 5 || t[2] != "at" || t[3] != "most") return fail(usage);
    if (!history::anomaly_kind(t[1])) return fail(usage + ", got " + quoted(t[1]));
    const auto n = parse_whole(t[4], 1'000'000'000);
    if (!n) return fail("expected N from 0 to 1000000000, got " + quoted(t[4]));
    ExpectLine e{ExpectLine::Kind::sessions, {}, {}, std::string(t[1])};
    e.count = *n;
    out = std::move(e);
    return true;
}

// `reply SERVER "GLOB"` (the comment is gone already).
bool TimelineReader::expect_reply(std::string_view rest, TimelineStatement& out) {
    take_field(rest);  // "reply"
    const std::string_view server = take_field(rest);
    rest = trim_start(rest);
    if (rest.empty() || rest[0] != '"') return fail("expected `expect reply SERVER \"GLOB\"`");
    std::size_t k = 1;
    while (k < rest.size() && rest[k] != '"')
        k += rest[k] == '\\' ? 2 : 1;
    if (k >= rest.size()) return fail("expected a closing \" after the glob");
    if (!trim(rest.substr(k + 1)).empty())
        return fail("expected nothing after the closing \" of the glob");
    if (k - 1 > glob_bytes_max)
        return fail(
            "expected a glob of at most 1024 bytes (matching costs its length times the "
            "reply's)");
    const std::string_view glob = rest.substr(1, k - 1);
    if (!Glob::compile(glob))
        return fail(
            "bad glob: only \\n \\\" \\\\ \\* \\? are escapes, and a quote inside must be "
            "escaped");
    out = ExpectLine{ExpectLine::Kind::reply, std::string(server), {}, std::string(glob)};
    return true;
}

}  // namespace

namespace detail {

bool read_timeline(std::string_view file, int line, std::string_view text, DocLine& out,
                   std::string& error) {
    return TimelineReader(file, line, error).read(text, out);
}

}  // namespace detail

}  // namespace herd::sim
