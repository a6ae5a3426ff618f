// herd sweep's shrinker (sim/sweep.hpp): the smallest text that still fails the same way
// (the same FailureKey), found by dropping, lowering, shortening and rounding statements.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/text.hpp"
#include "sim/sweep.hpp"
#include "sim/sweep_internal.hpp"

namespace herd::sim {

using detail::split_lines;
using detail::without_until;

namespace {
constexpr std::int64_t ms = 1'000'000;
}  // namespace

namespace {

// Lines are split as the scenario grammar splits them (core/text: the six white-space bytes,
// `#` comments).
bool is_statement(std::string_view line) {
    return !trim(strip_comment(line)).empty();
}

// The first word of a statement.
std::string_view verb_of(std::string_view line) {
    return take_field(line);
}

// Statements shrinking may drop: the timeline and the settings that have defaults. The herd,
// seed, epoch and tie rule stay.
bool removable(const std::string& line) {
    const std::string_view verb = verb_of(line);
    for (std::string_view v :
         {"at", "clock", "latency", "places", "client", "processing", "peer"}) {
        if (verb == v) return true;
    }
    return false;
}

// The statement after `at TIME` of a timeline line ("" for others), without a comment.
std::string_view statement_of(std::string_view line) {
    std::string_view rest = trim_end(strip_comment(line));
    if (take_field(rest) != "at") return {};
    take_field(rest);  // the time
    return trim_start(rest);
}

// The statement that undoes `fault` ("cut a b" -> "restore a b", "crash s" -> "restart s",
// "partition ..." -> "heal"); "" when it is not a fault.
std::string undo_of(std::string_view fault) {
    if (fault.substr(0, 4) == "cut ") return "restore " + std::string(fault.substr(4));
    if (fault.substr(0, 8) == "silence ") {
        std::string pair(fault.substr(8));
        if (pair.ends_with(" oneway")) pair.resize(pair.size() - 7);
        return "restore " + pair;
    }
    if (fault.substr(0, 6) == "crash ") return "restart " + std::string(fault.substr(6));
    if (fault.substr(0, 10) == "partition ") return "heal";
    return {};
}

class Shrinker {
  public:
    // Sim runs one shrink may take (a few seconds on small herds).
    static constexpr std::size_t runs_max = 3000;

    // `base`: the statement lines of the base, which must stay.
    Shrinker(const std::string& text, const std::string& file, const RunOutcome& outcome,
             const std::vector<std::string>& base)
        : file_(file), key_(outcome.key) {
        for (std::string& line : split_lines(text)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (!is_statement(line)) continue;  // comments, blanks
            lines_.push_back(std::move(line));
        }
        // The base's lines are found among the run's (its timeline merged with the generated
        // one, in time order): a generated line that reads like a base line may stand for it.
        std::map<std::string, std::size_t> base_left;
        for (const std::string& line : base)
            base_left[line] += 1;
        base_.assign(lines_.size(), false);
        for (std::size_t i = 0; i < lines_.size(); ++i) {
            auto it = base_left.find(lines_[i]);
            if (it == base_left.end() || it->second == 0) continue;
            it->second -= 1;
            base_[i] = true;
        }
        alive_.assign(lines_.size(), true);
        group_units();
    }

    std::string text() const {
        std::string out;
        for (std::size_t i = 0; i < lines_.size(); ++i) {
            if (alive_[i]) out += lines_[i] + "\n";
        }
        return out;
    }
    bool still_fails() {
        if (runs_ >= runs_max) return false;
        runs_ += 1;
        const RunOutcome o = run_scenario_text(text(), file_);
        return o.parsed && o.failed && o.key == key_;
    }
    // Drops units in chunks of half, a quarter, ... one, each pass until none can go.
    void drop_statements() {
        for (std::size_t chunk = std::max<std::size_t>(candidates().size() / 2, 1);; chunk /= 2) {
            while (drop_pass(chunk)) {
            }
            if (chunk == 1) return;
        }
    }
    // Halves generated workloads' rates, client counts and lengths while the failure stays.
    void lower_workloads();
    // Moves each fault's undo halfway towards the fault, again and again, while it still fails.
    void shorten_windows();
    // Rounds each generated time down to whole seconds, else 100 ms, else 10 ms, if it still
    // fails (never an undo to before its fault).
    void round_times();
    std::size_t runs() const { return runs_; }

  private:
    // A fault and the statement that undoes it go together: dropping only the undo would turn
    // a finding into "a partition that never heals does not converge".
    void group_units() {
        std::vector<bool> taken(lines_.size(), false);
        for (std::size_t i = 0; i < lines_.size(); ++i) {
            if (base_[i] || taken[i] || !removable(lines_[i])) continue;
            std::vector<std::size_t> unit{i};
            taken[i] = true;
            const std::string undo = undo_of(statement_of(lines_[i]));
            for (std::size_t j = i + 1; !undo.empty() && j < lines_.size(); ++j) {
                if (!base_[j] && !taken[j] && statement_of(lines_[j]) == undo) {
                    unit.push_back(j);
                    taken[j] = true;
                    break;
                }
            }
            units_.push_back(std::move(unit));
        }
    }
    std::vector<std::size_t> candidates() const {
        std::vector<std::size_t> out;
        for (std::size_t u = 0; u < units_.size(); ++u) {
            if (alive_[units_[u].front()]) out.push_back(u);
        }
        return out;
    }
    void set_unit(std::size_t u, bool alive) {
        for (std::size_t line : units_[u])
            alive_[line] = alive;
    }
    bool drop_pass(std::size_t chunk) {
        bool dropped = false;
        const std::vector<std::size_t> c = candidates();
        for (std::size_t i = 0; i < c.size(); i += chunk) {
            const std::size_t end = std::min(i + chunk, c.size());
            for (std::size_t k = i; k < end; ++k)
                set_unit(c[k], false);
            if (still_fails()) {
                dropped = true;
            } else {
                for (std::size_t k = i; k < end; ++k)
                    set_unit(c[k], true);
            }
        }
        return dropped;
    }
    bool halve_field(std::size_t line, const std::string& key, const std::string& unit);
    // Replaces a line; keeps the change when the run still fails the same way.
    bool try_line(std::size_t line, std::string replacement) {
        if (replacement == lines_[line]) return false;
        std::swap(lines_[line], replacement);
        if (still_fails()) return true;
        std::swap(lines_[line], replacement);
        return false;
    }

    std::string file_;
    FailureKey key_;
    std::vector<std::string> lines_;
    std::vector<bool> base_;  // lines_[i] is the base's
    std::vector<bool> alive_;
    std::vector<std::vector<std::size_t>> units_;  // removable lines, faults with their undo
    std::size_t runs_ = 0;
};

// "rate=400/s" -> "rate=200/s" (key "rate=", unit "/s"); false when it is 1 already or the run
// then no longer fails the same way.
bool Shrinker::halve_field(std::size_t line, const std::string& key, const std::string& unit) {
    std::string& l = lines_[line];
    const std::size_t at = l.find(key);
    if (at == std::string::npos) return false;
    const std::size_t digits = at + key.size();
    const std::size_t end = l.find_first_not_of("0123456789", digits);
    if (end == digits || l.compare(end, unit.size(), unit) != 0) return false;
    const auto value = parse_whole(std::string_view(l).substr(digits, end - digits), UINT64_MAX);
    if (!value || *value <= 1) return false;
    const std::string before = l;
    l = l.substr(0, digits) + std::to_string(*value / 2) + l.substr(end);
    if (still_fails()) return true;
    l = before;
    return false;
}

// The time of a timeline line ("at 2142ms ..."), or nothing.
std::optional<std::int64_t> time_of(std::string_view line) {
    std::string_view rest = line;
    if (take_field(rest) != "at") return std::nullopt;
    const auto d = parse_duration(take_field(rest));
    if (!d) return std::nullopt;
    return d->ns;
}

// The line with its time replaced (in whole seconds or milliseconds).
std::string with_time(std::string_view line, std::int64_t ns) {
    std::string_view rest = line;
    take_field(rest);  // at
    take_field(rest);  // the old time
    std::string out = "at ";
    if (ns % 1'000'000'000 == 0) {
        append_decimal(out, static_cast<std::uint64_t>(ns / 1'000'000'000));
        out += "s";
    } else {
        append_decimal(out, static_cast<std::uint64_t>(ns / ms));
        out += "ms";
    }
    return out + " " + std::string(trim_start(rest));
}

void Shrinker::shorten_windows() {
    for (const std::vector<std::size_t>& unit : units_) {
        if (unit.size() != 2 || !alive_[unit[0]]) continue;
        const auto from = time_of(lines_[unit[0]]);
        for (;;) {
            const auto to = time_of(lines_[unit[1]]);
            if (!from || !to || *to - *from < 2 * ms) break;
            const std::int64_t mid = *from + (*to - *from) / 2 / ms * ms;
            if (!try_line(unit[1], with_time(lines_[unit[1]], mid))) break;
        }
    }
}

void Shrinker::round_times() {
    std::vector<std::int64_t> floor(lines_.size(), 0);  // an undo stays after its fault
    for (const std::vector<std::size_t>& unit : units_) {
        if (unit.size() == 2) floor[unit[1]] = time_of(lines_[unit[0]]).value_or(0);
    }
    for (std::size_t i = 0; i < lines_.size(); ++i) {
        const auto t = time_of(lines_[i]);
        if (base_[i] || !alive_[i] || !t) continue;
        for (std::int64_t step : {std::int64_t{1'000'000'000}, 100 * ms, 10 * ms}) {
            const std::int64_t rounded = *t / step * step;
            if (rounded != *t && rounded >= floor[i] && try_line(i, with_time(lines_[i], rounded)))
                break;
        }
    }
}

void Shrinker::lower_workloads() {
    for (std::size_t i = 0; i < lines_.size(); ++i) {
        if (base_[i] || !alive_[i] || lines_[i].find(" workload ") == std::string::npos) continue;
        while (halve_field(i, "rate=", "/s")) {
        }
        while (halve_field(i, "clients=", " ")) {
        }
        while (halve_field(i, "for=", "ms") || halve_field(i, "for=", "s")) {
        }
    }
}

}  // namespace

std::string shrink_failure(const std::string& text, const std::string& file_name,
                           const RunOutcome& outcome, std::size_t* runs,
                           const std::string& base_text) {
    // The base's statements stay unless the base alone fails the same way: dropping them could
    // only turn the finding into a failure of a base cut short.
    std::vector<std::string> base;
    if (!base_text.empty() && run_scenario_text(base_text, file_name).key != outcome.key) {
        for (std::string& line : split_lines(without_until(base_text))) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (is_statement(line)) base.push_back(std::move(line));
        }
    }
    Shrinker s(text, file_name, outcome, base);
    s.drop_statements();
    s.lower_workloads();
    s.drop_statements();
    s.shorten_windows();
    s.round_times();
    if (runs != nullptr) *runs = s.runs() + (base_text.empty() ? 0 : 1);
    return in_time_order(s.text(), file_name);
}

}  // namespace herd::sim
