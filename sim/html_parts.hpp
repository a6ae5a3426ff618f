// The HTML report's parts (sim/html_report.hpp) that its files share: the model read from the
// trace, the drawing helpers, and the charts drawn in html_charts.cpp (the staleness heatmap and
// propagation by hop distance). Not for use outside sim/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/fault_timeline.hpp"
#include "sim/report.hpp"
#include "sim/scenario.hpp"
#include "sim/simulator.hpp"

namespace herd::sim::html {

// ------------------------------------------------------------------ the model, from the trace

struct Apply {
    std::int64_t t;
    int server;
    std::size_t record;  // index into Model::records
    bool origin;
};

struct Message {
    std::int64_t t, arrive;
    int from, to;
    std::size_t update;  // index into Model::chosen
};

// What the page draws, read from the trace in two passes: every apply (records interned), then
// the peer messages that carried one of the chosen updates.
struct Model {
    std::vector<std::string> records;
    std::vector<Apply> applies;
    std::vector<std::string> chosen;  // the updates of the space-time diagram
    std::vector<Message> messages;
};

// Text for HTML: &, <, > and double quotes escaped, every other byte as it is.
std::string escape(std::string_view s);
// A coordinate in tenths of a pixel, printed with one decimal (integer arithmetic only).
std::string px(std::int64_t tenths);

// Time to x, in tenths of a pixel: `left` + t / end of `width` pixels.
struct TimeAxis {
    std::int64_t end;  // the span shown, from `start`
    std::int64_t left = 140, width = 900;
    std::int64_t start = 0;
    std::int64_t x(std::int64_t t) const {
        t = std::clamp<std::int64_t>(t - start, 0, end);
        return left * 10 + static_cast<std::int64_t>(static_cast<__int128>(t) * width * 10 / end);
    }
    std::string ticks(std::int64_t y0, std::int64_t y1) const {
        std::string out;
        for (int i = 0; i <= 4; ++i) {
            const std::int64_t t = start + end / 4 * i;
            out += "<line class=\"tick\" x1=\"" + px(x(t)) + "\" x2=\"" + px(x(t)) + "\" y1=\"" +
                   std::to_string(y0) + "\" y2=\"" + std::to_string(y1) + "\"/><text x=\"" +
                   px(x(t)) + "\" y=\"" + std::to_string(y1 + 14) +
                   "\" class=\"axis\" text-anchor=\"" + (i == 4 ? "end" : "middle") + "\">" +
                   escape((start == 0 ? "" : "+") + format_latency(t - start)) + "</text>";
        }
        return out;
    }
};

std::string rect(std::int64_t x0, std::int64_t x1, std::int64_t y, std::int64_t h,
                 const std::string& cls, const std::string& title);
std::string until_text(std::int64_t t);
// A row's name, left of the 140 px where the time axis starts (a longer one is cut).
std::string label(std::int64_t y, const std::string& text);
const std::string& server_name(const Scenario& sc, int s);

// The staleness heatmap: per server and time bucket, how many clients it is behind on.
std::string heatmap(const Scenario& sc, const Model& m, const FaultTimeline& rows,
                    const TimeAxis& axis);
// Propagation by hop distance: a cumulative curve per distance, and its table.
std::string propagation(const SimResult& r);
// t-visibility (sim/visibility.hpp): P(a read at another server t after the write returns it)
// per hop distance and across faults, with `simulated`'s curves dashed beside them (a replay
// with --compare) and the largest gap between the two worlds' curves.
std::string visibility(const SimResult& r, const SimResult* simulated);

}  // namespace herd::sim::html
