// EventQueue: the simulator's agenda, a min-heap on (time, insertion sequence), so events at one
// instant run in the order they were scheduled. Payloads live in a slab and only small keys move
// inside the heap. The heap is 4-ary: half the levels of a binary one, and a node's children
// share a cache line or two, which is what a pop of a big agenda waits on.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/assert.hpp"
#include "core/time.hpp"

namespace herd::sim {

template <typename Payload>
class EventQueue {
  public:
    void push(Instant at, Payload payload) {
        std::uint32_t slot;
        if (!free_.empty()) {
            slot = free_.back();
            free_.pop_back();
            slab_[slot] = std::move(payload);
        } else {
            slot = static_cast<std::uint32_t>(slab_.size());
            slab_.push_back(std::move(payload));
        }
        heap_.push_back(Key{at, sequence_++, slot});
        sift_up(heap_.size() - 1);
    }

    bool empty() const { return heap_.empty(); }
    std::size_t size() const { return heap_.size(); }
    Instant next_time() const { return heap_.front().at; }

    // Removes the earliest event; returns its time and payload.
    std::pair<Instant, Payload> pop() {
        HERD_ASSERT(!heap_.empty());
        const Key top = heap_.front();
        heap_.front() = heap_.back();
        heap_.pop_back();
        if (!heap_.empty()) sift_down(0);
        Payload p = std::move(slab_[top.slot]);
        free_.push_back(top.slot);
        return {top.at, std::move(p)};
    }

  private:
    struct Key {
        Instant at;
        std::uint64_t sequence;
        std::uint32_t slot;
        bool before(const Key& o) const { return at != o.at ? at < o.at : sequence < o.sequence; }
    };

    static constexpr std::size_t arity = 4;

    void sift_up(std::size_t i) {
        while (i > 0) {
            const std::size_t parent = (i - 1) / arity;
            if (!heap_[i].before(heap_[parent])) break;
            std::swap(heap_[i], heap_[parent]);
            i = parent;
        }
    }

    void sift_down(std::size_t i) {
        const std::size_t n = heap_.size();
        while (true) {
            const std::size_t first = arity * i + 1;
            if (first >= n) break;
            std::size_t best = first;
            const std::size_t last = std::min(first + arity, n);
            for (std::size_t c = first + 1; c < last; ++c) {
                if (heap_[c].before(heap_[best])) best = c;
            }
            if (!heap_[best].before(heap_[i])) break;
            std::swap(heap_[i], heap_[best]);
            i = best;
        }
    }

    std::vector<Key> heap_;
    std::vector<Payload> slab_;
    std::vector<std::uint32_t> free_;
    std::uint64_t sequence_ = 0;
};

}  // namespace herd::sim
