#include "sim/fault_timeline.hpp"

#include <algorithm>

#include "sim/link_faults.hpp"

namespace herd::sim {

namespace {

// Opens a window of `kind` at `t` (when `on` and none is open) or closes the open one.
void open_or_close(std::vector<FaultWindow>& row, bool on, const std::string& kind,
                   std::int64_t t) {
    auto open = std::find_if(row.rbegin(), row.rend(), [&kind](const FaultWindow& w) {
        return w.kind == kind && w.to == INT64_MAX;
    });
    if (on && open == row.rend()) row.push_back({t, INT64_MAX, kind});
    if (!on && open != row.rend()) open->to = t;
}

}  // namespace

FaultTimeline fault_timeline(const Scenario& sc) {
    FaultTimeline f;
    f.servers.resize(sc.herd.servers.size());
    LinkFaults links(sc.herd.servers.size());
    for (const Step& step : sc.steps) {
        const std::int64_t t = step.at.ns;
        if (const auto* p = std::get_if<PauseStep>(&step.action)) {
            f.servers[static_cast<std::size_t>(p->server)].push_back(
                {t, t + p->length.ns, "paused"});
        } else if (const auto* c = std::get_if<CrashStep>(&step.action)) {
            open_or_close(f.servers[static_cast<std::size_t>(c->server)], true, "down", t);
        } else if (const auto* r = std::get_if<RestartStep>(&step.action)) {
            open_or_close(f.servers[static_cast<std::size_t>(r->server)], false, "down", t);
        } else if (links.apply(step.action)) {
            for (const auto& [a, b] : sc.herd.links) {
                auto& row = f.links[{a, b}];
                open_or_close(row, links.is_cut(a, b), "cut", t);
                open_or_close(row, links.is_silenced(a, b) || links.is_silenced(b, a), "silent", t);
            }
        }
    }
    for (auto it = f.links.begin(); it != f.links.end();)
        it = it->second.empty() ? f.links.erase(it) : std::next(it);
    return f;
}

std::optional<TimelineStatement> undo_of(const TimelineStatement& fault) {
    if (std::holds_alternative<PartitionLine>(fault)) return HealLine{};
    if (const auto* l = std::get_if<LinkLine>(&fault);
        l != nullptr && l->kind != LinkLine::Kind::restore)
        return LinkLine{LinkLine::Kind::restore, l->a, l->b};
    if (const auto* s = std::get_if<ServerLine>(&fault);
        s != nullptr && s->kind == ServerLine::Kind::crash)
        return ServerLine{ServerLine::Kind::restart, s->server, {}};
    return std::nullopt;
}

bool FaultTimeline::down_during(int s, std::int64_t from, std::int64_t to) const {
    const auto& row = servers[static_cast<std::size_t>(s)];
    return std::any_of(row.begin(), row.end(), [from, to](const FaultWindow& w) {
        return w.kind == "down" && w.from <= to && from < w.to;
    });
}

std::int64_t FaultTimeline::last_end() const {
    std::int64_t last = 0;
    for (const auto& [from, to] : merged())
        last = std::max(last, to.ns);
    return last;
}

std::vector<std::pair<Instant, Instant>> FaultTimeline::merged() const {
    std::vector<std::pair<Instant, Instant>> all;
    auto add = [&all](const std::vector<FaultWindow>& row) {
        for (const FaultWindow& w : row)
            all.emplace_back(Instant{w.from}, Instant{w.to});
    };
    for (const auto& row : servers)
        add(row);
    for (const auto& [link, row] : links)
        add(row);
    std::sort(all.begin(), all.end());
    std::vector<std::pair<Instant, Instant>> out;
    for (const auto& w : all) {
        if (!out.empty() && w.first <= out.back().second)
            out.back().second = std::max(out.back().second, w.second);
        else
            out.push_back(w);
    }
    return out;
}

}  // namespace herd::sim
