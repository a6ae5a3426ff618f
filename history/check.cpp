#include "history/check.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/client_protocol.hpp"
#include "core/record.hpp"
#include "core/text.hpp"

namespace herd::history {

namespace {

// What an operation saw: a record (by its client time, as the herd compares them), or none.
struct Value {
    bool some = false;
    Timestamp time;
    std::string client;
    std::string key;  // client, position and time as sent: what tells a record's IAMAT
    bool older_than(const Value& other) const { return other.some && (!some || time < other.time); }
};

std::string sent_key(std::string_view client, std::string_view latlon, std::string_view time) {
    std::string key(client);
    key += ' ';
    key += latlon;
    key += ' ';
    key += time;
    return key;
}

// The record an AT line shows (a WHATSAT's first line, an IAMAT's reply); none for `?` or none.
Value value_of(const std::optional<std::string>& reply) {
    if (!reply) return {};
    const auto view = AtLineView::parse(*reply);
    if (!view) return {};
    return Value{true, view->time, std::string(view->client),
                 sent_key(view->client, view->latlon, view->time_text)};
}

struct Seen {
    Value value;
    Witness witness;
};

class Checker {
  public:
    explicit Checker(const CheckOptions& o) : o_(o) {}

    std::optional<Error> add(Operation op, std::size_t line);
    CheckResult finish();

  private:
    void report(AnomalyKind kind, std::string what, std::vector<Witness> witnesses);
    void read(const Witness& w, const Value& v);
    void write(const Witness& w);
    void note_stale(const Witness& w, const Value& v);

    const CheckOptions& o_;
    CheckResult r_;
    std::int64_t last_complete_ = std::numeric_limits<std::int64_t>::min();
    std::unordered_map<std::uint64_t, std::int64_t> session_end_;  // process -> last complete
    std::set<std::string> servers_;
    // Per client: acknowledged records in completion order with the newest client time so far
    // (for stale reads), and the newest acknowledged record (for lost writes).
    struct Acks {
        std::vector<std::pair<std::int64_t, Timestamp>> by_completion;
        Seen newest;
    };
    std::unordered_map<std::string, Acks> acks_;
    std::map<std::pair<std::uint64_t, std::string>, Seen> last_read_;   // (process, client)
    std::map<std::pair<std::uint64_t, std::string>, Seen> last_write_;  // (process, client)
    std::map<std::pair<std::string, std::string>, Seen> server_read_;   // (client, server)
    std::unordered_set<std::string> sent_;
    std::vector<Seen> unexplained_;  // reads of records not (yet) seen sent
};

void Checker::report(AnomalyKind kind, std::string what, std::vector<Witness> witnesses) {
    if (r_.counts[kind]++ < o_.anomalies_shown_max)
        r_.anomalies.push_back(Anomaly{kind, std::move(what), std::move(witnesses)});
}

std::optional<Error> Checker::add(Operation op, std::size_t line) {
    if (op.complete_ns < last_complete_) return Error{"expected lines in order of completion", 2};
    auto [session, fresh] = session_end_.try_emplace(op.process, op.complete_ns);
    if (!fresh && op.invoke_ns < session->second)
        return Error{"process " + std::to_string(op.process) +
                         "'s operations overlap (one session waits for each reply)",
                     2};
    session->second = op.complete_ns;
    last_complete_ = op.complete_ns;
    r_.operations += 1;
    servers_.insert(op.server);
    const Witness w{line, std::move(op)};
    if (w.op.op == Op::iamat) {
        r_.iamats += 1;
        write(w);
    } else {
        r_.whatsats += 1;
        read(w, value_of(w.op.reply));
    }
    return std::nullopt;
}

void Checker::write(const Witness& w) {
    const ClientRequest request = parse_client_line(w.op.line);
    if (const auto* iamat = std::get_if<IamatRequest>(&request))
        sent_.insert(sent_key(iamat->client, iamat->latlon_text, iamat->time_text));
    Value v = value_of(w.op.reply);
    if (!v.some || v.client != w.op.client) return;  // not acknowledged
    Acks& acks = acks_[w.op.client];
    const Timestamp newest_so_far =
        acks.by_completion.empty() ? v.time : std::max(v.time, acks.by_completion.back().second);
    acks.by_completion.emplace_back(w.op.complete_ns, newest_so_far);
    if (acks.newest.value.older_than(v) || !acks.newest.value.some) acks.newest = Seen{v, w};
    Seen& mine = last_write_[{w.op.process, w.op.client}];
    if (mine.value.older_than(v) || !mine.value.some) mine = Seen{v, w};
}

void Checker::read(const Witness& w, const Value& v) {
    const auto key = std::make_pair(w.op.process, w.op.client);
    if (v.some && (v.client != w.op.client || !sent_.count(v.key))) unexplained_.push_back({v, w});
    if (auto last = last_read_.find(key);
        last != last_read_.end() && v.older_than(last->second.value))
        report(AnomalyKind::monotonic_reads,
               "process " + std::to_string(w.op.process) + " read " + w.op.client +
                   "'s record going back in time",
               {last->second.witness, w});
    if (auto mine = last_write_.find(key);
        mine != last_write_.end() && v.older_than(mine->second.value))
        report(AnomalyKind::read_your_writes,
               "process " + std::to_string(w.op.process) + " read " + w.op.client +
                   " older than its own acknowledged update",
               {mine->second.witness, w});
    Seen& last = last_read_[key];
    if (!v.older_than(last.value)) last = Seen{v, w};
    server_read_[{w.op.client, w.op.server}] = Seen{v, w};
    note_stale(w, v);
}

// A read that returned older than the newest record acknowledged before it was invoked: stale by
// the time since the first acknowledgement of a record newer than what it returned.
void Checker::note_stale(const Witness& w, const Value& v) {
    auto it = acks_.find(w.op.client);
    if (it == acks_.end()) return;
    const auto& acks = it->second.by_completion;
    const auto before = std::lower_bound(
        acks.begin(), acks.end(), w.op.invoke_ns,
        [](const std::pair<std::int64_t, Timestamp>& a, std::int64_t t) { return a.first < t; });
    if (before == acks.begin()) return;
    if (!(v.older_than(Value{true, (before - 1)->second, {}, {}}))) return;
    const auto first_newer = std::find_if(
        acks.begin(), before, [&](const auto& a) { return !v.some || v.time < a.second; });
    r_.stale_ns.push_back(w.op.invoke_ns - first_newer->first);
}

CheckResult Checker::finish() {
    for (const Seen& s : unexplained_) {
        if (s.value.client == s.witness.op.client && sent_.count(s.value.key)) continue;
        report(AnomalyKind::impossible_read,
               "a read of " + s.witness.op.client + " returned a record no client sent",
               {s.witness});
    }
    for (const auto& [where, last] : server_read_) {
        auto it = acks_.find(where.first);
        if (it == acks_.end()) continue;
        const Seen& newest = it->second.newest;
        if (last.witness.op.invoke_ns < newest.witness.op.complete_ns + o_.settle_ns) continue;
        if (last.value.older_than(newest.value))
            report(AnomalyKind::lost_write,
                   where.second + " never showed " + where.first +
                       "'s newest acknowledged record in its last read past the settle time",
                   {newest.witness, last.witness});
    }
    r_.processes = session_end_.size();
    r_.servers = servers_.size();
    std::sort(r_.stale_ns.begin(), r_.stale_ns.end());
    return std::move(r_);
}

std::string format_ns(std::int64_t ns) {
    std::string out;
    append_decimal(out, static_cast<std::uint64_t>(ns < 0 ? -ns : ns) / 1000);
    return (ns < 0 ? "-" : "") + out + "us";
}

}  // namespace

const char* anomaly_name(AnomalyKind kind) {
    switch (kind) {
        case AnomalyKind::monotonic_reads:
            return "monotonic-reads";
        case AnomalyKind::read_your_writes:
            return "read-your-writes";
        case AnomalyKind::lost_write:
            return "lost-write";
        case AnomalyKind::impossible_read:
            return "impossible-read";
    }
    return "?";
}

std::size_t CheckResult::anomaly_total() const {
    std::size_t n = 0;
    for (const auto& [kind, count] : counts)
        n += count;
    return n;
}

Result<CheckResult> check_history(std::istream& in, const std::string& name,
                                  const CheckOptions& options) {
    Checker checker(options);
    std::string text;
    for (std::size_t line = 1; std::getline(in, text); ++line) {
        if (text.empty()) continue;
        auto op = parse_operation(text);
        std::optional<Error> e;
        if (const Error* bad = error_of(op)) e = *bad;
        if (!e) e = checker.add(std::get<Operation>(std::move(op)), line);
        if (e) {
            e->message = name + ":" + std::to_string(line) + ": " + e->message;
            e->names_its_place = true;
            return *e;
        }
    }
    return checker.finish();
}

std::string format_check(const CheckResult& r, const std::string& name) {
    std::string out = name + ": " + std::to_string(r.operations) + " operations (" +
                      std::to_string(r.iamats) + " IAMAT, " + std::to_string(r.whatsats) +
                      " WHATSAT) by " + std::to_string(r.processes) + " sessions at " +
                      std::to_string(r.servers) + " servers\n";
    out += "anomalies: " + std::to_string(r.anomaly_total());
    for (AnomalyKind k : {AnomalyKind::monotonic_reads, AnomalyKind::read_your_writes,
                          AnomalyKind::lost_write, AnomalyKind::impossible_read}) {
        auto it = r.counts.find(k);
        out += std::string(k == AnomalyKind::monotonic_reads ? " (" : ", ") + anomaly_name(k) +
               " " + std::to_string(it == r.counts.end() ? 0 : it->second);
    }
    out += ")\n";
    for (const Anomaly& a : r.anomalies) {
        out += std::string(anomaly_name(a.kind)) + ": " + a.what + "\n";
        for (const Witness& w : a.witnesses)
            out += "  " + name + ":" + std::to_string(w.line_number) + "  process " +
                   std::to_string(w.op.process) + " at " + w.op.server + ", " +
                   format_ns(w.op.invoke_ns) + ".." + format_ns(w.op.complete_ns) + ": " +
                   w.op.line + " -> " + (w.op.reply ? *w.op.reply : "(no reply)") + "\n";
    }
    const std::size_t stale = r.stale_ns.size();
    out += "stale reads: " + std::to_string(stale) + " of " + std::to_string(r.whatsats);
    if (stale > 0) {
        auto at = [&](double q) {
            return r.stale_ns[std::min(stale - 1,
                                       static_cast<std::size_t>(q * static_cast<double>(stale)))];
        };
        out += ", stale by p50 " + format_ns(at(0.5)) + ", p99 " + format_ns(at(0.99)) + ", max " +
               format_ns(r.stale_ns.back());
    }
    out += "\n";
    return out;
}

}  // namespace herd::history
