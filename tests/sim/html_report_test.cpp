// The HTML report (sim/html_report.hpp) drawn from a real run's trace: what the page holds, and
// that large herds are sampled. tests/report checks it again in headless Chromium.
#include "sim/html_report.hpp"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

namespace herd::sim {
namespace {

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        n += 1;
    return n;
}

std::string render(const std::string& text) {
    auto parsed = parse_scenario(text, "t.scn");
    EXPECT_EQ(error_of(parsed), nullptr);
    const Scenario& sc = std::get<Scenario>(parsed);
    std::stringstream trace;
    SimOptions options;
    options.trace = &trace;
    const SimResult r = Simulator(sc, options).run();
    return html_report(HtmlInput{sc, text, r, trace, "herd sim"});
}

TEST(HtmlReport, LanesMarkersBandsCellsAndTheScenarioText) {
    const std::string html = render(
        "herd fall2017\n"
        "at 100ms send Alford IAMAT k <b>+1.0+1.0 {now}\n"
        "at 100ms send Alford IAMAT kiwi +1.0+1.0 {now}\n"
        "at 1s crash Welsh\n"
        "at 1s partition Alford | *\n"
        "at 2s restart Welsh\n"
        "at 2s heal\n"
        "at 3s expect converged\n"
        "at 3s expect Ball lacks kiwi\n");
    EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
    EXPECT_EQ(count(html, "class=\"lane\" data-server=\"Welsh\""), 1u);  // one update drawn
    EXPECT_EQ(count(html, "class=\"marker pass\""), 1u);
    EXPECT_EQ(count(html, "class=\"marker fail\""), 1u);
    EXPECT_EQ(count(html, "class=\"band down\""), 1u);
    EXPECT_EQ(count(html, "class=\"band cut\""), 2u);  // Alford's two links
    EXPECT_EQ(count(html, "class=\"cell\""), 5u * 100u);
    EXPECT_EQ(count(html, "<span class=\"line"), 9u);      // every line of the file, numbered
    EXPECT_NE(html.find("&lt;b&gt;"), std::string::npos);  // text is escaped
    EXPECT_EQ(html.find("<b>"), std::string::npos);
    EXPECT_EQ(html.find("http"), std::string::npos);  // nothing from the network
}

TEST(HtmlReport, ALargeHerdIsSampled) {
    const std::string html = render(
        "herd random 100 3\n"
        "at 0ms workload clients=200 rate=1000/s for=500ms\n"
        "at 3s expect converged\n");
    EXPECT_EQ(count(html, "class=\"lane\""), 0u);  // no diagram of 100 lanes
    EXPECT_NE(html.find("more lanes than a diagram can show"), std::string::npos);
    EXPECT_LE(count(html, "class=\"cell\""), html_cells_max);
    EXPECT_LT(html.size(), std::size_t{2} << 20);
}

TEST(HtmlReport, EveryHopDistanceHasItsOwnColour) {
    // A line of 10 servers: updates from s1 reach 9 hop distances.
    const std::string html = render(
        "herd line 10\n"
        "at 100ms send s1 IAMAT k +1.0+1.0 {now}\n"
        "at 200ms send s1 IAMAT j +1.0+1.0 {now}\n"
        "at 3s expect converged\n");
    // The propagation chart, then the t-visibility chart: 9 curves each, each of its own colour.
    const std::size_t visibility = html.find("<h2>t-visibility</h2>");
    ASSERT_NE(visibility, std::string::npos);
    for (const auto& [from_at, to_at] :
         {std::pair{std::size_t{0}, visibility}, {visibility, html.size()}}) {
        std::set<std::string> colours;
        std::size_t curves = 0;
        const std::string mark = "<polyline class=\"cdf\" style=\"stroke:";
        for (std::size_t at = html.find(mark, from_at); at < to_at; at = html.find(mark, at + 1)) {
            const std::size_t from = at + mark.size();
            colours.insert(html.substr(from, html.find('"', from) - from));
            curves += 1;
        }
        EXPECT_EQ(curves, 9u);
        EXPECT_EQ(colours.size(), curves);
    }
}

TEST(HtmlReport, TheClientsAnomaliesAreOnTheTimelineWithTheirWitnesses) {
    // Sessions that move between servers read their own records before they arrive: windows of
    // read-your-writes, which the page draws in a row of their own.
    const std::string text =
        "herd fall2017\nlatency uniform(1ms,5ms)\n"
        "at 100ms workload clients=20 rate=200/s for=2s reads=400/s sessions=on\n"
        "at 3s expect sessions read-your-writes at most 100000\n";
    const std::string html = render(text);
    EXPECT_NE(html.find(">client anomalies</text>"), std::string::npos);
    const std::size_t first = html.find("<g class=\"anomaly\"><title>read-your-writes: ");
    ASSERT_NE(first, std::string::npos) << html.substr(0, 2000);
    // Its title names the witnesses: their processes, servers and requests.
    const std::string title = html.substr(first, html.find("</title>", first) - first);
    EXPECT_NE(title.find("\n  process "), std::string::npos) << title;
    EXPECT_NE(title.find("IAMAT w"), std::string::npos) << title;
    EXPECT_NE(title.find("WHATSAT w"), std::string::npos) << title;
    // Without `expect sessions`, no history is checked and the row is not drawn.
    const std::string plain = render(
        "herd fall2017\nat 100ms workload clients=20 rate=200/s for=1s\nat 2s expect converged\n");
    EXPECT_EQ(plain.find("client anomalies"), std::string::npos);
}

TEST(HtmlReport, ASimulatedRunIsDrawnBesideTheRealOne) {
    // What herd replay --compare passes: the page draws the simulator's curve dashed beside the
    // run's, and says how far apart the two are.
    const std::string text =
        "herd fall2017\nlatency uniform(1ms,5ms)\n"
        "at 100ms workload clients=20 rate=100/s for=1s\nat 2s expect converged\n";
    auto parsed = parse_scenario(text, "t.scn");
    const Scenario& sc = std::get<Scenario>(parsed);
    std::stringstream trace;
    SimOptions options;
    options.trace = &trace;
    const SimResult r = Simulator(sc, options).run();
    Scenario other = sc;
    other.seed = 2;
    const SimResult simulated = Simulator(other, SimOptions{}).run();
    const std::string html = html_report(HtmlInput{sc, text, r, trace, "herd replay", &simulated});
    EXPECT_NE(html.find("<title>the simulator, all hops</title>"), std::string::npos);
    EXPECT_NE(html.find("The largest gap between this run's curve over all hops and the "
                        "simulator's"),
              std::string::npos);
}

}  // namespace
}  // namespace herd::sim
