// The HTML report's drawing helpers and its charts: the staleness heatmap and propagation by hop
// distance (sim/html_parts.hpp).
#include <map>
#include <optional>

#include "core/record.hpp"
#include "core/text.hpp"
#include "sim/html_parts.hpp"
#include "sim/html_report.hpp"
#include "sim/visibility.hpp"

namespace herd::sim::html {

std::string escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '&':
                out += "&amp;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

// A coordinate in tenths of a pixel, printed with one decimal (integer arithmetic only).
std::string px(std::int64_t tenths) {
    std::string out;
    if (tenths < 0) {
        out += '-';
        tenths = -tenths;
    }
    append_decimal(out, static_cast<std::uint64_t>(tenths / 10));
    out += '.';
    append_decimal(out, static_cast<std::uint64_t>(tenths % 10));
    return out;
}

std::string rect(std::int64_t x0, std::int64_t x1, std::int64_t y, std::int64_t h,
                 const std::string& cls, const std::string& title) {
    return "<rect class=\"" + cls + "\" x=\"" + px(x0) + "\" y=\"" + std::to_string(y) +
           "\" width=\"" + px(std::max<std::int64_t>(x1 - x0, 10)) + "\" height=\"" +
           std::to_string(h) + "\"><title>" + escape(title) + "</title></rect>";
}

std::string until_text(std::int64_t t) {
    return t == INT64_MAX ? std::string("the end") : format_latency(t);
}

// A row's name, left of the 140 px where the time axis starts: a longer one is cut, whole in
// its tooltip.
std::string label(std::int64_t y, const std::string& text) {
    constexpr std::size_t shown_max = 22;  // characters of 11 px type in 136 px
    const std::string head = "<text class=\"label\" x=\"4\" y=\"" + std::to_string(y) + "\">";
    if (text.size() <= shown_max) return head + escape(text) + "</text>";
    std::size_t cut = shown_max - 1;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
        --cut;  // not inside a UTF-8 character
    return head + "<title>" + escape(text) + "</title>" + escape(text.substr(0, cut)) + "…</text>";
}

const std::string& server_name(const Scenario& sc, int s) {
    return sc.herd.servers[static_cast<std::size_t>(s)].name.str();
}

// ------------------------------------------------------------------ the staleness heatmap

// Per server and time bucket: for how many clients it holds an older record than the newest
// any server accepted (a crashed server is grey: it holds nothing).
struct Staleness {
    std::size_t buckets;
    std::vector<std::vector<std::int64_t>> stale;  // [server][bucket]; -1: down
};

Staleness staleness(const Scenario& sc, const Model& m, const FaultTimeline& rows,
                    std::int64_t end) {
    const std::size_t n = sc.herd.servers.size();
    Staleness out{std::clamp<std::size_t>(html_cells_max / std::max<std::size_t>(n, 1), 1, 100),
                  {}};
    out.stale.assign(n, std::vector<std::int64_t>(out.buckets, 0));
    // Each record's client (numbered) and time, once.
    std::map<std::string, std::size_t> numbers;
    std::vector<std::pair<std::size_t, Timestamp>> of_record(m.records.size());
    for (std::size_t i = 0; i < m.records.size(); ++i) {
        const auto v = AtLineView::parse(m.records[i]);
        if (!v) continue;
        const auto [it, added] = numbers.try_emplace(std::string(v->client), numbers.size());
        of_record[i] = {it->second, v->time};
    }
    const std::optional<Timestamp> none;
    std::vector<std::optional<Timestamp>> newest(numbers.size());
    std::vector<std::vector<std::optional<Timestamp>>> held(n, newest);
    std::size_t next = 0;
    for (std::size_t b = 0; b < out.buckets; ++b) {
        const std::int64_t until =
            end / static_cast<std::int64_t>(out.buckets) * static_cast<std::int64_t>(b + 1);
        for (; next < m.applies.size() && m.applies[next].t <= until; ++next) {
            const auto [client, time] = of_record[m.applies[next].record];
            auto& mine = held[static_cast<std::size_t>(m.applies[next].server)][client];
            mine = std::max(mine.value_or(time), time);
            newest[client] = std::max(newest[client].value_or(time), time);
        }
        for (std::size_t s = 0; s < n; ++s) {
            if (rows.down(static_cast<int>(s), until)) {
                out.stale[s][b] = -1;
                std::fill(held[s].begin(), held[s].end(), none);  // a crash loses the store
                continue;
            }
            std::int64_t count = 0;
            for (std::size_t c = 0; c < newest.size(); ++c)
                count += newest[c] && (!held[s][c] || *held[s][c] < *newest[c]);
            out.stale[s][b] = count;
        }
    }
    return out;
}

std::string heat_colour(std::int64_t v, std::int64_t max) {
    if (v < 0) return "#bbbbbb";
    if (v == 0 || max == 0) return "#f3f8f3";
    const std::int64_t k = 60 + v * 195 / max;  // 60..255
    return "rgb(255," + std::to_string(255 - k) + "," + std::to_string(255 - k) + ")";
}

std::string heatmap(const Scenario& sc, const Model& m, const FaultTimeline& rows,
                    const TimeAxis& axis) {
    const Staleness st = staleness(sc, m, rows, axis.end);
    std::int64_t max = 0;
    for (const auto& row : st.stale)
        for (std::int64_t v : row)
            max = std::max(max, v);
    const std::int64_t h = sc.herd.servers.size() > 60 ? 3 : 14;
    std::string body;
    for (std::size_t s = 0; s < st.stale.size(); ++s) {
        const std::int64_t y = 10 + static_cast<std::int64_t>(s) * h;
        if (h >= 10) body += label(y + h - 3, server_name(sc, static_cast<int>(s)));
        for (std::size_t b = 0; b < st.buckets; ++b) {
            const std::int64_t t0 =
                axis.end / static_cast<std::int64_t>(st.buckets) * static_cast<std::int64_t>(b);
            const std::int64_t t1 = t0 + axis.end / static_cast<std::int64_t>(st.buckets);
            const std::int64_t v = st.stale[s][b];
            body += "<rect class=\"cell\" x=\"" + px(axis.x(t0)) + "\" y=\"" + std::to_string(y) +
                    "\" width=\"" + px(axis.x(t1) - axis.x(t0)) + "\" height=\"" +
                    std::to_string(h) + "\" fill=\"" + heat_colour(v, max) + "\"><title>" +
                    escape(server_name(sc, static_cast<int>(s)) + " by " + format_latency(t1) +
                           ": " + (v < 0 ? "down" : std::to_string(v) + " client(s) behind")) +
                    "</title></rect>";
        }
    }
    const std::int64_t height = 10 + static_cast<std::int64_t>(st.stale.size()) * h;
    return "<svg class=\"heatmap\" width=\"1080\" height=\"" + std::to_string(height + 24) + "\">" +
           body + axis.ticks(height, height) + "</svg><p class=\"note\">" +
           std::to_string(st.buckets) +
           " time buckets per server; pale green: no client behind; pale to deep red: 1 to " +
           std::to_string(max) + " client(s) behind; grey: down.</p>";
}

// ------------------------------------------------------------------ propagation

// The colour of the i-th hop distance: the first six from the page's palette, then hues a
// golden angle apart, so no two distances of one chart share a colour.
std::string hop_colour(std::size_t i) {
    static const char* const palette[] = {"#1565c0", "#2e7d32", "#ef6c00",
                                          "#6a1b9a", "#00838f", "#ad1457"};
    if (i < std::size(palette)) return palette[i];
    return "hsl(" + std::to_string((i * 137 + 20) % 360) + ",70%," + (i % 2 == 0 ? "35" : "50") +
           "%)";
}

namespace {

// A logarithmic time axis for windows from microseconds to seconds: x in tenths of a pixel,
// `left` + `width` pixels from `lo` to `hi` (0 and anything below `lo` at the left edge). The
// logarithm is integer (base 2, straight within each octave), so the page is the same on every
// machine.
struct LogAxis {
    std::int64_t lo, hi;
    std::int64_t left = 60, width = 560;
    static std::int64_t log2_1024(std::int64_t t) {  // log2(t) * 1024, straight within octaves
        const int octave = 63 - __builtin_clzll(static_cast<unsigned long long>(t));
        const std::int64_t base = std::int64_t{1} << octave;
        return std::int64_t{octave} * 1024 + (t - base) * 1024 / base;
    }
    std::int64_t x(std::int64_t t) const {
        t = std::clamp(t, lo, hi);
        const std::int64_t span = std::max<std::int64_t>(log2_1024(hi) - log2_1024(lo), 1);
        return left * 10 + (log2_1024(t) - log2_1024(lo)) * width * 10 / span;
    }
    // A tick at each power of ten within the range.
    std::string ticks(std::int64_t y0, std::int64_t y1) const {
        std::string out;
        for (std::int64_t t = 1; t <= hi; t *= 10) {
            if (t < lo) continue;
            out += "<line class=\"tick\" x1=\"" + px(x(t)) + "\" x2=\"" + px(x(t)) + "\" y1=\"" +
                   std::to_string(y0) + "\" y2=\"" + std::to_string(y1) + "\"/><text x=\"" +
                   px(x(t)) + "\" y=\"" + std::to_string(y1 + 14) +
                   "\" class=\"axis\" text-anchor=\"middle\">" + escape(format_latency(t)) +
                   "</text>";
            if (t > INT64_MAX / 10) break;
        }
        return out;
    }
};

// The points of a cumulative curve of samples on `axis`, at most about html_curve_points steps:
// each a run of samples drawn at its first value, up to the fraction at its last. Samples that
// never happened (INT64_MAX) are not drawn: the curve stops short of 100 %.
template <typename Axis>
std::string cdf_points(const Samples& v, const Axis& axis) {
    std::string points;
    const std::uint64_t n = v.size();
    const std::uint64_t step = std::max<std::uint64_t>(n / html_curve_points, 1);
    std::int64_t below = 2100;  // y of the fraction so far, in tenths of a pixel
    std::uint64_t done = 0, drawn = 0;
    std::optional<std::int64_t> start;  // the first value of the run not drawn yet
    auto draw = [&]() {
        const auto y = static_cast<std::int64_t>(2100 - done * 2000 / n);
        points +=
            px(axis.x(*start)) + "," + px(below) + " " + px(axis.x(*start)) + "," + px(y) + " ";
        below = y;
        drawn = done;
        start.reset();
    };
    v.for_each_step([&](std::int64_t value, std::uint64_t count) {
        if (value == Samples::never) return;
        if (!start) start = value;
        done += count;
        if (done >= drawn + step) draw();
    });
    if (start) draw();
    return points;
}

// One cumulative curve of windows on `axis`.
template <typename Axis>
std::string cdf_curve(const Samples& v, const Axis& axis, const std::string& style,
                      const std::string& title) {
    return "<polyline class=\"cdf\" style=\"" + style + "\" points=\"" + cdf_points(v, axis) +
           "\"><title>" + escape(title) + "</title></polyline>";
}

std::string visibility_row(const std::string& label, const std::string& colour, const Samples& v) {
    return "<tr><td style=\"color:" + colour + "\">&#9632; " + escape(label) + "</td><td>" +
           std::to_string(v.size()) + "</td><td>" + format_window(v.nearest_rank(50'000)) +
           "</td><td>" + format_window(v.nearest_rank(99'000)) + "</td><td>" +
           format_window(v.nearest_rank(99'900)) + "</td><td>" + std::to_string(v.never_count()) +
           "</td></tr>";
}

}  // namespace

std::string visibility(const SimResult& r, const SimResult* simulated) {
    std::int64_t top = 1, bottom = INT64_MAX;  // the longest finite window, the shortest nonzero
    auto widen = [&top, &bottom](const Samples& v) {
        top = std::max(top, v.max_finite());
        if (v.min_nonzero() > 0) bottom = std::min(bottom, v.min_nonzero());
    };
    const Samples all = merged(r.visibility_by_hops);
    widen(all);
    widen(r.visibility_fault_ns);
    const Samples sim_all = simulated ? merged(simulated->visibility_by_hops) : Samples{};
    widen(sim_all);
    if (all.empty() && r.visibility_fault_ns.empty())
        return r.stats.updates == 0
                   ? "<p class=\"note\">No update was written, so no read could have missed "
                     "one.</p>"
                   : "<p class=\"note\">No other server: a herd of one has no pair of an update "
                     "and another server.</p>";
    // From a power of ten at or below the shortest window to the longest.
    std::int64_t lo = 1;
    while (lo <= bottom / 10 && lo < top / 10)
        lo *= 10;
    const LogAxis axis{lo, std::max(top, lo * 10)};
    std::string curves, table =
                            "<table class=\"hops\"><tr><th>hops</th><th>pairs</th><th>50%</th>"
                            "<th>99%</th><th>99.9%</th><th>never</th></tr>";
    std::size_t colour = 0;
    for (const auto& [h, v] : r.visibility_by_hops) {
        const std::string hops = h < 0 ? std::string("?") : std::to_string(h);  // unreachable
        curves += cdf_curve(v, axis, "stroke:" + hop_colour(colour), hops + " hops");
        table += visibility_row(hops, hop_colour(colour++), v);
    }
    if (!all.empty()) table += visibility_row("all", "#000", all);
    if (!r.visibility_fault_ns.empty()) {
        curves += cdf_curve(r.visibility_fault_ns, axis, "stroke:#888;stroke-dasharray:2 3",
                            "across a fault");
        table += visibility_row("across a fault", "#888", r.visibility_fault_ns);
    }
    std::string gap;
    if (simulated != nullptr && !sim_all.empty()) {
        curves +=
            cdf_curve(sim_all, axis, "stroke:#000;stroke-dasharray:6 4", "the simulator, all hops");
        table += visibility_row("simulator, all hops", "#000", sim_all);
        const CurveGap g = largest_gap(all, sim_all);
        gap =
            "<p>The largest gap between this run's curve over all hops and the simulator's "
            "(dashed black): " +
            escape(format_points(g.per_100k)) + " (percentage points), at " +
            escape(format_latency(g.at_ns)) + ".</p>";
    }
    table += "</table>";
    return "<svg class=\"cdf-plot visibility\" width=\"640\" height=\"240\">" +
           axis.ticks(10, 210) +
           "<text class=\"axis\" x=\"4\" y=\"14\">100%</text><text class=\"axis\" x=\"4\" "
           "y=\"210\">0%</text>" +
           curves + "</svg>" + table + gap;
}

std::string propagation(const SimResult& r) {
    std::int64_t top = 1;
    std::size_t samples = 0;
    for (const auto& [h, v] : r.propagation_by_hops) {
        top = std::max(top, v.max_finite());
        samples += v.size();
    }
    if (samples == 0)
        return "<p class=\"note\">No update reached another server without meeting a fault on "
               "its way, so there is no curve to draw: see the updates that met one, below.</p>";
    const TimeAxis axis{top, 60, 560};
    std::string curves;
    std::string table =
        "<table class=\"hops\"><tr><th>hops</th><th>n</th><th>p50</th><th>p90</th>"
        "<th>p99</th><th>max</th></tr>";
    std::size_t colour = 0;
    for (const auto& [h, v] : r.propagation_by_hops) {
        const Percentiles p = percentiles(v);
        table += "<tr><td style=\"color:" + hop_colour(colour) + "\">&#9632; " + std::to_string(h) +
                 "</td><td>" + std::to_string(p.count) + "</td><td>" + format_latency(p.p50) +
                 "</td><td>" + format_latency(p.p90) + "</td><td>" + format_latency(p.p99) +
                 "</td><td>" + format_latency(p.max) + "</td></tr>";
        curves += cdf_curve(v, axis, "stroke:" + hop_colour(colour++), std::to_string(h) + " hops");
    }
    table += "</table>";
    return "<svg class=\"cdf-plot\" width=\"640\" height=\"240\">" + axis.ticks(10, 210) +
           "<text class=\"axis\" x=\"4\" y=\"14\">100%</text><text class=\"axis\" x=\"4\" "
           "y=\"210\">0%</text>" +
           curves + "</svg>" + table;
}

}  // namespace herd::sim::html
