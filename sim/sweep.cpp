// herd sweep's core (sim/sweep.hpp): running one scenario text and keying how it failed, and
// the text helpers the generator (sweep_generate.cpp) and the shrinker (sweep_shrink.cpp) share.
#include "sim/sweep.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/assert.hpp"
#include "core/text.hpp"
#include "sim/simulator.hpp"
#include "sim/sweep_internal.hpp"

namespace herd::sim {

namespace detail {

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        lines.push_back(text.substr(at, end - at));
        at = end + 1;
    }
    return lines;
}

// The base's text without its `until` line (a generated run ends later; it gets its own).
std::string without_until(const std::string& text) {
    std::string out;
    for (const std::string& line : split_lines(text)) {
        std::string_view rest = line;
        if (take_field(rest) != "until") out += line + "\n";
    }
    return out;
}

}  // namespace detail

using detail::split_lines;

namespace {

// The first failure of a run, as a key (kinds and fields) and in words; an empty key (kind none)
// when it passed.
FailureKey first_failure(const SimResult& r, std::string* what, const std::string& file) {
    for (const ExpectationResult& e : r.expectations) {
        if (e.pass) continue;
        *what = file + ":" + std::to_string(e.line) + " at " + format_duration(Duration{e.at.ns}) +
                "  " + e.text + "  (found: " + e.found + ")";
        FailureKey key;
        key.kind = FailureKey::Kind::expectation;
        key.statement = e.text;
        key.found = e.found_kind;
        return key;
    }
    if (r.violations.empty()) return {};
    const Violation& v = r.violations.front();
    *what = "invariant at " + format_duration(Duration{v.at.ns}) + ": " + v.what;
    FailureKey key;
    key.kind = FailureKey::Kind::invariant;
    key.broken = v.kind;
    return key;
}

}  // namespace

std::string in_time_order(const std::string& text, const std::string& file_name) {
    const auto parsed = parse_scenario(text, file_name);
    const auto* sc = std::get_if<Scenario>(&parsed);
    if (sc == nullptr) return text;  // a run that does not parse says so itself
    // The time of every timeline line (a line's first step), by line number.
    std::map<int, std::int64_t> time_of_line;
    for (const Step& step : sc->steps)
        time_of_line.try_emplace(step.line, step.at.ns);
    std::vector<std::string> lines = split_lines(text);
    std::vector<std::size_t> slots;  // indexes into lines, in file order
    for (const auto& [line, at] : time_of_line) {
        HERD_ASSERT(line >= 1 && static_cast<std::size_t>(line) <= lines.size());
        slots.push_back(static_cast<std::size_t>(line - 1));
    }
    std::vector<std::size_t> order = slots;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return time_of_line.at(static_cast<int>(a + 1)) < time_of_line.at(static_cast<int>(b + 1));
    });
    if (order == slots) return text;
    std::vector<std::string> moved(order.size());
    for (std::size_t k = 0; k < order.size(); ++k)
        moved[k] = lines[order[k]];
    for (std::size_t k = 0; k < slots.size(); ++k)
        lines[slots[k]] = std::move(moved[k]);
    std::string out;
    for (const std::string& line : lines)
        out += line + "\n";
    return out;
}

std::string describe(const FailureKey& key) {
    switch (key.kind) {
        case FailureKey::Kind::none:
            return {};
        case FailureKey::Kind::unparsed:
            return "the scenario does not parse";
        case FailureKey::Kind::assertion:
            return "assertion failed: " + key.statement + " at " + key.place;
        case FailureKey::Kind::expectation:
            return key.statement + " (found: " + found_name(key.found) + ")";
        case FailureKey::Kind::invariant:
            return std::string("invariant: ") + broken_name(key.broken);
    }
    return {};
}

RunOutcome run_scenario_text(const std::string& text, const std::string& file_name) {
    RunOutcome o;
    auto parsed = parse_scenario(text, file_name);
    if (const Error* e = error_of(parsed)) {
        o.parsed = false;
        o.failed = true;  // never a pass: a base or generator flaw to look at
        o.key.kind = FailureKey::Kind::unparsed;
        o.signature = describe(o.key);
        o.what = e->message;
        return o;
    }
    const Scenario& sc = std::get<Scenario>(parsed);
    o.timeline = sc.steps.size();
    SimResult r;
    try {
        // A broken invariant inside the simulation (a Node's or the simulator's) is a failure
        // of this run, found and shrunk like any other, not the end of the sweep.
        const ThrowingAssertions scope;
        r = Simulator(sc, SimOptions{}).run();
    } catch (const AssertionFailure& e) {
        o.failed = true;
        o.broken_invariant = true;
        o.key.kind = FailureKey::Kind::assertion;
        o.key.statement = e.expression();
        o.key.place = e.file() + ":" + std::to_string(e.line());
        o.signature = describe(o.key);
        o.what = std::string(e.what()) + " (the simulation stopped there)";
        return o;
    }
    o.key = first_failure(r, &o.what, file_name);
    o.signature = describe(o.key);
    o.failed = o.key.kind != FailureKey::Kind::none;
    return o;
}

}  // namespace herd::sim
