// LinkFaults: which servers cannot reach each other, after the scenario's `partition`, `cut`,
// `silence`, `restore` and `heal` statements (design §6). The one home of those rules: the
// simulator's network asks it whether a link is cut, and `herd replay` asks it which proxy links to
// cut.
#pragma once

#include <algorithm>
#include <cstddef>
#include <set>
#include <utility>
#include <vector>

#include "core/assert.hpp"
#include "sim/scenario.hpp"

namespace herd::sim {

class LinkFaults {
  public:
    explicit LinkFaults(std::size_t servers) : servers_(servers) {}

    bool is_cut(int a, int b) const {
        if (cuts_.count({std::min(a, b), std::max(a, b)}) > 0) return true;
        return !group_of_.empty() &&
               group_of_[static_cast<std::size_t>(a)] != group_of_[static_cast<std::size_t>(b)];
    }
    // A partition replaces the previous one; cuts stay until restored or healed. A server named
    // in no group is a group of its own.
    void partition(const PartitionStep& p) {
        group_of_.assign(servers_, 0);
        int next_group = static_cast<int>(p.groups.size()) + 1;
        for (int& g : group_of_)
            g = next_group++;
        for (std::size_t g = 0; g < p.groups.size(); ++g) {
            for (int s : p.groups[g]) {
                HERD_ASSERT(s >= 0 && static_cast<std::size_t>(s) < servers_);
                group_of_[static_cast<std::size_t>(s)] = static_cast<int>(g);
            }
        }
    }
    // Whether any partition, cut or silence is in force.
    bool any() const { return !cuts_.empty() || !silenced_.empty() || !group_of_.empty(); }
    // Whether bytes from `from` to `to` vanish (a silenced link: open, but nothing arrives).
    bool is_silenced(int from, int to) const { return silenced_.count({from, to}) > 0; }
    bool any_silenced() const { return !silenced_.empty(); }
    void cut(int a, int b) { cuts_.insert({std::min(a, b), std::max(a, b)}); }
    void silence(int from, int to, bool one_way) {
        silenced_.insert({from, to});
        if (!one_way) silenced_.insert({to, from});
    }
    void restore(int a, int b) {
        cuts_.erase({std::min(a, b), std::max(a, b)});
        silenced_.erase({a, b});
        silenced_.erase({b, a});
    }
    void heal() {
        cuts_.clear();
        silenced_.clear();
        group_of_.clear();
    }
    // Carries out one of the statements above; false for any other.
    bool apply(const StepAction& a) {
        if (const auto* p = std::get_if<PartitionStep>(&a)) {
            partition(*p);
        } else if (const auto* c = std::get_if<CutStep>(&a)) {
            cut(c->a, c->b);
        } else if (const auto* q = std::get_if<SilenceStep>(&a)) {
            silence(q->a, q->b, q->one_way);
        } else if (const auto* r = std::get_if<RestoreStep>(&a)) {
            restore(r->a, r->b);
        } else if (std::holds_alternative<HealStep>(a)) {
            heal();
        } else {
            return false;
        }
        return true;
    }

  private:
    std::size_t servers_;
    std::set<std::pair<int, int>> cuts_;
    std::set<std::pair<int, int>> silenced_;  // directed: (from, to)
    std::vector<int> group_of_;               // empty: no partition
};

}  // namespace herd::sim
