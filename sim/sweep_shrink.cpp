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
    // `given`: the file lines of each group that goes together, by identity (or none: a fault
    // and its undo are found).
    Shrinker(const ScenarioDoc& run, const RunOutcome& outcome, const std::vector<Statement>& base,
             const std::vector<std::vector<int>>& given)
        : file_(run.file), key_(outcome.key) {
        for (const DocLine& l : run.lines) {
            if (!std::holds_alternative<std::monostate>(l.statement))
                lines_.push_back(DocLine{l.number, l.statement, {}});  // comments and blanks go
        }
        // The base's lines are found among the run's (its timeline merged with the generated
        // one, in time order): a generated line equal to a base line may stand for it, unless
        // it is known for one of a generated group.
        std::vector<int> grouped;
        for (const std::vector<int>& unit : given)
            grouped.insert(grouped.end(), unit.begin(), unit.end());
        std::vector<bool> used(base.size(), false);
        base_.assign(lines_.size(), false);
        for (std::size_t i = 0; i < lines_.size(); ++i) {
            if (std::find(grouped.begin(), grouped.end(), lines_[i].number) != grouped.end())
                continue;
            for (std::size_t k = 0; k < base.size() && !base_[i]; ++k) {
                if (used[k] || base[k] != lines_[i].statement) continue;
                used[k] = true;
                base_[i] = true;
            }
        }
        alive_.assign(lines_.size(), true);
        group_units(given);
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
    // Writes the client times of the generated IAMATs more simply (their ranks 1, 2, 3; else
    // each in the shortest spelling that keeps the failure: no fraction, fewer fraction digits,
    // no leading or trailing zeros), never changing which of one client's times is newer: the
    // expectation of its newest position must stay right.
    void simplify_client_times();
    // The interleaving pass: pulls the generated timeline together, each gap between its
    // statements halved (every later generated statement moved earlier with it) while the
    // failure stays. The expectations stay where they are, so the herd only gets more time to
    // settle: a run cannot come to fail for want of it.
    void close_gaps();
    std::size_t runs() const { return runs_; }

  private:
    AtLine* at(std::size_t i) { return std::get_if<AtLine>(&lines_[i].statement); }
    std::int64_t time_of(std::size_t i) const {
        return std::get<AtLine>(lines_[i].statement).at.value.ns;
    }
    // The line read from file line `number`.
    std::size_t line_of(int number) const {
        const auto it = std::find_if(lines_.begin(), lines_.end(),
                                     [number](const DocLine& l) { return l.number == number; });
        HERD_ASSERT(it != lines_.end());
        return static_cast<std::size_t>(it - lines_.begin());
    }
    // Lines that go together stay together: dropping only a fault's undo would turn a finding
    // into "a partition that never heals does not converge". The groups given are the
    // generator's own; otherwise a fault goes with the first later statement that undoes it.
    void group_units(const std::vector<std::vector<int>>& given) {
        std::vector<bool> taken(lines_.size(), false);
        for (const std::vector<int>& numbers : given) {
            std::vector<std::size_t> group;
            for (int number : numbers) {
                const std::size_t i = line_of(number);
                HERD_ASSERT(!base_[i] && !taken[i] && at(i) != nullptr);
                group.push_back(i);
                taken[i] = true;
            }
            HERD_ASSERT(!group.empty());
            std::sort(group.begin(), group.end());
            // Sends with the expectation their outcome makes right: the expectation may go
            // alone, a send only with it (then the rest of the client's sends may stay).
            if (const std::size_t e = group.back();
                group.size() >= 2 && std::holds_alternative<ExpectLine>(at(e)->what)) {
                units_.push_back({e});
                for (std::size_t k = 0; k + 1 < group.size(); ++k)
                    units_.push_back({group[k], e});
                continue;
            }
            units_.push_back(std::move(group));
        }
        for (std::size_t i = 0; i < lines_.size(); ++i) {
            if (base_[i] || taken[i] || !removable(lines_[i].statement)) continue;
            std::vector<std::size_t> unit{i};
            taken[i] = true;
            const auto undo =
                at(i) != nullptr && given.empty() ? undo_of(at(i)->what) : std::nullopt;
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
    // A fault and its undo (not a time client's group).
    bool window(const std::vector<std::size_t>& unit) const {
        if (unit.size() != 2) return false;
        const auto* fault = std::get_if<AtLine>(&lines_[unit[0]].statement);
        const auto* undo = std::get_if<AtLine>(&lines_[unit[1]].statement);
        return fault != nullptr && undo != nullptr && undo_of(fault->what) == undo->what;
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
            const std::vector<bool> before = alive_;  // units may share a line
            for (std::size_t k = i; k < end; ++k)
                set_unit(c[k], false);
            if (alive_ == before) continue;
            if (still_fails())
                dropped = true;
            else
                alive_ = before;
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
        if (!window(unit) || !alive_[unit[0]]) continue;
        const std::int64_t from = time_of(unit[0]);
        for (;;) {
            const std::int64_t to = time_of(unit[1]);
            if (to - from < 2 * ms) break;
            if (!try_time(unit[1], from + (to - from) / 2 / ms * ms)) break;
        }
    }
}

void Shrinker::close_gaps() {
    constexpr std::int64_t phase_start = 200 * ms;  // as in round_times
    std::vector<std::size_t> moving;                // generated, alive, not an expectation
    for (std::size_t i = 0; i < lines_.size(); ++i) {
        if (!base_[i] && alive_[i] && at(i) != nullptr &&
            !std::holds_alternative<ExpectLine>(at(i)->what))
            moving.push_back(i);
    }
    // Moves every moving line at or after `from` earlier by `by`; false (and nothing moved)
    // when one would leave the fault phase or pass a line that does not move.
    auto shift = [&](std::int64_t from, std::int64_t by) {
        const std::vector<DocLine> before = lines_;
        for (std::size_t i : moving) {
            const std::int64_t t = time_of(i);
            if (t < from) continue;
            if (t >= phase_start && t - by < phase_start) return lines_ = before, false;
            at(i)->at = spell(Duration{t - by});
        }
        if (still_fails()) return true;
        lines_ = before;
        return false;
    };
    for (std::size_t k = 1; k < moving.size(); ++k) {
        std::vector<std::int64_t> times;
        for (std::size_t i : moving)
            times.push_back(time_of(i));
        std::sort(times.begin(), times.end());
        for (;;) {
            const std::int64_t gap = times[k] - times[k - 1];
            const std::int64_t by = gap / 2 / ms * ms;
            if (by < ms || !shift(times[k], by)) break;
            for (std::size_t j = k; j < times.size(); ++j)
                times[j] -= by;
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
        if (window(unit)) floor[unit[1]] = std::max(floor[unit[1]], time_of(unit[0]));
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

namespace {

// A generated IAMAT's client and its client time (DIGITS[.DIGITS]), when it has a literal one.
struct SentTime {
    std::size_t line;
    std::string client;
    std::string time;
};

std::optional<SentTime> sent_time(std::size_t line, const TimelineStatement& s) {
    const auto* send = std::get_if<SendLine>(&s);
    if (send == nullptr) return std::nullopt;
    std::string_view rest = send->line;
    if (take_field(rest) != "IAMAT") return std::nullopt;
    const std::string client(take_field(rest));
    take_field(rest);  // the position
    const std::string_view time = take_field(rest);
    if (time.empty() || !take_field(rest).empty()) return std::nullopt;
    if (time.find_first_not_of("0123456789.") != std::string_view::npos) return std::nullopt;
    return SentTime{line, client, std::string(time)};
}

// A client time's value as text that compares like the number: the integer digits without
// leading zeros, then the fraction to nine digits. The shrinker's own reading: core's is what
// a sweep tests.
std::pair<std::string, std::string> time_value(std::string_view t) {
    const std::size_t dot = std::min(t.find('.'), t.size());
    std::string whole(t.substr(0, dot));
    whole.erase(0, std::min(whole.find_first_not_of('0'), whole.size()));
    std::string fraction(dot < t.size() ? t.substr(dot + 1) : std::string_view{});
    fraction.resize(9, '0');
    return {whole, fraction};
}

int compare_times(std::string_view a, std::string_view b) {
    const auto [aw, af] = time_value(a);
    const auto [bw, bf] = time_value(b);
    if (aw.size() != bw.size()) return aw.size() < bw.size() ? -1 : 1;
    if (aw != bw) return aw < bw ? -1 : 1;
    return af == bf ? 0 : (af < bf ? -1 : 1);
}

// The simpler spellings of a client time to try, shortest first: no fraction, fewer fraction
// digits, the same value without leading or trailing zeros.
std::vector<std::string> simpler_times(const std::string& t) {
    auto [whole, fraction] = time_value(t);
    if (whole.empty()) whole = "0";
    while (!fraction.empty() && fraction.back() == '0')
        fraction.pop_back();
    std::vector<std::string> out{fraction.empty() ? whole : whole + "." + fraction};
    for (std::size_t keep = fraction.size() / 2; !fraction.empty(); keep /= 2) {
        out.push_back(keep == 0 ? whole : whole + "." + fraction.substr(0, keep));
        if (keep == 0) break;
    }
    std::erase_if(out, [&t](const std::string& x) { return x.size() >= t.size(); });
    std::stable_sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
        return a.size() < b.size();
    });
    return out;
}

// `times` with `times[i]` replaced by `by` orders the same as before.
bool same_order(const std::vector<SentTime>& times, std::size_t i, const std::string& by) {
    for (std::size_t k = 0; k < times.size(); ++k) {
        if (k != i &&
            compare_times(times[k].time, times[i].time) != compare_times(times[k].time, by))
            return false;
    }
    return true;
}

}  // namespace

void Shrinker::simplify_client_times() {
    std::map<std::string, std::vector<SentTime>> by_client;
    for (std::size_t i = 0; i < lines_.size(); ++i) {
        if (base_[i] || !alive_[i] || at(i) == nullptr) continue;
        if (auto t = sent_time(i, at(i)->what)) by_client[t->client].push_back(std::move(*t));
    }
    auto with_time = [this](const SentTime& t, const std::string& time) {
        AtLine changed = *at(t.line);
        auto& send = std::get<SendLine>(changed.what);
        send.line.replace(send.line.size() - t.time.size(), t.time.size(), time);
        return changed;
    };
    for (auto& [client, times] : by_client) {
        // Their ranks, all at once.
        const std::vector<DocLine> before = lines_;
        for (const SentTime& t : times) {
            std::size_t rank = 1;
            for (const SentTime& other : times)
                rank += compare_times(other.time, t.time) < 0 ? 1 : 0;
            lines_[t.line].statement = with_time(t, std::to_string(rank));
        }
        if (lines_ != before && still_fails()) continue;
        lines_ = before;
        // Else one at a time.
        for (std::size_t i = 0; i < times.size(); ++i) {
            for (const std::string& simpler : simpler_times(times[i].time)) {
                if (!same_order(times, i, simpler)) continue;
                if (try_statement(times[i].line, with_time(times[i], simpler))) {
                    times[i].time = simpler;
                    break;
                }
            }
        }
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
                           const std::string& base_text,
                           const std::vector<std::vector<int>>& units) {
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
    Shrinker s(document_of(text, file_name), outcome, base, units);
    s.drop_statements();
    s.lower_workloads();
    s.drop_statements();
    s.shorten_windows();
    s.round_times();
    s.shorten_clients();
    s.simplify_client_times();
    s.close_gaps();
    // Shorter windows and rounded times change the interleavings: statements that were needed
    // for one may no longer be.
    s.drop_statements();
    if (runs != nullptr) *runs = s.runs() + (base_text.empty() ? 0 : 1);
    ScenarioDoc shrunk = s.doc();
    sort_timeline(shrunk);
    return format_document(shrunk);
}

}  // namespace herd::sim
