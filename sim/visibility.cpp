#include "sim/visibility.hpp"

#include <algorithm>

#include "core/assert.hpp"

namespace herd::sim {

VisibilityTracker::VisibilityTracker(std::size_t servers, Visible on_visible)
    : servers_(servers), on_visible_(std::move(on_visible)), held_(servers), counted_(servers) {}

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
    const Update u{time, record, now, origin};
    list.insert(std::upper_bound(list.begin(), list.end(), time,
                                 [](Timestamp t, const Update& x) { return t < x.time; }),
                u);
    for (std::size_t s = 0; s < servers_; ++s) {
        const int server = static_cast<int>(s);
        if (server == origin) continue;
        // A server already holding it or a later record answers with that at once; one that
        // was counted past it but holds less now (a restart) waits apart.
        const std::optional<Mark>& now_held = held(server, client);
        if (now_held &&
            (time < now_held->time || (time == now_held->time && record == now_held->record)))
            on_visible_(origin, server, now, now);
        else if (covers(server, client, counted(server, client), u))
            waiting_.push_back({server, client, u});
    }
}

void VisibilityTracker::seen(Instant now, int server, std::size_t client, Timestamp time,
                             std::uint64_t record) {
    held(server, client) = Mark{time, record};
    for (std::size_t i = 0; i < waiting_.size();) {
        const Waiting& w = waiting_[i];
        if (w.server == server && w.client == client &&
            (w.update.time < time || (w.update.time == time && w.update.record == record))) {
            on_visible_(w.update.origin, server, w.update.written, now);
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
                    covers(server, client, before, Update{time, record, now, server}))))
        return;  // counted already
    if (client < updates_.size()) {
        const auto& list = updates_[client];
        auto it = before ? std::lower_bound(list.begin(), list.end(), before->time,
                                            [](const Update& x, Timestamp t) { return x.time < t; })
                         : list.begin();
        for (; it != list.end() && it->time <= time; ++it) {
            const bool now_covered = it->time < time || it->record == record;
            if (now_covered && it->origin != server && !covers(server, client, before, *it))
                on_visible_(it->origin, server, it->written, now);
        }
    }
    if (before && time == before->time)
        counted_ties_[{server, client}].push_back(record);  // a tie won here: both counted
    else
        mark = Mark{time, record};
    if (before && time > before->time) counted_ties_.erase({server, client});
}

void VisibilityTracker::restarted(int server) {
    held_[static_cast<std::size_t>(server)].clear();
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

CurveGap largest_gap(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
    CurveGap gap;
    if (a.empty() || b.empty()) return gap;
    __extension__ using Wide = unsigned __int128;  // counts times counts times 100 000
    const Wide na = a.size(), nb = b.size();
    std::size_t i = 0, j = 0;
    // At each finite window of either, both curves as they stand just after it.
    while (i < a.size() || j < b.size()) {
        const std::int64_t t = j == b.size() || (i < a.size() && a[i] <= b[j]) ? a[i] : b[j];
        if (t == INT64_MAX) break;  // never: no t reaches it
        while (i < a.size() && a[i] == t)
            ++i;
        while (j < b.size() && b[j] == t)
            ++j;
        const Wide x = Wide{i} * nb, y = Wide{j} * na;
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

std::int64_t window_for(const std::vector<std::int64_t>& sorted, std::uint64_t per_100k) {
    HERD_ASSERT(!sorted.empty() && per_100k <= 100'000);
    // Nearest rank: the smallest window that at least per_100k / 100 000 of the pairs are within.
    const std::uint64_t n = sorted.size();
    std::uint64_t rank = (per_100k * n + 99'999) / 100'000;
    rank = std::max<std::uint64_t>(rank, 1);
    return sorted[rank - 1];
}

}  // namespace herd::sim
