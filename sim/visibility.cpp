#include "sim/visibility.hpp"

#include <algorithm>

#include "core/assert.hpp"

namespace herd::sim {

VisibilityTracker::VisibilityTracker(std::size_t servers, Visible on_visible)
    : servers_(servers), on_visible_(std::move(on_visible)), counted_(servers) {}

void VisibilityTracker::written(Instant now, int origin, std::size_t client, Timestamp time) {
    HERD_ASSERT(static_cast<std::size_t>(origin) < servers_);
    if (client >= updates_.size()) updates_.resize(client + 1);
    auto& list = updates_[client];
    const auto at = std::upper_bound(list.begin(), list.end(), time,
                                     [](Timestamp t, const Update& u) { return t < u.time; });
    list.insert(at, Update{time, now, origin});
    // Servers that already hold a newer record of the client answer with it at once.
    for (std::size_t s = 0; s < servers_; ++s) {
        if (static_cast<int>(s) == origin) continue;
        const auto& row = counted_[s];
        if (client < row.size() && row[client] && time <= *row[client])
            on_visible_(origin, static_cast<int>(s), now, now);
    }
}

void VisibilityTracker::seen(Instant now, int server, std::size_t client, Timestamp time) {
    auto& row = counted_[static_cast<std::size_t>(server)];
    if (client >= row.size()) row.resize(client + 1);
    const std::optional<Timestamp> before = row[client];
    if (before && time <= *before) return;
    row[client] = time;
    if (client >= updates_.size()) return;
    const auto& list = updates_[client];
    auto it = before ? std::upper_bound(list.begin(), list.end(), *before,
                                        [](Timestamp t, const Update& u) { return t < u.time; })
                     : list.begin();
    for (; it != list.end() && it->time <= time; ++it) {
        if (it->origin != server) on_visible_(it->origin, server, it->written, now);
    }
}

void VisibilityTracker::for_each_open(
    const std::function<void(int origin, int server, Instant written)>& f) const {
    for (std::size_t c = 0; c < updates_.size(); ++c) {
        for (const Update& u : updates_[c]) {
            for (std::size_t s = 0; s < servers_; ++s) {
                if (static_cast<int>(s) == u.origin) continue;
                const auto& row = counted_[s];
                if (c >= row.size() || !row[c] || *row[c] < u.time)
                    f(u.origin, static_cast<int>(s), u.written);
            }
        }
    }
}

std::uint64_t share_within(const std::vector<std::int64_t>& sorted, std::int64_t t) {
    if (sorted.empty()) return 0;
    const auto within = static_cast<std::uint64_t>(
        std::upper_bound(sorted.begin(), sorted.end(), t) - sorted.begin());
    return within * 100'000 / sorted.size();
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

std::int64_t window_for(const std::vector<std::int64_t>& sorted, std::uint64_t per_100k) {
    HERD_ASSERT(!sorted.empty() && per_100k <= 100'000);
    // Nearest rank: the smallest window that at least per_100k / 100 000 of the pairs are within.
    const std::uint64_t n = sorted.size();
    std::uint64_t rank = (per_100k * n + 99'999) / 100'000;
    rank = std::max<std::uint64_t>(rank, 1);
    return sorted[rank - 1];
}

}  // namespace herd::sim
