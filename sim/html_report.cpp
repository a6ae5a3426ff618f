#include "sim/html_report.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <istream>
#include <map>
#include <set>

#include "core/record.hpp"
#include "core/text.hpp"
#include "sim/fault_timeline.hpp"
#include "sim/html_parts.hpp"
#include "sim/report.hpp"

namespace herd::sim {

namespace {

using namespace html;

// A string of the trace, as the bytes it stands for (the trace escapes every byte >= 0x80).
std::string member(const rapidjson::Value& v, const char* key) {
    auto it = v.FindMember(key);
    if (it == v.MemberEnd() || !it->value.IsString()) return {};
    return bytes_of_json_string({it->value.GetString(), it->value.GetStringLength()});
}

std::int64_t number(const rapidjson::Value& v, const char* key) {
    auto it = v.FindMember(key);
    return it != v.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
}

// Calls `each(document, ev)` for every trace line whose "ev" is one of `kinds`.
template <typename Each>
void for_events(std::istream& trace, std::initializer_list<std::string_view> kinds, Each&& each) {
    trace.clear();
    trace.seekg(0);
    std::string line;
    while (std::getline(trace, line)) {
        const std::size_t ev = line.find("\"ev\":\"");
        if (ev == std::string::npos) continue;
        const std::string_view kind =
            std::string_view(line).substr(ev + 6, line.find('"', ev + 6) - ev - 6);
        if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) continue;
        rapidjson::Document d;
        d.Parse(line.data(), line.size());
        if (!d.HasParseError() && d.IsObject()) each(d, kind);
    }
}

// The updates drawn: those of clients a failing expectation names, then the first ones.
std::vector<std::string> chosen_updates(const Model& m, const SimResult& r) {
    std::vector<std::string> out;
    auto take = [&out](const std::string& record) {
        if (out.size() < html_updates_max && std::find(out.begin(), out.end(), record) == out.end())
            out.push_back(record);
    };
    for (const ExpectationResult& e : r.expectations) {
        if (e.pass) continue;
        for (const Apply& a : m.applies) {
            const auto v = AtLineView::parse(m.records[a.record]);
            if (a.origin && v && !e.client.empty() && e.client == v->client)
                take(m.records[a.record]);
        }
    }
    for (const Apply& a : m.applies) {
        if (a.origin) take(m.records[a.record]);
    }
    return out;
}

Model read_trace(std::istream& trace, const HerdSpec& herd, const SimResult& r) {
    Model m;
    std::map<std::string, std::size_t> ids;
    for_events(trace, {"apply"}, [&](const rapidjson::Document& d, std::string_view) {
        const int s = herd.index_of(member(d, "server"));
        if (s < 0) return;
        auto [it, added] = ids.try_emplace(member(d, "record"), m.records.size());
        if (added) m.records.push_back(it->first);
        m.applies.push_back({number(d, "t"), s, it->second, member(d, "via").empty()});
    });
    m.chosen = chosen_updates(m, r);
    if (m.chosen.empty() || herd.servers.size() > html_lanes_max) return m;
    for_events(trace, {"send"}, [&](const rapidjson::Document& d, std::string_view) {
        const int from = herd.index_of(member(d, "from"));
        const int to = herd.index_of(member(d, "to"));
        if (from < 0 || to < 0) return;
        const std::string bytes = member(d, "bytes");
        for (std::size_t u = 0; u < m.chosen.size(); ++u) {
            if (bytes.find(m.chosen[u]) != std::string::npos)
                m.messages.push_back({number(d, "t"), number(d, "arrive"), from, to, u});
        }
    });
    return m;
}

// ------------------------------------------------------------------ the timeline

// The timeline's rows of links: one per link with a fault; in a big herd, links with the very
// same windows (a partition cuts many at once) share one row, named by its first few links.
std::vector<std::pair<std::string, std::vector<FaultWindow>>> link_rows(const Scenario& sc,
                                                                        const FaultTimeline& rows,
                                                                        bool collapse) {
    auto same = [](const std::vector<FaultWindow>& a, const std::vector<FaultWindow>& b) {
        return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
            return x.from == y.from && x.to == y.to && x.kind == y.kind;
        });
    };
    std::vector<std::pair<std::vector<std::string>, std::vector<FaultWindow>>> groups;
    for (const auto& entry : rows.links) {
        const std::pair<int, int>& link = entry.first;
        const std::vector<FaultWindow>& windows = entry.second;  // a plain name: lambdas take it
        const std::string name = server_name(sc, link.first) + "-" + server_name(sc, link.second);
        auto it = std::find_if(groups.begin(), groups.end(),
                               [&](const auto& g) { return collapse && same(g.second, windows); });
        if (it == groups.end()) {
            groups.push_back({{name}, windows});
        } else {
            it->first.push_back(name);
        }
    }
    std::vector<std::pair<std::string, std::vector<FaultWindow>>> out;
    for (auto& [names, windows] : groups) {
        std::string text = names[0];
        if (names.size() > 1) {
            text = std::to_string(names.size()) + " links:";
            for (std::size_t i = 0; i < names.size() && i < 10; ++i)
                text += " " + names[i];
            if (names.size() > 10) text += " ...";
        }
        out.emplace_back(std::move(text), std::move(windows));
    }
    return out;
}

// The clients' anomalies (`expect sessions`), in a row of their own: each a line from its first
// witness's completion to its last's, a mark at each, and the witnesses in its title.
std::string anomalies(const SimResult& r, const TimeAxis& axis, std::int64_t y) {
    std::string out = label(y + 11, "client anomalies");
    for (const history::Anomaly& a : r.anomalies) {
        if (a.witnesses.empty()) continue;
        std::string title = std::string(history::anomaly_name(a.kind)) + ": " + a.what;
        std::int64_t from = INT64_MAX, to = 0;
        for (const history::Witness& w : a.witnesses) {
            from = std::min(from, w.op->complete_ns);
            to = std::max(to, w.op->complete_ns);
            title += "\n  process " + std::to_string(w.op->process) + " at " + w.op->server + ", " +
                     format_latency(w.op->invoke_ns) + ".." + format_latency(w.op->complete_ns) +
                     ": " + w.op->line + " -> " + w.op->reply.value_or("(no reply)");
        }
        out += "<g class=\"anomaly\"><title>" + escape(title) + "</title><line x1=\"" +
               px(axis.x(from)) + "\" x2=\"" + px(axis.x(to)) + "\" y1=\"" + std::to_string(y + 6) +
               "\" y2=\"" + std::to_string(y + 6) + "\"/>";
        for (const history::Witness& w : a.witnesses)
            out += "<circle cx=\"" + px(axis.x(w.op->complete_ns)) + "\" cy=\"" +
                   std::to_string(y + 6) + "\" r=\"4\"/>";
        out += "</g>";
    }
    return out;
}

std::string timeline(const Scenario& sc, const SimResult& r, const FaultTimeline& rows,
                     const TimeAxis& axis) {
    std::string body;
    std::int64_t y = 30;
    // Passes first, then failures: a failure drawn at the same instant as a pass lies on top
    // (SVG paints in document order), and is a little larger.
    for (const bool passes : {true, false}) {
        for (const ExpectationResult& e : r.expectations) {
            if (e.pass != passes) continue;
            body += "<circle class=\"marker " + std::string(e.pass ? "pass" : "fail") +
                    "\" data-line=\"" + std::to_string(e.line) + "\" cx=\"" + px(axis.x(e.at.ns)) +
                    "\" cy=\"18\" r=\"" + (e.pass ? "5" : "6") + "\"><title>" +
                    escape("line " + std::to_string(e.line) + " at " + format_latency(e.at.ns) +
                           ": " + e.text + (e.pass ? "  PASS" : "  FAIL, found: " + e.found)) +
                    "</title></circle>";
        }
    }
    body += label(22, "expectations");
    if (!r.anomalies.empty()) {
        body += anomalies(r, axis, y);
        y += 16;
    }
    // A big herd shows the rows of servers with a fault; the quiet ones are named in one line.
    const bool collapse = rows.servers.size() > html_timeline_rows_all;
    std::size_t quiet = 0;
    for (std::size_t s = 0; s < rows.servers.size(); ++s) {
        if (collapse && rows.servers[s].empty()) {
            quiet += 1;
            continue;
        }
        body += label(y + 11, server_name(sc, static_cast<int>(s)));
        for (const FaultWindow& w : rows.servers[s])
            body += rect(axis.x(w.from), axis.x(w.to), y, 12, "band " + w.kind,
                         server_name(sc, static_cast<int>(s)) + " " + w.kind + " from " +
                             format_latency(w.from) + " to " + until_text(w.to));
        y += 16;
    }
    if (quiet > 0) {
        body += label(y + 11, std::to_string(quiet) + " servers: no fault");
        y += 16;
    }
    for (const auto& [name, windows] : link_rows(sc, rows, collapse)) {
        body += label(y + 11, name);
        for (const FaultWindow& w : windows)
            body += rect(axis.x(w.from), axis.x(w.to), y, 12, "band " + w.kind,
                         name + " " + w.kind + " from " + format_latency(w.from) + " to " +
                             until_text(w.to));
        y += 16;
    }
    return "<svg class=\"timeline\" width=\"1080\" height=\"" + std::to_string(y + 24) + "\">" +
           axis.ticks(8, y) + body + "</svg>";
}

// ------------------------------------------------------------------ the space-time diagram

// One update's panel: where it was applied (dots, large at its origin) and every peer message
// that carried it (arrows), on a time axis from its acceptance to its last arrival.
std::string update_panel(const Scenario& sc, const Model& m, std::size_t u) {
    std::int64_t first = INT64_MAX, last = 0;
    for (const Apply& a : m.applies) {
        if (m.records[a.record] != m.chosen[u]) continue;
        first = std::min(first, a.t);
        last = std::max(last, a.t);
    }
    // Up to its last apply: copies that arrive later (anti-entropy after a heal) change nothing.
    const TimeAxis axis{std::max<std::int64_t>((last - first) / 10 * 11, 1'000'000), 140, 900,
                        first};
    std::size_t later = 0;
    constexpr std::int64_t gap = 20;
    auto lane_y = [](int s) { return std::to_string(30 + s * gap); };
    std::string body;
    for (std::size_t s = 0; s < sc.herd.servers.size(); ++s) {
        const std::string& name = server_name(sc, static_cast<int>(s));
        body += "<g class=\"lane\" data-server=\"" + escape(name) +
                "\"><line class=\"lane-line\" x1=\"" + px(axis.x(first)) + "\" x2=\"" +
                px(axis.x(first + axis.end)) + "\" y1=\"" + lane_y(static_cast<int>(s)) +
                "\" y2=\"" + lane_y(static_cast<int>(s)) + "\"/>" +
                label(34 + static_cast<std::int64_t>(s) * gap, name) + "</g>";
    }
    const std::string cls = "update u" + std::to_string(u);
    for (const Message& msg : m.messages) {
        if (msg.update != u) continue;
        if (msg.arrive > first + axis.end) {
            later += 1;
            continue;
        }
        body += "<line class=\"" + cls + " arrow\" x1=\"" + px(axis.x(msg.t)) + "\" y1=\"" +
                lane_y(msg.from) + "\" x2=\"" + px(axis.x(msg.arrive)) + "\" y2=\"" +
                lane_y(msg.to) + "\" marker-end=\"url(#head)\"><title>sent " +
                format_latency(msg.t) + ", arrived " + format_latency(msg.arrive) +
                "</title></line>";
    }
    for (const Apply& a : m.applies) {
        if (m.records[a.record] != m.chosen[u]) continue;
        body += "<circle class=\"" + cls + (a.origin ? " origin" : "") + "\" cx=\"" +
                px(axis.x(a.t)) + "\" cy=\"" + lane_y(a.server) + "\" r=\"" +
                (a.origin ? "5" : "3") + "\"><title>" + escape(server_name(sc, a.server)) +
                " applied it at " + format_latency(a.t) + "</title></circle>";
    }
    const std::int64_t height = 30 + static_cast<std::int64_t>(sc.herd.servers.size()) * gap;
    return "<h3 class=\"u" + std::to_string(u) + "\">" + escape(m.chosen[u]) + " (accepted at " +
           format_latency(first) +
           (later > 0
                ? "; " + std::to_string(later) + " later copies, after its last apply, not drawn"
                : std::string()) +
           ")</h3><svg class=\"spacetime\" width=\"1080\" height=\"" + std::to_string(height + 20) +
           "\">" + axis.ticks(14, height) + body + "</svg>";
}

std::string space_time(const Scenario& sc, const Model& m) {
    const std::size_t n = sc.herd.servers.size();
    if (n > html_lanes_max)
        return "<p class=\"note\">" + std::to_string(n) +
               " servers: more lanes than a diagram can show (" + std::to_string(html_lanes_max) +
               " at most); the heatmap above shows the herd instead.</p>";
    std::string out =
        "<svg width=\"0\" height=\"0\"><defs><marker id=\"head\" markerWidth=\"5\" "
        "markerHeight=\"5\" refX=\"5\" refY=\"2.5\" orient=\"auto\"><path class=\"head\" "
        "d=\"M0,0 L5,2.5 L0,5 z\"/></marker></defs></svg><p class=\"note\">" +
        std::to_string(m.chosen.size()) +
        " updates (those a failing expectation names, then the first ones), each on its own time "
        "axis from its acceptance: a dot where a server applied it (large at its origin), an "
        "arrow for each peer message that carried it.</p>";
    if (m.messages.empty())
        out +=
            "<p class=\"note\">This trace has no peer messages (a real herd's servers trace "
            "their applies only): dots, no arrows.</p>";
    for (std::size_t u = 0; u < m.chosen.size(); ++u)
        out += update_panel(sc, m, u);
    return out;
}

// ------------------------------------------------------------------ the herd and the text

std::string herd_drawing(const Scenario& sc) {
    const std::size_t n = sc.herd.servers.size();
    if (n > 60)
        return "<p class=\"note\">" + std::to_string(n) + " servers, " +
               std::to_string(sc.herd.links.size()) + " links: too many to draw.</p>";
    // Servers on a circle; positions from a table of sines in thousandths (no libm).
    auto pos = [n](std::size_t s, bool y) {
        static const int sines[] = {0,   105, 208, 309, 407, 500, 588, 669,
                                    743, 809, 866, 914, 951, 978, 995, 1000};  // sin(6k degrees)
        const std::size_t deg = s * 360 / std::max<std::size_t>(n, 1) + (y ? 0 : 90);
        const std::size_t q = deg % 360 / 90, k = deg % 90 / 6;
        const int v = q % 2 == 0 ? sines[k] : sines[15 - k];
        return (q < 2 ? v : -v) * 120 / 1000 + 160;
    };
    std::string out = "<svg class=\"herd\" width=\"320\" height=\"320\">";
    for (const auto& [a, b] : sc.herd.links)
        out += "<line class=\"link\" x1=\"" +
               std::to_string(pos(static_cast<std::size_t>(a), false)) + "\" y1=\"" +
               std::to_string(pos(static_cast<std::size_t>(a), true)) + "\" x2=\"" +
               std::to_string(pos(static_cast<std::size_t>(b), false)) + "\" y2=\"" +
               std::to_string(pos(static_cast<std::size_t>(b), true)) + "\"/>";
    for (std::size_t s = 0; s < n; ++s)
        out += "<circle class=\"node\" cx=\"" + std::to_string(pos(s, false)) + "\" cy=\"" +
               std::to_string(pos(s, true)) + "\" r=\"5\"/><text class=\"label\" x=\"" +
               std::to_string(pos(s, false) + 7) + "\" y=\"" + std::to_string(pos(s, true) - 4) +
               "\">" + escape(server_name(sc, static_cast<int>(s))) + "</text>";
    return out + "</svg>";
}

std::string listing(std::string_view text, const SimResult& r) {
    std::map<int, bool> verdicts;
    for (const ExpectationResult& e : r.expectations)
        verdicts[e.line] = e.pass;
    std::string out = "<pre class=\"scenario\">";
    for (const auto& [number, line] : source_lines(text)) {
        auto v = verdicts.find(number);
        out += "<span class=\"line" +
               std::string(v == verdicts.end() ? ""
                           : v->second         ? " pass"
                                               : " fail") +
               "\" id=\"L" + std::to_string(number) + "\"><span class=\"no\">" +
               std::to_string(number) + "</span>";
        if (line.size() > html_scenario_line_bytes_max)
            out += escape(line.substr(0, html_scenario_line_bytes_max)) + "… (" +
                   std::to_string(line.size()) + " bytes)";
        else
            out += escape(line);
        out += "</span>\n";
    }
    return out + "</pre>";
}

const char* css =
    "body{font-family:sans-serif;margin:20px;color:#222}h1{font-size:20px}h2{font-size:16px;"
    "margin-top:28px}.verdict.pass{color:#1a7f37}.verdict.fail{color:#c62828}"
    "svg{display:block;margin:6px 0}.label,.axis{font-size:11px;fill:#444}.tick{stroke:#ddd}"
    ".band.down{fill:#c62828}.band.paused{fill:#f0a020}.band.cut{fill:#555}"
    ".band.silent{fill:#8e44ad}.marker.pass{fill:#1a7f37}.marker.fail{fill:#c62828}"
    "h3{font-size:12px;font-family:monospace;margin:10px 0 "
    "0}.head{fill:#555}.lane-line{stroke:#999}.arrow{stroke-width:1.5}.link{stroke:#888}.node{fill:"
    "#1565c0}"
    ".u0{stroke:#1565c0;fill:#1565c0;color:#1565c0}.u1{stroke:#2e7d32;fill:#2e7d32;color:#2e7d32}"
    ".u2{stroke:#ef6c00;fill:#ef6c00;color:#ef6c00}.u3{stroke:#6a1b9a;fill:#6a1b9a;color:#6a1b9a}"
    ".u4{stroke:#00838f;fill:#00838f;color:#00838f}.u5{stroke:#ad1457;fill:#ad1457;color:#ad1457}"
    ".anomaly line{stroke:#c62828;stroke-width:2}.anomaly circle{fill:#c62828}"
    ".cdf{fill:none;stroke-width:2}table.hops "
    "td,table.hops th{"
    "padding:2px 10px;text-align:right;font-size:13px}.note{font-size:12px;color:#666}"
    "pre.scenario{font-size:12px;background:#fafafa;padding:8px;overflow-x:auto}"
    ".scenario .no{display:inline-block;width:40px;color:#999}.scenario .pass{background:#e8f5e9}"
    ".scenario .fail{background:#ffebee}.legend{font-size:12px;font-family:monospace}"
    ".marker{cursor:pointer}.scenario .shown{outline:2px solid #1565c0}";

// A click on an expectation's marker shows its line in the scenario text; the last statement
// marks the page as loaded (the browser test looks for it).
const char* script =
    "document.querySelectorAll('.marker').forEach(function(m){m.addEventListener('click',"
    "function(){var l=document.getElementById('L'+m.dataset.line);if(!l)return;"
    "document.querySelectorAll('.shown').forEach(function(x){x.classList.remove('shown');});"
    "l.classList.add('shown');l.scrollIntoView({block:'center'});});});"
    "document.body.dataset.ready='1';";

}  // namespace

std::string html_report(const HtmlInput& in) {
    const Scenario& sc = in.scenario;
    const SimResult& r = in.result;
    const Model m = read_trace(in.trace, sc.herd, r);
    const TimeAxis axis{std::max<std::int64_t>(r.end.ns, 1)};
    const FaultTimeline rows = fault_timeline(sc);
    std::size_t held = 0;
    for (const ExpectationResult& e : r.expectations)
        held += e.pass;
    const bool pass = r.passed();
    const Percentiles across = percentiles(r.propagation_fault_ns);
    std::string out = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" +
                      escape(in.tool + " " + sc.file) + "</title><style>" + css +
                      "</style></head><body>";
    out += "<h1>" + escape(in.tool + " " + sc.file) + "</h1><p class=\"verdict " +
           (pass ? "pass" : "fail") + "\">" + (pass ? "PASS" : "FAIL") + ": " +
           std::to_string(held) + " of " + std::to_string(r.expectations.size()) +
           " expectations hold, " + std::to_string(r.violations.size()) +
           " invariant violations. Herd " + escape(sc.herd_description) + " (" +
           std::to_string(sc.herd.servers.size()) + " servers), seed " + std::to_string(sc.seed) +
           ", until " + escape(format_latency(r.end.ns)) + ".</p><ul>";
    for (const Violation& v : r.violations)
        out +=
            "<li class=\"violation\">" + escape(format_latency(v.at.ns) + ": " + v.what) + "</li>";
    // What matters first: the verdict, the faults and expectations, how far behind servers were.
    out += "</ul><h2>Timeline</h2>" + timeline(sc, r, rows, axis);
    out += "<h2>Staleness</h2>" + heatmap(sc, m, rows, axis);
    out += "<h2>Space-time diagram</h2>" + space_time(sc, m);
    out += "<h2>Propagation by hop distance</h2>" + propagation(r) +
           "<p>Messages per update: " + ratio(r.stats.peer_at_lines, r.stats.updates) +
           " record lines (" + std::to_string(r.stats.peer_bytes) + " bytes on links). " +
           (across.count == 0
                ? std::string("No update met a fault on its way.")
                : "Updates that met a fault on the way (apart from the above): " +
                      std::to_string(across.count) + " applies, p50 " + format_latency(across.p50) +
                      ", max " + format_latency(across.max) + ".") +
           "</p>";
    out +=
        "<h2>t-visibility</h2><p>The share of the pairs of an update and another server "
        "whose server held the update (or a newer record of its client) t after the write: "
        "the chance that a read there t after the write returns it.</p>" +
        visibility(r, in.simulated);
    out += "<h2>Herd</h2>" + herd_drawing(sc) + "<h2>Scenario</h2>" + listing(in.scenario_text, r);
    return out + "<script>" + script + "</script></body></html>\n";
}

}  // namespace herd::sim
