#include "history/check.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <unordered_map>

#include "core/client_protocol.hpp"
#include "core/record.hpp"
#include "core/text.hpp"

namespace herd::history {

namespace {

using OpPtr = std::shared_ptr<const Operation>;

// What a read saw, or what an acknowledgement stored: a record by its client time (as the herd
// compares them), or none.
struct Value {
    bool some = false;
    Timestamp time;
    bool older_than(const Value& other) const { return other.some && (!some || time < other.time); }
};

// A record as its IAMAT sent it: client, position and time, byte for byte.
std::string record_key(std::string_view client, std::string_view latlon, std::string_view time) {
    std::string key(client);
    key += ' ';
    key += latlon;
    key += ' ';
    key += time;
    return key;
}

// What the first pass learns of each record sent: when its first IAMAT was sent, and the AT
// lines its IAMATs were acknowledged with.
struct Sent {
    std::int64_t first_invoke_ns = std::numeric_limits<std::int64_t>::max();
    std::vector<std::string> acknowledged;
};
using SentRecords = std::unordered_map<std::string, Sent>;

// Reads the history's lines in order, parsed and checked for order and overlap; calls
// `each(op, line)`. The Error (exit 2) names the line.
template <typename Each>
std::optional<Error> read_lines(std::istream& in, const std::string& name, Each each) {
    std::int64_t last_complete = std::numeric_limits<std::int64_t>::min();
    std::unordered_map<std::uint64_t, std::int64_t> session_end;
    std::string text;
    for (std::size_t line = 1; std::getline(in, text); ++line) {
        if (trim(text).empty()) continue;
        auto parsed = parse_operation(trim_end(text));
        std::optional<Error> e;
        if (const Error* bad = error_of(parsed)) e = *bad;
        const Operation* op = std::get_if<Operation>(&parsed);
        if (!e && op->complete_ns < last_complete)
            e = Error{"expected lines in order of completion", 2};
        if (!e) {
            auto [end, fresh] = session_end.try_emplace(op->process, op->complete_ns);
            if (!fresh && op->invoke_ns < end->second)
                e = Error{"process " + std::to_string(op->process) +
                              "'s operations overlap (one session waits for each reply)",
                          2};
            end->second = op->complete_ns;
        }
        if (e) {
            e->message = name + ":" + std::to_string(line) + ": " + e->message;
            e->names_its_place = true;
            return e;
        }
        last_complete = op->complete_ns;
        each(std::get<Operation>(std::move(parsed)), line);
    }
    if (in.bad()) return Error{"cannot read " + name + ": " + std::strerror(errno), 2};
    return std::nullopt;
}

void learn_sent(const Operation& op, SentRecords& sent) {
    if (op.op != Op::iamat) return;
    const ClientRequest request = parse_client_line(op.line);
    const auto* iamat = std::get_if<IamatRequest>(&request);
    if (iamat == nullptr) return;
    Sent& s = sent[record_key(iamat->client, iamat->latlon_text, iamat->time_text)];
    s.first_invoke_ns = std::min(s.first_invoke_ns, op.invoke_ns);
    if (!op.reply) return;
    const auto view = AtLineView::parse(*op.reply);
    if (view && view->client == iamat->client && view->latlon == iamat->latlon_text &&
        view->time_text == iamat->time_text &&
        std::find(s.acknowledged.begin(), s.acknowledged.end(), *op.reply) == s.acknowledged.end())
        s.acknowledged.push_back(*op.reply);
}

struct Seen {
    Value value;
    Witness witness;
};

// Per client: its acknowledged records in completion order, with the newest client time so far
// and the acknowledgement that brought it (stale reads and lost writes search these).
struct Ack {
    std::int64_t complete_ns;
    Timestamp newest;
    Witness newest_by;
};

class Checker {
  public:
    Checker(const CheckOptions& o, SentRecords& sent) : o_(o), sent_(sent) {}
    void add(Operation op, std::size_t line);
    const CheckResult& so_far() const { return r_; }
    CheckResult finish();

  private:
    void report(AnomalyKind kind, std::string what, std::vector<Witness> witnesses);
    void write(const Witness& w);
    void read(const Witness& w);
    std::optional<Value> observed(const Witness& w);
    void sessions(const Witness& w, const Value& v);
    void against_acks(const Witness& w, const Value& v);

    const CheckOptions& o_;
    SentRecords& sent_;
    CheckResult r_;
    std::set<std::uint64_t> processes_;
    std::set<std::string> servers_;
    std::unordered_map<std::string, std::vector<Ack>> acks_;
    std::map<std::pair<std::uint64_t, std::string>, Seen> last_read_;   // (process, client)
    std::map<std::pair<std::uint64_t, std::string>, Seen> last_write_;  // (process, client)
    std::set<std::tuple<std::string, std::string, std::size_t>> lost_reported_;
};

void Checker::report(AnomalyKind kind, std::string what, std::vector<Witness> witnesses) {
    if (r_.counts[kind]++ < o_.anomalies_shown_max)
        r_.anomalies.push_back(Anomaly{kind, std::move(what), std::move(witnesses)});
}

void Checker::add(Operation op, std::size_t line) {
    r_.operations += 1;
    processes_.insert(op.process);
    servers_.insert(op.server);
    const Witness w{line, std::make_shared<const Operation>(std::move(op))};
    if (w.op->op == Op::iamat) {
        r_.iamats += 1;
        learn_sent(*w.op, sent_);  // its acknowledged line, when it was only sent before
        write(w);
    } else {
        r_.whatsats += 1;
        read(w);
    }
}

// An IAMAT: acknowledged when its reply is its request's record.
void Checker::write(const Witness& w) {
    const ClientRequest request = parse_client_line(w.op->line);
    const auto* iamat = std::get_if<IamatRequest>(&request);
    if (iamat == nullptr || !w.op->reply) return;
    const auto view = AtLineView::parse(*w.op->reply);
    if (!view) return;  // `?` or nothing: not acknowledged
    if (view->client != iamat->client || view->latlon != iamat->latlon_text ||
        view->time_text != iamat->time_text) {
        report(
            AnomalyKind::impossible_read,
            "an IAMAT of " + w.op->client + " was acknowledged with a record that is not its own",
            {w});
        return;
    }
    const Value v{true, view->time};
    std::vector<Ack>& acks = acks_[w.op->client];
    if (acks.empty() || acks.back().newest < v.time)
        acks.push_back(Ack{w.op->complete_ns, v.time, w});
    else
        acks.push_back(Ack{w.op->complete_ns, acks.back().newest, acks.back().newest_by});
    Seen& mine = last_write_[{w.op->process, w.op->client}];
    if (!mine.value.some || mine.value.older_than(v)) mine = Seen{v, w};
}

// What a WHATSAT observed: a record, none (`?`), or nothing at all (no valid request, no reply);
// an impossible answer is reported and observed nothing either.
std::optional<Value> Checker::observed(const Witness& w) {
    const Operation& op = *w.op;
    if (!std::holds_alternative<WhatsatRequest>(parse_client_line(op.line)) || !op.reply)
        return std::nullopt;
    if (op.reply->starts_with("? ")) return Value{};
    const auto view = AtLineView::parse(*op.reply);
    std::string why;
    if (!view) {
        why = "was answered neither with a record nor with ?";
    } else if (view->client != op.client) {
        why = "returned another client's record";
    } else {
        auto it = sent_.find(record_key(view->client, view->latlon, view->time_text));
        if (it == sent_.end())
            why = "returned a record no client sent";
        else if (op.complete_ns < it->second.first_invoke_ns)
            why = "returned a record before its IAMAT was sent";
        else if (!it->second.acknowledged.empty() &&
                 std::find(it->second.acknowledged.begin(), it->second.acknowledged.end(),
                           *op.reply) == it->second.acknowledged.end())
            why = "returned a record unlike the one its origin acknowledged";
    }
    if (why.empty()) return Value{true, view->time};
    report(AnomalyKind::impossible_read, "a read of " + op.client + " " + why, {w});
    return std::nullopt;
}

void Checker::read(const Witness& w) {
    const std::optional<Value> v = observed(w);
    if (!v) return;
    r_.reads += 1;
    sessions(w, *v);
    against_acks(w, *v);
}

void Checker::sessions(const Witness& w, const Value& v) {
    const auto key = std::make_pair(w.op->process, w.op->client);
    const std::string session = "process " + std::to_string(w.op->process);
    if (auto last = last_read_.find(key);
        last != last_read_.end() && v.older_than(last->second.value))
        report(AnomalyKind::monotonic_reads,
               session + " read " + w.op->client + "'s record going back in time",
               {last->second.witness, w});
    if (auto mine = last_write_.find(key);
        mine != last_write_.end() && v.older_than(mine->second.value))
        report(AnomalyKind::read_your_writes,
               session + " read " + w.op->client + " older than its own acknowledged update",
               {mine->second.witness, w});
    Seen& last = last_read_[key];
    if (!last.witness.op || !v.older_than(last.value)) last = Seen{v, w};
}

// Stale: older than the newest record acknowledged before the read was invoked, by the time
// since the first acknowledgement of a newer one. Lost: older than one acknowledged at least the
// settle time before.
void Checker::against_acks(const Witness& w, const Value& v) {
    auto it = acks_.find(w.op->client);
    if (it == acks_.end()) return;
    const std::vector<Ack>& acks = it->second;
    auto completed_before = [&](std::int64_t t) {
        return std::lower_bound(acks.begin(), acks.end(), t,
                                [](const Ack& a, std::int64_t x) { return a.complete_ns < x; });
    };
    const auto before = completed_before(w.op->invoke_ns);
    if (before == acks.begin() || !v.older_than(Value{true, (before - 1)->newest})) return;
    // The first acknowledgement of a record newer than what was read (newest never decreases).
    const auto newer =
        v.some ? std::upper_bound(acks.begin(), before, v.time,
                                  [](Timestamp t, const Ack& a) { return t < a.newest; })
               : acks.begin();
    r_.stale_ns.push_back(w.op->invoke_ns - newer->complete_ns);
    const auto settled = completed_before(w.op->invoke_ns - o_.settle_ns + 1);
    if (settled == acks.begin() || !v.older_than(Value{true, (settled - 1)->newest})) return;
    const Witness& missing = (settled - 1)->newest_by;
    if (!lost_reported_.emplace(w.op->server, w.op->client, missing.line_number).second) return;
    report(AnomalyKind::lost_write,
           w.op->server + " did not show " + w.op->client +
               "'s record in a read past the settle time after it was acknowledged",
           {missing, w});
}

CheckResult Checker::finish() {
    r_.processes = processes_.size();
    r_.servers = servers_.size();
    std::sort(r_.stale_ns.begin(), r_.stale_ns.end());
    return std::move(r_);
}

// Nanoseconds as seconds, exact: "0.004000000s".
std::string format_seconds(std::int64_t ns) {
    const std::uint64_t magnitude =
        ns < 0 ? static_cast<std::uint64_t>(-(ns + 1)) + 1 : static_cast<std::uint64_t>(ns);
    std::string out = ns < 0 ? "-" : "";
    append_decimal(out, magnitude / 1'000'000'000);
    out += '.';
    append_padded(out, magnitude % 1'000'000'000, 9);
    return out + "s";
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

std::optional<AnomalyKind> anomaly_kind(std::string_view name) {
    for (AnomalyKind k : {AnomalyKind::monotonic_reads, AnomalyKind::read_your_writes,
                          AnomalyKind::lost_write, AnomalyKind::impossible_read}) {
        if (name == anomaly_name(k)) return k;
    }
    return std::nullopt;
}

std::size_t CheckResult::anomaly_total() const {
    std::size_t n = 0;
    for (const auto& [kind, count] : counts)
        n += count;
    return n;
}

struct HistoryChecker::Impl {
    explicit Impl(CheckOptions o) : options(o), checker(options, sent) {}
    CheckOptions options;
    SentRecords sent;
    Checker checker;
};

HistoryChecker::HistoryChecker(CheckOptions options) : impl_(std::make_unique<Impl>(options)) {}
HistoryChecker::~HistoryChecker() = default;

void HistoryChecker::sent(const Operation& iamat) {
    learn_sent(iamat, impl_->sent);
}

void HistoryChecker::add(Operation op, std::size_t line_number) {
    impl_->checker.add(std::move(op), line_number);
}

const CheckResult& HistoryChecker::so_far() const {
    return impl_->checker.so_far();
}

CheckResult HistoryChecker::finish() {
    return impl_->checker.finish();
}

Result<CheckResult> check_history(std::istream& in, const std::string& name,
                                  const CheckOptions& options) {
    HistoryChecker checker(options);
    if (auto e = read_lines(in, name, [&](const Operation& op, std::size_t) { checker.sent(op); }))
        return *e;
    in.clear();
    in.seekg(0);
    if (!in) return Error{"cannot read " + name + " again (a history must be a file)", 2};
    if (auto e = read_lines(
            in, name, [&](Operation op, std::size_t line) { checker.add(std::move(op), line); }))
        return *e;
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
                   std::to_string(w.op->process) + " at " + w.op->server + ", " +
                   format_seconds(w.op->invoke_ns) + ".." + format_seconds(w.op->complete_ns) +
                   ": " + w.op->line + " -> " + (w.op->reply ? *w.op->reply : "(no reply)") + "\n";
    }
    const std::size_t stale = r.stale_ns.size();
    out += "stale reads: " + std::to_string(stale) + " of " + std::to_string(r.reads);
    if (stale > 0) {
        // Nearest rank: the smallest value with at least q of the reads at or below it.
        auto at = [&](std::size_t percent) { return r.stale_ns[(stale * percent + 99) / 100 - 1]; };
        out += ", stale by p50 " + format_seconds(at(50)) + ", p99 " + format_seconds(at(99)) +
               ", max " + format_seconds(r.stale_ns.back());
    }
    out += "\n";
    return out;
}

}  // namespace herd::history
