// The HTML report (`--html OUT.html`): one self-contained page (inline SVG and CSS, no network,
// no external file) that shows a run: its timeline of faults and expectations, a space-time
// diagram of a few updates, a staleness heatmap, propagation by hop distance, the herd and the
// scenario text. It is drawn from the same event records as `--trace` (the JSON lines) and the
// same result as `--report`: one model, two renderings, so its numbers are the text report's.
//
// Large runs stay small: the space-time diagram draws at most html_updates_max updates and at
// most html_lanes_max lanes (a larger herd gets message counts per server instead of arrows),
// the heatmap at most html_cells_max cells, each propagation curve at most html_curve_points
// points; the page says what it sampled.
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <string_view>

#include "sim/scenario.hpp"
#include "sim/simulator.hpp"

namespace herd::sim {

inline constexpr std::size_t html_updates_max = 6;
inline constexpr std::size_t html_lanes_max = 30;
// A herd of more servers gets timeline rows only for the servers with a fault of their own (the
// others are counted in one line), so the page leads with what matters.
inline constexpr std::size_t html_timeline_rows_all = 30;
inline constexpr std::size_t html_cells_max = 6000;
inline constexpr std::size_t html_curve_points = 200;
inline constexpr std::size_t html_scenario_line_bytes_max = 200;

struct HtmlInput {
    const Scenario& scenario;
    std::string_view scenario_text;  // the file as read, for the numbered listing
    const SimResult& result;
    std::istream& trace;  // the run's trace, JSON lines (as `--trace` writes it); read twice
    std::string tool;     // "herd sim" or "herd replay"
    // herd replay --compare: the simulator's run of the same file, drawn beside the real one.
    const SimResult* simulated = nullptr;
};

std::string html_report(const HtmlInput& input);

}  // namespace herd::sim
