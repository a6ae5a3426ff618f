// herd sweep's generator (sim/sweep.hpp, sweep_generator.hpp): the settings and faults a seed
// draws against a base scenario, its herd's variations, and the run's text, with one timeline in
// time order. The unusual clients are in sweep_clients.cpp.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/assert.hpp"
#include "core/prng.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "sim/fault_timeline.hpp"
#include "sim/sweep.hpp"
#include "sim/sweep_generator.hpp"

namespace herd::sim {

namespace sweep_detail {

BaseFaults find_base_faults(const Scenario& sc) {
    BaseFaults b;
    b.timeline = fault_timeline(sc);
    const std::int64_t last = b.timeline.last_end();
    b.in_force_at_end = last > sc.end().ns;
    b.last_fault_ns = b.in_force_at_end ? 0 : last;
    for (const Step& step : sc.steps) {
        const StepAction& a = step.action;
        if (const auto* j = std::get_if<ClockJumpStep>(&a)) b.jumps[j->server] += j->by.ns;
        if (const auto* c = std::get_if<CutStep>(&a)) b.named.insert({c->a, c->b});
        if (const auto* r = std::get_if<RestoreStep>(&a)) b.named.insert({r->a, r->b});
        if (const auto* q = std::get_if<SilenceStep>(&a))
            b.named.insert({std::min(q->a, q->b), std::max(q->a, q->b)});
        b.links = b.links || std::holds_alternative<PartitionStep>(a) ||
                  std::holds_alternative<HealStep>(a) || std::holds_alternative<CutStep>(a) ||
                  std::holds_alternative<RestoreStep>(a) || std::holds_alternative<SilenceStep>(a);
    }
    return b;
}

std::vector<Statement> Generator::topology() {
    if (!config_.vary_topology || prng_.below(2) == 0) return {};
    const int n = static_cast<int>(base_.herd.servers.size());
    std::vector<Statement> out;
    std::vector<std::string> names;
    for (const ServerSpec& s : base_.herd.servers) {
        names.push_back(s.name.str());
        out.push_back(HerdFileLine{{"server", s.name.str()}});
    }
    std::set<std::pair<int, int>> links(base_.herd.links.begin(), base_.herd.links.end());
    const auto extra_servers = static_cast<int>(prng_.below(3));
    for (int i = 0; i < extra_servers; ++i) {
        std::string name = "x" + std::to_string(i + 1);
        while (base_.herd.index_of(name) >= 0)
            name += "x";
        names.push_back(name);
        out.push_back(HerdFileLine{{"server", name}});
        const int peer = static_cast<int>(prng_.below(static_cast<std::uint64_t>(n)));
        links.insert({peer, n + i});  // linked to the herd, so it can converge
    }
    const int total = n + extra_servers;
    const std::int64_t extra_links = prng_.between(1, 3);
    for (std::int64_t i = 0; i < extra_links && total >= 3; ++i) {
        const auto a = static_cast<int>(prng_.below(static_cast<std::uint64_t>(total)));
        const auto b = static_cast<int>(prng_.below(static_cast<std::uint64_t>(total)));
        if (a != b) links.insert({std::min(a, b), std::max(a, b)});
    }
    for (const auto& [a, b] : links)
        out.push_back(HerdFileLine{
            {"link", names[static_cast<std::size_t>(a)], names[static_cast<std::size_t>(b)]}});
    return out;
}

void Generator::draw_kinds() {
    for (FaultKind k : config_.faults) {
        if (prng_.below(2) == 0) on_.insert(k);
    }
    if (on_.empty() && !config_.faults.empty())
        on_.insert(config_.faults[prng_.below(config_.faults.size())]);
}

// Settings of the herd itself, drawn where the base leaves them unset: the conflict rule and
// flood batching.
void Generator::varied_settings(std::vector<Statement>& out) {
    auto unset = [this](const std::string& setting) { return base_.settings.count(setting) == 0; };
    if (unset("tiebreak") && prng_.below(3) == 0) {
        convergent_ = true;
        out.push_back(TieBreakLine{TieBreak::convergent});
    }
    if (unset("peer flood-batch") && prng_.below(4) == 0)
        out.push_back(
            DurationSetting{DurationSetting::Which::flood_batch, ms_of(prng_.between(1, 50))});
}

std::vector<Statement> Generator::settings() {
    std::vector<Statement> out;
    varied_settings(out);
    const int n = static_cast<int>(base_.herd.servers.size());
    // Only what the base leaves unset: a scenario gives each setting once.
    auto unset = [this](const std::string& setting) { return base_.settings.count(setting) == 0; };
    if (enabled(FaultKind::clock)) {
        for (int s = 0; s < n; ++s) {
            if (prng_.below(4) != 0 || !unset("clock " + name(s))) continue;
            const std::int64_t offset = prng_.between(-2000, 2000);
            out.push_back(
                ClockLine{name(s), false, spell_signed(Duration::milliseconds(offset)), {}});
        }
    }
    if (enabled(FaultKind::latency) && !base_.herd.links.empty()) {
        const std::uint64_t slow = 1 + prng_.below(3);
        std::set<std::pair<int, int>> chosen;
        for (std::uint64_t i = 0; i < slow; ++i) {
            const auto [a, b] = base_.herd.links[prng_.below(base_.herd.links.size())];
            const std::int64_t max_ms = prng_.between(2, 300);
            if (!chosen.insert({a, b}).second || !unset("latency " + name(a) + " " + name(b)))
                continue;
            const Distribution d =
                Distribution::uniform(Duration::milliseconds(1), Duration::milliseconds(max_ms));
            out.push_back(LatencyLine{name(a), name(b), {d, d.describe()}});
        }
    }
    if (enabled(FaultKind::places) && prng_.below(2) == 0 && unset("places fail")) {
        const std::int64_t tenths = prng_.between(1, 5);
        out.push_back(PlacesChanceLine{
            false, {static_cast<std::uint32_t>(tenths * 100'000), "0." + std::to_string(tenths)}});
    }
    if (enabled(FaultKind::places) && prng_.below(4) == 0 && unset("places hang")) {
        const std::int64_t hundredths = prng_.between(1, 9);
        out.push_back(PlacesChanceLine{
            true,
            {static_cast<std::uint32_t>(hundredths * 10'000), "0.0" + std::to_string(hundredths)}});
    }
    drifts(out);
    return out;
}

// Clock rates: a quarter of the servers drift, up to 500 ppm either way.
void Generator::drifts(std::vector<Statement>& out) {
    if (!enabled(FaultKind::clock)) return;
    for (int s = 0; s < static_cast<int>(base_.herd.servers.size()); ++s) {
        if (prng_.below(4) != 0 || base_.settings.count("clock " + name(s) + " drift") != 0)
            continue;
        const std::int64_t ppm = prng_.between(-500, 500);
        const std::string text =
            (ppm < 0 ? "-" : "+") + std::to_string(ppm < 0 ? -ppm : ppm) + "ppm";
        out.push_back(ClockLine{name(s), true, {}, {static_cast<std::int32_t>(ppm), text}});
    }
}

PartitionLine Generator::partition() {
    const int n = static_cast<int>(base_.herd.servers.size());
    std::vector<int> side(static_cast<std::size_t>(n));
    int ones = 0;
    for (int& g : side) {
        g = static_cast<int>(prng_.below(2));
        ones += g;
    }
    if (ones == 0) side[prng_.below(side.size())] = 1;
    if (ones == n) side[prng_.below(side.size())] = 0;
    PartitionLine p;
    p.groups.resize(2);
    for (int s = 0; s < n; ++s)
        p.groups[static_cast<std::size_t>(side[static_cast<std::size_t>(s)])].push_back(name(s));
    return p;
}

std::optional<std::pair<int, int>> Generator::free_link(std::int64_t t, std::int64_t until) {
    std::vector<std::pair<int, int>> free;
    for (const auto& link : base_.herd.links) {
        if (base_faults_.named.count(link) == 0 && link_busy_until_[link] <= t)
            free.push_back(link);
    }
    if (free.empty()) return std::nullopt;
    const auto link = free[prng_.below(free.size())];
    link_busy_until_[link] = until;
    return link;
}

// The servers up from `from` to `to`: neither crashed by this generator nor down in the base.
std::vector<int> Generator::servers_up(std::int64_t from, std::int64_t to) const {
    std::vector<int> up;
    for (int s = 0; s < static_cast<int>(down_until_.size()); ++s) {
        if (down_until_[static_cast<std::size_t>(s)] <= from && !base_down(s, from, to))
            up.push_back(s);
    }
    return up;
}

bool Generator::base_down(int s, std::int64_t from, std::int64_t to) const {
    return base_faults_.timeline.down_during(s, from, to);
}

void Generator::add_fault(FaultKind kind, std::int64_t t, std::int64_t end,
                          std::vector<Timed>& out) {
    using Link = LinkLine::Kind;
    const std::int64_t undo = std::min(t + between_ms(100, 2000), end);
    if (kind == FaultKind::partition) {
        add_pair(t, undo, partition(), out);
    } else if (kind == FaultKind::cut) {
        const auto link = free_link(t, undo);
        if (!link) return;
        add_pair(t, undo, LinkLine{Link::cut, name(link->first), name(link->second)}, out);
    } else if (kind == FaultKind::silence) {
        // Up to 5 s: long enough for the silence timeout (3 s) to close the link, or not.
        const std::int64_t until = std::min(t + between_ms(100, 5000), end);
        const auto link = free_link(t, until);
        if (!link) return;
        auto [a, b] = *link;
        if (prng_.below(2) == 0) std::swap(a, b);
        const bool one_way = prng_.below(2) == 0;
        add_pair(t, until,
                 LinkLine{one_way ? Link::silence_oneway : Link::silence, name(a), name(b)}, out);
    } else if (kind == FaultKind::clock) {
        // A step of the clock, up to 2 s either way; not undone (a clock that jumped stays).
        const auto s = static_cast<int>(prng_.below(base_.herd.servers.size()));
        const std::int64_t by = prng_.between(-2000, 2000);
        const auto it = base_faults_.jumps.find(s);
        if (it != base_faults_.jumps.end() &&
            std::abs(it->second) > clock_offset_max.ns - 2'000 * ms)
            return;  // the base's own jumps leave no room under the bound
        out.push_back({t, ServerLine{ServerLine::Kind::clock_jump, name(s),
                                     spell_signed(Duration::milliseconds(by))}});
    } else if (kind == FaultKind::clients) {
        hostile_client(t, out);
    } else if (kind == FaultKind::pause) {
        // Up to 5 s, and over by the phase's end like every generated fault; a server that is up
        // (a paused crashed server would pause nothing).
        const std::int64_t length = std::min(between_ms(100, 5000), std::max(end - t, ms));
        const std::vector<int> up = servers_up(t, t + length);
        if (up.empty()) return;
        const int s = up[prng_.below(up.size())];
        out.push_back({t, ServerLine{ServerLine::Kind::pause, name(s), ms_of(length / ms)}});
    } else if (kind == FaultKind::crash) {
        std::vector<int> up = servers_up(t, undo);
        // A server a time client reported to keeps its records: a crash could lose one before
        // any other server has it, and the final check expects it.
        std::erase_if(up, [this](int s) { return keep_up_.count(s) > 0; });
        if (up.empty()) return;
        const int s = up[prng_.below(up.size())];
        down_until_[static_cast<std::size_t>(s)] = undo;
        add_pair(t, undo, ServerLine{ServerLine::Kind::crash, name(s), {}}, out);
    }
}

std::vector<Timed> Generator::timeline() {
    // A partition needs two servers, and names that cannot be read as its grammar's `|` or `*`.
    // ... and when the base has no link faults of its own: a partition replaces the base's, and
    // its heal would end the base's cuts and silences.
    bool can_partition = base_.herd.servers.size() >= 2 && !base_faults_.links;
    for (const ServerSpec& sv : base_.herd.servers)
        can_partition = can_partition && sv.name.str() != "|" && sv.name.str() != "*";
    std::vector<FaultKind> kinds;
    for (FaultKind k : {FaultKind::partition, FaultKind::cut, FaultKind::crash, FaultKind::silence,
                        FaultKind::pause, FaultKind::clock, FaultKind::clients}) {
        if (enabled(k) && (k != FaultKind::partition || can_partition)) kinds.push_back(k);
    }
    down_until_.assign(base_.herd.servers.size(), 0);
    std::vector<Timed> out;
    const std::int64_t end = config_.phase_start.ns + config_.phase.ns;
    if (kinds.empty()) return out;
    for (std::int64_t t = config_.phase_start.ns;;) {
        t += between_ms(100, 800);
        if (t >= end) break;
        add_fault(kinds[prng_.below(kinds.size())], t, end, out);
    }
    readers(out);
    std::stable_sort(out.begin(), out.end(),
                     [](const Timed& a, const Timed& b) { return a.ns < b.ns; });
    return out;
}

// Where hostile clients may come (`--faults` allows `clients`), one seed in four also has
// readers: a workload whose sessions move between servers and read their own and each other's
// records through the fault phase, and a final check that no read was impossible (another
// client's record, one nobody sent: sessions=on, herd check's rules). Drawn from a stream of
// its own, so a seed without readers is the run it always was. None where the base checks
// sessions itself.
void Generator::readers(std::vector<Timed>& out) {
    const bool allowed = std::find(config_.faults.begin(), config_.faults.end(),
                                   FaultKind::clients) != config_.faults.end();
    // A base's own `expect sessions` judges every session of the run: readers of ours would
    // count against it.
    const bool base_judges_sessions = std::any_of(
        base_.steps.begin(), base_.steps.end(),
        [](const Step& step) { return std::holds_alternative<ExpectSessions>(step.action); });
    if (!allowed || base_judges_sessions || readers_prng_.below(4) != 0) return;
    WorkloadLine w{20, 40, spell(config_.phase), hostile_prefix + "r-"};
    w.reads_per_s = 100;
    w.sessions = true;
    // Where no server ever restarts (a restart empties a store), sessions that stay at one
    // server must read each client's records in order: the store never goes back.
    const bool restarts =
        enabled(FaultKind::crash) ||
        std::any_of(base_faults_.timeline.servers.begin(), base_faults_.timeline.servers.end(),
                    [](const std::vector<FaultWindow>& row) {
                        return std::any_of(row.begin(), row.end(),
                                           [](const FaultWindow& f) { return f.kind == "down"; });
                    });
    w.sticky = !restarts;
    out.push_back({config_.phase_start.ns, w});
    model_.push_back({0, ExpectLine{ExpectLine::Kind::sessions, {}, {}, "impossible-read"}});
    if (w.sticky)
        model_.push_back({0, ExpectLine{ExpectLine::Kind::sessions, {}, {}, "monotonic-reads"}});
}

}  // namespace sweep_detail

using sweep_detail::BaseFaults;
using sweep_detail::Generator;
using sweep_detail::ms_of;
using sweep_detail::Timed;

std::optional<std::vector<FaultKind>> parse_fault_kinds(std::string_view text) {
    if (text == "all") return SweepConfig{}.faults;
    static const std::pair<const char*, FaultKind> names[] = {
        {"partition", FaultKind::partition}, {"cut", FaultKind::cut},
        {"crash", FaultKind::crash},         {"clock", FaultKind::clock},
        {"latency", FaultKind::latency},     {"places", FaultKind::places},
        {"silence", FaultKind::silence},     {"pause", FaultKind::pause},
        {"clients", FaultKind::clients}};
    std::vector<FaultKind> out;
    std::size_t at = 0;
    while (at <= text.size()) {
        std::size_t end = text.find(',', at);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view word = text.substr(at, end - at);
        auto it = std::find_if(std::begin(names), std::end(names),
                               [&](const auto& n) { return word == n.first; });
        if (it == std::end(names)) return std::nullopt;
        out.push_back(it->second);
        at = end + 1;
    }
    return out;
}

namespace {

// Comments the generator writes: a line of its own.
DocLine comment_line(std::string text) {
    return DocLine{0, std::monostate{}, "# " + std::move(text)};
}

// The base's lines, the generated settings, then one timeline in time order: each generated
// statement goes before the first base statement that comes later (after those at the same
// time, as the simulator runs them), and before the comments above that statement.
void merge(const ScenarioDoc& base, bool drop_until, std::vector<Statement> settings,
           std::vector<Timed> timed, std::uint64_t seed, ScenarioDoc& out) {
    const std::vector<DocLine>& lines = base.lines;
    std::size_t first_timed = lines.size();
    std::vector<std::int64_t> next_time(lines.size() + 1, INT64_MAX);
    for (std::size_t i = lines.size(); i-- > 0;) {
        const AtLine* at = timeline_of(lines[i]);
        next_time[i] = at != nullptr ? at->at.value.ns : next_time[i + 1];
        if (at != nullptr) first_timed = i;
    }
    std::size_t next = 0;
    auto emit_before = [&](std::int64_t ns) {
        for (; next < timed.size() && timed[next].ns < ns; ++next)
            out.lines.push_back(
                DocLine{0,
                        AtLine{spell(Duration{timed[next].ns}), std::move(timed[next].statement)},
                        {},
                        timed[next].unit});
    };
    auto header = [&](bool timeline) {
        out.lines.push_back(DocLine{});
        out.lines.push_back(comment_line("herd sweep: the faults of seed " + std::to_string(seed)));
        for (Statement& s : settings)
            out.lines.push_back(DocLine{0, std::move(s), {}});
        if (timeline)
            out.lines.push_back(
                comment_line("the timeline: the base's statements and the seed's, in time order"));
    };
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (i == first_timed) header(true);
        const auto* setting = std::get_if<DurationSetting>(&lines[i].statement);
        if (drop_until && setting != nullptr && setting->which == DurationSetting::Which::until)
            continue;  // a generated run ends later
        if (i >= first_timed) emit_before(next_time[i]);
        out.lines.push_back(lines[i]);
    }
    if (first_timed == lines.size()) header(false);
    emit_before(INT64_MAX);
}

// Replaces the run's herd (a preset, or server and link lines) by `herd`, where the first of
// them stood.
void with_herd(ScenarioDoc& run, const std::vector<Statement>& herd) {
    std::vector<DocLine> lines;
    bool placed = false;
    for (DocLine& l : run.lines) {
        const auto* file_line = std::get_if<HerdFileLine>(&l.statement);
        const bool is_herd =
            std::holds_alternative<HerdPresetLine>(l.statement) ||
            (file_line != nullptr && (file_line->fields[0] == "server" ||
                                      file_line->fields[0] == "link"));  // tls-* lines stay
        if (!is_herd) {
            lines.push_back(std::move(l));
            continue;
        }
        if (placed) continue;
        placed = true;
        lines.push_back(comment_line("herd sweep: the base's herd, with more links or servers"));
        for (const Statement& s : herd)
            lines.push_back(DocLine{0, s, {}});
    }
    run.lines = std::move(lines);
}

// The file lines (1-based: one per DocLine) of each unit, in file order.
std::vector<std::vector<int>> units_of(const ScenarioDoc& run) {
    std::map<int, std::vector<int>> by_unit;
    for (std::size_t i = 0; i < run.lines.size(); ++i) {
        if (run.lines[i].unit != 0) by_unit[run.lines[i].unit].push_back(static_cast<int>(i + 1));
    }
    std::vector<std::vector<int>> out;
    for (auto& [unit, lines] : by_unit)
        out.push_back(std::move(lines));
    return out;
}

}  // namespace

GeneratedRun generate(const std::string& base_text, const Scenario& base, std::uint64_t seed,
                      const SweepConfig& config) {
    const auto parsed = parse_document(base_text, base.file);
    HERD_ASSERT(std::holds_alternative<ScenarioDoc>(parsed));  // `base` was built from it
    const ScenarioDoc& base_doc = std::get<ScenarioDoc>(parsed);
    Generator g(base, seed, config);
    const std::string base_canonical = format_document(base_doc);
    while (base_canonical.find(g.hostile_prefix) != std::string::npos)
        g.hostile_prefix += "x";
    const std::vector<Statement> herd = g.topology();
    std::vector<Statement> settings = g.settings();  // first: the timeline depends on the rule
    std::vector<Timed> timed = g.timeline();
    // Every generated fault is undone within the phase. The liveness check comes a settle time
    // after the phase and after the base's own faults; none if the base leaves one in force.
    const BaseFaults& b = g.base_faults();
    const std::int64_t check =
        std::max(config.phase_start.ns + config.phase.ns, b.last_fault_ns) + config.settle.ns;
    if (!b.in_force_at_end) {
        timed.push_back(Timed{check, ExpectLine{ExpectLine::Kind::converged, {}, {}, {}}});
        for (Timed e : g.model_expectations()) {
            e.ns = check;
            timed.push_back(std::move(e));
        }
    }
    ScenarioDoc run;
    run.file = base.file;
    merge(base_doc, base.until.has_value(), std::move(settings), std::move(timed), seed, run);
    if (b.in_force_at_end)
        run.lines.push_back(
            comment_line("no final check: the base leaves a fault of its own in force at its end"));
    if (base.until)
        run.lines.push_back(
            DocLine{0,
                    DurationSetting{DurationSetting::Which::until,
                                    spell(Duration{std::max(base.until->ns, check)})},
                    {}});
    if (!herd.empty()) with_herd(run, herd);
    sort_timeline(run);
    return GeneratedRun{format_document(run), units_of(run)};
}

std::string generate_run(const std::string& base_text, const Scenario& base, std::uint64_t seed,
                         const SweepConfig& config) {
    return generate(base_text, base, seed, config).text;
}

}  // namespace herd::sim
