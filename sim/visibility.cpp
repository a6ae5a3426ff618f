#include "sim/visibility.hpp"

#include <algorithm>

#include "core/assert.hpp"

namespace herd::sim {

namespace {

// The first of a client's updates (in order of time) at or after `time`.
template <typename List>
auto first_at(List& list, Timestamp time) {
    return std::lower_bound(list.begin(), list.end(), time,
                            [](const auto& x, Timestamp t) { return x.time < t; });
}

}  // namespace

VisibilityTracker::VisibilityTracker(std::size_t servers, Visible on_visible, Closed on_closed)
    : servers_(servers),
      on_visible_(std::move(on_visible)),
      on_closed_(std::move(on_closed)),
      held_(servers),
      counted_(servers) {}

void VisibilityTracker::close(Update& u, int server, Instant now) {
    HERD_ASSERT(u.open > 0);
    u.open -= 1;
    on_visible_(u.origin, server, u.written, now);
}

void VisibilityTracker::forget_closed(std::size_t client) {
    // One pass (a heal or a restart can close thousands of one client's updates at once).
    auto& list = updates_[client];
    std::vector<Update> gone;
    std::size_t kept = 0;
    for (Update& u : list) {
        if (u.open != 0 || u.holders != 0)
            list[kept++] = u;
        else
            gone.push_back(u);
    }
    list.resize(kept);
    for (const Update& u : gone) {
        updates_tracked_ -= 1;
        if (!on_closed_) continue;
        // The same record sent twice is told when no copy of it is left (twice when both go at
        // once, which is harmless: the checker forgets it twice).
        auto same = first_at(list, u.time);
        bool copy_left = false;
        for (; same != list.end() && same->time == u.time && !copy_left; ++same)
            copy_left = same->record == u.record;
        if (!copy_left) on_closed_(client, u.time, u.record);
    }
}

bool VisibilityTracker::let_go(std::size_t client, const Mark& mark) {
    if (client >= updates_.size()) return false;
    auto& list = updates_[client];
    auto it = first_at(list, mark.time);
    for (; it != list.end() && it->time == mark.time; ++it) {
        if (it->record != mark.record || it->holders == 0) continue;
        it->holders -= 1;
        return it->holders == 0 && it->open == 0;
    }
    return false;
}

VisibilityTracker::Update& VisibilityTracker::find(std::size_t client, const Update& copy) {
    auto& list = updates_[client];
    auto it = first_at(list, copy.time);
    for (; it != list.end() && it->time == copy.time; ++it)
        if (it->record == copy.record && it->origin == copy.origin && it->written == copy.written)
            return *it;
    HERD_ASSERT(false && "a waiting pair's update is still tracked");
    return list.front();
}

std::optional<VisibilityTracker::Mark>& VisibilityTracker::held(int server, std::size_t client) {
    auto& row = held_[static_cast<std::size_t>(server)];
    if (client >= row.size()) row.resize(client + 1);
    return row[client];
}

std::optional<VisibilityTracker::Mark>& VisibilityTracker::counted(int server, std::size_t client) {
    auto& row = counted_[static_cast<std::size_t>(server)];
    if (client >= row.size()) row.resize(client + 1);
    return row[client];
}

// Whether `mark` (of `server` and `client`) stands for `u` or a later record.
bool VisibilityTracker::covers(int server, std::size_t client, const std::optional<Mark>& mark,
                               const Update& u) const {
    if (!mark || u.time > mark->time) return false;
    if (u.time < mark->time || u.record == mark->record) return true;
    const auto ties = counted_ties_.find({server, client});
    return ties != counted_ties_.end() &&
           std::find(ties->second.begin(), ties->second.end(), u.record) != ties->second.end();
}

void VisibilityTracker::written(Instant now, int origin, std::size_t client, Timestamp time,
                                std::uint64_t record) {
    HERD_ASSERT(static_cast<std::size_t>(origin) < servers_);
    if (client >= updates_.size()) updates_.resize(client + 1);
    auto& list = updates_[client];
    const auto at =
        list.insert(std::upper_bound(list.begin(), list.end(), time,
                                     [](Timestamp t, const Update& x) { return t < x.time; }),
                    Update{time, record, now, origin, static_cast<std::uint32_t>(servers_ - 1)});
    Update& u = *at;
    updates_tracked_ += 1;
    for (std::size_t s = 0; s < servers_; ++s) {
        const int server = static_cast<int>(s);
        if (server == origin) continue;
        // A server already holding it or a later record answers with that at once; one that
        // was counted past it but holds less now (a restart) waits apart.
        const std::optional<Mark>& now_held = held(server, client);
        if (now_held &&
            (time < now_held->time || (time == now_held->time && record == now_held->record)))
            close(u, server, now);
        else if (covers(server, client, counted(server, client), u))
            waiting_.push_back({server, client, u});
    }
    // Even closed at once, the update stays while its origin holds it (seen() comes next).
}

void VisibilityTracker::seen(Instant now, int server, std::size_t client, Timestamp time,
                             std::uint64_t record) {
    std::optional<Mark>& holding = held(server, client);
    bool closed_one = holding && let_go(client, *holding);
    holding = Mark{time, record};
    if (client < updates_.size()) {
        auto& list = updates_[client];
        auto it = first_at(list, time);
        for (; it != list.end() && it->time == time; ++it)
            if (it->record == record) {
                it->holders += 1;
                break;
            }
    }
    for (std::size_t i = 0; i < waiting_.size();) {
        const Waiting& w = waiting_[i];
        if (w.server == server && w.client == client &&
            (w.update.time < time || (w.update.time == time && w.update.record == record))) {
            Update& u = find(client, w.update);
            close(u, server, now);
            closed_one = closed_one || u.open == 0;
            waiting_[i] = waiting_.back();
            waiting_.pop_back();
        } else {
            ++i;
        }
    }
    std::optional<Mark>& mark = counted(server, client);
    const std::optional<Mark> before = mark;
    if (before && (time < before->time ||
                   (time == before->time &&
                    covers(server, client, before, Update{time, record, now, server})))) {
        if (closed_one) forget_closed(client);
        return;  // counted already
    }
    if (client < updates_.size()) {
        auto& list = updates_[client];
        auto it = before ? first_at(list, before->time) : list.begin();
        for (; it != list.end() && it->time <= time; ++it) {
            const bool now_covered = it->time < time || it->record == record;
            if (now_covered && it->origin != server && !covers(server, client, before, *it)) {
                close(*it, server, now);
                closed_one = closed_one || it->open == 0;
            }
        }
    }
    if (before && time == before->time)
        counted_ties_[{server, client}].push_back(record);  // a tie won here: both counted
    else
        mark = Mark{time, record};
    if (before && time > before->time) counted_ties_.erase({server, client});
    if (closed_one) forget_closed(client);
}

void VisibilityTracker::restarted(int server) {
    auto& row = held_[static_cast<std::size_t>(server)];
    for (std::size_t client = 0; client < row.size(); ++client)
        if (row[client] && let_go(client, *row[client])) forget_closed(client);
    row.clear();
}

void VisibilityTracker::for_each_open(
    const std::function<void(int origin, int server, Instant written)>& f) const {
    for (std::size_t c = 0; c < updates_.size(); ++c) {
        for (const Update& u : updates_[c]) {
            for (std::size_t s = 0; s < servers_; ++s) {
                const int server = static_cast<int>(s);
                if (server == u.origin) continue;
                const auto& row = counted_[s];
                const std::optional<Mark> mark = c < row.size() ? row[c] : std::nullopt;
                if (!covers(server, c, mark, u)) f(u.origin, server, u.written);
            }
        }
    }
    for (const Waiting& w : waiting_)
        f(w.update.origin, w.server, w.update.written);
}

CurveGap largest_gap(const Samples& a, const Samples& b) {
    CurveGap gap;
    if (a.empty() || b.empty()) return gap;
    using Step = std::pair<std::int64_t, std::uint64_t>;
    auto steps = [](const Samples& s) {
        std::vector<Step> out;
        s.for_each_step([&out](std::int64_t v, std::uint64_t n) { out.emplace_back(v, n); });
        return out;
    };
    const std::vector<Step> sa = steps(a), sb = steps(b);
    __extension__ using Wide = unsigned __int128;  // counts times counts times 100 000
    const Wide na = a.size(), nb = b.size();
    std::size_t i = 0, j = 0;
    std::uint64_t below_a = 0, below_b = 0;
    // At each finite value of either, both curves as they stand just after it.
    while (i < sa.size() || j < sb.size()) {
        const std::int64_t t = j == sb.size() || (i < sa.size() && sa[i].first <= sb[j].first)
                                   ? sa[i].first
                                   : sb[j].first;
        if (t == Samples::never) break;  // never: no t reaches it
        if (i < sa.size() && sa[i].first == t) below_a += sa[i++].second;
        if (j < sb.size() && sb[j].first == t) below_b += sb[j++].second;
        const Wide x = Wide{below_a} * nb, y = Wide{below_b} * na;
        const auto g = static_cast<std::uint64_t>((x > y ? x - y : y - x) * 100'000 / (na * nb));
        if (g > gap.per_100k) gap = CurveGap{g, t};
    }
    return gap;
}

std::string format_share(std::uint64_t per_100k) {
    const std::string thousandths = std::to_string(per_100k % 1000);
    return std::to_string(per_100k / 1000) + "." + std::string(3 - thousandths.size(), '0') +
           thousandths;
}

std::string format_points(std::uint64_t per_100k) {
    return format_share(per_100k) + " pp";
}

}  // namespace herd::sim
