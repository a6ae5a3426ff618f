#include "sim/checker.hpp"

#include <algorithm>
#include <set>

#include "core/assert.hpp"
#include "core/hash.hpp"
#include "core/text.hpp"
#include "sim/fault_timeline.hpp"

namespace herd::sim {

const char* found_name(Found f) {
    switch (f) {
        case Found::nothing:
            return "nothing";
        case Found::no_send_yet:
            return "no send yet";
        case Found::send_refused:
            return "the send was refused";
        case Found::no_reply_yet:
            return "no reply yet";
        case Found::other_reply:
            return "another reply";
        case Found::server_down:
            return "the server is down";
        case Found::no_record:
            return "no record";
        case Found::other_position:
            return "another position";
        case Found::other_time:
            return "another time";
        case Found::a_record:
            return "a record";
        case Found::stores_differ:
            return "two servers hold different records";
        case Found::server_lacks:
            return "a server lacks a record another has";
        case Found::anomalies:
            return "session anomalies";
        case Found::no_history:
            return "no client history";
        case Found::store_unreadable:
            return "a store could not be read";
        case Found::too_slow:
            return "updates not visible in time";
        case Found::no_updates:
            return "no update to judge";
    }
    return "?";
}

const char* broken_name(Broken b) {
    switch (b) {
        case Broken::older_record:
            return "a store took an older record";
        case Broken::skew_not_clock:
            return "a record's skew is not its server's clock";
        case Broken::forged_record:
            return "a record no client sent";
        case Broken::server_stopped:
            return "a server stopped on a failed assertion";
    }
    return "?";
}

namespace {

std::string shown(std::string_view bytes) {
    std::string out;
    append_json_escaped(out, bytes.substr(0, 300));
    if (bytes.size() > 300) out += "...";
    return out;
}

// The skew field of an AT line ("AT Alford +0.000123456 ..."): its offset and length, when the
// text starts with one.
std::optional<std::pair<std::size_t, std::size_t>> skew_field(std::string_view text) {
    if (text.substr(0, 3) != "AT ") return std::nullopt;
    const std::size_t start = text.find(' ', 3);
    if (start == std::string_view::npos) return std::nullopt;
    const std::size_t end = text.find(' ', start + 1);
    if (end == std::string_view::npos) return std::nullopt;
    return std::pair{start + 1, end - start - 1};
}

std::optional<Duration> skew_value(std::string_view field) {
    if (field.find_first_of("*?\\") != std::string_view::npos) return std::nullopt;
    return parse_duration(std::string(field) + "s", true);
}

}  // namespace

bool reply_matches(const Glob& glob, std::string_view received, Duration tolerance) {
    if (glob.matches(received)) return true;
    if (tolerance.ns <= 0) return false;
    // The glob's skew, spelled out, against the reply's: within the tolerance, the rest of the
    // reply must match with the glob's skew in place of its own.
    const auto want = skew_field(glob.source());
    const auto got = skew_field(received);
    if (!want || !got) return false;
    const std::string_view want_text =
        std::string_view(glob.source()).substr(want->first, want->second);
    const auto want_skew = skew_value(want_text);
    const auto got_skew = skew_value(received.substr(got->first, got->second));
    if (!want_skew || !got_skew) return false;
    const std::int64_t gap = want_skew->ns - got_skew->ns;
    if (gap > tolerance.ns || -gap > tolerance.ns) return false;
    std::string replaced(received);
    replaced.replace(got->first, got->second, want_text);
    return glob.matches(replaced);
}

Checker::Checker(const Scenario& scenario, SimResult& result, Trace& trace, Duration skew_tolerance)
    : sc_(scenario),
      skew_tolerance_(skew_tolerance),
      result_(result),
      trace_(trace),
      fault_windows_(fault_timeline(scenario).merged()),
      visibility_(
          scenario.herd.servers.size(),
          [this](int origin, int server, Instant written, Instant at) {
              visible(origin, server, written, at);
          },
          [this](std::size_t client, Timestamp time, std::uint64_t record) {
              forget(client, time, record);
          }) {
    const std::size_t n = sc_.herd.servers.size();
    last_applied_.resize(n);
    distances_.resize(n);
    for (std::size_t s = 0; s < n; ++s)
        server_numbers_.emplace(sc_.herd.servers[s].name.str(), static_cast<int>(s));
    for (const Step& step : sc_.steps)
        if (const auto* e = std::get_if<ExpectVisibility>(&step.action))
            visibility_bounds_.push_back(e->within.ns);
    std::sort(visibility_bounds_.begin(), visibility_bounds_.end());
    visibility_bounds_.erase(std::unique(visibility_bounds_.begin(), visibility_bounds_.end()),
                             visibility_bounds_.end());
    visibility_within_.assign(visibility_bounds_.size(), 0);
}

const std::string& Checker::name(int s) const {
    return sc_.herd.servers[static_cast<std::size_t>(s)].name.str();
}

int Checker::hops(int from, int to) {
    auto& d = distances_[static_cast<std::size_t>(from)];
    if (d.empty()) d = hop_distances(sc_.herd, from);
    return d[static_cast<std::size_t>(to)];
}

// Whether a fault window overlaps [from, to].
bool Checker::fault_between(Instant from, Instant to) const {
    auto it = std::upper_bound(
        fault_windows_.begin(), fault_windows_.end(), to,
        [](Instant t, const std::pair<Instant, Instant>& w) { return t < w.first; });
    // Windows starting after `to` cannot overlap; of the others, the last one ends latest.
    return it != fault_windows_.begin() && std::prev(it)->second > from;
}

void Checker::restarted(Instant now, int server) {
    now_ = now;  // the updates its restart lets go of are forgotten from now
    last_applied_[static_cast<std::size_t>(server)].clear();
    visibility_.restarted(server);
}

void Checker::visible(int origin, int server, Instant written, Instant at) {
    const std::int64_t window = (at - written).ns;
    if (fault_between(written, at)) {
        result_.visibility_fault_ns.add(window);
        return;
    }
    result_.visibility_by_hops[hops(origin, server)].add(window);
    // Exact counts for `expect visibility`: the samples past samples_exact_max are bucketed.
    for (std::size_t i = visibility_bounds_.size(); i > 0 && window <= visibility_bounds_[i - 1];
         --i)
        visibility_within_[i - 1] += 1;
}

void Checker::finish(Instant end) {
    visibility_.for_each_open([this, end](int origin, int server, Instant written) {
        if (fault_between(written, end))
            result_.visibility_fault_ns.add(Samples::never);
        else
            result_.visibility_by_hops[hops(origin, server)].add(Samples::never);
    });
    result_.visibility_fault_ns.seal();
    for (auto& [h, windows] : result_.visibility_by_hops)
        windows.seal();
    result_.propagation_ns.seal();
    result_.propagation_fault_ns.seal();
    for (auto& [h, samples] : result_.propagation_by_hops)
        samples.seal();
}

// The pairs so far that met no fault and whose outcome within D is known (closed, or open for
// longer than D), and how many of them closed within D. Pairs a fault was in force during are
// left out, as the report shows them apart: the expectation is about the herd at work.
ExpectationResult Checker::check_visibility(ExpectationResult r, const ExpectVisibility& e) const {
    const std::int64_t d = e.within.ns;
    std::uint64_t known = 0, within = 0;
    for (const auto& [h, windows] : result_.visibility_by_hops)
        known += windows.size();
    const auto bound = std::lower_bound(visibility_bounds_.begin(), visibility_bounds_.end(), d);
    HERD_ASSERT(bound != visibility_bounds_.end() && *bound == d);
    within = visibility_within_[static_cast<std::size_t>(bound - visibility_bounds_.begin())];
    visibility_.for_each_open([&](int, int, Instant written) {
        if ((r.at - written).ns > d && !fault_between(written, r.at)) known += 1;
    });
    if (sc_.herd.servers.size() < 2) {
        r.found = "a herd of one server: no other server to see an update";
        r.found_kind = Found::no_updates;
        return r;
    }
    if (known == 0) {
        r.found =
            "no update whose visibility within " + format_duration(e.within) + " is known yet";
        r.found_kind = Found::no_updates;
        return r;
    }
    r.pass = within * 100'000 >= e.per_100k * known;
    if (!r.pass) {
        const std::uint64_t share = within * 100'000 / known;
        r.found = format_share(share) + "% of " + std::to_string(known) + " pairs within " +
                  format_duration(e.within);
        r.found_kind = Found::too_slow;
    }
    return r;
}

void Checker::applied(Instant now, int s, const RecordApplied& r, std::optional<Timestamp> clock) {
    SimStats& st = result_.stats;
    st.applies += 1;
    now_ = now;
    forget_due(now);
    if (trace_.enabled())
        trace_.begin(now, "apply")
            .field("server", name(s))
            .field("record", r.at_line)
            .field("via", r.via)
            .end();
    // Invariant: a store never takes an older record.
    const std::size_t number =
        client_numbers_.try_emplace(r.client, client_numbers_.size()).first->second;
    auto& last = last_applied_[static_cast<std::size_t>(s)];
    if (number >= last.size()) last.resize(number + 1);
    if (last[number] && r.time < *last[number]) {
        result_.violations.push_back(
            {now, name(s) + " replaced a record of " + r.client + " by an older one",
             Broken::older_record});
    }
    last[number] = r.time;
    if (r.via.empty()) {
        st.updates += 1;
        origin_time_.emplace(r.line_hash, now);
        visibility_.written(now, s, number, r.time, r.line_hash);
        visibility_.seen(now, s, number, r.time, r.line_hash);
        st.updates_tracked_max =
            std::max<std::uint64_t>(st.updates_tracked_max, visibility_.updates_tracked());
        if (clock) check_skew(now, s, r, *clock);
        return;
    }
    // Invariant: no server holds a record no client sent. Looked up before the tracker hears of
    // it: this apply may close the update's last pair, and the tracker then forgets it.
    const auto origin = origin_time_.find(r.line_hash);
    const std::optional<Instant> accepted =
        origin == origin_time_.end() ? std::nullopt : std::optional<Instant>(origin->second);
    // A record older than one every server has held is no longer kept (a restarted server may
    // still take it from a message sent before): it is not checked.
    const auto& below = forgotten_below_;
    const bool forgotten =
        !accepted && number < below.size() && below[number] && r.time <= *below[number];
    visibility_.seen(now, s, number, r.time, r.line_hash);
    if (!accepted) {
        if (forgotten) {
            st.stale_unchecked += 1;
            return;
        }
        result_.violations.push_back(
            {now, name(s) + " holds a record no client sent: " + r.at_line, Broken::forged_record});
        return;
    }
    const std::int64_t took = (now - *accepted).ns;
    if (fault_between(*accepted, now)) {
        result_.propagation_fault_ns.add(took);
        return;
    }
    result_.propagation_ns.add(took);
    auto from = server_numbers_.find(r.origin);
    if (from != server_numbers_.end()) result_.propagation_by_hops[hops(from->second, s)].add(took);
}

void Checker::forget(std::size_t client, Timestamp time, std::uint64_t record) {
    forgetting_.push_back({now_ + origin_forget_grace, client, time, record});
}

void Checker::forget_due(Instant now) {
    while (!forgetting_.empty() && forgetting_.front().due <= now) {
        const Forgetting& f = forgetting_.front();
        origin_time_.erase(f.record);
        if (f.client >= forgotten_below_.size()) forgotten_below_.resize(f.client + 1);
        auto& below = forgotten_below_[f.client];
        if (!below || *below < f.time) below = f.time;
        forgetting_.pop_front();
    }
}

namespace {

// A signed time in whole seconds and nanoseconds (0 to 999 999 999): seconds + nanos / 1e9.
struct Exact {
    std::int64_t seconds = 0;
    std::int64_t nanos = 0;
    friend bool operator==(const Exact&, const Exact&) = default;
};

Exact minus(Exact a, Exact b) {
    Exact d{a.seconds - b.seconds, a.nanos - b.nanos};
    if (d.nanos < 0) d = Exact{d.seconds - 1, d.nanos + 1'000'000'000};
    return d;
}

// The checker's own reading of a client time (DIGITS[.DIGITS]) and of a skew ([+-]DIGITS.DIGITS),
// written apart from core's on purpose: an oracle that shared the code it checks could not see
// that code's bugs. Nothing when the text is not one.
std::optional<Exact> oracle_time(std::string_view text, bool signed_text) {
    bool negative = false;
    if (signed_text) {
        if (text.empty() || (text[0] != '+' && text[0] != '-')) return std::nullopt;
        negative = text[0] == '-';
        text.remove_prefix(1);
    }
    Exact t;
    std::size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9' && i < 12; ++i)
        t.seconds = t.seconds * 10 + (text[i] - '0');
    if (i == 0) return std::nullopt;
    if (i < text.size()) {
        if (text[i] != '.' || text.size() - i - 1 > 9) return std::nullopt;
        int places = 0;
        for (++i; i < text.size(); ++i, ++places) {
            if (text[i] < '0' || text[i] > '9') return std::nullopt;
            t.nanos = t.nanos * 10 + (text[i] - '0');
        }
        for (; places < 9; ++places)
            t.nanos *= 10;
    }
    return negative ? minus(Exact{}, t) : t;
}

}  // namespace

// Invariant: a record a client sent here says how far this server's clock was ahead of the
// client's time ("AT server SKEW client ..."), exactly.
void Checker::check_skew(Instant now, int s, const RecordApplied& r, Timestamp clock) {
    std::string_view line = r.at_line;
    take_field(line);  // AT
    take_field(line);  // the server
    const std::string_view skew = take_field(line);
    take_field(line);  // the client
    take_field(line);  // the position
    const auto stamped = oracle_time(skew, true);
    const auto sent = oracle_time(take_field(line), false);
    if (stamped && sent) {
        const Exact want = minus(Exact{clock.seconds, clock.nanos}, *sent);
        // Zero is written with a plus.
        const bool negative = want.seconds < 0;
        if (*stamped == want && (skew[0] == '-') == negative) return;
    }
    const std::string want = format_signed_seconds(difference(clock, r.time));
    result_.violations.push_back({now,
                                  name(s) + " stamped " + r.client + "'s record with skew " +
                                      std::string(skew) + " while its clock said " + want,
                                  Broken::skew_not_clock});
}

// Holds when every live server holds the same record for every client; else finds the first
// difference.
void Checker::converged(const Observed& world, ExpectationResult& r) const {
    r.pass = false;
    int reference = -1;
    std::vector<const Record*> ref;
    for (int s = 0; s < static_cast<int>(world.stores.size()); ++s) {
        const RecordStore* store = world.stores[static_cast<std::size_t>(s)];
        if (store == nullptr) continue;
        std::vector<const Record*> mine = store->sorted();
        if (reference < 0) {
            reference = s;
            ref = std::move(mine);
            continue;
        }
        std::size_t i = 0, j = 0;
        while (i < ref.size() || j < mine.size()) {
            if (j == mine.size() || (i < ref.size() && ref[i]->client() < mine[j]->client())) {
                r.found_kind = Found::server_lacks;
                r.found = name(s) + " lacks " + std::string(ref[i]->client()) + ", which " +
                          name(reference) + " has";
                return;
            }
            if (i == ref.size() || mine[j]->client() < ref[i]->client()) {
                r.found_kind = Found::server_lacks;
                r.found = name(reference) + " lacks " + std::string(mine[j]->client()) +
                          ", which " + name(s) + " has";
                return;
            }
            if (ref[i]->at_line() != mine[j]->at_line()) {
                r.found_kind = Found::stores_differ;
                r.found = name(reference) + " has \"" + std::string(ref[i]->at_line()) + "\" but " +
                          name(s) + " has \"" + std::string(mine[j]->at_line()) + "\"";
                return;
            }
            ++i;
            ++j;
        }
    }
    r.pass = true;
}

// The expectations about one server's store; nothing for the others.
std::optional<ExpectationResult> Checker::check_store(ExpectationResult r, const StepAction& a,
                                                      const Observed& world) const {
    const RecordStore* store = nullptr;
    auto lookup = [&](int server, const std::string& client) -> const Record* {
        store = world.stores[static_cast<std::size_t>(server)];
        if (store == nullptr) {
            r.found = name(server) + " is down (crashed)";
            r.found_kind = Found::server_down;
            return nullptr;
        }
        const Record* rec = store->find(client);
        if (rec == nullptr) {
            r.found = "no record of " + client;
            r.found_kind = Found::no_record;
        }
        return rec;
    };
    if (const auto* e = std::get_if<ExpectHasAt>(&a)) {
        const Record* rec = lookup(e->server, e->client);
        if (rec != nullptr && rec->latlon_text() != e->latlon) {
            r.found = "at " + std::string(rec->latlon_text());
            r.found_kind = Found::other_position;
        }
        r.pass = rec != nullptr && r.found.empty();
        return r;
    }
    if (const auto* e = std::get_if<ExpectHasTime>(&a)) {
        const Record* rec = lookup(e->server, e->client);
        if (rec != nullptr && rec->time() != e->time) {
            r.found = "time " + std::string(rec->time_text());
            r.found_kind = Found::other_time;
        }
        r.pass = rec != nullptr && r.found.empty();
        return r;
    }
    if (const auto* e = std::get_if<ExpectLacks>(&a)) {
        const Record* rec = lookup(e->server, e->client);
        if (store == nullptr) return r;
        r.found = rec == nullptr ? std::string() : "has \"" + std::string(rec->at_line()) + "\"";
        r.found_kind = rec == nullptr ? Found::nothing : Found::a_record;
        r.pass = rec == nullptr;
        return r;
    }
    return std::nullopt;
}

ExpectationResult Checker::check_reply(ExpectationResult r, const ExpectReply& e,
                                       const Observed& world) const {
    const int c = world.latest_send[static_cast<std::size_t>(e.server)];
    if (c < 0) {
        r.found = "no send to " + name(e.server) + " yet";
        r.found_kind = Found::no_send_yet;
        return r;
    }
    const SimClient& client = world.clients[static_cast<std::size_t>(c)];
    if (client.refused) {
        r.found = "the latest send to " + name(e.server) + " was refused (it was down)";
        r.found_kind = Found::send_refused;
    } else if (!client.complete) {
        r.found = "no reply yet (so far: \"" + shown(client.received) + "\")";
        r.found_kind = Found::no_reply_yet;
    } else if (!reply_matches(e.glob, client.received, skew_tolerance_)) {
        r.found = "\"" + shown(client.received) + "\"";
        r.found_kind = Found::other_reply;
    } else {
        r.pass = true;
    }
    return r;
}

// The clients' history so far, through herd check's checker: at most `max` of the kind; the
// first one's witness said when there are more.
ExpectationResult Checker::check_sessions(ExpectationResult r, const ExpectSessions& e,
                                          const Observed& world) const {
    if (world.sessions == nullptr) {
        r.found = "no client history is recorded in this world";
        r.found_kind = Found::no_history;
        return r;
    }
    const auto it = world.sessions->counts.find(e.kind);
    const std::uint64_t n = it == world.sessions->counts.end() ? 0 : it->second;
    r.pass = n <= e.max;
    if (r.pass) return r;
    r.found = std::to_string(n) + " " + history::anomaly_name(e.kind);
    for (const history::Anomaly& a : world.sessions->anomalies) {
        if (a.kind != e.kind) continue;
        r.found += ", the first: " + a.what;
        for (const history::Witness& w : a.witnesses)
            r.found += "; " + w.op->server + ": " + w.op->line + " -> " +
                       (w.op->reply ? *w.op->reply : std::string("(no reply)"));
        break;
    }
    r.found_kind = Found::anomalies;
    return r;
}

ExpectationResult Checker::check(Instant now, const Step& step, const Observed& world) const {
    ExpectationResult r;
    r.line = step.line;
    r.at = now;
    r.text = step.text;
    if (std::holds_alternative<ExpectConverged>(step.action)) {
        converged(world, r);
        return r;
    }
    if (const auto* e = std::get_if<ExpectReply>(&step.action)) return check_reply(r, *e, world);
    if (const auto* e = std::get_if<ExpectSessions>(&step.action))
        return check_sessions(r, *e, world);
    if (const auto* e = std::get_if<ExpectVisibility>(&step.action)) return check_visibility(r, *e);
    if (const auto* e = std::get_if<ExpectHasAt>(&step.action)) r.client = e->client;
    if (const auto* e = std::get_if<ExpectHasTime>(&step.action)) r.client = e->client;
    if (const auto* e = std::get_if<ExpectLacks>(&step.action)) r.client = e->client;
    auto stored = check_store(r, step.action, world);
    return stored ? *stored : r;
}

}  // namespace herd::sim
