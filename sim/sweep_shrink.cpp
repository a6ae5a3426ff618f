// herd sweep's shrinker (sim/sweep.hpp): the smallest text that still fails the same way
// (the same FailureKey), found by dropping, lowering, shortening and rounding statements.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/assert.hpp"
#include "core/text.hpp"
#include "sim/fault_timeline.hpp"
#include "sim/scenario_doc.hpp"
#include "sim/sweep.hpp"

namespace herd::sim {

namespace {

constexpr std::int64_t ms = 1'000'000;

// Statements shrinking may drop: the timeline and the settings that have defaults. The herd,
// seed, epoch, tie rule and `until` stay.
bool removable(const Statement& s) {
    if (const auto* d = std::get_if<DurationSetting>(&s))
        return d->which != DurationSetting::Which::until;
    return std::holds_alternative<AtLine>(s) || std::holds_alternative<ClockLine>(s) ||
           std::holds_alternative<LatencyLine>(s) || std::holds_alternative<PlacesChanceLine>(s) ||
           std::holds_alternative<DistributionLine>(s);
}

ScenarioDoc document_of(const std::string& text, const std::string& file) {
    auto parsed = parse_document(text, file);
    HERD_ASSERT(std::holds_alternative<ScenarioDoc>(parsed));  // it ran, so it parsed
    return std::get<ScenarioDoc>(std::move(parsed));
}

class Shrinker {
  public:
    // Sim runs one shrink may take (a few seconds on small herds).
    static constexpr std::size_t runs_max = 3000;

    // `base`: the statements of the base, which must stay.
    Shrinker(const ScenarioDoc& run, const RunOutcome& outcome, const std::vector<Statement>& base)
        : file_(run.file), key_(outcome.key) {
        for (const DocLine& l : run.lines) {
            if (!std::holds_alternative<std::monostate>(l.statement))
                lines_.push_back(DocLine{0, l.statement, {}});  // comments and blanks go
        }
        // The base's lines are found among the run's (its timeline merged with the generated
        // one, in time order): a generated line equal to a base line may stand for it.
        std::vector<bool> used(base.size(), false);
        base_.assign(lines_.size(), false);
        for (std::size_t i = 0; i < lines_.size(); ++i) {
            for (std::size_t k = 0; k < base.size() && !base_[i]; ++k) {
                if (used[k] || base[k] != lines_[i].statement) continue;
                used[k] = true;
                base_[i] = true;
            }
        }
        alive_.assign(lines_.size(), true);
        group_units();
    }

    ScenarioDoc doc() const {
        ScenarioDoc out;
        out.file = file_;
        for (std::size_t i = 0; i < lines_.size(); ++i) {
            if (alive_[i]) out.lines.push_back(lines_[i]);
        }
        for (std::size_t i = 0; i < out.lines.size(); ++i)
            out.lines[i].number = static_cast<int>(i + 1);
        return out;
    }
    bool still_fails() {
        if (runs_ >= runs_max) return false;
        runs_ += 1;
        const RunOutcome o = run_document(doc());
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
    // fails (never an undo to before its fault, nor a statement from the fault phase to before
    // it: links come up in the first milliseconds).
    void round_times();
    // Gives each long client ID of the generated statements a short name, everywhere at once,
    // when the run still fails the same way (a long ID stays where its length is the bug).
    void shorten_clients();
    std::size_t runs() const { return runs_; }

  private:
    AtLine* at(std::size_t i) { return std::get_if<AtLine>(&lines_[i].statement); }
    std::int64_t time_of(std::size_t i) const {
        return std::get<AtLine>(lines_[i].statement).at.value.ns;
    }
    // A fault and the statement that undoes it go together: dropping only the undo would turn
    // a finding into "a partition that never heals does not converge".
    void group_units() {
        std::vector<bool> taken(lines_.size(), false);
        for (std::size_t i = 0; i < lines_.size(); ++i) {
            if (base_[i] || taken[i] || !removable(lines_[i].statement)) continue;
            std::vector<std::size_t> unit{i};
            taken[i] = true;
            const auto undo = at(i) != nullptr ? undo_of(at(i)->what) : std::nullopt;
            for (std::size_t j = i + 1; undo && j < lines_.size(); ++j) {
                if (!base_[j] && !taken[j] && at(j) != nullptr && at(j)->what == *undo) {
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
    // Replaces a line's statement; keeps the change when the run still fails the same way.
    bool try_statement(std::size_t line, Statement replacement) {
        if (replacement == lines_[line].statement) return false;
        std::swap(lines_[line].statement, replacement);
        if (still_fails()) return true;
        std::swap(lines_[line].statement, replacement);
        return false;
    }
    bool try_time(std::size_t line, std::int64_t ns) {
        AtLine moved = *at(line);
        moved.at = spell(Duration{ns});
        return try_statement(line, std::move(moved));
    }

    std::string file_;
    FailureKey key_;
    std::vector<DocLine> lines_;
    std::vector<bool> base_;  // lines_[i] is the base's
    std::vector<bool> alive_;
    std::vector<std::vector<std::size_t>> units_;  // removable lines, faults with their undo
    std::size_t runs_ = 0;
};

void Shrinker::shorten_windows() {
    for (const std::vector<std::size_t>& unit : units_) {
        if (unit.size() != 2 || !alive_[unit[0]]) continue;
        const std::int64_t from = time_of(unit[0]);
        for (;;) {
            const std::int64_t to = time_of(unit[1]);
            if (to - from < 2 * ms) break;
            if (!try_time(unit[1], from + (to - from) / 2 / ms * ms)) break;
        }
    }
}

void Shrinker::round_times() {
    // A generated statement of the fault phase (from 200 ms) stays in it.
    constexpr std::int64_t phase_start = 200 * ms;
    std::vector<std::int64_t> floor(lines_.size(), 0);  // an undo stays after its fault
    for (std::size_t i = 0; i < lines_.size(); ++i) {
        if (at(i) != nullptr && time_of(i) >= phase_start) floor[i] = phase_start;
    }
    for (const std::vector<std::size_t>& unit : units_) {
        if (unit.size() == 2) floor[unit[1]] = std::max(floor[unit[1]], time_of(unit[0]));
    }
    for (std::size_t i = 0; i < lines_.size(); ++i) {
        if (base_[i] || !alive_[i] || at(i) == nullptr) continue;
        const std::int64_t t = time_of(i);
        for (std::int64_t step : {std::int64_t{1'000'000'000}, 100 * ms, 10 * ms}) {
            const std::int64_t rounded = t / step * step;
            if (rounded != t && rounded >= floor[i] && try_time(i, rounded)) break;
        }
    }
}

namespace {

// The client a generated statement names: an IAMAT's, or an expectation's.
std::string client_of(const TimelineStatement& s) {
    if (const auto* send = std::get_if<SendLine>(&s)) {
        std::string_view line = send->line;
        if (take_field(line) != "IAMAT") return {};
        return std::string(take_field(line));
    }
    if (const auto* e = std::get_if<ExpectLine>(&s)) return e->client;
    return {};
}

// `s` with every whole-field `from` replaced by `to`.
TimelineStatement renamed(TimelineStatement s, const std::string& from, const std::string& to) {
    if (auto* send = std::get_if<SendLine>(&s)) {
        const std::size_t at = send->line.find(" " + from + " ");
        if (at != std::string::npos) send->line.replace(at + 1, from.size(), to);
    } else if (auto* e = std::get_if<ExpectLine>(&s)) {
        if (e->client == from) e->client = to;
    }
    return s;
}

}  // namespace

void Shrinker::shorten_clients() {
    constexpr std::size_t short_bytes = 16;
    std::vector<std::string> clients;
    for (std::size_t i = 0; i < lines_.size(); ++i) {
        if (base_[i] || !alive_[i] || at(i) == nullptr) continue;
        const std::string c = client_of(at(i)->what);
        // Not one the failure names: the shrunk file must fail with the very same key.
        if (c.size() > short_bytes && key_.statement.find(c) == std::string::npos &&
            std::find(clients.begin(), clients.end(), c) == clients.end())
            clients.push_back(c);
    }
    for (std::size_t n = 0; n < clients.size(); ++n) {
        const std::string name = "client" + std::to_string(n + 1);
        const std::vector<DocLine> before = lines_;
        for (std::size_t i = 0; i < lines_.size(); ++i) {
            if (!base_[i] && at(i) != nullptr) at(i)->what = renamed(at(i)->what, clients[n], name);
        }
        if (!still_fails()) lines_ = before;
    }
}

void Shrinker::lower_workloads() {
    for (std::size_t i = 0; i < lines_.size(); ++i) {
        if (base_[i] || !alive_[i] || at(i) == nullptr) continue;
        if (!std::holds_alternative<WorkloadLine>(at(i)->what)) continue;
        // Each field halved (whole milliseconds for the length) while it still fails.
        auto halve = [this, i](auto change) {
            for (;;) {
                AtLine smaller = *at(i);
                if (!change(std::get<WorkloadLine>(smaller.what))) return;
                if (!try_statement(i, std::move(smaller))) return;
            }
        };
        halve([](WorkloadLine& w) { return w.rate_per_s > 1 && (w.rate_per_s /= 2, true); });
        halve([](WorkloadLine& w) { return w.clients > 1 && (w.clients /= 2, true); });
        halve([](WorkloadLine& w) {
            const std::int64_t half = w.length.value.ns / 2 / ms * ms;
            if (half < ms) return false;
            w.length = spell(Duration{half});
            return true;
        });
    }
}

}  // namespace

std::string shrink_failure(const std::string& text, const std::string& file_name,
                           const RunOutcome& outcome, std::size_t* runs,
                           const std::string& base_text) {
    // The base's statements stay unless the base alone fails the same way: dropping them could
    // only turn the finding into a failure of a base cut short.
    std::vector<Statement> base;
    if (!base_text.empty() && run_scenario_text(base_text, file_name).key != outcome.key) {
        for (const DocLine& l : document_of(base_text, file_name).lines) {
            const auto* d = std::get_if<DurationSetting>(&l.statement);
            if (d != nullptr && d->which == DurationSetting::Which::until) continue;
            if (!std::holds_alternative<std::monostate>(l.statement)) base.push_back(l.statement);
        }
    }
    Shrinker s(document_of(text, file_name), outcome, base);
    s.drop_statements();
    s.lower_workloads();
    s.drop_statements();
    s.shorten_windows();
    s.round_times();
    s.shorten_clients();
    // Shorter windows and rounded times change the interleavings: statements that were needed
    // for one may no longer be.
    s.drop_statements();
    if (runs != nullptr) *runs = s.runs() + (base_text.empty() ? 0 : 1);
    ScenarioDoc shrunk = s.doc();
    sort_timeline(shrunk);
    return format_document(shrunk);
}

}  // namespace herd::sim
