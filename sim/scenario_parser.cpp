// A ScenarioDoc (sim/scenario_doc.hpp) built into the Scenario the simulator runs: the checks
// that need the herd. Two passes: the first finds the herd and the seed (a `herd random` preset
// needs the seed, which may come later in the file); the second resolves settings and the
// timeline against that herd. Every error names `file:line:` and what was expected.
#include <algorithm>
#include <map>
#include <set>

#include "core/text.hpp"
#include "sim/scenario.hpp"
#include "sim/scenario_doc.hpp"

namespace herd::sim {

namespace {

class Builder {
  public:
    Builder(const ScenarioDoc& doc, std::optional<std::uint64_t> seed_override)
        : doc_(doc), seed_override_(seed_override) {
        scenario_.file = doc.file;
    }

    Result<Scenario> run() {
        if (!first_pass() || !build_herd() || !second_pass()) return Error{error_, 1, true};
        warn_out_of_order();
        std::stable_sort(scenario_.steps.begin(), scenario_.steps.end(),
                         [](const Step& a, const Step& b) { return a.at < b.at; });
        if (scenario_.until && !scenario_.steps.empty() &&
            scenario_.until->ns < scenario_.steps.back().at.ns) {
            fail(until_line_, "expected `until` no earlier than the last statement, at " +
                                  format_duration(Duration{scenario_.steps.back().at.ns}) +
                                  " (line " + std::to_string(scenario_.steps.back().line) + ")");
            return Error{error_, 1, true};
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
        for (const DocLine& l : doc_.lines) {
            if (const auto* s = std::get_if<SeedLine>(&l.statement)) {
                if (!once(l.number, "seed")) return false;
                scenario_.seed = s->seed;
            } else if (std::holds_alternative<HerdPresetLine>(l.statement)) {
                if (preset_ != nullptr || !builder_.spec().servers.empty())
                    return fail(
                        l.number,
                        "the herd is already given (one `herd` preset, or server/link lines)");
                preset_ = &l;
            } else if (const auto* f = std::get_if<HerdFileLine>(&l.statement)) {
                if (preset_ != nullptr)
                    return fail(l.number, "the herd is already given by the `herd` preset");
                const std::vector<std::string_view> fields(f->fields.begin(), f->fields.end());
                if (const std::optional<Error> e = builder_.add_statement(fields, l.number))
                    return fail(l.number, e->message);
            }
        }
        if (seed_override_) scenario_.seed = *seed_override_;
        return true;
    }

    bool build_herd() {
        if (preset_ == nullptr) {
            if (builder_.spec().servers.empty()) {
                return fail(
                    doc_.lines.empty() ? 1 : doc_.lines.back().number,
                    "expected a herd: `herd fall2017`, a generated preset, or server/link lines");
            }
            if (auto e = builder_.finish()) return fail(builder_.spec().tls.line, e->message);
            scenario_.herd = std::move(builder_.spec());
            scenario_.herd_description = "inline";
            return true;
        }
        const auto& h = std::get<HerdPresetLine>(preset_->statement);
        using Shape = HerdPresetLine::Shape;
        switch (h.shape) {
            case Shape::fall2017:
                scenario_.herd = fall2017_herd();
                break;
            case Shape::line:
                scenario_.herd = line_herd(h.servers);
                break;
            case Shape::ring:
                scenario_.herd = ring_herd(h.servers);
                break;
            case Shape::grid:
                scenario_.herd = grid_herd(h.rows, h.cols);
                break;
            case Shape::random:
                // Without a topology seed of its own, the run's seed draws the topology too.
                scenario_.herd =
                    random_herd(h.servers, h.degree, h.topology_seed.value_or(scenario_.seed));
                break;
        }
        scenario_.herd_description = format_statement(h).substr(5);  // after "herd "
        return true;
    }

    // ------------------------------------------------------------ pass 2: settings and timeline
    bool second_pass() {
        for (const DocLine& l : doc_.lines) {
            line_ = l.number;
            if (!std::visit([this](const auto& s) { return add(s); }, l.statement)) return false;
        }
        return true;
    }

    // Lines of the first pass, and none.
    bool add(std::monostate) { return true; }
    bool add(const SeedLine&) { return true; }
    bool add(const HerdPresetLine&) { return true; }
    bool add(const HerdFileLine&) { return true; }

    bool add(const EpochLine& e) {
        if (!once(line_, "epoch")) return false;
        scenario_.epoch = e.epoch.value;
        return true;
    }

    bool add(const LatencyLine& l) {
        if (l.a.empty()) {
            scenario_.latency = l.dist.value;
            return once(line_, "latency");
        }
        const auto link = link_of(l.a, l.b);
        if (!link) return false;
        scenario_.link_latency.insert_or_assign(*link, l.dist.value);
        return once(line_, "latency " + name_of(link->first) + " " + name_of(link->second));
    }

    bool add(const DistributionLine& d) {
        using Which = DistributionLine::Which;
        switch (d.which) {
            case Which::client_latency:
                scenario_.client_latency = d.dist.value;
                return once(line_, "client latency");
            case Which::places_latency:
                scenario_.places_latency = d.dist.value;
                return once(line_, "places latency");
            case Which::processing:
                scenario_.processing = d.dist.value;
                return once(line_, "processing");
        }
        return false;
    }

    bool add(const PlacesChanceLine& p) {
        (p.hang ? scenario_.places_hang_ppm : scenario_.places_fail_ppm) = p.ppm.value;
        return once(line_, p.hang ? "places hang" : "places fail");
    }

    bool add(const DurationSetting& d);
    bool add(const ClockLine& c);
    bool add(const TieBreakLine& t) {
        scenario_.tie_break = t.rule;
        return once(line_, "tiebreak");
    }
    bool add(const AtLine& a);

    std::optional<int> server(std::string_view name) {
        const int i = scenario_.herd.index_of(name);
        if (i < 0) {
            fail(line_, "unknown server '" + std::string(name) + "'");
            return std::nullopt;
        }
        return i;
    }

    std::optional<std::pair<int, int>> link_of(std::string_view a, std::string_view b) {
        const auto x = server(a);
        if (!x) return std::nullopt;
        const auto y = server(b);
        if (!y) return std::nullopt;
        if (!scenario_.herd.linked(*x, *y)) {
            fail(line_, "no link " + std::string(a) + " " + std::string(b) + " in this herd");
            return std::nullopt;
        }
        return std::make_pair(std::min(*x, *y), std::max(*x, *y));
    }

    bool timeline(const TimelineStatement& what, StepAction& out);
    bool link_step(const LinkLine& l, StepAction& out);
    bool server_step(const ServerLine& s, StepAction& out);
    bool partition(const PartitionLine& p, StepAction& out);
    bool expect(const ExpectLine& e, StepAction& out);
    void warn_out_of_order();
    void warn_crashes_and_restarts();

    const ScenarioDoc& doc_;
    std::optional<std::uint64_t> seed_override_;
    Scenario scenario_;
    HerdBuilder builder_;
    const DocLine* preset_ = nullptr;
    int line_ = 0;  // the line of pass 2 at hand
    std::string error_;
    std::map<std::string, int> set_at_;  // setting -> the line that set it
    int until_line_ = 0;
    std::vector<std::pair<int, std::string>> warnings_;  // (line, what)
    std::map<int, Duration> jumps_;                      // each server's clock jumps so far
};

bool Builder::add(const DurationSetting& d) {
    using Which = DurationSetting::Which;
    switch (d.which) {
        case Which::places_timeout:
            scenario_.places_timeout = d.value.value;
            return once(line_, "places timeout");
        case Which::flood_batch:
            scenario_.flood_batch = d.value.value;
            return once(line_, "peer flood-batch");
        case Which::until:
            scenario_.until = d.value.value;
            until_line_ = line_;
            return once(line_, "until");
        case Which::heartbeat:
        case Which::silence_timeout:
            break;
    }
    // The heartbeat must stay below the silence timeout (checked once both are known).
    const bool heartbeat = d.which == Which::heartbeat;
    (heartbeat ? scenario_.heartbeat : scenario_.silence_timeout) = d.value.value;
    if (!once(line_, heartbeat ? "peer heartbeat" : "peer silence-timeout")) return false;
    const Duration beat = scenario_.heartbeat.value_or(Duration::seconds(1));
    const Duration silence = scenario_.silence_timeout.value_or(Duration::seconds(3));
    return beat < silence || fail(line_, "expected a heartbeat shorter than the silence timeout");
}

bool Builder::add(const ClockLine& c) {
    const auto s = server(c.server);
    if (!s) return false;
    if (c.drift) {
        scenario_.clock_drift_ppm[*s] = c.drift_ppm.value;
        return once(line_, "clock " + name_of(*s) + " drift");
    }
    scenario_.clock_offset[*s] = c.offset.value;
    return once(line_, "clock " + name_of(*s));
}

bool Builder::add(const AtLine& a) {
    Step step{Instant{a.at.value.ns}, line_, format_timeline(a.what), HealStep{}};
    if (!timeline(a.what, step.action)) return false;
    scenario_.steps.push_back(std::move(step));
    return true;
}

bool Builder::timeline(const TimelineStatement& what, StepAction& out) {
    if (const auto* s = std::get_if<SendLine>(&what)) {
        const auto i = server(s->server);
        if (!i) return false;
        out = SendStep{*i, s->line};
        return true;
    }
    if (const auto* p = std::get_if<PartitionLine>(&what)) return partition(*p, out);
    if (std::holds_alternative<HealLine>(what)) {
        out = HealStep{};
        return true;
    }
    if (const auto* l = std::get_if<LinkLine>(&what)) return link_step(*l, out);
    if (const auto* s = std::get_if<ServerLine>(&what)) return server_step(*s, out);
    if (const auto* w = std::get_if<WorkloadLine>(&what)) {
        out = WorkloadStep{w->clients,     w->rate_per_s, w->length.value, w->prefix.value_or("w"),
                           w->reads_per_s, w->sessions,   w->sticky};
        return true;
    }
    return expect(std::get<ExpectLine>(what), out);
}

bool Builder::link_step(const LinkLine& l, StepAction& out) {
    using Kind = LinkLine::Kind;
    const auto link = link_of(l.a, l.b);
    if (!link) return false;
    if (l.kind == Kind::cut)
        out = CutStep{link->first, link->second};
    else if (l.kind == Kind::restore)
        out = RestoreStep{link->first, link->second};
    else  // a silence keeps its direction
        out = SilenceStep{scenario_.herd.index_of(l.a), scenario_.herd.index_of(l.b),
                          l.kind == Kind::silence_oneway};
    return true;
}

bool Builder::server_step(const ServerLine& s, StepAction& out) {
    using Kind = ServerLine::Kind;
    const auto i = server(s.server);
    if (!i) return false;
    switch (s.kind) {
        case Kind::crash:
            out = CrashStep{*i};
            return true;
        case Kind::restart:
            out = RestartStep{*i};
            return true;
        case Kind::pause:
            out = PauseStep{*i, s.length.value};
            return true;
        case Kind::clock_jump:
            break;
    }
    // A server's jumps add up to at most clock_offset_max either way.
    Duration& total = jumps_[*i];
    total = total + s.length.value;
    if (total.ns > clock_offset_max.ns || total.ns < -clock_offset_max.ns)
        return fail(line_, "the jumps of " + name_of(*i) + " add up to more than 365 days");
    out = ClockJumpStep{*i, s.length.value};
    return true;
}

// A group `*` stands for every server named in no other group.
bool Builder::partition(const PartitionLine& p, StepAction& out) {
    PartitionStep step;
    std::vector<bool> seen(scenario_.herd.servers.size(), false);
    int rest_group = -1;
    for (const auto& group : p.groups) {
        step.groups.emplace_back();
        for (const std::string& name : group) {
            if (name == "*") {
                rest_group = static_cast<int>(step.groups.size() - 1);
                continue;
            }
            const auto s = server(name);
            if (!s) return false;
            if (seen[static_cast<std::size_t>(*s)])
                return fail(line_, "server '" + name + "' is in two groups");
            seen[static_cast<std::size_t>(*s)] = true;
            step.groups.back().push_back(*s);
        }
    }
    for (std::size_t s = 0; rest_group >= 0 && s < seen.size(); ++s) {
        if (!seen[s])
            step.groups[static_cast<std::size_t>(rest_group)].push_back(static_cast<int>(s));
    }
    for (const auto& g : step.groups) {
        if (g.empty())
            return fail(line_,
                        "expected `partition GROUP | GROUP ...` with servers in every group");
    }
    out = std::move(step);
    return true;
}

bool Builder::expect(const ExpectLine& e, StepAction& out) {
    using Kind = ExpectLine::Kind;
    if (e.kind == Kind::converged) {
        out = ExpectConverged{};
        return true;
    }
    if (e.kind == Kind::sessions) {
        out = ExpectSessions{*history::anomaly_kind(e.value), e.count};
        return true;
    }
    if (e.kind == Kind::visibility) {
        out = ExpectVisibility{e.count, e.within.value};
        return true;
    }
    const auto s = server(e.server);
    if (!s) return false;
    switch (e.kind) {
        case Kind::has_at:
            out = ExpectHasAt{*s, e.client, e.value};
            break;
        case Kind::has_time:
            out = ExpectHasTime{*s, e.client, *parse_client_time(e.value), e.value};
            break;
        case Kind::lacks:
            out = ExpectLacks{*s, e.client};
            break;
        case Kind::reply:
        case Kind::converged:
        case Kind::sessions:
        case Kind::visibility:
            out = ExpectReply{*s, *Glob::compile(e.value)};
            break;
    }
    return true;
}

// Timeline lines run in time order whatever the file's order; a line earlier than the one
// before it is usually a typo.
void Builder::warn_out_of_order() {
    const Step* latest = nullptr;
    for (const Step& step : scenario_.steps) {
        if (latest != nullptr && step.at < latest->at)
            warnings_.emplace_back(step.line,
                                   "`at " + format_duration(Duration{step.at.ns}) +
                                       "` comes after a statement at " +
                                       format_duration(Duration{latest->at.ns}) + " (line " +
                                       std::to_string(latest->line) +
                                       "); statements run in time order, so this one runs first");
        if (latest == nullptr || step.at > latest->at) latest = &step;
    }
}

// In time order: a crash of a server that is down does nothing; a restart of one that is up
// is a crash and a start.
void Builder::warn_crashes_and_restarts() {
    std::vector<int> down_since(scenario_.herd.servers.size(), 0);  // the crash's line
    for (const Step& step : scenario_.steps) {
        if (const auto* c = std::get_if<CrashStep>(&step.action)) {
            int& since = down_since[static_cast<std::size_t>(c->server)];
            if (since != 0)
                warnings_.emplace_back(step.line, "crash of " + name_of(c->server) +
                                                      ", which is down since line " +
                                                      std::to_string(since) + ": nothing happens");
            else
                since = step.line;
        } else if (const auto* p = std::get_if<PauseStep>(&step.action)) {
            const int since = down_since[static_cast<std::size_t>(p->server)];
            if (since != 0)
                warnings_.emplace_back(step.line, "pause of " + name_of(p->server) +
                                                      ", which is down since line " +
                                                      std::to_string(since) + ": nothing happens");
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

}  // namespace

Result<Scenario> build_scenario(const ScenarioDoc& doc,
                                std::optional<std::uint64_t> seed_override) {
    return Builder(doc, seed_override).run();
}

Result<Scenario> parse_scenario(std::string_view text, std::string_view file_name,
                                std::optional<std::uint64_t> seed_override) {
    auto doc = parse_document(text, file_name);
    if (const Error* e = error_of(doc)) return *e;
    return build_scenario(std::get<ScenarioDoc>(doc), seed_override);
}

}  // namespace herd::sim
