// The scenario grammar written back (sim/scenario_doc.hpp): a ScenarioDoc as canonical text,
// the inverse of parse_document.
#include <algorithm>

#include "core/assert.hpp"
#include "core/text.hpp"
#include "sim/scenario_doc.hpp"

namespace herd::sim {

// A duration in its largest exact unit; zero as "0s" (a time of day, not a precision).
Spelled<Duration> spell(Duration d) {
    HERD_ASSERT(d.ns >= 0);
    return {d, d.ns == 0 ? "0s" : format_duration(d)};
}

Spelled<Duration> spell_signed(Duration d) {
    return {d, d.ns < 0 ? format_duration(d) : "+" + spell(d).text};
}

namespace {

std::string joined(const std::vector<std::string>& words, const char* between) {
    std::string out;
    for (const std::string& w : words)
        out += (out.empty() ? "" : between) + w;
    return out;
}

struct SettingText {
    std::string operator()(std::monostate) const { return {}; }
    std::string operator()(const SeedLine& s) const { return "seed " + std::to_string(s.seed); }
    std::string operator()(const HerdPresetLine& h) const {
        using Shape = HerdPresetLine::Shape;
        switch (h.shape) {
            case Shape::fall2017:
                return "herd fall2017";
            case Shape::line:
                return "herd line " + std::to_string(h.servers);
            case Shape::ring:
                return "herd ring " + std::to_string(h.servers);
            case Shape::grid:
                return "herd grid " + std::to_string(h.rows) + "x" + std::to_string(h.cols);
            case Shape::random:
                return "herd random " + std::to_string(h.servers) + " " + std::to_string(h.degree) +
                       (h.topology_seed ? " seed " + std::to_string(*h.topology_seed) : "");
        }
        return {};
    }
    std::string operator()(const HerdFileLine& l) const { return joined(l.fields, " "); }
    std::string operator()(const EpochLine& e) const { return "epoch " + e.epoch.text; }
    std::string operator()(const LatencyLine& l) const {
        return "latency " + (l.a.empty() ? "" : l.a + " " + l.b + " ") + l.dist.text;
    }
    std::string operator()(const DistributionLine& d) const {
        using Which = DistributionLine::Which;
        const char* verb = d.which == Which::client_latency   ? "client latency "
                           : d.which == Which::places_latency ? "places latency "
                                                              : "processing ";
        return verb + d.dist.text;
    }
    std::string operator()(const PlacesChanceLine& p) const {
        return std::string(p.hang ? "places hang " : "places fail ") + p.ppm.text;
    }
    std::string operator()(const DurationSetting& d) const {
        using Which = DurationSetting::Which;
        switch (d.which) {
            case Which::places_timeout:
                return "places timeout " + d.value.text;
            case Which::heartbeat:
                return "peer heartbeat " + d.value.text;
            case Which::silence_timeout:
                return "peer silence-timeout " + d.value.text;
            case Which::flood_batch:
                return "peer flood-batch " + d.value.text;
            case Which::until:
                return "until " + d.value.text;
        }
        return {};
    }
    std::string operator()(const ClockLine& c) const {
        return "clock " + c.server +
               (c.drift ? " drift " + c.drift_ppm.text : " offset " + c.offset.text);
    }
    std::string operator()(const TieBreakLine& t) const {
        return t.rule == TieBreak::first ? "tiebreak first" : "tiebreak convergent";
    }
    std::string operator()(const AtLine& a) const {
        std::string out = "at " + a.at.text;
        if (a.at.text.size() < 6) out.append(6 - a.at.text.size(), ' ');
        return out + " " + format_timeline(a.what);
    }
};

struct TimelineText {
    std::string operator()(const SendLine& s) const { return "send " + s.server + " " + s.line; }
    std::string operator()(const PartitionLine& p) const {
        std::vector<std::string> groups;
        for (const auto& g : p.groups)
            groups.push_back(joined(g, " "));
        return "partition " + joined(groups, " | ");
    }
    std::string operator()(const HealLine&) const { return "heal"; }
    std::string operator()(const LinkLine& l) const {
        using Kind = LinkLine::Kind;
        const char* verb = l.kind == Kind::cut       ? "cut "
                           : l.kind == Kind::restore ? "restore "
                                                     : "silence ";
        return verb + l.a + " " + l.b + (l.kind == Kind::silence_oneway ? " oneway" : "");
    }
    std::string operator()(const ServerLine& s) const {
        using Kind = ServerLine::Kind;
        switch (s.kind) {
            case Kind::crash:
                return "crash " + s.server;
            case Kind::restart:
                return "restart " + s.server;
            case Kind::pause:
                return "pause " + s.server + " for " + s.length.text;
            case Kind::clock_jump:
                return "clock " + s.server + " jump " + s.length.text;
        }
        return {};
    }
    std::string operator()(const WorkloadLine& w) const {
        return "workload clients=" + std::to_string(w.clients) +
               " rate=" + std::to_string(w.rate_per_s) + "/s for=" + w.length.text +
               (w.prefix ? " prefix=" + *w.prefix : "") +
               (w.reads_per_s > 0 ? " reads=" + std::to_string(w.reads_per_s) + "/s" : "") +
               (w.sticky     ? " sessions=sticky"
                : w.sessions ? " sessions=on"
                             : "");
    }
    std::string operator()(const ExpectLine& e) const {
        using Kind = ExpectLine::Kind;
        switch (e.kind) {
            case Kind::converged:
                return "expect converged";
            case Kind::has_at:
                return "expect " + e.server + " has " + e.client + " at " + e.value;
            case Kind::has_time:
                return "expect " + e.server + " has " + e.client + " time " + e.value;
            case Kind::lacks:
                return "expect " + e.server + " lacks " + e.client;
            case Kind::reply:
                return "expect reply " + e.server + " \"" + e.value + "\"";
            case Kind::sessions:
                return "expect sessions " + e.value + " at most " + std::to_string(e.count);
            case Kind::visibility:
                return "expect visibility " + e.value + "% within " + e.within.text;
        }
        return {};
    }
};

}  // namespace

std::string format_timeline(const TimelineStatement& s) {
    return std::visit(TimelineText{}, s);
}

std::string format_statement(const Statement& s) {
    return std::visit(SettingText{}, s);
}

namespace {

// `server NAME ADDRESS`: its name, when the line has an address (nothing otherwise).
const std::string* addressed_server(const DocLine& l) {
    const auto* h = std::get_if<HerdFileLine>(&l.statement);
    if (h == nullptr || h->fields.size() != 3 || h->fields[0] != "server") return nullptr;
    return &h->fields[1];
}

// Consecutive `server NAME ADDRESS` lines have their addresses in one column: the width each
// line's name is padded to (0 for other lines).
std::vector<std::size_t> server_columns(const ScenarioDoc& doc) {
    std::vector<std::size_t> width(doc.lines.size(), 0);
    for (std::size_t i = 0; i < doc.lines.size();) {
        std::size_t end = i, widest = 0;
        for (; end < doc.lines.size() && addressed_server(doc.lines[end]) != nullptr; ++end)
            widest = std::max(widest, addressed_server(doc.lines[end])->size());
        for (std::size_t k = i; k < end; ++k)
            width[k] = widest;
        i = std::max(end, i + 1);
    }
    return width;
}

}  // namespace

std::string format_document(const ScenarioDoc& doc) {
    const std::vector<std::size_t> columns = server_columns(doc);
    std::string out;
    for (std::size_t i = 0; i < doc.lines.size(); ++i) {
        const DocLine& l = doc.lines[i];
        std::string statement = format_statement(l.statement);
        if (const std::string* name = addressed_server(l);
            name != nullptr && columns[i] > name->size())
            statement.insert(7 + name->size(), columns[i] - name->size(), ' ');  // "server " + name
        out += statement;
        if (!l.comment.empty()) out += (statement.empty() ? "" : "  ") + l.comment;
        out += '\n';
    }
    return out;
}

void sort_timeline(ScenarioDoc& doc) {
    std::vector<std::size_t> slots;  // the timeline's lines, in file order
    for (std::size_t i = 0; i < doc.lines.size(); ++i) {
        if (timeline_of(doc.lines[i]) != nullptr) slots.push_back(i);
    }
    std::vector<DocLine> timeline;
    for (std::size_t i : slots)
        timeline.push_back(doc.lines[i]);
    std::stable_sort(timeline.begin(), timeline.end(), [](const DocLine& a, const DocLine& b) {
        return timeline_of(a)->at.value < timeline_of(b)->at.value;
    });
    for (std::size_t k = 0; k < slots.size(); ++k)
        doc.lines[slots[k]] = std::move(timeline[k]);
}

}  // namespace herd::sim
