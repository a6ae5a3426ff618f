// herd sweep's core (sim/sweep.hpp): running one scenario and keying how it failed.
#include "sim/sweep.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/assert.hpp"
#include "core/text.hpp"
#include "sim/scenario_doc.hpp"
#include "sim/simulator.hpp"

namespace herd::sim {

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

namespace {

// A text that is not a scenario: never a pass (a base or generator flaw to look at).
RunOutcome unparsed(const Error& e) {
    RunOutcome o;
    o.parsed = false;
    o.failed = true;
    o.key.kind = FailureKey::Kind::unparsed;
    o.signature = describe(o.key);
    o.what = e.message;
    return o;
}

}  // namespace

RunOutcome run_scenario_text(const std::string& text, const std::string& file_name) {
    auto doc = parse_document(text, file_name);
    if (const Error* e = error_of(doc)) return unparsed(*e);
    return run_document(std::get<ScenarioDoc>(doc));
}

RunOutcome run_document(const ScenarioDoc& doc) {
    auto parsed = build_scenario(doc);
    if (const Error* e = error_of(parsed)) return unparsed(*e);
    RunOutcome o;
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
    o.key = first_failure(r, &o.what, doc.file);
    o.signature = describe(o.key);
    o.failed = o.key.kind != FailureKey::Kind::none;
    return o;
}

}  // namespace herd::sim
